"""Where vibook runs: inside a Jupyter kernel or not, and what that changes.

A notebook shows progress bars; a terminal, a test run or CI does not. A kernel is told from a plain
IPython shell by its shell being an instance of ipykernel's ``ZMQInteractiveShell``, a subclass
included (Colab's shell is one). Nothing is imported to find out: a kernel has imported IPython
and ipykernel before it runs any code, so where they are not imported there is no kernel.
"""

from __future__ import annotations

import os
import sys

__all__ = ["default_progress_bar", "in_jupyter_kernel"]


def in_jupyter_kernel() -> bool:
    """Return True when running inside a Jupyter kernel (JupyterLab, Notebook, Colab)."""
    ipython, zmqshell = sys.modules.get("IPython"), sys.modules.get("ipykernel.zmqshell")
    if ipython is None or zmqshell is None:
        return False
    return isinstance(ipython.get_ipython(), zmqshell.ZMQInteractiveShell)


def default_progress_bar() -> bool:
    """Progress bars are on in a notebook, off elsewhere and whenever ``VIBOOK_PROGRESS=0``."""
    flag = os.environ.get("VIBOOK_PROGRESS")
    if flag is not None:
        return flag not in ("0", "false", "False", "")
    return in_jupyter_kernel()
