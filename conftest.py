"""Keep every notebook that nbval ran cleanly, with its outputs, for the book.

When ``pytest --nbval-lax`` runs a notebook, each cell's outputs are collected here as nbval
recorded them (``IPyNbCell.test_outputs``). When the last cell of a notebook has run and every
cell passed (no error, no failed assert, no warning: see ``notebooks/conftest.py``), the
notebook is written with those outputs and execution counts to
``test-artifacts/executed/NAME.ipynb`` (``docs/executed.py``); ``make docs`` builds the book
from these copies without running anything again. A notebook with a failed cell leaves no
copy, and an older copy of it is removed. Under pytest-xdist each worker runs whole notebooks
(``--dist=loadfile``) and writes its own. A run that selects only some cells of a notebook
(``-k``) writes nothing for it. Kernels start without the tests' ``MPLBACKEND=Agg``, so
figures reach the outputs through matplotlib's inline backend, as in a student's notebook.

Widgets: what a cell displays inside an ``ipywidgets.Output`` (a widget's figure) reaches nbval
as an ordinary output, where JupyterLab would show it inside the widget. Such outputs are kept
(the static book shows them where the widget would be) unless the cell's widget carries a figure
of its own in its display bundle, which then stands for them, so the figure is not shown twice.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from nbval.plugin import IPyNbCell

_spec = importlib.util.spec_from_file_location(
    "vibook_docs_executed", Path(__file__).parent / "docs" / "executed.py"
)
executed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(executed)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_package = None  # the package's fingerprint when this session started
_runs: dict[Path, dict] = {}  # notebook -> {"failed", "outputs", "done"} while it runs


def pytest_sessionstart(session):
    """Fingerprint the package before any notebook runs: that is the code they run."""
    global _package
    _package = executed.package_fingerprint()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Start a notebook's kernel without the tests' ``MPLBACKEND=Agg``.

    ``tests/conftest.py`` sets it for the test process; a kernel that inherits it shows no
    figure, so its notebook would reach the book without them. Without it the kernel uses
    matplotlib's inline backend, as a student's does.
    """
    if not isinstance(item, IPyNbCell):
        return (yield)
    backend = os.environ.pop("MPLBACKEND", None)
    try:
        return (yield)
    finally:
        if backend is not None:
            os.environ["MPLBACKEND"] = backend


class _OutputWidgetSpy:
    """Watch the kernel messages nbval reads for one cell; note what an ``Output`` captured.

    An ``Output`` widget captures while its ``msg_id`` is set (a comm update from the kernel),
    as JupyterLab and nbclient track it; the ``data`` of each display sent meanwhile is kept.
    """

    def __init__(self, nbfile):
        self.nbfile = nbfile
        self.capturing: set[str] = set()
        self.captured: list[dict] = []
        read = nbfile.get_kernel_message

        def get_kernel_message(*args, **kwargs):
            msg = read(*args, **kwargs)
            self._see(msg)
            return msg

        nbfile.get_kernel_message = get_kernel_message

    def _see(self, msg):
        kind, content = msg.get("msg_type"), msg.get("content", {})
        if kind == "comm_msg":
            data = content.get("data") or {}
            state = data.get("state") or {}
            if data.get("method") == "update" and "msg_id" in state:
                if state["msg_id"]:
                    self.capturing.add(content.get("comm_id"))
                else:
                    self.capturing.discard(content.get("comm_id"))
        elif kind in ("display_data", "execute_result") and self.capturing:
            self.captured.append(content.get("data"))

    def stop(self):
        del self.nbfile.get_kernel_message  # the class's method again

    def outputs(self, outputs: list) -> list:
        """``outputs`` less those an ``Output`` captured, if a widget brings its own figure."""
        own_figure = any(
            WIDGET_VIEW in out.get("data", {})
            and any(mime in out["data"] for mime in executed.IMAGE_MIMES)
            for out in outputs
        )
        if not own_figure:
            return list(outputs)
        # nbval copies each display's data into a NotebookNode: equal, not the same object.
        return [out for out in outputs if out.get("data") not in self.captured]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Watch a notebook cell's kernel messages while nbval runs it."""
    if not isinstance(item, IPyNbCell):
        return (yield)
    spy = _OutputWidgetSpy(item.parent)
    try:
        return (yield)
    finally:
        spy.stop()
        item.vibook_spy = spy


def _code_cells(item: IPyNbCell) -> int:
    return sum(cell.cell_type == "code" for cell in item.parent.nb.cells)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Record each notebook cell's outcome and outputs; write the notebook after its last."""
    report = yield
    if not isinstance(item, IPyNbCell):
        return report
    notebook = Path(item.path)
    run = _runs.setdefault(notebook, {"failed": False, "outputs": {}, "done": set()})
    run["failed"] |= report.failed
    if report.when == "teardown":
        run["done"].add(item.cell_num)
        if item.test_outputs is not None:
            spy = getattr(item, "vibook_spy", None)
            outputs = item.test_outputs
            run["outputs"][item.cell_num] = spy.outputs(outputs) if spy else list(outputs)
        if len(run["done"]) == _code_cells(item):
            del _runs[notebook]
            if run["failed"]:
                executed.executed_path(notebook).unlink(missing_ok=True)
            else:
                executed.write_executed(notebook, run["outputs"], _package)
    return report
