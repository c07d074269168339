"""Write the student edition of the notebooks: solutions replaced by a stub, hidden tests removed.

    python scripts/student_edition.py [SOURCE] [OUT]     (make student)

reads every notebook in SOURCE (default ``notebooks``) and writes its student edition, under
the same name, to OUT (default ``build/student/notebooks``). Notebooks without exercises are
copied unchanged, so OUT holds the whole course.

The notebooks are marked up for nbgrader, and this does what ``nbgrader generate_assignment``
does to that markup, following its two preprocessors line for line (nbgrader 0.9:
``ClearSolutions`` and ``ClearHiddenTests``):

- In every cell, the lines from one containing ``BEGIN SOLUTION`` to one containing ``END
  SOLUTION`` are replaced by the stub, each stub line indented as the first of them is: a code
  cell gets ``CODE_STUB``, a Markdown cell ``TEXT_STUB``. A solution cell (cell metadata
  ``nbgrader.solution``) with no such region is replaced by the stub whole.
- In every cell, the lines from one containing ``BEGIN HIDDEN TESTS`` to one containing ``END
  HIDDEN TESTS`` are removed.
- A solution region outside a solution cell, a hidden-tests region outside a grade cell
  (``nbgrader.grade``), a region begun inside another, and one never ended are errors.

One setting differs from nbgrader's defaults, the code stub: nbgrader's ``raise
NotImplementedError()`` would stop a student's notebook at its first exercise. Here the stub
is a comment; the line before each solution region sets the answer to ``None`` (and a function's
docstring remains its body, so it returns ``None``), so the student's notebook runs to the end
and every checker says "not yet answered". With nbgrader itself, the same edition comes from
``c.ClearSolutions.code_stub = {"python": CODE_STUB}``.

Why not nbgrader itself: ``pip install nbgrader`` (0.9.6) adds the classic ``notebook`` 7,
alembic, Mako, RapidFuzz and setuptools to the environment, and registers server and JupyterLab
extensions (formgrader, assignment and course lists) that every ``make lab`` would load: a
grading system, where the course needs these two text transformations.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CODE_STUB = "# YOUR CODE HERE"
TEXT_STUB = "YOUR ANSWER HERE"
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def _flag(cell, name: str) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get(name, False))


def _replace_region(source: str, begin: str, end: str, stub: list[str] | None, where: str):
    """``source`` with its begin/end regions replaced by ``stub`` (None: removed); any found."""
    out, inside, found = [], False, False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise ValueError(f"{where}: {begin!r} inside another region")
            inside = found = True
            indent = re.match(r"\s*", line).group(0)
            out.extend(indent + s for s in stub or ())
        elif end in line:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {begin!r} without its {end!r}")
    return "\n".join(out), found


def student_notebook(nb, name: str = "notebook"):
    """The student edition of ``nb`` (a new notebook; ``nb`` is unchanged)."""
    nb = nbformat.from_dict(nb)
    language = nb.metadata.get("kernelspec", {}).get("language", "python")
    if language != "python":
        raise ValueError(f"{name}: no code stub for the language {language!r}")
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i}"
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        source, replaced = _replace_region(
            cell.source, BEGIN_SOLUTION, END_SOLUTION, stub.split("\n"), where
        )
        if replaced and not _flag(cell, "solution"):
            raise ValueError(f"{where}: a solution region outside a solution cell")
        if _flag(cell, "solution") and not replaced:
            source = stub
        source, removed = _replace_region(source, BEGIN_HIDDEN, END_HIDDEN, None, where)
        if removed and not _flag(cell, "grade"):
            raise ValueError(f"{where}: a hidden-tests region outside a grade cell")
        cell.source = source
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("celltoolbar", None)
    return nb


def write_student_edition(source: Path, out: Path) -> list[Path]:
    """Write the student edition of every notebook in ``source`` to ``out``; the paths written."""
    paths = sorted(Path(source).glob("*.ipynb"))
    if not paths:
        raise ValueError(f"source holds no notebooks: {source}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        nb = student_notebook(nbformat.read(path, as_version=4), path.name)
        nbformat.write(nb, out / path.name)
        written.append(out / path.name)
    return written


def main(argv=None) -> int:
    """Command line: ``student_edition.py [SOURCE] [OUT]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=ROOT / "notebooks")
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "build/student/notebooks")
    args = parser.parse_args(argv)
    written = write_student_edition(args.source, args.out)
    print(f"student edition: {len(written)} notebooks in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
