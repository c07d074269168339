"""Acquisition functions against hand-computed scores; batch selection; the starting set."""

import math

import jax
import numpy as np
import pytest

from vibook.acquisition import (
    ACQUISITIONS,
    acquisition_scores,
    bald,
    initial_labelled,
    max_entropy,
    random_scores,
    select_batch,
    variation_ratios,
)


def _h(*p):
    """Entropy in nats of a probability vector, written out by hand."""
    return -sum(q * math.log(q) for q in p if q > 0)


# Four pool points, two posterior draws, three classes:
#   0: the draws are sure and disagree  (epistemic: BALD high)
#   1: the draws agree that it is a coin toss between 0 and 1  (aleatoric: BALD zero)
#   2: the draws agree and are sure  (nothing to learn)
#   3: the draws lean to opposite classes
PROBS = np.array(
    [
        [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.7, 0.2, 0.1]],
        [[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.1, 0.2, 0.7]],
    ]
)


def test_bald_hand_computed():
    # mean of point 3 is (0.4, 0.2, 0.4); each draw has entropy H(0.7, 0.2, 0.1)
    expected = [math.log(2), 0.0, 0.0, _h(0.4, 0.2, 0.4) - _h(0.7, 0.2, 0.1)]
    np.testing.assert_allclose(bald(PROBS), expected, atol=1e-12)


def test_max_entropy_hand_computed():
    expected = [math.log(2), math.log(2), 0.0, _h(0.4, 0.2, 0.4)]
    np.testing.assert_allclose(max_entropy(PROBS), expected, atol=1e-12)


def test_variation_ratios_hand_computed():
    np.testing.assert_allclose(variation_ratios(PROBS), [0.5, 0.5, 0.0, 0.6], atol=1e-12)


def test_bald_separates_disagreement_from_ambiguity():
    # entropy cannot tell point 0 from point 1; BALD ranks the disagreement first
    assert max_entropy(PROBS)[0] == pytest.approx(max_entropy(PROBS)[1])
    assert bald(PROBS)[0] > bald(PROBS)[1] + 0.5
    labelled = np.zeros(4, bool)
    assert select_batch(bald(PROBS), labelled, 2).tolist() == [0, 3]
    assert select_batch(max_entropy(PROBS), labelled, 3).tolist() == [3, 0, 1]


def test_scores_by_name_match_the_functions(key):
    for name in ("bald", "max_entropy", "variation_ratios"):
        np.testing.assert_array_equal(acquisition_scores(name, PROBS), ACQUISITIONS[name](PROBS))
    np.testing.assert_array_equal(
        acquisition_scores("random", PROBS, rng_key=key), random_scores(PROBS, rng_key=key)
    )


def test_random_scores_reproducible_and_uniform_choice(key):
    s = random_scores(PROBS, rng_key=key)
    assert s.shape == (4,) and np.all((s >= 0) & (s < 1))
    np.testing.assert_array_equal(s, random_scores(PROBS, rng_key=key))
    # which of 4 points is picked first over 400 keys: each ~ Binomial(400, 1/4), sd 8.7;
    # a band of +-40 (4.6 sd) fails by chance with probability ~1e-5
    firsts = [
        select_batch(random_scores(PROBS, rng_key=k), np.zeros(4, bool), 1)[0]
        for k in jax.random.split(key, 400)
    ]
    counts = np.bincount(firsts, minlength=4)
    assert np.all(np.abs(counts - 100) < 40), counts


def test_select_batch_skips_labelled_and_breaks_ties_low():
    scores = np.array([0.3, 0.9, 0.9, 0.1, 0.9])
    labelled = np.array([False, False, True, False, False])
    assert select_batch(scores, labelled, 3).tolist() == [1, 4, 0]
    with pytest.raises(ValueError, match="batch_size must be at most the 4"):
        select_batch(scores, labelled, 5)
    with pytest.raises(ValueError, match="labelled must be a bool array"):
        select_batch(scores, labelled.astype(int), 1)


def test_acquisition_bad_input(key):
    with pytest.raises(ValueError, match="sum to 1"):
        bald(PROBS * 2)
    with pytest.raises(ValueError, match="dimension"):
        variation_ratios(PROBS[0])
    with pytest.raises(ValueError, match="acquisition must be one of"):
        acquisition_scores("margin", PROBS)
    with pytest.raises(ValueError, match="needs rng_key"):
        acquisition_scores("random", PROBS)


def test_initial_labelled(key):
    y = np.repeat(np.arange(4), [5, 6, 7, 8])
    idx = initial_labelled(key, y, 3)
    assert idx.shape == (12,) and len(set(idx.tolist())) == 12
    np.testing.assert_array_equal(np.bincount(y[idx]), [3, 3, 3, 3])
    np.testing.assert_array_equal(idx, initial_labelled(key, y, 3))
    with pytest.raises(ValueError, match="at most the 5 points of class 0"):
        initial_labelled(key, y, 6)
