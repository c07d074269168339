"""What a checker says about an answer: right, not right yet (and why), or not yet answered.

Every checker in :mod:`vibook.exercises` returns a :class:`Feedback`. A checker never raises
on the answer itself, whatever it is (a number, a string, a function that raises): a student
mid-way through an exercise should read what is wrong, not a traceback. Only the exercise's
own inputs (the data, the prior) are checked as vibook checks any argument, and raise.

The functions below are the checkers' building blocks, so that a new notebook's checkers
read the same way: recognise the stub (``None`` or ``...``), turn an answer into numbers of
the expected shape or say why it cannot be, call a student's function and report what it
raised, and compare an answer with the reference and with each recognised mistake, every one
computed at check time from the exercise's inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Feedback",
    "as_numbers",
    "call_answer",
    "close",
    "explain",
    "first_match",
    "fmt",
    "is_stub",
    "not_answered",
    "right",
    "which_right",
    "wrong",
]

BY_HAND = 5e-3  # relative tolerance of an answer worked out by hand (three figures and a half)
COMPUTED = 1e-6  # relative tolerance of a function's output

_HEADINGS = {"right": "right", "wrong": "not right yet", "not answered": "not yet answered"}


@dataclass(frozen=True, repr=False)
class Feedback:
    """The verdict on one answer to one exercise.

    Shown in Jupyter as a line of Markdown, printed as the same line in plain text.

    Attributes
    ----------
    exercise : str
        The exercise's number, such as ``"01.1"`` (notebook 01, first exercise).
    status : {"right", "wrong", "not answered"}
        The verdict.
    message : str
        What was checked and, for a wrong answer, what looks wrong and what to try.
    """

    exercise: str
    status: str
    message: str

    def __post_init__(self):
        if self.status not in _HEADINGS:
            raise ValueError(f"status must be one of {sorted(_HEADINGS)}; got {self.status!r}")

    @property
    def ok(self) -> bool:
        """True when the answer is right."""
        return self.status == "right"

    def __str__(self) -> str:
        return f"Exercise {self.exercise}, {_HEADINGS[self.status]}: {self.message}"

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        # Formulas in messages are written as code is (s**2, lambda_0): not Markdown emphasis.
        text = re.sub(r"([\\*_])", r"\\\1", self.message)
        return f"**Exercise {self.exercise}, {_HEADINGS[self.status]}.** {text}"


def right(exercise: str, message: str) -> Feedback:
    """A :class:`Feedback` for a right answer."""
    return Feedback(exercise, "right", message)


def wrong(exercise: str, message: str) -> Feedback:
    """A :class:`Feedback` for an answer that is not right (yet)."""
    return Feedback(exercise, "wrong", message)


def not_answered(exercise: str, what: str = "the answer") -> Feedback:
    """A :class:`Feedback` for the stub: nothing to check yet."""
    return Feedback(
        exercise,
        "not answered",
        f"Not yet answered: {what} is still the stub. Replace it with yours in the cell above, "
        "run that cell, then this one.",
    )


def is_stub(answer) -> bool:
    """True for the stub a student starts from: ``None`` or ``...`` (Ellipsis)."""
    return answer is None or answer is Ellipsis


def as_numbers(answer, exercise: str, *, shape: tuple[int, ...], what: str):
    """``answer`` as a float array of ``shape``, or a :class:`Feedback` saying why it is not.

    Accepts Python numbers, sequences of them, NumPy and JAX arrays. Refused, with a message:
    strings, booleans, complex numbers, anything that is not numbers, the wrong shape (one
    number for many, or the transpose), NaN and infinities.
    """
    if isinstance(answer, str | bytes):
        return wrong(exercise, f"{_cap(what)} must be numbers; got the string {answer!r}.")
    try:
        arr = np.asarray(answer)
    except (ValueError, TypeError):
        arr = np.asarray(None)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        if arr.dtype.kind == "c":
            return wrong(exercise, f"{_cap(what)} must be real numbers; got complex {answer!r}.")
        return wrong(
            exercise, f"{_cap(what)} must be numbers; got {type(answer).__name__} {answer!r}."
        )
    arr = arr.astype(np.float64)
    if arr.shape != tuple(shape):
        n_want = int(np.prod(shape))
        if arr.shape == tuple(shape)[::-1] and len(shape) == 2:
            hint = " (the transpose: rows and columns swapped)"
        elif arr.size == 1 and n_want > 1:
            hint = f" (one number where {n_want} are asked for)"
        else:
            hint = ""
        return wrong(
            exercise, f"{_cap(what)} must have shape {tuple(shape)}; got {arr.shape}{hint}."
        )
    if not np.all(np.isfinite(arr)):
        return wrong(exercise, f"{_cap(what)} holds NaN or an infinity: {fmt(arr)}.")
    return arr


def call_answer(func, args: tuple, exercise: str, *, name: str):
    """``func(*args)``, or a :class:`Feedback` when ``func`` is not a function or raises.

    Returns the stub itself when ``func`` is the stub or returns it, so that the caller can
    report "not yet answered".
    """
    if is_stub(func):
        return func
    if not callable(func):
        return wrong(exercise, f"{_cap(name)} must be a function; got {type(func).__name__}.")
    try:
        return func(*args)
    except Exception as err:  # noqa: BLE001 - a student's code may raise anything
        return wrong(exercise, f"{_cap(name)} raised {type(err).__name__}: {err}")


def close(value, reference, *, rtol: float, atol: float = 0.0) -> bool:
    """True when ``value`` matches ``reference`` elementwise within the tolerances."""
    value, reference = np.asarray(value, dtype=float), np.asarray(reference, dtype=float)
    if value.shape != reference.shape:
        return False
    return bool(np.allclose(value, reference, rtol=rtol, atol=atol))


def first_match(value, mistakes, *, rtol: float, atol: float = 0.0) -> str | None:
    """The message of the first mistake in ``mistakes`` whose result ``value`` matches.

    Parameters
    ----------
    value : array
        The answer, as numbers.
    mistakes : iterable of (array, str)
        Each recognised mistake: what that mistake gives for this exercise, computed from
        its inputs, and what to tell the student who made it.
    rtol, atol : float
        The tolerances of :func:`close`.
    """
    for result, message in mistakes:
        if close(value, result, rtol=rtol, atol=atol):
            return message
    return None


def explain(got, reference, mistakes, *, rtol: float, atol: float = 0.0) -> str | None:
    """The message of the recognised mistake that explains every wrong number of ``got``.

    For an answer of several numbers (a tuple of parameters): a mistake matches fully when
    it gives ``got`` exactly; failing that, it explains the answer when ``got`` agrees with
    it wherever ``got`` is wrong (a student who left ``E[tau]`` out of one number but got the
    next one right from the right formula). Of those, the mistake that changes fewest other
    numbers wins; ties go to the first listed.

    Parameters
    ----------
    got, reference : array of shape (k,)
        The answer and the right answer.
    mistakes : iterable of (array of shape (k,), str)
        Each recognised mistake's result and message, as for :func:`first_match`.
    rtol, atol : float
        The tolerances of :func:`close`.
    """
    mistakes = [(np.asarray(v, dtype=float), m) for v, m in mistakes]
    full = first_match(got, mistakes, rtol=rtol, atol=atol)
    if full:
        return full
    is_right = np.isclose(got, reference, rtol=rtol, atol=atol)
    wrong_at = set(np.flatnonzero(~is_right))
    best, best_extra = None, None
    for result, message in mistakes:
        changed = set(np.flatnonzero(~np.isclose(result, reference, rtol=rtol, atol=atol)))
        if not wrong_at or not wrong_at <= changed:
            continue
        if all(np.isclose(got[i], result[i], rtol=rtol, atol=atol) for i in wrong_at):
            extra = len(changed - wrong_at)
            if best_extra is None or extra < best_extra:
                best, best_extra = message, extra
    return best


def which_right(names, right_flags) -> str:
    """Which of an answer's numbers are right, in words: "Of the 4 numbers, m is right, ..."."""
    ok = [n for n, f in zip(names, right_flags, strict=True) if f]
    bad = [n for n, f in zip(names, right_flags, strict=True) if not f]

    def said(items, verb):
        joined = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
        return f"{joined} {verb if len(items) == 1 else 'are'}"

    if not ok:
        return f"None of the {len(names)} numbers ({', '.join(names)}) is right"
    return f"Of the {len(names)} numbers, {said(ok, 'is')} right, {said(bad, 'is')} not"


def fmt(value) -> str:
    """Numbers as a student writes them: four significant figures; arrays in parentheses."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return f"{float(arr):.4g}"
    return "(" + ", ".join(f"{v:.4g}" for v in arr.ravel()) + ")"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
