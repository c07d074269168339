"""The checkers of notebook 12's exercises (vibook.exercises.active_learning).

Each checker is fed the stub, odd answers of every kind, each recognised mistake, and the right
answer computed a second way: max entropy with SciPy's ``entropy`` and the variation ratio from
the votes in closed form; BALD as the mean KL divergence from each draw to the draws' average
(SciPy's ``entropy(p, q)``), and as vibook's ``bald``, the notebook's function; the picks from
scores SciPy computes on candidates built here, never with the checkers' own formulas.
"""

import numpy as np
import pytest
from exercise_answers import ODD_ANSWERS, ODD_FUNCTIONS, STUBS, not_yet, says
from scipy import stats

from vibook.acquisition import bald
from vibook.exercises import (
    check_bald,
    check_bald_pick_prediction,
    check_entropy_and_variation_ratio,
)

# ------------------------------------------------------------------------------ 12.1
VOTES = np.array([[3, 3, 3, 3], [3, 3, 3, 8], [1, 7, 1, 7]])  # the notebook's three images
CONF, K = 0.7, 10
HAND = {"votes": VOTES, "confidence": CONF, "n_classes": K}


def _draws_by_loop(votes, conf, k):
    """(n_draws, n_images, k), one draw and image at a time."""
    out = np.empty((votes.shape[1], votes.shape[0], k))
    for i, row in enumerate(votes):
        for s, vote in enumerate(row):
            out[s, i] = (1 - conf) / (k - 1)
            out[s, i, vote] = conf
    return out


P_HAND = _draws_by_loop(VOTES, CONF, K)
P_BAR = P_HAND.mean(0)
H = stats.entropy(P_BAR, axis=-1)
SHARE = np.array([[np.mean(row == c) for c in range(K)] for row in VOTES])
REST = (1 - CONF) / (K - 1)
VR = 1 - (REST + (CONF - REST) * SHARE.max(1))  # the modal class's mean probability
OWN = stats.entropy(P_HAND, axis=-1).mean(0)  # each draw's own entropy, averaged


def test_entropy_and_variation_ratio_stub_and_odd_answers():
    for stub in STUBS:
        not_yet(check_entropy_and_variation_ratio(stub, **HAND))
    for answer in [*ODD_ANSWERS, [[1.0], [1.0, 2.0]]]:
        says(check_entropy_and_variation_ratio(answer, **HAND), "wrong")


def test_entropy_and_variation_ratio_right_answer_from_scipy():
    says(check_entropy_and_variation_ratio([H, VR], **HAND), "right", "BALD keeps")
    # three decimals are within the by-hand tolerance (5e-3 relative, 1e-4 absolute)
    says(check_entropy_and_variation_ratio(np.round([H, VR], 3), **HAND), "right")
    assert np.all(np.diff(H) > 0) and np.all(np.diff(VR) > 0)  # distinct, ordered images


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        ([VR, H], "rows are swapped"),
        ([stats.entropy(P_BAR, axis=-1, base=2), VR], "Max entropy: in bits"),
        ([stats.entropy(P_BAR, axis=-1, base=10), VR], "log base 10"),
        ([OWN, VR], "average of each draw's own entropy"),
        ([H - OWN, VR], "that is BALD"),
        ([-H, VR], "the sign is flipped"),
        ([stats.entropy(SHARE, axis=-1), VR], "the entropy of the votes"),
        ([H, 1 - SHARE.max(1)], "variation ratio: that is the variation ratio of the votes"),
        ([H, 1 - VR], "the most probable class's probability"),
        ([H, np.full(3, 1 - CONF)], "each draw's own 1 - max_y p_s(y), averaged"),
        ([H + 0.2, VR], "Max entropy not right; variation ratio right"),
        (np.array([H, VR]).T, "the transpose"),
        ([H, [VR[0], np.nan, VR[2]]], "NaN"),
    ],
)
def test_entropy_and_variation_ratio_recognised_mistakes(answer, phrase):
    says(check_entropy_and_variation_ratio(answer, **HAND), "wrong", phrase)


def test_entropy_and_variation_ratio_one_mistake_per_row():
    result = check_entropy_and_variation_ratio([OWN, 1 - SHARE.max(1)], **HAND)
    says(result, "wrong", "Max entropy: that is the average", "variation ratio: that is the")


@pytest.mark.parametrize(
    ("inputs", "name"),
    [
        ({"votes": [[0, 10]], "n_classes": 10}, "votes"),
        ({"votes": [[0, 1]], "confidence": 0.1}, "confidence"),  # not above 1/n_classes
        ({"votes": [[0, 1]], "confidence": 1.2}, "confidence"),
        ({"votes": [[0, 1]], "n_classes": 1}, "n_classes"),
    ],
)
def test_entropy_and_variation_ratio_refuses_bad_inputs(inputs, name):
    with pytest.raises(ValueError, match=name):
        check_entropy_and_variation_ratio(None, **inputs)


# ------------------------------------------------------------------------------ 12.2
def _bald_as_mean_kl(p):
    """mean_s KL(p_s || mean_s p_s), the mutual information written another way."""
    p = np.asarray(p, dtype=float)
    return stats.entropy(p, np.broadcast_to(p.mean(0), p.shape), axis=-1).mean(0)


def _drawn(seed=0, shape=(20, 30, 10)):
    seen = []
    check_bald(lambda p: seen.append(p) or np.zeros(p.shape[1]), seed=seed)
    assert seen[0].shape == shape
    return seen[0]


def test_bald_stub_and_odd_functions():
    for stub in STUBS:
        not_yet(check_bald(stub))
        not_yet(check_bald(lambda p, stub=stub: stub))
    for func in ODD_FUNCTIONS:
        says(check_bald(func), "wrong")
    says(check_bald(lambda p: 1 / 0), "wrong", "raised ZeroDivisionError")
    says(check_bald(3), "wrong", "must be a function")


@pytest.mark.parametrize("func", [_bald_as_mean_kl, bald])
def test_bald_right_answer_as_mean_kl_and_vibook(func):
    # both in float64: they agree with vibook's scores far inside the 1e-6 relative tolerance
    says(check_bald(func), "right", "mean_s KL(p_s || mean_s p_s)")
    says(check_bald(func, n_draws=3, n_points=5, n_classes=2, concentration=2.0, seed=3), "right")


def test_bald_draws_are_seeded_dirichlet_probabilities():
    first, again, other = _drawn(0), _drawn(0), _drawn(1)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert np.allclose(first.sum(-1), 1.0) and first.min() >= 0
    # Dirichlet(0.5, ..., 0.5) over 10 classes: each probability has mean 0.1 and sd
    # sqrt(0.1 * 0.9 / 6) = 0.122; over 6,000 of them the mean is 0.1 within 4 standard errors
    assert abs(first.mean() - 0.1) < 4 * 0.122 / np.sqrt(first.size)


def _entropy(p, base=None):
    return stats.entropy(p, axis=-1, base=base)


def _naive(p):  # -sum p log p with np.log: NaN where p = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        h = lambda q: -np.sum(q * np.log(q), axis=-1)  # noqa: E731
        return h(p.mean(0)) - h(p).mean(0)


@pytest.mark.parametrize(
    ("func", "phrase"),
    [
        (
            lambda p: stats.entropy(p, np.broadcast_to(p.mean(0), p.shape), axis=-1),
            "whose average over the draws is BALD",
        ),
        (lambda p: _entropy(p), "One number per draw and point, shape (20, 30): average"),
        (lambda p: _entropy(p.mean(1)), "One number per draw, shape (20,)"),
        (lambda p: _entropy(p.mean(0)), "That is max entropy"),
        (lambda p: _entropy(p).mean(0), "That is the expected entropy"),
        (lambda p: _entropy(p).mean(0) - _entropy(p.mean(0)), "The sign is flipped"),
        (lambda p: _entropy(p.mean(0), 2) - _entropy(p, 2).mean(0), "In bits"),
        (lambda p: _entropy(p.mean(0)) - _entropy(p).sum(0), "summed over the 20 draws"),
        (lambda p: _bald_as_mean_kl(p) + 0.1, "Not the BALD scores"),
        (_naive, "0 log 0 as 0"),
        (
            lambda p: _bald_as_mean_kl(p) if p.shape[1] == 30 else 1 / 0,
            "on the notebook's toy, which holds exact zeros: Your function raised",
        ),
        (
            lambda p: _bald_as_mean_kl(p) if p.shape[1] == 30 else np.zeros(2),
            "where BALD is (0.6931, 0)",
        ),
        (
            lambda p: _bald_as_mean_kl(p) if p.shape[1] == 30 else None,
            "Your scores of the toy must be numbers",
        ),
        (lambda p: _bald_as_mean_kl(p) if p.shape[1] == 30 else [1.0], "shape (2,)"),
        (lambda p: _bald_as_mean_kl(p)[:-1], "shape (30,)"),
    ],
)
def test_bald_recognised_mistakes(func, phrase):
    says(check_bald(func), "wrong", phrase)


@pytest.mark.parametrize(
    ("inputs", "name"),
    [
        ({"n_draws": 1}, "n_draws"),
        ({"n_classes": 1}, "n_classes"),
        ({"concentration": 0.0}, "concentration"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bald_refuses_bad_inputs(inputs, name):
    with pytest.raises(ValueError, match=name):
        check_bald(None, **inputs)


# ------------------------------------------------------------------------------ 12.3
def _picks_by_scipy(n_draws=4, n_classes=3, sure=0.9):
    """(BALD's pick, max entropy's pick) from candidates built one draw at a time."""
    rest = (1 - sure) / (n_classes - 1)
    p = np.empty((n_draws, 3, n_classes))
    for s in range(n_draws):
        p[s, 0] = 1 / n_classes  # A: unsure, the same for every draw
        p[s, 1] = rest  # B: the first half of the draws sure of class 0, the rest of class 1
        p[s, 1, 0 if s < np.ceil(n_draws / 2) else 1] = sure  # half, rounded up
        p[s, 2] = rest  # C: every draw sure of class 0
        p[s, 2, 0] = sure
    total = stats.entropy(p.mean(0), axis=-1)
    mutual = total - stats.entropy(p, axis=-1).mean(0)
    return "ABC"[int(np.argmax(mutual))], "ABC"[int(np.argmax(total))]


def test_bald_pick_prediction_stub_and_odd_answers():
    for stub in STUBS:
        not_yet(check_bald_pick_prediction(stub))
    for answer in [*ODD_ANSWERS, "BA", ("B", "D"), ("B", "A", "C"), ("B", 1)]:
        says(check_bald_pick_prediction(answer), "wrong", "Answer a pair of letters")


@pytest.mark.parametrize(
    "inputs", [{}, {"n_draws": 5, "n_classes": 4, "sure": 0.6}, {"n_draws": 2, "sure": 1.0}]
)
def test_bald_pick_prediction_right_answer_from_scipy(inputs):
    picks = _picks_by_scipy(**inputs)
    assert picks == ("B", "A")  # the epistemic image for BALD, the ambiguous one for entropy
    says(check_bald_pick_prediction(picks, **inputs), "right", "all of it is aleatoric")
    says(check_bald_pick_prediction([" b", "a "], **inputs), "right")


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (("A", "B"), "The two picks are swapped"),
        (("A", "A"), "BALD does not pick A: BALD keeps only the draws' disagreement"),
        (("B", "B"), "max entropy does not pick B: max entropy counts A's ambiguity"),
        (("C", "A"), "BALD does not pick C, on which every draw agrees"),
        (("B", "C"), "BALD's pick is right; max entropy does not pick C"),
    ],
)
def test_bald_pick_prediction_recognised_mistakes(answer, phrase):
    says(check_bald_pick_prediction(answer), "wrong", phrase)


@pytest.mark.parametrize(
    ("inputs", "name"),
    [
        ({"n_draws": 1}, "n_draws"),
        ({"n_classes": 2}, "n_classes"),
        ({"sure": 0.3}, "sure"),  # not above 1/3
        ({"sure": 1.5}, "sure"),
    ],
)
def test_bald_pick_prediction_refuses_bad_inputs(inputs, name):
    with pytest.raises(ValueError, match=name):
        check_bald_pick_prediction(None, **inputs)
