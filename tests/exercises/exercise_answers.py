"""What every checker's tests feed it and how they read its verdict (imported by the tests of
``vibook.exercises``; ``tests/exercises`` is on pytest's ``pythonpath``)."""

import numpy as np

from vibook.exercises import Feedback

STUBS = [None, ...]
# Answers of every odd kind: a checker reports them, it never raises.
ODD_ANSWERS = [object(), "abc", {"a": 1.0}, [1.0, "x"], np.array([1 + 2j]), True, np.nan, [[]]]
ODD_FUNCTIONS = [
    3,
    "abc",
    lambda *args: "abc",
    lambda *args: 1 / 0,
    lambda *args: object(),
    lambda *args: np.array([np.nan]),
    lambda *args: (1.0, 2.0),
]


def says(result, status, *phrases):
    """``result`` is a Feedback with ``status`` whose message holds every phrase."""
    assert isinstance(result, Feedback), result
    assert result.status == status, str(result)
    assert result.ok == (status == "right")
    for phrase in phrases:
        assert phrase in result.message, f"{phrase!r} not in {result.message!r}"


def not_yet(result):
    """``result`` says the answer is still the stub."""
    says(result, "not answered", "Not yet answered")
