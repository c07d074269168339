"""The set-up files agree: pyproject.toml is the one source of pins, Binder reads binder/."""

import importlib.util
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _load_sync_script():
    spec = importlib.util.spec_from_file_location("sync_env", ROOT / "scripts/sync_environment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_binder_environment_is_identical_to_root_environment():
    assert (ROOT / "binder/environment.yml").read_bytes() == (ROOT / "environment.yml").read_bytes()


def test_environment_files_are_generated_from_pyproject():
    expected = _load_sync_script().render()
    assert (ROOT / "environment.yml").read_text() == expected, (
        "environment.yml is out of date: run python scripts/sync_environment.py"
    )


def test_environment_pins_python_312_or_newer_and_lists_every_dependency():
    env = yaml.safe_load((ROOT / "binder/environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert len(pythons) == 1
    major, minor = map(int, re.fullmatch(r"python=(\d+)\.(\d+)", pythons[0]).groups())
    assert (major, minor) >= (3, 12)
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["lab"]
    assert set(wanted) <= set(pip)


def test_arviz_packages_share_one_minor_version_range():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    ranges = {d.split(">=")[0]: d.split(">=", 1)[1] for d in deps if d.startswith("arviz")}
    assert set(ranges) == {"arviz", "arviz-base", "arviz-stats", "arviz-plots"}
    assert len(set(ranges.values())) == 1, ranges


def test_postbuild_fails_fast_and_installs_vibook():
    lines = (ROOT / "binder/postBuild").read_text().splitlines()
    body = [line for line in lines if line.strip() and not line.startswith("#")]
    assert body[0] == "set -e"
    assert any("pip install" in line and " ." in line for line in body)


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("## ")]  # the commands come before the first section
    assert "make lab" in head and "make test" in head
    ci = (ROOT / ".ci/run").read_text()
    commands = [
        line for line in ci.splitlines() if line and not line.startswith(("#", "set", "cd"))
    ]
    assert commands == ["make test"]


def test_every_notebook_named_in_the_course_exists():
    # A renumbered notebook leaves "Next: `12_scaling_up`" behind; every `NN_name` in a
    # notebook or the README must name a notebook that is there.
    existing = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    named = re.compile(r"`(\d\d_[a-z0-9_]+)`")
    for path in [ROOT / "README.md", *sorted((ROOT / "notebooks").glob("*.ipynb"))]:
        missing = set(named.findall(path.read_text())) - existing
        assert not missing, f"{path.name} names notebooks that do not exist: {sorted(missing)}"
