"""The locks in requirements/ agree with pyproject.toml, and what installs from them agrees too.

``requirements/lock.txt`` pins every dependency and extra (``make`` installs it);
``requirements/binder.txt`` pins the runtime and lab ones, at the same versions, for Binder.
Both are written by ``make lock`` (``uv pip compile --universal``). Nothing here reaches the
network: the checks read the files and ask ``make -n`` what it would run.
"""

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
BINDER_LOCK = ROOT / "requirements" / "binder.txt"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]
RELOCK = "pyproject.toml and the lock disagree: run make lock"
# Tools for testing and for working on vibook, which Binder's users never need.
TOOLS = {"pytest", "pytest-xdist", "nbval", "hypothesis", "playwright", "ruff", "uv"}
TOOL_EXTRAS = ("test", "dev", "docs")

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _read_lock(path: Path) -> list[dict]:
    """Each pin of a lock, in order: its name, line, requirement and what needs it (``via``).

    A name comes more than once where its version differs by platform or by Python (a fork of
    uv's universal resolution), each time under its own marker.
    """
    pins: list[dict] = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith(" "):  # uv's annotations: "    # via a" or "    # via" then "    #   a"
            via = line.strip().removeprefix("#").strip().removeprefix("via").strip()
            if via and pins:
                pins[-1]["via"].append(via)
            continue
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        pins.append({"name": name, "line": line.strip(), "requirement": requirement, "via": []})
    return pins


def _by_name(pins: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for pin in pins:
        grouped.setdefault(pin["name"], []).append(pin)
    return grouped


def _environments():
    """Marker environments the lock must serve: Linux and macOS (and Windows), Python 3.12+."""
    platforms = {
        "linux": ("linux", "Linux", "posix", "x86_64"),
        "linux-arm": ("linux", "Linux", "posix", "aarch64"),
        "macos": ("darwin", "Darwin", "posix", "arm64"),
        "windows": ("win32", "Windows", "nt", "AMD64"),
    }
    for python in ("3.12.0", "3.13.0", "3.14.0"):
        for label, (sys_platform, system, os_name, machine) in platforms.items():
            yield (
                f"{label} {python}",
                {
                    "python_version": python.rsplit(".", 1)[0],
                    "python_full_version": python,
                    "sys_platform": sys_platform,
                    "platform_system": system,
                    "os_name": os_name,
                    "platform_machine": machine,
                    "implementation_name": "cpython",
                    "platform_python_implementation": "CPython",
                },
            )


def _applies(pin: dict, environment: dict) -> bool:
    marker = pin["requirement"].marker
    return marker is None or marker.evaluate(environment)


def _pinned_version(requirement: Requirement) -> str:
    specifiers = list(requirement.specifier)
    assert len(specifiers) == 1 and specifiers[0].operator == "==", requirement
    return specifiers[0].version


def _wanted(*groups: str) -> list[Requirement]:
    """pyproject.toml's requirements: the runtime ones and those of the named extras."""
    reqs = list(PROJECT["dependencies"])
    for group in groups:
        reqs += EXTRAS[group]
    return [Requirement(r) for r in reqs]


def _pip_section(path: Path) -> list[str]:
    env = yaml.safe_load(path.read_text())
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    return pip


@pytest.fixture(scope="module")
def lock():
    return _read_lock(LOCK)


@pytest.fixture(scope="module")
def binder_lock():
    return _read_lock(BINDER_LOCK)


def test_every_pin_is_one_exact_version(lock, binder_lock):
    for pins in (lock, binder_lock):
        for pin in pins:
            version = _pinned_version(pin["requirement"])
            assert not version.endswith(".*"), pin["line"]
            assert pin["requirement"].url is None, pin["line"]


def test_each_platform_and_python_gets_one_version_of_each_package(lock, binder_lock):
    for pins in (lock, binder_lock):
        grouped = _by_name(pins)
        for label, environment in _environments():
            for group in grouped.values():
                applying = [pin["line"] for pin in group if _applies(pin, environment)]
                assert len(applying) <= 1, f"{label} gets {applying}"
            for requirement in _wanted("lab"):
                name = canonicalize_name(requirement.name)
                applying = [pin for pin in grouped.get(name, []) if _applies(pin, environment)]
                assert len(applying) == 1, f"{label} gets no {name}: {RELOCK}"


def test_every_pyproject_dependency_and_extra_is_locked(lock, binder_lock):
    # An extra added to pyproject.toml (docs, say) fails here until make lock pins it.
    locked, binder_locked = _by_name(lock), _by_name(binder_lock)
    for requirement in _wanted(*EXTRAS):
        assert canonicalize_name(requirement.name) in locked, f"{requirement}: {RELOCK}"
    for requirement in _wanted("lab"):
        assert canonicalize_name(requirement.name) in binder_locked, f"{requirement}: {RELOCK}"


def test_every_pin_satisfies_pyproject_ranges(lock, binder_lock):
    for requirement in _wanted(*EXTRAS):
        name = canonicalize_name(requirement.name)
        for pin in [p for p in lock + binder_lock if p["name"] == name]:
            version = _pinned_version(pin["requirement"])
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{pin['line']} is outside pyproject.toml's {requirement}: {RELOCK}"
            )


def test_binder_pins_the_same_versions_as_the_full_lock(lock, binder_lock):
    lines = {pin["line"] for pin in lock}
    for pin in binder_lock:
        assert pin["line"] in lines, f"Binder pins {pin['line']}, requirements/lock.txt does not"


def test_binder_installs_no_test_or_dev_tools(binder_lock):
    names = set(_by_name(binder_lock))
    assert not TOOLS & names, sorted(TOOLS & names)
    assert not [name for name in names if name.startswith("pytest")]
    # A package of the test, dev or docs extras is allowed only where a runtime or lab package
    # needs it too (pyyaml, say, which jupyter-events needs): uv's "via" names who needs it.
    for group in TOOL_EXTRAS:
        for requirement in EXTRAS.get(group, []):
            name = canonicalize_name(Requirement(requirement).name)
            for pin in [p for p in binder_lock if p["name"] == name]:
                needed_by = [v for v in pin["via"] if not v.startswith(("-c ", "vibook"))]
                assert needed_by, f"Binder installs {name} only because of the {group} extra"


def test_environment_files_install_exactly_the_locks(lock, binder_lock):
    root = _pip_section(ROOT / "environment.yml")
    assert root[-1] == "-e .", "environment.yml must install vibook itself, last"
    assert root[:-1] == [pin["line"] for pin in lock]
    binder = _pip_section(ROOT / "binder" / "environment.yml")
    assert binder == [pin["line"] for pin in binder_lock]
    # Binder builds environment.yml before the repository is there: vibook comes in postBuild.
    assert not [line for line in binder if line.startswith(("-e", ".", "/"))], binder


def test_locks_say_how_to_remake_them():
    for path in (LOCK, BINDER_LOCK):
        head = path.read_text().splitlines()[:2]
        assert head[0].startswith("# This file was autogenerated by uv"), head
        assert head[1] == "#    make lock", head


def test_lock_recipe_is_universal_and_takes_every_extra():
    makefile = (ROOT / "Makefile").read_text()
    compile_line = re.search(r"^UV_COMPILE = (.*(?:\\\n.*)*)", makefile, re.M)[1]
    assert "--universal" in compile_line  # Linux, macOS (and Windows) in one file
    lock_recipe = re.search(r"^lock:.*\n((?:\t.*\n)+)", makefile, re.M)[1]
    assert "--all-extras -o $(LOCK)" in lock_recipe  # a new extra needs no Makefile edit
    assert "--extra lab -c $(LOCK) -o $(BINDER_LOCK)" in lock_recipe
    assert "scripts/sync_environment.py" in lock_recipe


def _dry_run(*args: str) -> str:
    """The commands make would run, run by none (``make -n``, every target taken as stale)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@needs_make
def test_make_installs_the_lock_then_vibook_without_its_dependencies():
    commands = _dry_run(".venv/.vibook-installed")
    assert ".venv/bin/python -m pip install --quiet -r requirements/lock.txt\n" in commands
    assert ".venv/bin/python -m pip install --quiet --no-deps -e .\n" in commands
    assert "--upgrade-strategy" not in commands
    assert "ipykernel install --sys-prefix --name vibook" in commands


@needs_make
def test_make_test_latest_runs_the_tests_on_the_newest_releases_in_its_own_venv():
    commands = _dry_run("test-latest")
    assert "-r requirements/lock.txt" not in commands
    assert (
        ".venv-latest/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e"
        in commands
    )
    assert ".venv-latest/bin/python -m pytest" in commands
    assert not re.search(r"(^|\s)\.venv/", commands), "test-latest touched .venv"


def test_python_versions_agree():
    # requires-python, the Python find-python looks for, and the one conda and Binder get.
    assert PROJECT["requires-python"] == ">=3.12"
    assert "sys.version_info >= (3, 12)" in (ROOT / "scripts" / "find-python").read_text()
    assert "sys.version_info < (3, 12)" in (ROOT / "Makefile").read_text()  # a venv too old
    for path in (ROOT / "environment.yml", ROOT / "binder" / "environment.yml"):
        assert "  - python=3.12\n" in path.read_text(), path


def test_readme_routes_without_make_install_the_lock_and_register_the_vibook_kernel():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    pip = [b for b in blocks if "pip install" in b]
    conda = [b for b in blocks if "conda env create" in b]
    assert pip and conda, "README.md has lost its routes without make"
    for block in pip:
        assert "pip install -r requirements/lock.txt" in block, block
        assert "pip install --no-deps -e ." in block, block
    kernels = {
        json.loads(path.read_text())["metadata"]["kernelspec"]["name"]
        for path in (ROOT / "notebooks").glob("*.ipynb")
    }
    assert kernels == {"vibook"}, kernels
    register = 'ipykernel install --sys-prefix --name vibook --display-name "Python (vibook)"'
    for block in pip + conda:
        assert register in block, block
