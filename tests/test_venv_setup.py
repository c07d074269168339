"""Set-up that cannot half-fail: scripts/find-python and the venv rule, broken on purpose.

Each test runs the real ``scripts/find-python`` and the real ``Makefile`` in a temporary copy
of the files they read, with stand-in interpreters first on ``PATH``:

- a Python 3.12+ whose ``import ensurepip`` fails (Debian or Ubuntu without python3.X-venv);
- a Python whose ``-m venv`` makes the interpreter and folders, then fails before pip is in,
  as a venv whose ensurepip fails or that is interrupted does;
- the real interpreter, with pip given no index, so that installing from the lock fails.

No test reaches the network: pip runs with ``--no-index`` and no configuration files.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The interpreter running the tests, past the venv's symlink: the stand-ins run it.
REAL_PYTHON = os.path.realpath(sys.executable)
STAMP = ".venv/.vibook-installed"
NAMES = ("python3.12", "python3.13", "python3.14", "python3")  # every name find-python tries

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

NO_ENSUREPIP = """#!/bin/sh
# A Python 3.12+ without ensurepip, as Debian's and Ubuntu's are without python3.X-venv.
PYTHONPATH="{hide}" exec "{real}" "$@"
"""
HALF_VENV = """#!/bin/bash
# A Python 3.12+ whose venv fails half-way: the interpreter and folders made, no pip.
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  "{real}" -m venv --without-pip "${{@: -1}}"
  echo "Error: ensurepip failed (a stand-in for the real failure)" >&2
  exit 1
fi
if [ "$1" = "-c" ]; then  # this script, not the interpreter it runs, is sys.executable
  code=$2
  shift 2
  exec "{real}" -c "import sys; sys.executable = '$0'
$code" "$@"
fi
exec "{real}" "$@"
"""


def _has_ensurepip(python: str) -> bool:
    return subprocess.run([python, "-c", "import ensurepip"], capture_output=True).returncode == 0


class Sandbox:
    """A copy of the set-up files in ``tmp_path/repo`` and a ``PATH`` whose Pythons are ours."""

    def __init__(self, tmp_path: Path):
        self.repo = tmp_path / "repo"
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        for name in ("Makefile", "pyproject.toml", "scripts/find-python", "requirements"):
            src, dest = ROOT / name, self.repo / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest)
        hide = tmp_path / "hide"  # an ensurepip that fails to import, first on PYTHONPATH
        hide.mkdir()
        (hide / "ensurepip.py").write_text(
            "raise ModuleNotFoundError(\"No module named 'ensurepip'\", name='ensurepip')\n"
        )
        self.hide = hide
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
        for key in ("VIRTUAL_ENV", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
            env.pop(key, None)
        env.update(
            PATH=f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            PYENV_ROOT=str(tmp_path / "no-pyenv"),  # no pyenv versions to fall back on
            PIP_NO_INDEX="1",
            PIP_CONFIG_FILE=os.devnull,  # no pip.conf: no index, find-links or constraints
            PIP_DISABLE_PIP_VERSION_CHECK="1",
        )
        self.env = env

    def pythons(self, template: str | None) -> None:
        """Put a stand-in under every name find-python tries (``None``: the real interpreter)."""
        for name in NAMES:
            path = self.bin / name
            path.unlink(missing_ok=True)
            if template is None:
                path.symlink_to(REAL_PYTHON)
            else:
                path.write_text(template.format(real=REAL_PYTHON, hide=self.hide))
                path.chmod(0o755)

    def run(self, *cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            cmd, cwd=self.repo, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def make(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("make", "--no-print-directory", *args)

    def stamp_is_current(self) -> bool:
        """Whether make takes the install as done (``make -q``: exit 0 when up to date)."""
        return self.make("-q", STAMP).returncode == 0


@pytest.fixture
def sandbox(tmp_path):
    return Sandbox(tmp_path)


def _says_how_to_install(text: str) -> None:
    for hint in (
        "apt-get install python3.12 python3.12-venv",  # Ubuntu
        "ppa:deadsnakes/ppa",  # Ubuntu releases without 3.12
        "python3-venv",  # Debian 13
        "brew install python@3.12",  # macOS
        "https://www.python.org/downloads/",
        "conda create -n py312 -c conda-forge python=3.12",
        "conda env create -f environment.yml",
    ):
        assert hint in text, f"the message does not say {hint!r}:\n{text}"


def test_find_python_rejects_a_python_without_ensurepip_and_says_what_to_install(sandbox):
    sandbox.pythons(NO_ENSUREPIP)
    done = sandbox.run("scripts/find-python")
    assert done.returncode == 1 and done.stdout == "", done
    assert "has no ensurepip" in done.stderr, done.stderr
    version = "{}.{}".format(*sys.version_info[:2])
    assert f"sudo apt-get install python{version}-venv" in done.stderr, done.stderr
    _says_how_to_install(done.stderr)


def test_find_python_takes_the_same_python_with_ensurepip(sandbox):
    # The control for the test above: what it rejected was the missing ensurepip alone.
    if not _has_ensurepip(REAL_PYTHON):
        pytest.skip(f"{REAL_PYTHON} itself has no ensurepip")
    sandbox.pythons(None)
    done = sandbox.run("scripts/find-python")
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).parent == sandbox.bin, done.stdout


def test_install_help_names_every_route():
    done = subprocess.run(
        [ROOT / "scripts/find-python", "--install-help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    _says_how_to_install(done.stdout)


@needs_make
def test_make_without_a_usable_python_makes_no_venv(sandbox):
    sandbox.pythons(NO_ENSUREPIP)
    for _ in range(2):  # and the second make does not take anything as done either
        done = sandbox.make(STAMP)
        assert done.returncode != 0
        assert "has no ensurepip" in done.stderr, done.stderr
        assert not (sandbox.repo / ".venv").exists()
        assert not sandbox.stamp_is_current()


@needs_make
def test_make_removes_a_venv_whose_creation_failed(sandbox):
    sandbox.pythons(HALF_VENV)
    for _ in range(2):
        done = sandbox.make(STAMP)
        assert done.returncode != 0
        assert "Creating .venv with" in done.stdout, done.stdout  # tried again, not skipped
        assert "Could not create .venv" in done.stderr, done.stderr
        _says_how_to_install(done.stderr)
        assert not (sandbox.repo / ".venv").exists(), "the half-made venv was left behind"
        assert not sandbox.stamp_is_current()


@needs_make
def test_make_remakes_a_half_made_venv_instead_of_skipping_it(sandbox):
    # What an interrupted run leaves: the interpreter is there, pip is not.
    venv = sandbox.repo / ".venv"
    subprocess.run([REAL_PYTHON, "-m", "venv", "--without-pip", venv], check=True)
    assert (venv / "bin" / "python").exists()
    sandbox.pythons(HALF_VENV)
    done = sandbox.make(STAMP)
    assert done.returncode != 0
    assert ".venv is there, but half-made" in done.stdout, done.stdout
    assert "Creating .venv with" in done.stdout, done.stdout
    assert not venv.exists()


@pytest.mark.slow
@needs_make
def test_a_failed_install_leaves_no_stamp_and_the_next_make_installs_again(sandbox):
    if not _has_ensurepip(REAL_PYTHON):
        pytest.skip(f"{REAL_PYTHON} itself has no ensurepip")
    sandbox.pythons(None)
    first = sandbox.make(STAMP)  # a real venv (ensurepip is local), then pip without an index
    assert first.returncode != 0
    assert "Creating .venv with" in first.stdout, first.stdout
    assert "pip install --quiet -r requirements/lock.txt" in first.stdout, first.stdout
    assert "No matching distribution" in first.stderr, first.stderr
    venv_python = sandbox.repo / ".venv" / "bin" / "python"
    assert sandbox.run(str(venv_python), "-m", "pip", "--version").returncode == 0
    assert not (sandbox.repo / STAMP).exists()
    assert not sandbox.stamp_is_current()

    second = sandbox.make(STAMP)  # the venv is whole, so it is kept; the install is retried
    assert second.returncode != 0
    assert "Creating .venv" not in second.stdout, second.stdout
    assert "pip install --quiet -r requirements/lock.txt" in second.stdout, second.stdout
    assert not (sandbox.repo / STAMP).exists()
