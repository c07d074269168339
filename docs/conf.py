"""Sphinx configuration of the book: every notebook with its outputs, a landing page, the API.

Built by ``make docs`` (``docs/build.py``), which lays out the sources in ``docs/_build/source``:
``index.md`` and ``api.rst`` from here and ``notebooks/NAME.ipynb``, the executed copies that
``pytest --nbval-lax`` wrote (``docs/executed.py``). Nothing is executed here
(``nb_execution_mode = "off"``), nothing is fetched (no intersphinx; MathJax is served from the
book's own ``_static``), and any Sphinx warning fails the build (``-W``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
from pathlib import Path

import sphinx.ext.autosummary

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # autodoc imports vibook, hence JAX
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("VIBOOK_PROGRESS", "0")

REPOSITORY = "https://github.com/vibook/vibook"
BINDER = "https://mybinder.org/v2/gh/vibook/vibook/HEAD"  # the README's badge

project = "vibook"
author = "the vibook authors"
copyright = "the vibook authors, MIT licence"
html_title = "vibook"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
# MathJax 3 from the PyPI package sphinx-mathjax-offline, served from the book's own _static:
# the pages typeset their maths with no CDN, from file:// as well as from a web server. Its
# files are used directly (the package's Sphinx extension does the same copy, but does not
# declare itself safe for parallel reading, which -W would make an error under -j).
_MATHJAX = Path(importlib.util.find_spec("sphinx-mathjax-offline").origin).parent / "static"
html_static_path = [str(_MATHJAX)]  # its mathjax/ folder becomes _static/mathjax/
mathjax_path = "mathjax/tex-chtml.js"

root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = []

# --- notebooks (myst-nb) --------------------------------------------------------------------
nb_execution_mode = "off"  # the executed copies already hold every output
nb_execution_raise_on_error = True  # were execution ever turned on, an error fails the build
nb_execution_allow_errors = False
# A stderr output (a library warning, a log line) is a Sphinx warning, so -W fails the build;
# the notebook tests already fail any cell that warns (notebooks/conftest.py).
nb_output_stderr = "warn"
# Figures first: an image is what a static page can show of an output, of a widget above all
# (vibook's widget panels carry a PNG of their figure in their display bundle). Widget views
# stay below the images; without widget state in the notebook, myst-nb loads no widget JS.
nb_mime_priority_overrides = [
    ("html", "image/png", 1),
    ("html", "image/jpeg", 2),
    ("html", "image/gif", 3),
    ("html", "image/svg+xml", 4),
    ("html", "application/vnd.jupyter.widget-view+json", 10),
]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# --- API reference --------------------------------------------------------------------------
# api.rst lists the public modules; each gets a page (docs/_templates/autosummary/module.rst)
# documenting what its ``__all__`` offers. An object a module re-exports (``vibook.run_svi``,
# ``vibook.models.bnn``) is documented once, in the module that defines it, and linked from the
# others, so every name has one target.
API_MODULES = re.findall(
    r"^   (vibook[\w.]*)$", (Path(__file__).parent / "api.rst").read_text(), re.M
)


def _home(modname: str, name: str, obj) -> str:
    """The documented module that defines ``obj`` (``modname`` if none other does)."""
    if inspect.isclass(obj) or inspect.isroutine(obj):
        home = getattr(obj, "__module__", None)
        return home if home in API_MODULES else modname
    assigns = re.compile(rf"^{re.escape(name)}\b\s*(:[^=\n]*)?=", re.M)  # data: ``NAME = ...``
    for other in API_MODULES:
        module = importlib.import_module(other)
        if getattr(module, name, None) is obj and assigns.search(inspect.getsource(module)):
            return other
    return modname


def _api_members() -> tuple[dict[str, list[str]], dict[str, list[tuple[str, str]]]]:
    own, elsewhere = {}, {}
    for modname in API_MODULES:
        module = importlib.import_module(modname)
        own[modname], elsewhere[modname] = [], []
        for name in module.__all__:
            home = _home(modname, name, getattr(module, name))
            if home == modname:
                own[modname].append(name)
            else:
                elsewhere[modname].append((name, home))
    return own, elsewhere


_own, _elsewhere = _api_members()


def _modules_first(import_by_name):
    """Make autosummary read a listed module's name as that module.

    autosummary reads ``a.b`` as attribute ``b`` of ``a`` first; where a package re-exports a
    function named like its module (``vibook.models.bnn``, ``vibook.infer.predictive``) it would
    document the function in the module's place.
    """

    def wrapped(name, *args, **kwargs):
        if name in API_MODULES:
            return importlib.import_module(name), None, name
        return import_by_name(name, *args, **kwargs)

    return wrapped


# A private helper of autosummary: should it move, this line fails the build, loudly.
sphinx.ext.autosummary._import_by_name = _modules_first(sphinx.ext.autosummary._import_by_name)
templates_path = [str(Path(__file__).parent / "_templates")]  # absolute: the sources are staged
autosummary_generate = True
autosummary_context = {"vibook_own": _own, "vibook_elsewhere": _elsewhere}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True  # a class's Attributes section as fields, not a second description

# --- HTML -----------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": "main",
    "path_to_docs": "",  # the staged tree mirrors the repository: notebooks/NAME.ipynb
    "use_repository_button": True,
    "use_download_button": True,
    "use_fullscreen_button": True,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
        "notebook_interface": "jupyterlab",
    },
    "show_toc_level": 2,
    "navigation_with_keys": False,
}


def _binder_at_head(app, pagename, templatename, context, doctree):
    """Point the Binder button at HEAD, as the README's badge does (Colab keeps ``main``).

    The theme builds both links from one ``repository_branch``.
    """
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            if button.get("text") == "Binder":
                _, _, query = button["url"].partition("?")
                button["url"] = f"{BINDER}?{query}"


# A ``|word ... word|`` in a docstring's prose is an absolute value (vibook's docstrings use no
# reST substitutions), not a substitution reference: escape its bars, outside ``literals``.
_BARS = re.compile(r"(?<![\\|])\|([^|\s`][^|`]*?[^|\s`]|[^|\s`])\|(?![|_])")
_LITERAL = re.compile(r"(``.*?``|:math:`[^`]*`)")


def _escape_bars(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        parts = _LITERAL.split(line)
        parts[::2] = [_BARS.sub(r"\\|\1\\|", part) for part in parts[::2]]
        lines[i] = "".join(parts)


def setup(app):
    """Fix the Binder button after the theme made it (priority 501); escape docstring bars."""
    app.connect("html-page-context", _binder_at_head, priority=600)
    app.connect("autodoc-process-docstring", _escape_bars)
