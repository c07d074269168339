"""Notebook checks under ``pytest --nbval-lax notebooks``: a cell that warns fails.

nbval runs each cell in the kernel and records what it printed in ``item.test_outputs``.
After a cell has run, its outputs are read here: a stderr stream with "Warning" in it, or
any text output in the ``SomeWarning: message`` format of :mod:`warnings`, fails the cell,
naming the notebook, the cell and the warning. A warning that cannot be avoided is allowed
only by an entry in ``ALLOWED_WARNINGS``, with the reason next to it.
"""

import re

import pytest
from nbval.plugin import IPyNbCell

# (regular expression searched in the warning's line, why the warning is allowed).
# Each pattern should be narrow: the warning's category and the start of its message.
ALLOWED_WARNINGS: list[tuple[str, str]] = []

# "UserWarning: ...", "FutureWarning: ..." and the like, as warnings.showwarning writes them.
_WARNING_FORMAT = re.compile(r"\b[A-Z]\w*Warning\b:")


def _texts(output):
    """(name, text) for each text an output carries: streams and plain-text displays."""
    if output.get("output_type") == "stream":
        yield output.get("name", "stream"), output.get("text", "")
    for mime in ("text/plain",):
        text = output.get("data", {}).get(mime)
        if text:
            yield mime, text if isinstance(text, str) else "".join(text)


def _allowed(line):
    return any(re.search(pattern, line) for pattern, _reason in ALLOWED_WARNINGS)


def warnings_in(outputs):
    """The warnings in a cell's outputs that no entry of ALLOWED_WARNINGS allows.

    Each is the warning's line and the line after it (where the warning was raised).
    """
    found = []
    for output in outputs or ():
        for name, text in _texts(output):
            lines = text.splitlines()
            i = 0
            while i < len(lines):
                line = lines[i]
                i += 1
                if not (_WARNING_FORMAT.search(line) or (name == "stderr" and "Warning" in line)):
                    continue
                # warnings.showwarning writes the source line, indented, under the message
                source = lines[i] if i < len(lines) and lines[i][:1].isspace() else None
                if source is not None:
                    i += 1
                if not _allowed(line):
                    found.append(line if source is None else f"{line}\n{source}")
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail a notebook cell that ran cleanly but printed a warning."""
    result = yield  # a cell that failed already raises here, with nbval's own report
    if isinstance(item, IPyNbCell):
        found = warnings_in(item.test_outputs)
        if found:
            notebook = item.nodeid.split("::")[0]
            item.raise_cell_error(
                f"{notebook}, cell {item.cell_num} printed {len(found)} warning(s) "
                "that ALLOWED_WARNINGS in notebooks/conftest.py does not allow",
                "\n" + "\n\n".join(found),
            )
    return result
