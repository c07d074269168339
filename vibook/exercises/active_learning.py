r"""Checkers for the exercises of notebook 12 (active learning: uncertainty chooses the labels).

- 12.1 (by hand): max entropy and the variation ratio of three images, from each posterior
  draw's predicted class.
- 12.2 (implement): BALD scores from class probabilities under posterior draws.
- 12.3 (predict, then run): which image BALD picks and which max entropy picks, when one image
  is ambiguous to every draw and another is classified differently by different draws.

With :math:`p_s(y)` a point's class probabilities under posterior draw :math:`s` of the
weights (:math:`S` draws) and :math:`\bar p(y) = \frac1S \sum_s p_s(y)` its posterior
predictive,

.. math::
    \text{max entropy} = H[\bar p], \qquad
    \text{BALD} = H[\bar p] - \frac1S \sum_s H[p_s], \qquad
    \text{variation ratio} = 1 - \max_y \bar p(y),

where :math:`H[p] = -\sum_y p(y) \log p(y)`, in nats, with :math:`0 \log 0 = 0`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import entr

from vibook._checks import check_array, check_positive, check_positive_int, check_real, check_seed
from vibook.acquisition import bald, max_entropy, variation_ratios
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
    wrong,
)

__all__ = ["check_bald", "check_bald_pick_prediction", "check_entropy_and_variation_ratio"]

ATOL = 1e-4  # absolute tolerance by hand: a score of 0 written as 0.00003 is still 0


def _entropy(p):
    """H[p] over the last axis, in nats, with 0 log 0 = 0."""
    return entr(p).sum(-1)


def _check_sure(value, name: str, n_classes: int) -> float:
    """A draw's probability of its own predicted class: above 1/n_classes, at most 1."""
    value = check_real(value, name)
    if not 1 / n_classes < value <= 1:
        raise ValueError(
            f"{name} must be above 1/n_classes = {1 / n_classes:.4g} (so that the predicted "
            f"class is the most probable one) and at most 1; got {value}"
        )
    return value


def _draws_from_votes(votes, sure, n_classes):
    """(n_draws, n_images, n_classes): each draw puts ``sure`` on its vote, the rest evenly."""
    rest = (1 - sure) / (n_classes - 1)
    return rest + (sure - rest) * np.eye(n_classes)[votes.T]


def check_entropy_and_variation_ratio(answer, *, votes, confidence=0.7, n_classes=10) -> Feedback:
    """Exercise 12.1: max entropy and variation ratio of each image, from the draws' votes.

    Draw ``s`` predicts class ``votes[i, s]`` for image ``i`` with probability ``confidence``
    and shares the rest equally among the other ``n_classes - 1`` classes.

    Parameters
    ----------
    answer : array of shape (2, n_images)
        First row: each image's max entropy ``H[mean_s p_s]`` in nats; second row: its
        variation ratio ``1 - max_y mean_s p_s(y)``. ``None`` or ``...`` while unanswered.
    votes : array of int of shape (n_images, n_draws)
        The class each draw predicts for each image.
    confidence : float
        Each draw's probability of its predicted class, in ``(1/n_classes, 1]``.
    n_classes : int
        The number of classes (>= 2).

    Returns
    -------
    Feedback
        The two rows judged on their own. Recognised mistakes: the rows swapped; for max
        entropy, an entropy in bits or with log base 10, the average of the draws' own
        entropies, BALD instead, the sign flipped, the entropy of the votes; for the
        variation ratio, the votes' variation ratio (Freeman's, from the modal class's share
        of the votes), the probability of the most probable class, the draws' own
        ``1 - max_y p_s(y)`` averaged.
    """
    votes = check_array(votes, "votes", ndim=2, integer=True, nonnegative=True).astype(int)
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    if votes.max() >= n_classes:
        raise ValueError(f"votes must be classes below n_classes={n_classes}; got {votes.max()}")
    confidence = _check_sure(confidence, "confidence", n_classes)
    ex = "12.1"
    n_images, n_draws = votes.shape
    what = "the answer [[max entropies], [variation ratios]]"
    if is_stub(answer):
        return not_answered(ex, what)
    got = as_numbers(answer, ex, shape=(2, n_images), what=what)
    if isinstance(got, Feedback):
        return got
    p = _draws_from_votes(votes, confidence, n_classes)
    ref = np.stack([max_entropy(p), variation_ratios(p)])
    own = _entropy(p).mean(0)  # every draw is as sure as the others: the same for each image
    if close(got, ref, rtol=BY_HAND, atol=ATOL):
        return right(
            ex,
            f"Max entropy {fmt(ref[0])} nats, variation ratio {fmt(ref[1])}. Each draw is "
            f"{fmt(confidence)} sure of its vote on every image, so each draw's own entropy is "
            f"{fmt(own[0])} nats everywhere: the differences in max entropy are all disagreement "
            f"between the draws, the part BALD keeps, {fmt(ref[0] - own)}.",
        )
    if close(got, ref[::-1], rtol=BY_HAND, atol=ATOL):
        return wrong(ex, "The rows are swapped: max entropies first, variation ratios second.")
    share = np.stack([np.bincount(v, minlength=n_classes) / n_draws for v in votes])
    rows = (
        (
            "max entropy",
            [
                (ref[0] / np.log(2), "in bits (log base 2); the notebook's entropies are in nats"),
                (ref[0] / np.log(10), "with log base 10; use the natural log (nats)"),
                (
                    own,
                    "that is the average of each draw's own entropy, mean_s H[p_s], the "
                    "aleatoric part; max entropy is the entropy of the averaged prediction",
                ),
                (
                    ref[0] - own,
                    "that is BALD, H[mean_s p_s] - mean_s H[p_s]; max entropy subtracts nothing",
                ),
                (-ref[0], "the sign is flipped: H = -sum_y p(y) log p(y) is never negative"),
                (
                    _entropy(share),
                    "that is the entropy of the votes; average the draws' probabilities, "
                    f"which keep {fmt(1 - confidence)} spread over the other classes",
                ),
            ],
        ),
        (
            "variation ratio",
            [
                (
                    1 - share.max(-1),
                    "that is the variation ratio of the votes, 1 minus the modal class's share "
                    "of the draws' predicted classes (Freeman's, as counted from draws); the "
                    "notebook's variation_ratios uses the averaged probabilities",
                ),
                (
                    1 - ref[1],
                    "that is max_y mean_s p_s(y), the most probable class's probability; the "
                    "variation ratio is one minus it",
                ),
                (
                    (1 - p.max(-1)).mean(0),
                    "that is each draw's own 1 - max_y p_s(y), averaged; average the "
                    "probabilities over the draws first, then take one minus the largest",
                ),
            ],
        ),
    )
    notes = []
    for i, (name, mistakes) in enumerate(rows):
        if close(got[i], ref[i], rtol=BY_HAND, atol=ATOL):
            notes.append(f"{name} right")
            continue
        said = explain(got[i], ref[i], mistakes, rtol=BY_HAND, atol=ATOL)
        notes.append(f"{name}: {said}" if said else f"{name} not right")
    text = "; ".join(notes)
    return wrong(
        ex,
        f"{text[0].upper()}{text[1:]}. Average the draws' probabilities first, p(y) = mean_s "
        "p_s(y); max entropy is -sum_y p(y) log p(y), the variation ratio 1 - max_y p(y).",
    )


# The notebook's two hand-made points, whose zeros need 0 log 0 = 0: draws agree on being
# unsure (the second point) or are each sure of a different class (the first).
_TOY = np.array([[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], [[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]]])


def _shape_of(value):
    try:
        return None if isinstance(value, str | bytes) else np.shape(value)
    except (ValueError, TypeError):  # a ragged list
        return None


def _has_nan(value) -> bool:
    try:
        return bool(np.isnan(np.asarray(value, dtype=float)).any())
    except (ValueError, TypeError):  # not numbers: as_numbers says why
        return False


def check_bald(
    func, *, n_draws=20, n_points=30, n_classes=10, concentration=0.5, seed=0
) -> Feedback:
    """Exercise 12.2: ``func(probs_draws)``, the BALD score of each point, implemented.

    The checker draws ``probs_draws`` itself, each draw's probabilities of each point from
    ``Dirichlet(concentration, ..., concentration)`` with a NumPy generator seeded with
    ``seed``, and compares ``func``'s scores with :func:`vibook.acquisition.bald`; then it
    calls ``func`` on the notebook's ``toy`` (two points, exact zeros), where BALD is
    ``(log 2, 0)``.

    Parameters
    ----------
    func : callable
        The student's function; ``None`` or ``...`` (or a function returning either) while
        unanswered.
    n_draws, n_points, n_classes : int
        The shape of the probabilities handed to ``func``: (n_draws, n_points, n_classes).
    concentration : float
        The Dirichlet's parameter (> 0): smaller values make each draw surer of some class.
    seed : int
        Seed of the probabilities.

    Returns
    -------
    Feedback
        Recognised mistakes: one score per draw and point (not averaged over the draws), the
        average taken over the points instead of the draws, max entropy ``H[mean_s p_s]``
        alone, the expected entropy ``mean_s H[p_s]`` alone, the sign flipped, bits instead of
        nats, the draws' entropies summed instead of averaged, NaN where a probability is 0
        (``0 log 0`` must count as 0). A right answer is told that BALD is also the mean KL
        divergence from each draw to the draws' average.
    """
    n_draws = check_positive_int(n_draws, "n_draws", minimum=2)
    n_points = check_positive_int(n_points, "n_points")
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    concentration = check_positive(concentration, "concentration")
    rng = np.random.default_rng(check_seed(seed))
    p = rng.dirichlet(np.full(n_classes, concentration), size=(n_draws, n_points))
    ex = "12.2"
    value = call_answer(func, (p.copy(),), ex, name="your function")
    if isinstance(value, Feedback):
        return value
    if is_stub(value):
        return not_answered(ex, "your function (it returns None)")
    ref = bald(p)
    total, own = _entropy(p.mean(0)), _entropy(p)  # (n_points,), (n_draws, n_points)
    shape = _shape_of(value)
    if shape == (n_draws, n_points) != (n_points,):
        got = as_numbers(value, ex, shape=shape, what="your scores")
        per = isinstance(got, np.ndarray) and close(got.mean(0), ref, rtol=COMPUTED, atol=1e-9)
        return wrong(
            ex,
            f"One number per draw and point, shape {shape}"
            + (", whose average over the draws is BALD" if per else "")
            + f": average over axis 0, the draws, to give one score per point, shape "
            f"({n_points},).",
        )
    if shape == (n_draws,) != (n_points,):
        return wrong(
            ex,
            f"One number per draw, shape ({n_draws},): the average is over axis 0, the "
            f"draws, not axis 1, the points; return one score per point, shape ({n_points},).",
        )
    got = as_numbers(value, ex, shape=(n_points,), what="your scores")
    if isinstance(got, Feedback):
        return got
    if not close(got, ref, rtol=COMPUTED, atol=1e-9):
        mistakes = [
            (total, "That is max entropy, H[mean_s p_s]: BALD subtracts mean_s H[p_s] from it."),
            (
                own.mean(0),
                "That is the expected entropy mean_s H[p_s], the aleatoric part: BALD is "
                "H[mean_s p_s] minus it.",
            ),
            (
                -ref,
                "The sign is flipped: BALD is H[mean_s p_s] - mean_s H[p_s], never negative, "
                "because the entropy of an average is at least the average of the entropies.",
            ),
            (ref / np.log(2), "In bits (log base 2): vibook's scores are in nats, natural log."),
            (
                total - own.sum(0),
                f"The draws' entropies are summed over the {n_draws} draws: average them.",
            ),
        ]
        found = first_match(got, mistakes, rtol=COMPUTED, atol=1e-9)
        return wrong(
            ex,
            found
            or "Not the BALD scores: H[mean_s p_s] - mean_s H[p_s] for each point, with the "
            "mean over axis 0 (the draws) and H[p] = -sum_y p(y) log p(y) over axis -1.",
        )
    toy = call_answer(func, (_TOY.copy(),), ex, name="your function")
    lead = "Right on the drawn probabilities, but on the notebook's toy, which holds exact zeros: "
    if isinstance(toy, Feedback):
        return wrong(ex, lead + toy.message)
    if _shape_of(toy) == (2,) and _has_nan(toy):
        return wrong(
            ex,
            lead + "NaN. In floating point 0 * log 0 is NaN, but an entropy counts "
            "0 log 0 as 0: use scipy.special.entr(p), which is -p log p and 0 at p = 0.",
        )
    got_toy = as_numbers(toy, ex, shape=(2,), what="your scores of the toy")
    if isinstance(got_toy, Feedback):
        return wrong(ex, lead + got_toy.message)
    if not close(got_toy, bald(_TOY), rtol=COMPUTED, atol=1e-9):
        return wrong(ex, lead + f"{fmt(got_toy)}, where BALD is {fmt(bald(_TOY))} (log 2 and 0).")
    return right(
        ex,
        f"Your scores match vibook's bald on {n_points} points of {n_draws} draws each (from "
        f"{fmt(ref.min())} to {fmt(ref.max())} nats) and on the toy (log 2 and 0). BALD is also "
        "mean_s KL(p_s || mean_s p_s): how far, on average, each draw's prediction is from the "
        "draws' consensus, which is why it is never negative.",
    )


_NAMES = ("A", "B", "C")


def _candidates(n_draws, n_classes, sure):
    """(n_draws, 3, n_classes): A unsure for every draw, B split between draws, C agreed."""
    split = [0 if s < (n_draws + 1) // 2 else 1 for s in range(n_draws)]
    bc = _draws_from_votes(np.array([split, [0] * n_draws]), sure, n_classes)
    return np.concatenate([np.full((n_draws, 1, n_classes), 1 / n_classes), bc], axis=1)


def check_bald_pick_prediction(answer, *, n_draws=4, n_classes=3, sure=0.9) -> Feedback:
    """Exercise 12.3: predict which of three images BALD picks and which max entropy picks.

    Image A is ambiguous to every draw (each gives ``1/n_classes`` to every class); on image
    B the first half of the draws (rounded up) are ``sure`` of class 0, the others of class 1;
    on image C every draw is ``sure`` of class 0 (a draw shares ``1 - sure`` equally among
    its other classes).

    Parameters
    ----------
    answer : pair of str
        ``(BALD's pick, max entropy's pick)``, each ``"A"``, ``"B"`` or ``"C"``; ``None`` or
        ``...`` while unanswered.
    n_draws : int
        Posterior draws (>= 2).
    n_classes : int
        Classes (>= 3).
    sure : float
        A confident draw's probability of its class, in ``(1/n_classes, 1]``.

    Returns
    -------
    Feedback
        Right or not, with each image's scores and why. Recognised mistakes: the two picks
        swapped, A for BALD (its uncertainty is all aleatoric), B for max entropy (which counts
        A's ambiguity too), C for either (every draw agrees on it); anything that is not a
        pair of those letters is told the form.
    """
    n_draws = check_positive_int(n_draws, "n_draws", minimum=2)
    n_classes = check_positive_int(n_classes, "n_classes", minimum=3)
    sure = _check_sure(sure, "sure", n_classes)
    ex = "12.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    ok = isinstance(answer, list | tuple) and len(answer) == 2
    ok = ok and all(isinstance(a, str) and a.strip().upper() in _NAMES for a in answer)
    if not ok:
        return wrong(
            ex,
            f"Answer a pair of letters, (BALD's pick, max entropy's pick), each 'A', 'B' or "
            f"'C', such as ('C', 'C'); got {answer!r}.",
        )
    got = tuple(a.strip().upper() for a in answer)
    p = _candidates(n_draws, n_classes, sure)
    b, h = bald(p), max_entropy(p)
    truth = (_NAMES[int(np.argmax(b))], _NAMES[int(np.argmax(h))])
    facts = (
        f"BALD scores A, B, C as {fmt(b)} nats and max entropy as {fmt(h)}. On A every draw "
        f"gives each of the {n_classes} classes {fmt(1 / n_classes)}: its entropy, log "
        f"{n_classes} = {fmt(h[0])}, is the most {n_classes} classes allow, and all of it is "
        f"aleatoric (BALD {fmt(b[0])}), since a label would rule out none of the draws. On B "
        f"each draw is {fmt(sure)} sure, but of different classes: less entropy in all, but "
        f"{fmt(b[1])} nats of it is disagreement that a label would settle."
    )
    if got == truth:
        return right(ex, f"BALD picks {truth[0]} and max entropy picks {truth[1]}. {facts}")
    if got == truth[::-1]:
        return wrong(ex, f"The two picks are swapped. {facts}")
    notes = []
    for score, pick, want, why in (
        ("BALD", got[0], truth[0], "BALD keeps only the draws' disagreement"),
        ("max entropy", got[1], truth[1], "max entropy counts A's ambiguity too, and more of it"),
    ):
        if pick == want:
            notes.append(f"{score}'s pick is right")
        elif pick == "C":
            notes.append(f"{score} does not pick C, on which every draw agrees")
        else:
            notes.append(f"{score} does not pick {pick}: {why}")
    return wrong(ex, "; ".join(notes) + f". {facts}")
