"""Test set-up: CPU only, no progress bars, Agg plots, a count of XLA compilations, and data
shared by test files of different modules.

Warnings are errors in the whole suite, upstream ones included: see ``filterwarnings`` in
pyproject.toml.
"""

import contextlib
import os
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("VIBOOK_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vibook.corpora import make_lda_corpus  # noqa: E402

# jax.monitoring records this event for each program handed to the XLA backend to compile;
# a program found in JAX's in-memory caches is not compiled again and records nothing.
BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_compiled = []  # the name of each program compiled in this session, in order


def _record_compilation(event, duration, **metadata):
    if event == BACKEND_COMPILE_EVENT:
        _compiled.append(metadata.get("fun_name", "?"))


# JAX's public API has no way to remove a listener: one is registered for the session.
jax.monitoring.register_event_duration_secs_listener(_record_compilation)


class Compilations:
    """The programs compiled since this counter started, until its ``with`` block ends."""

    def __init__(self):
        self._start, self._stop = len(_compiled), None

    @property
    def names(self):
        return _compiled[self._start : self._stop]

    @property
    def count(self):
        return len(self.names)


@contextlib.contextmanager
def _count_compilations():
    compiled = Compilations()
    try:
        yield compiled
    finally:
        compiled._stop = len(_compiled)


@pytest.fixture
def count_compilations():
    """``with count_compilations() as compiled:`` counts the programs compiled in the block."""
    return _count_compilations


@pytest.fixture
def key():
    """A fixed JAX random key; tests split it rather than seed anything globally."""
    return jax.random.key(0)


# Where tests/browser saves its screenshots. The summary is written by the process that reports
# (the controller, under pytest-xdist), which did not take them: it lists the files this run wrote.
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"
_SESSION_START = time.time()


def pytest_terminal_summary(terminalreporter):
    """Say where the screenshots are, so a reader of ``make test`` output can find them."""
    shots = sorted(p.name for p in SCREENSHOTS.glob("*.png") if p.stat().st_mtime >= _SESSION_START)
    if shots:
        terminalreporter.write_sep("-", "browser test screenshots")
        terminalreporter.write_line(f"saved in {SCREENSHOTS}/: {', '.join(shots)}")


# The LDA corpora's sizes; test_topics.py's K and V are the same.
K, V = 4, 60


@pytest.fixture(scope="session")
def corpora():
    """LDA train and held-out corpora from the same topics, for test_topics.py and
    test_topic_scores.py. Session-scoped: a module-scoped fixture here would be built again
    for each module that uses it."""
    train = make_lda_corpus(600, n_topics=K, n_vocab=V, doc_length=50, seed=1)
    # Held-out documents from the same topics: same seed for the topics, new documents.
    test = make_lda_corpus(1200, n_topics=K, n_vocab=V, doc_length=50, seed=1)
    np.testing.assert_allclose(train.topics, test.topics)
    return train, test
