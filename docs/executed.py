"""The executed copies of the notebooks that the book is built from.

``pytest --nbval-lax notebooks`` runs every notebook once; the root ``conftest.py`` then writes
each notebook whose cells all passed, with the outputs and execution counts of that run, to
``test-artifacts/executed/NAME.ipynb``. The book (``make docs``) renders those copies with
execution off, so a CI run executes each notebook once, not once for the tests and again for
the book.

A copy records in its metadata (``metadata.vibook``) a fingerprint of what produced it: the
SHA-256 of the notebook file and of the package's files (``vibook/``). A copy is *fresh* when
both still match; ``make docs`` runs the notebooks whose copy is missing or stale, and only
those, before it builds. Run ``python docs/executed.py`` to list them.

This module is also where the figures of a notebook are counted (``image_outputs``), for the
manifest ``docs/figures.json`` that the book's browser test checks each page against.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PACKAGE = ROOT / "vibook"
EXECUTED = ROOT / "test-artifacts" / "executed"
FIGURES = ROOT / "docs" / "figures.json"
# The image types the book shows as an <img>: conf.py ranks them above every other type.
IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")


def _sha256(paths: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def package_fingerprint(package: Path = PACKAGE) -> str:
    """SHA-256 of every file of the package (names and contents), caches left out."""
    files = sorted(
        p
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )
    return _sha256(files, package.parent)


def notebook_fingerprint(notebook: Path) -> str:
    """SHA-256 of the notebook file as it is in ``notebooks/``."""
    return hashlib.sha256(notebook.read_bytes()).hexdigest()


def executed_path(notebook: Path | str) -> Path:
    """Where the executed copy of ``notebook`` (a path or a file name) is written."""
    return EXECUTED / Path(notebook).name


def fingerprint(notebook: Path, package: str | None = None) -> dict[str, str]:
    """What an executed copy of ``notebook`` records about its sources."""
    return {
        "notebook_sha256": notebook_fingerprint(notebook),
        "package_sha256": package if package is not None else package_fingerprint(),
    }


def write_executed(
    notebook: Path, outputs: dict[int, list[dict]], package: str, dest: Path | None = None
) -> Path:
    """Write ``notebook`` with ``outputs`` (code cell number -> outputs) as its executed copy.

    Cells are numbered as nbval numbers them: code cells only, from 0. Execution counts run
    1, 2, ... over the cells that ran, in order (nbval runs cells without storing history, so
    the kernel's own counts do not advance). The file is written whole or not at all: a
    worker of ``pytest -n`` never leaves half a notebook for the book to read.
    """
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    count = 0
    code = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell_outputs = outputs.get(code)
        code += 1
        if cell_outputs is None:  # skipped (NBVAL_SKIP): not run, no outputs
            cell["execution_count"], cell["outputs"] = None, []
            continue
        count += 1
        cell["execution_count"] = count
        cell["outputs"] = []
        for out in cell_outputs:
            out = json.loads(json.dumps(out))  # NotebookNode -> plain JSON
            if out.get("output_type") == "execute_result":
                out["execution_count"] = count
            cell["outputs"].append(out)
    nb.setdefault("metadata", {})["vibook"] = fingerprint(notebook, package)
    dest = dest or executed_path(notebook)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}-", suffix=".ipynb.tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(nb, f, indent=1, ensure_ascii=False)
            f.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the copy is an ordinary build output
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def is_fresh(notebook: Path, package: str | None = None) -> bool:
    """Whether the executed copy of ``notebook`` exists and was made from these sources."""
    copy = executed_path(notebook)
    if not copy.exists():
        return False
    try:
        recorded = json.loads(copy.read_text(encoding="utf-8"))["metadata"]["vibook"]
    except (ValueError, KeyError, TypeError):
        return False
    return recorded == fingerprint(notebook, package)


def stale_notebooks(notebooks: Iterable[Path] | None = None) -> list[Path]:
    """The notebooks whose executed copy is missing or was made from other sources."""
    package = package_fingerprint()
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb")) if notebooks is None else notebooks
    return [nb for nb in notebooks if not is_fresh(nb, package)]


def image_outputs(executed: Path | dict) -> int:
    """How many outputs of an executed notebook are images (each is one figure in the book)."""
    nb = (
        json.loads(executed.read_text(encoding="utf-8")) if isinstance(executed, Path) else executed
    )
    return sum(
        any(mime in out.get("data", {}) for mime in IMAGE_MIMES)
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", ())
    )


def figure_counts(notebooks: Iterable[Path] | None = None) -> dict[str, int]:
    """Notebook name (without ``.ipynb``) -> number of figures in its executed copy."""
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb")) if notebooks is None else notebooks
    return {nb.stem: image_outputs(executed_path(nb)) for nb in notebooks}


def main(argv: list[str]) -> int:
    """``python docs/executed.py``: print the stale notebooks, one a line.

    ``python docs/executed.py --write-figures`` writes ``docs/figures.json`` from the executed
    copies (all must be fresh): run it when a notebook gains or loses a figure on purpose.
    """
    if argv == ["--write-figures"]:
        stale = stale_notebooks()
        if stale:
            names = " ".join(p.name for p in stale)
            print(f"stale or missing executed copies: {names}; run 'make docs'", file=sys.stderr)
            return 1
        FIGURES.write_text(json.dumps(figure_counts(), indent=2) + "\n")
        print(f"wrote {FIGURES.relative_to(ROOT)}")
        return 0
    if argv:
        print(main.__doc__, file=sys.stderr)
        return 2
    for nb in stale_notebooks():
        print(nb.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
