"""The set-up files agree: pyproject.toml holds the ranges, requirements/ the pins (``make lock``),
the environment files are written from the pins, and Binder reads binder/.

How the pins and the ranges agree is checked in ``tests/test_lock.py``.
"""

import importlib.util
import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _load_sync_script():
    spec = importlib.util.spec_from_file_location("sync_env", ROOT / "scripts/sync_environment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_environment_files_are_generated_from_the_locks():
    for path, expected in _load_sync_script().render_all().items():
        assert path.read_text() == expected, (
            f"{path.relative_to(ROOT)} is out of date: run python scripts/sync_environment.py"
        )


def test_environment_pins_python_312_or_newer_and_lists_every_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for path, groups in [("binder/environment.yml", ["lab"]), ("environment.yml", list(extras))]:
        env = yaml.safe_load((ROOT / path).read_text())
        assert "conda-forge" in env["channels"]
        pythons = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
        assert len(pythons) == 1
        major, minor = map(int, re.fullmatch(r"python=(\d+)\.(\d+)", pythons[0]).groups())
        assert (major, minor) >= (3, 12)
        pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
        pinned = {canonicalize_name(Requirement(r).name) for r in pip if not r.startswith("-")}
        wanted = project["dependencies"] + [r for g in groups for r in extras[g]]
        missing = {canonicalize_name(Requirement(r).name) for r in wanted} - pinned
        assert not missing, f"{path} lacks {sorted(missing)}: run make lock"


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
