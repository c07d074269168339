r"""Checkers for the exercises of notebook 10 (Bayesian neural networks for classification).

- 10.1 (by hand): the predictive entropy, the expected entropy and the mutual information from
  three posterior draws' class probabilities at one input.
- 10.2 (implement): the expected calibration error, with equal-width confidence bins.
- 10.3 (predict, then run): what a temperature applied to the logits does to the first BNN's
  accuracy, ECE and NLL.

From ``S`` draws' class probabilities :math:`p_s(c)` at one input, with
:math:`\bar p = \frac1S \sum_s p_s` and :math:`H[p] = -\sum_c p(c) \log p(c)` in nats,

.. math::
    I = H[\bar p] - \frac1S \sum_s H[p_s] \ge 0 .

With :math:`B_b` the points whose confidence :math:`\max_c p_i(c)` falls in the ``b``-th of
``n_bins`` equal-width bins of ``[0, 1]``,

.. math::
    \mathrm{ECE} = \sum_b \frac{|B_b|}{n}\, \big|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)\big| ,

and a temperature ``T > 0`` turns probabilities ``p`` into
:math:`p_T \propto \exp(\log p / T)`: ``T < 1`` sharpens them, ``T > 1`` flattens them.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from scipy.stats import entropy

from vibook._checks import check_array, check_positive, check_positive_int, check_seed
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
from vibook.metrics import accuracy, expected_calibration_error, nll

__all__ = ["check_ece", "check_temperature_prediction", "check_uncertainty_split"]

_CHOICES = ("lower", "same", "higher")


def _draw_probs(probs) -> np.ndarray:
    p = check_array(probs, "probs", ndim=2, nonnegative=True).astype(np.float64)
    if p.shape[1] < 2:
        raise ValueError(f"probs must have 2 or more classes (columns); got shape {p.shape}")
    if not np.allclose(p.sum(1), 1.0, atol=1e-3):
        raise ValueError("probs must hold one probability vector over the classes per row")
    return p / p.sum(1, keepdims=True)


def check_uncertainty_split(answer, *, probs) -> Feedback:
    """Exercise 10.1: ``(H[p_bar], mean_s H[p_s], I)`` from a few draws at one input, by hand.

    Parameters
    ----------
    answer : sequence of 3 numbers
        The predictive entropy, the expected entropy and the mutual information, in nats;
        ``None`` or ``...`` while unanswered.
    probs : array of shape (S, n_classes)
        Each row the class probabilities of one posterior draw at the same input.

    Returns
    -------
    Feedback
        Recognised mistakes: bits (log base 2) instead of nats; the first two numbers swapped;
        the mutual information's sign flipped; the predictive entropy taken as the average of
        the draws' entropies, or the expected entropy as the entropy of the average (both
        leave no mutual information); the entropies' minus sign left out; the draws'
        entropies summed instead of averaged; otherwise which of the three numbers are right.
    """
    p = _draw_probs(probs)
    ex = "10.1"
    what = "the answer (predictive entropy, expected entropy, mutual information)"
    if is_stub(answer):
        return not_answered(ex, what)
    got = as_numbers(answer, ex, shape=(3,), what=what)
    if isinstance(got, Feedback):
        return got
    h, e = float(entropy(p.mean(0))), float(entropy(p, axis=1).mean())
    ref = np.array([h, e, h - e])
    tol = {"rtol": BY_HAND, "atol": 1e-4}
    if close(got, ref, **tol):
        share = ref[2] / ref[0] if ref[0] > 0 else 0.0
        return right(
            ex,
            f"H[p_bar] = {fmt(h)}, mean_s H[p_s] = {fmt(e)} and I = {fmt(h - e)} nats: "
            f"{share:.0%} of the total uncertainty is the draws disagreeing (epistemic), the "
            "rest is what each draw is unsure of on its own (aleatoric).",
        )
    s = p.shape[0]
    mistakes = [
        (ref / np.log(2), "These are bits (log base 2): use the natural log for nats."),
        (
            [e, h, h - e],
            "The first two numbers are swapped: the predictive entropy H[p_bar], the larger, "
            "comes first.",
        ),
        ([e, h, e - h], "The first two numbers are swapped: H[p_bar] comes first."),
        (
            [h, e, e - h],
            "The mutual information's sign is flipped: I = H[p_bar] - mean_s H[p_s], never "
            "negative, since the entropy is concave.",
        ),
        (
            [e, e, 0.0],
            "The predictive entropy is the entropy of the averaged probabilities p_bar, not "
            "the average of the draws' entropies.",
        ),
        (
            [h, h, 0.0],
            "The expected entropy averages each draw's own entropy H[p_s]; the entropy of the "
            "average is the predictive entropy.",
        ),
        (-ref, "The entropies are negative: H[p] = -sum_c p(c) log p(c), with the minus sign."),
        (
            [h, s * e, h - s * e],
            f"The draws' entropies are summed: average them over the {s} draws.",
        ),
    ]
    found = explain(got, ref, mistakes, **tol)
    if found:
        return wrong(ex, found)
    flags = [close(g, r, **tol) for g, r in zip(got, ref, strict=True)]
    names = ("the predictive entropy", "the expected entropy", "the mutual information")
    return wrong(
        ex,
        f"{which_right(names, flags)}: average the draws' probabilities before taking the "
        "entropy for the first, take each draw's entropy then average for the second, and "
        "subtract.",
    )


def _bins(conf, correct, edges):
    """Count, accuracy and mean confidence of each bin ``(lo, hi]`` of ``edges``."""
    n_bins = len(edges) - 1
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    full = count > 0
    acc = np.bincount(which, weights=correct, minlength=n_bins)[full] / count[full]
    mean_conf = np.bincount(which, weights=conf, minlength=n_bins)[full] / count[full]
    return count[full], acc, mean_conf


def _binned_ece(conf, correct, edges):
    count, acc, mean_conf = _bins(conf, correct, edges)
    return float(np.sum(count * np.abs(acc - mean_conf)) / count.sum())


def _calibrated_case(n_points, n_classes, seed):
    """Probabilities of spread confidence, and labels drawn from them (so calibrated)."""
    rng = np.random.default_rng(seed)
    probs = softmax(2.5 * rng.standard_normal((n_points, n_classes)), axis=1)
    y = (probs.cumsum(1) > rng.random((n_points, 1))).argmax(1)
    return probs, y


def check_ece(func, *, n_points=400, n_classes=5, n_bins=15, seed=0) -> Feedback:
    """Exercise 10.2: ``func(probs, y, n_bins)``, the expected calibration error, implemented.

    The checker makes ``n_points`` probability vectors over ``n_classes`` classes and draws
    each label from its own vector (so the probabilities are calibrated), then calls ``func``
    with ``n_bins`` and with twice as many bins, and compares with
    :func:`vibook.metrics.expected_calibration_error` (bins ``(lo, hi]``; a confidence falls
    on an edge with probability 0 here, so either closed side is right).

    Parameters
    ----------
    func : callable
        The student's function; ``None`` or ``...`` (or a function returning either) while
        unanswered.
    n_points, n_classes : int
        Points (>= 2) and classes (>= 2) of the made-up test set.
    n_bins : int
        Bins of equal width on [0, 1].
    seed : int
        Seed of the probabilities and labels.

    Returns
    -------
    Feedback
        Recognised mistakes: the bins' gaps not weighted by their counts; the gaps' signs
        kept (which leaves accuracy minus mean confidence, the one-bin ECE); the largest gap
        (the maximum calibration error); one bin per point; the weighted sum not divided by
        ``n``; a percentage; bins spread over the confidences' range (``np.histogram``'s
        default) instead of [0, 1]; the true class's probability as the confidence;
        ``n_bins`` ignored; not one number.
    """
    n_points = check_positive_int(n_points, "n_points", minimum=2)
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    n_bins = check_positive_int(n_bins, "n_bins")
    probs, y = _calibrated_case(n_points, n_classes, check_seed(seed))
    ex = "10.2"
    tol = {"rtol": COMPUTED, "atol": 1e-9}
    values = []
    for bins in (n_bins, 2 * n_bins):
        value = call_answer(func, (probs.copy(), y.copy(), bins), ex, name="your function")
        if isinstance(value, Feedback):
            return value
        if is_stub(value):
            return not_answered(ex, "your function (it returns None)")
        got = as_numbers(value, ex, shape=(), what="your ECE (one number)")
        if isinstance(got, Feedback):
            return got
        values.append(float(got))
    ref = [expected_calibration_error(probs, y, n_bins=b) for b in (n_bins, 2 * n_bins)]
    if close(values, ref, **tol):
        return right(
            ex,
            f"ECE {ref[0]:.4f} with {n_bins} bins and {ref[1]:.4f} with {2 * n_bins}, on "
            f"{n_points} points whose labels were drawn from their own probabilities: they are "
            "calibrated, and an ECE above 0 is the noise of a few points per bin, what "
            "ece_if_calibrated measures."
            + (
                " With more bins, fewer points in each, the noise grows." if ref[1] > ref[0] else ""
            ),
        )
    if close(values[0], ref[0], **tol):
        if close(values[1], ref[0], **tol):
            return wrong(ex, f"Right with {n_bins} bins, but n_bins is ignored: use the argument.")
        return wrong(ex, f"Right with {n_bins} bins but not with {2 * n_bins}.")
    got, ece = values[0], ref[0]
    conf, correct = probs.max(1), (probs.argmax(1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    count, acc, mean_conf = _bins(conf, correct, edges)
    signed = float(correct.mean() - conf.mean())
    mistakes = [
        (
            np.mean(np.abs(acc - mean_conf)),
            "The bins' gaps are averaged with equal weights: weight each by its share of the "
            "points, |B_b| / n.",
        ),
        (
            signed,
            "The gaps' signs are kept, so over- and underconfident bins cancel, leaving "
            "accuracy minus mean confidence: take |acc - conf| in each bin.",
        ),
        (-signed, "The gaps' signs are kept, so bins cancel: take |acc - conf| in each bin."),
        (
            np.max(np.abs(acc - mean_conf)),
            "That is the largest bin's gap, the maximum calibration error: the ECE is their "
            "weighted average.",
        ),
        (
            np.mean(np.abs(correct - conf)),
            "Each point is its own bin: |correct - confidence| averaged over points is not "
            "the ECE; put the points into the equal-width bins first.",
        ),
        (n_points * ece, f"Not divided by n = {n_points}: the weights are |B_b| / n."),
        (100 * ece, "That is a percentage: give the ECE as a fraction, between 0 and 1."),
        (
            _binned_ece(conf, correct, np.linspace(conf.min(), conf.max(), n_bins + 1)),
            "The bins span the confidences' own range (np.histogram's default) instead of "
            "[0, 1]: pass range=(0, 1), or use np.linspace(0, 1, n_bins + 1) as edges.",
        ),
        (
            _binned_ece(probs[np.arange(n_points), y], correct, edges),
            "The confidence is the probability of the most probable class, max_c p(c), not "
            "the probability of the true class.",
        ),
    ]
    found = first_match(got, mistakes, **tol)
    return wrong(
        ex,
        found
        or f"Not the ECE: sort the points into {n_bins} equal-width bins of [0, 1] by their "
        "confidence, and add up |accuracy - mean confidence| of each bin, weighted by its "
        "share of the points.",
    )


def _labels(y, n: int, n_classes: int) -> np.ndarray:
    y = check_array(y, "y", ndim=1, integer=True, nonnegative=True).astype(int)
    if y.shape[0] != n:
        raise ValueError(f"y must have one label per row of probs ({n}); got {y.shape[0]}")
    if y.max() >= n_classes:
        raise ValueError(f"y must hold labels below n_classes={n_classes}; got {y.max()}")
    return y


def _direction(after, before) -> str:
    if np.isclose(after, before, rtol=1e-9, atol=1e-12):
        return "same"
    return "lower" if after < before else "higher"


def check_temperature_prediction(answer, *, probs, y, temperature=0.1, n_bins=15) -> Feedback:
    """Exercise 10.3: predict what ``p_T ∝ exp(log p / T)`` does to accuracy, ECE and NLL.

    Parameters
    ----------
    answer : sequence of 3 strings
        For the accuracy, the ECE and the NLL, in that order: ``"lower"``, ``"same"`` or
        ``"higher"`` after the temperature than before; ``None`` or ``...`` while unanswered.
    probs : array of shape (n, n_classes)
        The predictive probabilities before the temperature.
    y : array of int of shape (n,)
        The true labels.
    temperature : float
        ``T > 0``, which divides the logits ``log p``.
    n_bins : int
        Bins of the ECE.

    Returns
    -------
    Feedback
        Each of the three judged on its own, with the numbers before and after and why.
        Recognised mistakes: the accuracy said to change (a temperature keeps the order of
        the classes); the ECE's or the NLL's direction, explained by the mean confidence
        against the accuracy and by the probability left on the true class of the images
        the model gets wrong; an answer that is not three of the choices.
    """
    p = _draw_probs(probs)
    y = _labels(y, *p.shape)
    t = check_positive(temperature, "temperature")
    n_bins = check_positive_int(n_bins, "n_bins")
    ex = "10.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    said = None
    if isinstance(answer, list | tuple) and len(answer) == 3:
        said = [a.strip().lower() if isinstance(a, str) else None for a in answer]
    if said is None or any(a not in _CHOICES for a in said):
        return wrong(
            ex,
            "Answer three strings, for the accuracy, the ECE and the NLL in that order, each "
            f"'lower', 'same' or 'higher'; got {answer!r}.",
        )
    log_p = np.log(p, where=p > 0, out=np.full_like(p, -np.inf))
    p_t = softmax(log_p / t, axis=1)
    before = [accuracy(p, y), expected_calibration_error(p, y, n_bins=n_bins), nll(p, y)]
    after = [accuracy(p_t, y), expected_calibration_error(p_t, y, n_bins=n_bins), nll(p_t, y)]
    truth = [_direction(a, b) for a, b in zip(after, before, strict=True)]
    wrong_ones = p.argmax(1) != y
    how = "sharpens" if t < 1 else "flattens" if t > 1 else "does not change"
    # What the wrong images cost: the mean of -log p(true class) over them, and their share of
    # the whole NLL (a mean of probabilities would hide the smallest, which cost the most).
    tiny = np.finfo(np.float64).tiny
    cost = [-np.log(np.maximum(q[wrong_ones, y[wrong_ones]], tiny)) for q in (p, p_t)]
    cost = [c.mean() if c.size else np.nan for c in cost]
    n_wrong = wrong_ones.sum()
    share = [
        c * n_wrong / (len(y) * v) if n_wrong else np.nan
        for c, v in zip(cost, (before[2], after[2]), strict=True)
    ]
    why = [
        f"dividing every logit by the same T > 0 keeps their order, so the most probable "
        f"class does not change ({before[0]:.4f} before, {after[0]:.4f} after)",
        f"{before[1]:.4f} before, {after[1]:.4f} after: T = {fmt(t)} {how} the "
        f"probabilities, and the mean confidence goes from {p.max(1).mean():.4f} to "
        f"{p_t.max(1).mean():.4f}, against an accuracy of {before[0]:.4f}",
        f"{before[2]:.4f} before, {after[2]:.4f} after"
        + (
            f": each of the {wrong_ones.sum()} images it gets wrong costs the NLL -log of "
            f"its true class's probability, on average {cost[0]:.3g} nats before and "
            f"{cost[1]:.3g} after, {share[0]:.0%} and then {share[1]:.0%} of the whole NLL"
            if wrong_ones.any()
            else ""
        ),
    ]
    names = ("the accuracy", "the ECE", "the NLL")
    word = {"lower": "lower", "same": "unchanged", "higher": "higher"}
    flags = [s == r for s, r in zip(said, truth, strict=True)]
    if all(flags):
        parts = [f"{n} is {word[r]}: {w}" for n, r, w in zip(names, truth, why, strict=True)]
        return right(
            ex,
            "; ".join(parts)[:1].upper() + "; ".join(parts)[1:] + ". The ECE looks only at "
            "the gap between confidence and accuracy, the NLL also at how sure each mistake is.",
        )
    notes = [
        f"{n} is {word[r]}, not {word[s]}: {w}"
        for n, r, s, w, ok in zip(names, truth, said, why, flags, strict=True)
        if not ok
    ]
    return wrong(ex, f"{sum(flags)} of the 3 right; " + "; ".join(notes) + ".")
