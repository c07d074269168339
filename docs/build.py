"""Build the book: ``python docs/build.py`` (what ``make docs`` runs).

1. Every notebook whose executed copy (``test-artifacts/executed/NAME.ipynb``) is missing or was
   made from other sources (``docs/executed.py``) is run once, by the notebook tests
   (``pytest --nbval-lax``), which write the copy. A cell that raises, fails an assert or warns
   fails that run, and the build stops there. After ``make test``'s notebook run every copy is
   fresh and nothing runs again.
2. The sources are laid out in ``docs/_build/source``: ``index.md``, ``instructors.md`` and
   ``api.rst`` from ``docs/`` and the executed copies as ``notebooks/NAME.ipynb`` (the path a
   notebook has in the repository, which the launch buttons link to). Each exercise's solution
   cell (nbgrader's ``solution`` flag) is collapsed there under its exercise: its code is behind
   a "Show the solution" toggle, its output and the check below it stay in view.
3. Sphinx builds ``docs/_build/html`` with execution off and warnings as errors (``-W``).

Open ``docs/_build/html/index.html``: the pages need no network.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import executed

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
BUILD = DOCS / "_build"
SOURCE = BUILD / "source"
HTML = BUILD / "html"
DOCTREES = BUILD / "doctrees"
PAGES = ("index.md", "instructors.md", "api.rst")
SHOW_SOLUTION, HIDE_SOLUTION = "Show the solution", "Hide the solution"
# As the Makefile's test target runs the notebooks: whole notebooks per worker, up to four.
PARALLEL = ["--numprocesses=auto", "--maxprocesses=4", "--dist=loadfile"]


# What the book needs besides the test set-up: pyproject.toml's ``docs`` extra.
NEEDS = {
    "sphinx": "sphinx",
    "myst_nb": "myst-nb",
    "sphinx_book_theme": "sphinx-book-theme",
    "sphinx-mathjax-offline": "sphinx-mathjax-offline",
}


def check_installed() -> None:
    """Stop with what to install when a package of the ``docs`` extra is missing."""
    missing = [dist for module, dist in NEEDS.items() if importlib.util.find_spec(module) is None]
    if missing:
        sys.exit(
            f"docs: {', '.join(missing)} not installed in {sys.prefix}: the book needs "
            "pyproject.toml's docs extra (pip install -e '.[docs]')"
        )


def run_notebooks(notebooks: list[Path]) -> None:
    """Run ``notebooks`` through the notebook tests, which write their executed copies."""
    names = " ".join(nb.name for nb in notebooks)
    print(f"docs: running {len(notebooks)} notebook(s) without a fresh executed copy: {names}")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax"]
    cmd += PARALLEL if len(notebooks) > 1 else []
    cmd += [str(nb.relative_to(ROOT)) for nb in notebooks]
    env = dict(os.environ, VIBOOK_PROGRESS="0")
    done = subprocess.run(cmd, cwd=ROOT, env=env)
    if done.returncode != 0:
        sys.exit(f"docs: the notebook run failed ({done.returncode}); the book was not built")


def stage() -> None:
    """Lay out the book's sources in ``docs/_build/source`` (copies keep their times)."""
    shutil.rmtree(SOURCE, ignore_errors=True)
    (SOURCE / "notebooks").mkdir(parents=True)
    for page in PAGES:
        shutil.copy2(DOCS / page, SOURCE / page)
    # docs/instructors.md links the notebooks as the repository has them (../notebooks/, for
    # reading on GitHub); in the book they sit beside it.
    page = DOCS / "instructors.md"
    _write_as_of(
        SOURCE / page.name, page.read_text().replace("](../notebooks/", "](notebooks/"), page
    )
    for nb in sorted(executed.NOTEBOOKS.glob("*.ipynb")):
        copy = executed.executed_path(nb)
        text = collapse_solutions(copy.read_text(encoding="utf-8"))
        _write_as_of(SOURCE / "notebooks" / nb.name, text, copy)


def _write_as_of(staged: Path, text: str, source: Path) -> None:
    """Write a page this script made from ``source``, dated as the later of the two.

    Sphinx rebuilds a page whose file is newer than its last build: a change to either shows.
    """
    staged.write_text(text, encoding="utf-8")
    made = max(source.stat().st_mtime, Path(__file__).stat().st_mtime)
    os.utime(staged, (made, made))


def collapse_solutions(notebook_json: str) -> str:
    """The notebook (JSON text) with each solution cell's code collapsed in the book.

    A solution cell gets myst-nb's ``hide-input`` tag, and its toggle reads "Show the solution";
    nothing else changes.
    """
    nb = json.loads(notebook_json)
    for cell in nb["cells"]:
        meta = cell.setdefault("metadata", {})
        if cell["cell_type"] == "code" and meta.get("nbgrader", {}).get("solution"):
            tags = meta.setdefault("tags", [])
            if "hide-input" not in tags:
                tags.append("hide-input")
            meta.setdefault("mystnb", {}).update(
                code_prompt_show=SHOW_SOLUTION, code_prompt_hide=HIDE_SOLUTION
            )
    return json.dumps(nb, ensure_ascii=False, indent=1) + "\n"


def sphinx(jobs: str) -> None:
    """Build the HTML with Sphinx; any warning fails it."""
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q"]
    cmd += ["-j", jobs, "-c", str(DOCS), "-d", str(DOCTREES), str(SOURCE), str(HTML)]
    done = subprocess.run(cmd, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"docs: sphinx-build failed ({done.returncode}); see its messages above")


def main(argv: list[str] | None = None) -> None:
    """Run what is missing, then build the book."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="fail, rather than run them, when notebooks lack a fresh executed copy",
    )
    parser.add_argument("-j", "--jobs", default="auto", help="Sphinx's parallel jobs")
    args = parser.parse_args(argv)

    check_installed()
    start = time.perf_counter()
    stale = executed.stale_notebooks()
    if stale and args.no_execute:
        names = " ".join(nb.name for nb in stale)
        sys.exit(f"docs: no fresh executed copy of {names}; run 'make docs' without --no-execute")
    if stale:
        run_notebooks(stale)
        still = executed.stale_notebooks()
        if still:
            names = " ".join(nb.name for nb in still)
            sys.exit(f"docs: the notebook run left no fresh executed copy of {names}")
    ran = time.perf_counter()
    stage()
    sphinx(args.jobs)
    end = time.perf_counter()
    executed_note = f"ran {len(stale)} notebook(s) in {ran - start:.0f} s, " if stale else ""
    print(
        f"docs: {executed_note}built the book from the executed copies in {end - ran:.0f} s: "
        f"{(HTML / 'index.html').relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
