import IPython
import pytest

from vibook import kernel
from vibook.kernel import in_jupyter_kernel


class ZMQInteractiveShell:  # the class name Jupyter's kernel shell has
    pass


class ColabShell(ZMQInteractiveShell):  # Colab's shell subclasses Jupyter's
    pass


class TerminalInteractiveShell:
    pass


@pytest.mark.parametrize(
    ("shell", "expected"),
    [
        (None, False),
        (ZMQInteractiveShell(), True),
        (ColabShell(), True),
        (TerminalInteractiveShell(), False),
    ],
)
def test_kernel_is_told_apart_by_its_shell_class(monkeypatch, shell, expected):
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    assert kernel.in_jupyter_kernel() is expected


@pytest.mark.parametrize(("flag", "expected"), [("0", False), ("false", False), ("1", True)])
def test_progress_flag_wins_over_the_kernel(monkeypatch, flag, expected):
    monkeypatch.setattr(IPython, "get_ipython", lambda: ColabShell())
    monkeypatch.setenv("VIBOOK_PROGRESS", flag)
    assert kernel.default_progress_bar() is expected


def test_progress_follows_the_kernel_without_the_flag(monkeypatch):
    monkeypatch.delenv("VIBOOK_PROGRESS", raising=False)
    monkeypatch.setattr(IPython, "get_ipython", lambda: ColabShell())
    assert kernel.default_progress_bar() is True
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert kernel.default_progress_bar() is False


def test_not_a_kernel_here():
    assert not in_jupyter_kernel()
