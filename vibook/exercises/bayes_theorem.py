"""Checkers for the exercises of notebook 01 (Bayes' theorem, the coin and its Beta prior).

- 01.1 (by hand): the Beta posterior's parameters and mean after more flips.
- 01.2 (implement): the grid posterior, prior times likelihood normalised on a grid.
- 01.3 (predict, then run): which of two priors has the higher evidence.

Each reference is computed at check time from the exercise's inputs, as are the recognised
mistakes the checker compares the answer with.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln, xlog1py, xlogy

from vibook._checks import check_positive, check_positive_int
from vibook.exercises.feedback import (
    BY_HAND,
    COMPUTED,
    Feedback,
    as_numbers,
    call_answer,
    close,
    explain,
    first_match,
    fmt,
    is_stub,
    not_answered,
    right,
    which_right,
    wrong,
)

__all__ = ["check_beta_posterior", "check_evidence_prediction", "check_grid_posterior"]


def _counts(heads, tails_or_flips, name: str, *, flips: bool) -> tuple[int, int]:
    heads = check_positive_int(heads, "heads", minimum=0)
    other = check_positive_int(tails_or_flips, name, minimum=0)
    if flips and heads > other:
        raise ValueError(f"heads must be <= flips; got heads={heads}, flips={other}")
    return heads, other


def check_beta_posterior(answer, *, a, b, heads, tails) -> Feedback:
    """Exercise 01.1: the posterior ``Beta(a + heads, b + tails)`` and its mean, by hand.

    Parameters
    ----------
    answer : sequence of 3 numbers
        ``(a_post, b_post, posterior_mean)``; ``None`` or ``...`` while unanswered.
    a, b : float
        The Beta prior's parameters (> 0).
    heads, tails : int
        All the heads and tails seen (>= 0).

    Returns
    -------
    Feedback
        Recognised mistakes: the prior's parameters given back, heads and tails swapped, the
        prior left out, all the flips added to ``b``, the mode or ``a / b`` or the observed
        frequency given as the mean; otherwise which of the three numbers are right.
    """
    a, b = check_positive(a, "a"), check_positive(b, "b")
    heads, tails = _counts(heads, tails, "tails", flips=False)
    ex = "01.1"
    if is_stub(answer):
        return not_answered(ex, "the answer (a_post, b_post, posterior mean)")
    got = as_numbers(answer, ex, shape=(3,), what="the answer (a_post, b_post, posterior mean)")
    if isinstance(got, Feedback):
        return got
    ap, bp = a + heads, b + tails
    ref = np.array([ap, bp, ap / (ap + bp)])
    if close(got, ref, rtol=BY_HAND):
        return right(ex, f"Beta({fmt(ap)}, {fmt(bp)}) with mean {fmt(ref[2])}.")
    n = heads + tails

    def mean_of(p, q):  # the mean of Beta(p, q)
        return p / (p + q)

    mistakes = [
        ([a, b, mean_of(a, b)], "these are the prior's parameters and mean: add the counts."),
        (
            [a + tails, b + heads, mean_of(a + tails, b + heads)],
            "heads and tails are swapped: heads add to a (the first parameter), tails to b.",
        ),
        (
            [heads, tails, heads / n if n else np.nan],
            "the prior is left out: its pseudo-counts a and b stay in the posterior.",
        ),
        (
            [ap, b + n, mean_of(ap, b + n)],
            "b gets the tails, not all the flips.",
        ),
        (
            [ap, bp, (ap - 1) / (ap + bp - 2) if ap + bp > 2 else np.nan],
            "the parameters are right, but that is the mode (the peak), (a - 1) / (a + b - 2); "
            "the mean is a / (a + b).",
        ),
        (
            [ap, bp, ap / bp],
            "the parameters are right, but the mean of Beta(a, b) is a / (a + b), not a / b.",
        ),
        (
            [ap, bp, heads / n if n else np.nan],
            "the parameters are right, but that mean is the observed frequency: the posterior "
            "mean lies between it and the prior mean.",
        ),
    ]
    found = explain(got, ref, mistakes, rtol=BY_HAND)
    if found:
        return wrong(ex, found[0].upper() + found[1:])
    flags = [close(g, r, rtol=BY_HAND) for g, r in zip(got, ref, strict=True)]
    return wrong(
        ex,
        f"{which_right(('a_post', 'b_post', 'the mean'), flags)}. The posterior adds the heads "
        "to a and the tails to b, and the mean of Beta(a, b) is a / (a + b).",
    )


def _grid(grid_size: int) -> np.ndarray:
    """Midpoints of ``grid_size`` equal cells of [0, 1], as in ``coin_grid_posterior``."""
    return (np.arange(grid_size) + 0.5) / grid_size


def _normalise_log(log_values) -> np.ndarray:
    p = np.exp(log_values - np.max(log_values))
    return p / p.sum()


def check_grid_posterior(func, *, heads, flips, a, b, grid_size=801) -> Feedback:
    """Exercise 01.2: ``func(theta, heads, flips, a, b)``, the grid posterior, implemented.

    ``func`` must return one probability per grid point, summing to one: the Beta(a, b)
    prior times the Binomial likelihood at each ``theta``, divided by their sum.

    Parameters
    ----------
    func : callable
        The student's function; ``None`` or ``...`` (or a function returning either) while
        unanswered.
    heads, flips : int
        The data (``0 <= heads <= flips``).
    a, b : float
        The Beta prior's parameters (> 0).
    grid_size : int
        Grid points (>= 10), the midpoints of equal cells of [0, 1].

    Returns
    -------
    Feedback
        Recognised mistakes: the wrong shape, negative values, not normalised (and a density
        integrating to one rather than probabilities summing to one), the prior or the
        likelihood left out, heads and tails swapped, logarithms not exponentiated.
    """
    heads, flips = _counts(heads, flips, "flips", flips=True)
    a, b = check_positive(a, "a"), check_positive(b, "b")
    grid_size = check_positive_int(grid_size, "grid_size", minimum=10)
    ex, theta = "01.2", _grid(grid_size)
    value = call_answer(func, (theta.copy(), heads, flips, a, b), ex, name="your function")
    if isinstance(value, Feedback):
        return value
    if is_stub(value):
        return not_answered(ex, "your function (it returns None)")
    what = "the grid posterior"
    got = as_numbers(value, ex, shape=theta.shape, what=what)
    if isinstance(got, Feedback):
        return got
    log_t, log_1t, tails = np.log(theta), np.log1p(-theta), flips - heads
    log_lik = heads * log_t + tails * log_1t
    log_prior = (a - 1) * log_t + (b - 1) * log_1t
    ref = _normalise_log(log_prior + log_lik)
    if np.any(got < 0):
        if close(_normalise_log(got), ref, rtol=COMPUTED, atol=1e-12):
            return wrong(
                ex,
                "These are logarithms of prior times likelihood: exponentiate them (after "
                "subtracting their largest value), then divide by the sum.",
            )
        return wrong(ex, f"{what.capitalize()} has negative values; probabilities are >= 0.")
    if close(got, ref, rtol=COMPUTED, atol=1e-12):
        return right(ex, f"{grid_size} probabilities that sum to one, prior times likelihood.")
    total = got.sum()
    if total > 0 and close(got / total, ref, rtol=COMPUTED, atol=1e-12):
        if np.isclose(total / grid_size, 1.0, rtol=1e-3):
            return wrong(
                ex,
                "The shape is right, but it is a density (it integrates to one, so it sums to "
                "the number of grid points): divide by the sum instead, so that the "
                "probabilities sum to one.",
            )
        return wrong(
            ex,
            f"The shape is right, but it sums to {fmt(total)}, not one: divide prior times "
            "likelihood by its sum over the grid.",
        )
    normalised = got / total if total > 0 else got
    mistakes = [
        (_normalise_log(log_lik), "That is the likelihood alone: multiply by the prior."),
        (_normalise_log(log_prior), "That is the prior alone: multiply by the likelihood."),
        (
            _normalise_log(log_prior + tails * log_t + heads * log_1t),
            "Heads and tails are swapped: theta to the power heads, (1 - theta) to the tails.",
        ),
    ]
    found = first_match(normalised, mistakes, rtol=COMPUTED, atol=1e-12)
    if found:
        return wrong(ex, found)
    return wrong(
        ex,
        "Not the posterior: evaluate theta**(heads + a - 1) * (1 - theta)**(tails + b - 1) at "
        "each grid point (the constants cancel) and divide by the sum.",
    )


def _log_evidence(heads: int, flips: int, a: float, b: float) -> float:
    log_choose = gammaln(flips + 1) - gammaln(heads + 1) - gammaln(flips - heads + 1)
    return float(log_choose + betaln(a + heads, b + flips - heads) - betaln(a, b))


def _log_binomial(heads: int, flips: int, theta: float) -> float:
    """``log p(heads | theta)`` under the Binomial, with ``0 log 0 = 0``."""
    log_choose = gammaln(flips + 1) - gammaln(heads + 1) - gammaln(flips - heads + 1)
    return float(log_choose + xlogy(heads, theta) + xlog1py(flips - heads, -theta))


def _pair(value, name: str) -> tuple[float, float]:
    if isinstance(value, str | bytes | dict) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{name} must be a pair (a, b) of positive numbers; got {value!r}")
    return check_positive(value[0], f"{name}[0]"), check_positive(value[1], f"{name}[1]")


def check_evidence_prediction(
    answer, *, heads, flips, weak=(2.0, 2.0), strong=(20.0, 20.0)
) -> Feedback:
    """Exercise 01.3: predict which prior, ``"weak"`` or ``"strong"``, has the higher evidence.

    Parameters
    ----------
    answer : {"weak", "strong"}
        The prediction; ``None`` or ``...`` while unanswered.
    heads, flips : int
        The data (``0 <= heads <= flips``).
    weak, strong : pair of float
        The two Beta priors' ``(a, b)``.

    Returns
    -------
    Feedback
        Right or not, with both log evidences and why: the evidence is the likelihood
        averaged over the prior. A string that names neither prior, or a number, is told the
        two choices.
    """
    heads, flips = _counts(heads, flips, "flips", flips=True)
    if flips == 0:
        raise ValueError("flips must be >= 1: with no data every prior has evidence 1")
    weak, strong = _pair(weak, "weak"), _pair(strong, "strong")
    if weak == strong:
        raise ValueError(f"weak and strong must be different priors; both are {weak}")
    ex = "01.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    if not isinstance(answer, str) or answer.strip().lower() not in ("weak", "strong"):
        return wrong(ex, f"Answer 'weak' or 'strong' (a string); got {answer!r}.")
    log_z = {k: _log_evidence(heads, flips, *p) for k, p in (("weak", weak), ("strong", strong))}
    winner = max(log_z, key=log_z.get)
    loser = "weak" if winner == "strong" else "strong"
    priors = {"weak": weak, "strong": strong}
    centre = strong[0] / (strong[0] + strong[1])
    observed = heads / flips
    why = (
        f"log p(x) is {log_z[winner]:.3f} under the {winner} prior "
        f"Beta({fmt(priors[winner][0])}, {fmt(priors[winner][1])}) and {log_z[loser]:.3f} under "
        f"the {loser} one (Bayes factor {np.exp(log_z[winner] - log_z[loser]):.3g}). The evidence "
        "is the likelihood averaged over the prior: the strong prior bets on biases near "
        f"{centre:.3g}, where {heads} heads in {flips} flips have probability "
        f"{np.exp(_log_binomial(heads, flips, centre)):.3g} (at the observed frequency "
        f"{observed:.3g} it would be {np.exp(_log_binomial(heads, flips, observed)):.3g}); the "
        "weak prior spreads its bets, some of them on biases that explain the data badly."
    )
    if answer.strip().lower() == winner:
        return right(ex, f"The {winner} prior: {why}")
    return wrong(ex, f"It is the {winner} prior: {why}")
