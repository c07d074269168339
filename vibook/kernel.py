"""Where vibook runs: inside a Jupyter kernel or not, and what that changes.

A notebook shows progress bars; a terminal, a test run or CI does not. A kernel is told from a plain
IPython shell by its class: Jupyter's ``ZMQInteractiveShell`` or a subclass (Colab's).
"""

from __future__ import annotations

import os

__all__ = ["default_progress_bar", "in_jupyter_kernel"]


def in_jupyter_kernel() -> bool:
    """Return True when running inside a Jupyter kernel (JupyterLab, Notebook, Colab)."""
    try:
        from IPython import get_ipython  # optional: IPython ships with the lab extra
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and any(
        cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__
    )


def default_progress_bar() -> bool:
    """Progress bars are on in a notebook, off elsewhere and whenever ``VIBOOK_PROGRESS=0``."""
    flag = os.environ.get("VIBOOK_PROGRESS")
    if flag is not None:
        return flag not in ("0", "false", "False", "")
    return in_jupyter_kernel()
