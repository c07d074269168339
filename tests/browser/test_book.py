"""The built book (``docs/_build/html``, made by ``make docs``), checked as a reader sees it.

Headless Chromium opens the landing page and every notebook page from ``file://``, as a reader
who opened ``docs/_build/html/index.html`` would, with every request that leaves the machine
refused and counted (the book must work offline). On each page:

- the figures (``<img>`` in cell outputs) are as many as ``docs/figures.json`` says, and each
  one loaded; that manifest is checked against the image outputs of the executed notebooks the
  book was built from (``test_figure_manifest``), so neither can drift from the other;
- the maths is typeset: MathJax output elements on every page whose source has maths, and no
  raw ``$$``, ``$\\``, ``\\(`` or ``\\[`` left in the text outside code;
- no traceback and no warning is shown ("Traceback", "Warning:", "UserWarning",
  "DeprecationWarning"), and no widget is shown as its text repr;
- the Binder and Colab launch links open that page's notebook;
- each exercise's solution is collapsed under a "Show the solution" toggle that opens it, and
  the check below it, saying the answer is right, is in view.

The page for instructors is checked as the landing page is, and must link every notebook with
exercises.

A screenshot of each page goes to ``test-artifacts/browser/book-NAME.png``. Without a built
book (or executed copies) a test that needs it fails, never skips, naming the command that
builds it; ``make test`` builds the book after the notebook tests and runs this file last.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))
import executed  # noqa: E402  (docs/executed.py: where the executed copies are)

sys.path.remove(str(ROOT / "docs"))

HTML = ROOT / "docs" / "_build" / "html"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BINDER = "https://mybinder.org/v2/gh/vibook/vibook/HEAD?urlpath=lab/tree/notebooks/{}.ipynb"
COLAB = "https://colab.research.google.com/github/vibook/vibook/blob/main/notebooks/{}.ipynb"
NOT_BUILT = "the book is not built ({} is missing): run 'make docs' (or 'make test') first"
SHOWN_PROBLEMS = ("Traceback", "Warning:", "UserWarning", "DeprecationWarning")
WIDGET_AS_TEXT = re.compile(r"\b(V?H?Box|\w+Slider|Output|interactive)\((children|value|outputs)=")
RAW_MATH = ("$$", "$\\", "\\(", "\\[")
# Maths in a notebook's markdown: $...$ or $$...$$ with something TeX-like inside.
MATH_SOURCE = re.compile(r"\$\$.+?\$\$|\$[^$\s][^$]*?\$|\\begin\{", re.S)
LOAD_TIMEOUT_MS = 60_000


def _page_file(name: str) -> Path:
    return HTML / "index.html" if name == "index" else HTML / "notebooks" / f"{name}.html"


def _require_built(path: Path) -> None:
    if not path.exists():
        pytest.fail(NOT_BUILT.format(path.relative_to(ROOT)), pytrace=False)


def _manifest() -> dict[str, int]:
    return json.loads(executed.FIGURES.read_text())


def _has_math(notebook: Path) -> bool:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    text = "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in cells
        if c["cell_type"] == "markdown"
    )
    return bool(MATH_SOURCE.search(text))


# --- what the book is built from ---------------------------------------------------------------


def test_figure_manifest():
    """docs/figures.json holds each notebook's image outputs, as the executed copies have them."""
    missing = [nb.name for nb in NOTEBOOKS if not executed.executed_path(nb).exists()]
    if missing:
        pytest.fail(
            f"no executed copy of {' '.join(missing)} in {executed.EXECUTED.relative_to(ROOT)}: "
            "run 'make docs' (or 'make test') first",
            pytrace=False,
        )
    manifest = _manifest()
    counts = executed.figure_counts()
    assert sorted(manifest) == sorted(counts), "docs/figures.json must list every notebook"
    wrong = {name: (manifest[name], n) for name, n in counts.items() if manifest[name] != n}
    assert not wrong, (
        "figures per notebook (docs/figures.json, executed copy) differ: "
        f"{wrong}; if the change is meant, run 'python docs/executed.py --write-figures'"
    )


def test_every_notebook_on_the_landing_page():
    """The landing page links every notebook and has it in its table of contents."""
    index = (ROOT / "docs" / "index.md").read_text()
    for nb in NOTEBOOKS:
        assert f"](notebooks/{nb.name})" in index, f"docs/index.md does not link {nb.name}"
        assert f"\nnotebooks/{nb.stem}\n" in index, f"docs/index.md's toctree lacks {nb.stem}"


def test_every_public_module_in_the_api_reference():
    """docs/api.rst lists every public module of the package."""
    api = (ROOT / "docs" / "api.rst").read_text()
    listed = set(re.findall(r"^   (vibook[\w.]*)$", api, re.M))
    modules = set()
    for path in (ROOT / "vibook").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(p.startswith("_") for p in parts):
            modules.add(".".join(parts))
    assert sorted(modules - listed) == [], "modules missing from docs/api.rst"
    assert sorted(listed - modules) == [], "docs/api.rst lists modules that do not exist"


def test_api_pages_document_their_modules():
    """Each module listed in docs/api.rst has a built page that documents that module."""
    _require_built(HTML / "index.html")
    api = (ROOT / "docs" / "api.rst").read_text()
    wrong = []
    for module in re.findall(r"^   (vibook[\w.]*)$", api, re.M):
        page = HTML / "generated" / f"{module}.html"
        if not page.exists() or f'id="module-{module}"' not in page.read_text():
            wrong.append(module)
    assert not wrong, f"API pages that do not document their module: {wrong}"


def test_pages_load_nothing_from_the_network():
    """No script, stylesheet, font or image of the built book is fetched from another host."""
    _require_built(HTML / "index.html")
    remote = re.compile(
        r"<(?:script|img|iframe|source)\b[^>]*\bsrc=\"(?:https?:)?//|"
        r"<link\b(?=[^>]*\brel=\"(?:stylesheet|preload|icon|modulepreload)\")[^>]*"
        r"\bhref=\"(?:https?:)?//|url\(\s*['\"]?(?:https?:)?//",
        re.I,
    )
    found = []
    for path in sorted(HTML.rglob("*")):
        if path.suffix in (".html", ".css") and remote.search(path.read_text(errors="replace")):
            found.append(str(path.relative_to(HTML)))
    assert not found, f"pages that fetch from the network: {found}"


# --- in the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def book_screenshot():
    """``book_screenshot(name)``: ``test-artifacts/browser/book-NAME.png``, this run's only."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("book-*.png"):
        old.unlink()
    return lambda name: ARTIFACTS / f"book-{name}.png"


@pytest.fixture
def offline_page(browser):
    """A page that refuses, and lists in ``page.remote_requests``, every off-machine request."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.remote_requests = []

    def route(r):
        if urlsplit(r.request.url).scheme in ("file", "data", "blob", "about"):
            r.continue_()
        else:
            page.remote_requests.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    try:
        yield page
    finally:
        context.close()


_VISIBLE_TEXT = """(root) => {
  const copy = root.cloneNode(true);
  // code (where $ and \\( are Python), typeset maths and scripts are not prose
  copy.querySelectorAll('pre, code, .cell_input, mjx-container, script, style, .MathJax')
      .forEach(e => e.remove());
  return copy.textContent;
}"""


def _open(page, path: Path) -> None:
    page.goto(path.as_uri(), wait_until="load", timeout=LOAD_TIMEOUT_MS)
    # MathJax is on a page only if it has maths (its async script delays "load"); wait until
    # its first typesetting is done.
    page.wait_for_function(
        "() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)",
        timeout=LOAD_TIMEOUT_MS,
    )
    page.evaluate("() => window.MathJax ? window.MathJax.startup.promise.then(() => true) : true")


def _check_page(page, name: str, expect_math: bool) -> list[str]:
    """What is wrong with the open page (empty when nothing is)."""
    wrong = []
    article = page.locator("article.bd-article")
    if article.count() != 1:
        return [f"no single <article class='bd-article'> ({article.count()})"]
    text = article.inner_text()
    outputs = "\n".join(page.locator(".cell_output").all_inner_texts())
    for problem in SHOWN_PROBLEMS:
        if problem in text or problem in outputs:
            wrong.append(f"the page shows {problem!r}")
    if shown := WIDGET_AS_TEXT.search(outputs):
        wrong.append(f"a widget is shown as text ({shown.group(0)}...)")
    prose = article.evaluate(_VISIBLE_TEXT)
    for raw in RAW_MATH:
        if raw in prose:
            at = prose.index(raw)
            wrong.append(
                f"raw maths {raw!r} left in the text: ...{prose[max(at - 40, 0) : at + 40]!r}..."
            )
    typeset = page.locator("mjx-container").count()
    if expect_math and typeset == 0:
        wrong.append("the source has maths but MathJax typeset none (no <mjx-container>)")
    errors = page.locator("mjx-merror").count()
    if errors:
        wrong.append(f"MathJax could not typeset {errors} formula(s)")
    return wrong


def _solution_cells(notebook: Path) -> int:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum(bool(c["metadata"].get("nbgrader", {}).get("solution")) for c in cells)


def _check_solutions_collapsed(page, notebook: Path) -> list[str]:
    """Each exercise's solution is behind a closed "Show the solution" toggle; its check shows."""
    toggles = page.locator("details.hide.above-input").filter(has_text="Show the solution")
    expected = _solution_cells(notebook)
    wrong = []
    if toggles.count() != expected:
        wrong.append(f"{toggles.count()} collapsed solutions, the notebook has {expected}")
    for i in range(toggles.count()):
        toggle = toggles.nth(i)
        if toggle.get_attribute("open") is not None or toggle.locator("pre").first.is_visible():
            wrong.append(f"solution {i + 1} is shown, not collapsed")
            break
    if expected:
        verdicts = (
            page.locator(".cell_output").filter(has_text="Exercise ").filter(has_text="right.")
        )
        if verdicts.count() < expected:
            wrong.append(f"{verdicts.count()} checks say right, for {expected} exercises")
        toggles.first.locator("summary").click()
        if not toggles.first.locator("pre").first.is_visible():
            wrong.append("the first solution does not open when its toggle is clicked")
    return wrong


def _images(page) -> list[dict]:
    return page.locator(".cell_output img").evaluate_all(
        "imgs => imgs.map(i => ({src: i.src.slice(0, 80), ok: i.complete && i.naturalWidth > 0}))"
    )


def _launch_links(page) -> dict[str, list[str]]:
    hrefs = page.locator("a[href]").evaluate_all("as => as.map(a => a.href)")
    return {
        "binder": sorted({h for h in hrefs if h.startswith("https://mybinder.org/v2/")}),
        "colab": sorted({h for h in hrefs if h.startswith("https://colab.research.google.com/")}),
    }


def _screenshot(page, path: Path) -> None:
    """The top of the page, or of its first figure when it has one (the header stays in view)."""
    figures = page.locator(".cell_output img")
    if figures.count():
        figures.first.scroll_into_view_if_needed()
        page.wait_for_timeout(200)
    page.screenshot(path=path)


@pytest.mark.browser
@pytest.mark.slow
def test_landing_page(offline_page, book_screenshot):
    """The landing page: typeset, clean, linking every notebook page, with no launch links."""
    path = _page_file("index")
    _require_built(path)
    page = offline_page
    try:
        _open(page, path)
        wrong = _check_page(page, "index", expect_math=False)
        hrefs = set(page.locator("article a[href]").evaluate_all("as => as.map(a => a.href)"))
        for nb in NOTEBOOKS:
            if _page_file(nb.stem).as_uri() not in hrefs:
                wrong.append(f"no link to the page of {nb.name}")
            if not _page_file(nb.stem).exists():
                wrong.append(f"the page of {nb.name} was not built")
        if _images(page):
            wrong.append("the landing page shows output figures")
        if any(_launch_links(page).values()):
            wrong.append(f"launch links on the landing page: {_launch_links(page)}")
        if page.remote_requests:
            wrong.append(f"requests to the network: {page.remote_requests}")
        page.screenshot(path=book_screenshot("index"))
        assert not wrong, "docs/_build/html/index.html:\n" + "\n".join(wrong)
    except BaseException:
        page.screenshot(path=book_screenshot("index-failure"))
        raise


@pytest.mark.browser
@pytest.mark.slow
def test_instructor_page(offline_page, book_screenshot):
    """The page for instructors: typeset, clean, linking every notebook page but the quickstart."""
    path = HTML / "instructors.html"
    _require_built(path)
    page = offline_page
    _open(page, path)
    wrong = _check_page(page, "instructors", expect_math=False)
    hrefs = set(page.locator("article a[href]").evaluate_all("as => as.map(a => a.href)"))
    for nb in NOTEBOOKS[1:]:
        if _page_file(nb.stem).as_uri() not in hrefs:
            wrong.append(f"no link to the page of {nb.name}")
    if page.remote_requests:
        wrong.append(f"requests to the network: {page.remote_requests}")
    page.screenshot(path=book_screenshot("instructors"))
    assert not wrong, "docs/_build/html/instructors.html:\n" + "\n".join(wrong)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_page(notebook: Path, offline_page, book_screenshot):
    """A notebook's page: its figures, its maths, no warnings, its Binder and Colab links."""
    name = notebook.stem
    path = _page_file(name)
    _require_built(path)
    page = offline_page
    try:
        _open(page, path)
        wrong = _check_page(page, name, expect_math=_has_math(notebook))
        images = _images(page)
        expected = _manifest().get(name)
        if expected is None:
            wrong.append(f"docs/figures.json has no entry for {name}")
        elif len(images) != expected:
            wrong.append(f"{len(images)} figures on the page, docs/figures.json says {expected}")
        broken = [img["src"] for img in images if not img["ok"]]
        if broken:
            wrong.append(f"{len(broken)} figure(s) did not load: {broken[:3]}")
        wrong += _check_solutions_collapsed(page, notebook)
        links = _launch_links(page)
        if links["binder"] != [BINDER.format(name)]:
            wrong.append(f"Binder links {links['binder']}, expected {BINDER.format(name)}")
        if links["colab"] != [COLAB.format(name)]:
            wrong.append(f"Colab links {links['colab']}, expected {COLAB.format(name)}")
        if page.remote_requests:
            wrong.append(f"requests to the network: {page.remote_requests}")
        _screenshot(page, book_screenshot(name))
        assert not wrong, f"docs/_build/html/notebooks/{name}.html:\n" + "\n".join(wrong)
    except BaseException:
        page.screenshot(path=book_screenshot(f"{name}-failure"))
        raise
