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
from vibook.active import Standardizer, labels_to_reach, run_active_learning
from vibook.metrics import accuracy
from vibook.networks import predict_proba


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


def test_labels_to_reach():
    n = np.array([20, 30, 40, 50])
    acc = np.array([0.5, 0.96, 0.94, 0.97])
    assert labels_to_reach(n, acc, 0.95) == 30.0
    assert labels_to_reach(n, acc, 0.97) == 50.0
    assert labels_to_reach(n, acc, 0.99) == math.inf
    with pytest.raises(ValueError, match="n_labels must hold whole numbers"):
        labels_to_reach(n + 0.5, acc)
    with pytest.raises(ValueError, match=r"accuracy must hold fractions in \[0, 1\]"):
        labels_to_reach(n, acc * 2)
    with pytest.raises(ValueError, match=r"target must be an accuracy in \(0, 1\]"):
        labels_to_reach(n, acc, 95)


def _blobs(seed, n_per_class, separation=6.0):
    """Three Gaussian blobs in 4-D; centres 6 sd apart by default, Bayes accuracy ~1."""
    rng = np.random.default_rng(seed)
    centres = separation * np.eye(3, 4)
    y = np.repeat(np.arange(3), n_per_class)
    x = centres[y] + rng.normal(size=(y.size, 4))
    return x.astype(np.float32), y.astype(np.int32)


SMALL = dict(hidden=(8,), num_steps=150, num_draws=30, batch_size=5, n_rounds=3)


def test_loop_records_and_acquires_top_scores(key):
    x, y = _blobs(0, 40)
    xt, yt = _blobs(1, 20)
    res = run_active_learning(key, x, y, xt, yt, acquisition="bald", **SMALL)
    np.testing.assert_array_equal(res.n_labels, [6, 11, 16, 21])
    assert res.order.shape == (21,) and len(set(res.order.tolist())) == 21
    np.testing.assert_array_equal(np.bincount(y[res.order[:6]]), [2, 2, 2])
    assert res.scores.shape == (3, 120)
    for r in range(3):
        batch = res.order[6 + 5 * r : 11 + 5 * r]
        s = res.scores[r]
        # NaN exactly at the points labelled before this round
        np.testing.assert_array_equal(np.flatnonzero(np.isnan(s)), np.sort(res.order[: 6 + 5 * r]))
        # the batch is the five best unlabelled points
        assert set(batch.tolist()) == set(np.argsort(-np.nan_to_num(s, nan=-1))[:5].tolist())
    # blobs 6 sd apart: 21 labels are plenty; 0.9 leaves room for a weak variational fit
    assert res.accuracy[-1] >= 0.9


def test_loop_compiles_once(count_compilations):
    """No compilation after the first acquisition round: the labelled set is padded."""
    x, y = _blobs(2, 30)
    xt, yt = _blobs(3, 10)
    marks = []

    # a configuration no other test uses, so its programs are compiled here
    cfg = dict(SMALL, hidden=(7,), num_steps=37, n_rounds=4)
    with count_compilations() as compiled:

        def callback(r, n, acc):
            marks.append((r, compiled.count, list(compiled.names)))

        run_active_learning(jax.random.key(5), x, y, xt, yt, callback=callback, **cfg)
    assert [r for r, _, _ in marks] == [0, 1, 2, 3, 4]
    counts = [c for _, c, _ in marks]
    assert counts[0] >= 1, marks  # round 0 compiles the fit (with the set-up it needs)
    # round 1 compiles one program, the first to score the pool (a new shape): the fit on
    # more labels is the program of round 0; rounds 2-4 compile nothing
    assert counts[1] - counts[0] == 1, marks[1][2][counts[0] :]
    assert counts[1:] == [counts[1]] * 4 and compiled.count == counts[1], compiled.names


def test_standardizer_hand_computed():
    x = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 4.0]])
    s = Standardizer.fit(x)
    np.testing.assert_array_equal(s.mean, [2.0, 5.0, 2.0])
    np.testing.assert_array_equal(s.sd, [1.0, 1.0, 2.0])  # the constant feature is not scaled
    np.testing.assert_array_equal(s.apply([[4.0, 7.0, 8.0]]), [[2.0, 2.0, 3.0]])
    assert s.apply(x).dtype == np.float32
    identity = Standardizer.fit(x, standardize=False)
    np.testing.assert_array_equal(identity.apply(x), x)
    with pytest.raises(ValueError, match="x must have 3 features"):
        s.apply(x[:, :2])


def test_loop_returns_the_fit_and_scaler_it_used(key):
    """Predicting with the returned fit and scaler repeats the loop's last test accuracy."""
    # overlapping blobs (Bayes accuracy ~0.8), features on unequal scales and off centre
    scale, shift = np.array([1.0, 10.0, 0.1, 3.0], np.float32), np.float32(5.0)
    x, y = _blobs(6, 40, separation=2.0)
    xt, yt = _blobs(7, 200, separation=2.0)
    x, xt = x * scale + shift, xt * scale + shift
    res = run_active_learning(key, x, y, xt, yt, acquisition="bald", **SMALL)
    np.testing.assert_array_equal(res.scaler.mean, x.mean(0))
    np.testing.assert_array_equal(res.scaler.sd, x.std(0))
    assert res.fit.config["hidden"] == SMALL["hidden"]
    # the loop's keys: the starting set's, then (scores, fit, test draws, next) per fit
    _, k = jax.random.split(key)
    for _ in range(SMALL["n_rounds"] + 1):
        _, _, test_key, k = jax.random.split(k, 4)
    probs = predict_proba(test_key, res.fit, res.scaler.apply(xt), num_draws=SMALL["num_draws"])
    acc = accuracy(np.asarray(probs).mean(0), yt)
    assert 0.5 < acc < 0.95  # not saturated: 600 test points tell fits apart
    assert acc == res.accuracy[-1]
    # without the scaler the same fit predicts much worse
    raw = predict_proba(test_key, res.fit, xt, num_draws=SMALL["num_draws"])
    assert accuracy(np.asarray(raw).mean(0), yt) < acc - 0.1


def test_random_loop_matches_seed(key):
    x, y = _blobs(4, 20)
    a = run_active_learning(key, x, y, x, y, acquisition="random", **SMALL)
    b = run_active_learning(key, x, y, x, y, acquisition="random", **SMALL)
    np.testing.assert_array_equal(a.order, b.order)
    np.testing.assert_allclose(a.accuracy, b.accuracy)


def test_loop_bad_input(key):
    x, y = _blobs(0, 10)
    with pytest.raises(ValueError, match="acquisition must be one of"):
        run_active_learning(key, x, y, x, y, acquisition="margin")
    with pytest.raises(ValueError, match="must fit in the pool of 30"):
        run_active_learning(key, x, y, x, y, batch_size=10, n_rounds=3)
    with pytest.raises(ValueError, match="same length"):
        run_active_learning(key, x, y[:-1], x, y)
    with pytest.raises(ValueError, match=r"1 for hidden=\(\); got 3 values"):
        run_active_learning(key, x, y, x, y, hidden=(), prior_scale=(1.0, 2.0, 3.0))
    with pytest.raises(TypeError, match="hidden must be a sequence"):
        run_active_learning(key, x, y, x, y, hidden=None)
