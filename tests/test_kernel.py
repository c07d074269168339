"""Where vibook runs: a Jupyter kernel (Colab's included) told from a plain shell, and each
notebook's first cell, which installs vibook on Colab and does nothing elsewhere."""

import json
import re
import sys
import tomllib
from pathlib import Path

import IPython
import pytest

from vibook import kernel
from vibook.kernel import in_jupyter_kernel

zmqshell = pytest.importorskip("ipykernel.zmqshell")


class ColabShell(zmqshell.ZMQInteractiveShell):  # Colab's shell subclasses Jupyter's
    pass


class ZMQInteractiveShell:  # only the name of Jupyter's kernel shell
    pass


class TerminalInteractiveShell:
    pass


def _shell(cls):
    """An instance of ``cls`` without starting a shell (a kernel's shell needs a kernel)."""
    return cls.__new__(cls)


@pytest.mark.parametrize(
    ("shell", "expected"),
    [
        (None, False),
        (_shell(zmqshell.ZMQInteractiveShell), True),
        (_shell(ColabShell), True),
        (_shell(ZMQInteractiveShell), False),
        (TerminalInteractiveShell(), False),
    ],
    ids=["none", "jupyter", "colab", "same-name", "terminal"],
)
def test_kernel_is_told_apart_by_its_shell_class(monkeypatch, shell, expected):
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    assert kernel.in_jupyter_kernel() is expected


def test_no_kernel_when_ipython_or_ipykernel_is_not_imported_and_neither_is_imported(monkeypatch):
    monkeypatch.setattr(IPython, "get_ipython", lambda: _shell(ColabShell))
    for name in ("IPython", "ipykernel.zmqshell"):
        with monkeypatch.context() as m:
            m.delitem(sys.modules, name)
            assert kernel.in_jupyter_kernel() is False
            assert name not in sys.modules, f"in_jupyter_kernel imported {name}"


@pytest.mark.parametrize(("flag", "expected"), [("0", False), ("false", False), ("1", True)])
def test_progress_flag_wins_over_the_kernel(monkeypatch, flag, expected):
    monkeypatch.setattr(IPython, "get_ipython", lambda: _shell(ColabShell))
    monkeypatch.setenv("VIBOOK_PROGRESS", flag)
    assert kernel.default_progress_bar() is expected


def test_progress_follows_the_kernel_without_the_flag(monkeypatch):
    monkeypatch.delenv("VIBOOK_PROGRESS", raising=False)
    monkeypatch.setattr(IPython, "get_ipython", lambda: _shell(ColabShell))
    assert kernel.default_progress_bar() is True
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert kernel.default_progress_bar() is False


def test_not_a_kernel_here():
    assert not in_jupyter_kernel()


# --- Colab: each notebook's first code cell installs vibook there, at this release --------------

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ON_COLAB = 'if "google.colab" in sys.modules:'
INSTALL = re.compile(r"^    %pip install --quiet git\+(?P<repo>https://\S+?)@v(?P<tag>\S+)$")


def _first_code_cell(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    source = next(c["source"] for c in cells if c["cell_type"] == "code")
    return ("".join(source) if isinstance(source, list) else source).splitlines()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_first_cell_installs_this_release_on_colab_only(path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = _first_code_cell(path)
    # A comment, the guard and the install, before anything is imported from vibook.
    assert lines[0].startswith("# ") and lines[1:3] == ["import sys", ON_COLAB], lines[:4]
    install = INSTALL.match(lines[3])
    assert install, f"line 4 of the first cell is not the pinned install: {lines[3]!r}"
    assert install["tag"] == project["version"], "the install's tag is not pyproject's version"
    assert install["repo"] == project["urls"]["Repository"]
    assert not any(line.startswith("    ") for line in lines[4:6]), "one install line only"
    # Colab knows no kernel named vibook: it says so and runs the notebook on its python3.
    kernelspec = json.loads(path.read_text(encoding="utf-8"))["metadata"]["kernelspec"]
    assert (kernelspec["name"], kernelspec["language"]) == ("vibook", "python")


def test_readme_colab_badge_opens_a_notebook_of_this_repository():
    readme = (ROOT / "README.md").read_text()
    repo = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    slug = repo.removeprefix("https://github.com/")
    badges = re.findall(
        rf"\(https://colab\.research\.google\.com/github/{slug}/blob/main/(\S+?)\)", readme
    )
    assert badges, "README.md has no Colab badge for this repository"
    assert all((ROOT / path).is_file() and path.startswith("notebooks/") for path in badges)
