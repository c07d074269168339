"""The active-learning loop: what it records and acquires, one compilation, its scaler,
reproducibility, labels_to_reach, and bad input."""

import math

import jax
import numpy as np
import pytest

from vibook.active import Standardizer, labels_to_reach, run_active_learning
from vibook.metrics import accuracy
from vibook.networks import predict_proba


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


def test_cnn_loop_acquires_and_compiles_once(count_compilations):
    """The MC-dropout CNN in the same loop: 8x8 digits, one compilation after round 1."""
    from vibook.convnets import CNNFit
    from vibook.data import load_digits_split

    d = load_digits_split(seed=0)
    x, y, xt, yt = d["x_train"][:300], d["y_train"][:300], d["x_test"][:200], d["y_test"][:200]
    cnn = dict(image_shape=(8, 8), filters=(16, 16), kernel=2, hidden=32)
    marks = []
    with count_compilations() as compiled:
        res = run_active_learning(
            jax.random.key(3),
            x,
            y,
            xt,
            yt,
            acquisition="bald",
            model="dropout_cnn",
            standardize=False,
            cnn_options=cnn,
            n_rounds=3,
            batch_size=10,
            num_steps=200,
            num_draws=10,
            learning_rate=3e-3,
            callback=lambda r, n, acc: marks.append((r, compiled.count)),
        )
    np.testing.assert_array_equal(res.n_labels, [20, 30, 40, 50])
    assert isinstance(res.fit, CNNFit) and res.fit.config["image_shape"] == (8, 8)
    assert len(set(res.order.tolist())) == 50
    # each round labels the 10 best-scored points of the pool as it stood
    for r in range(3):
        batch = res.order[20 + 10 * r : 30 + 10 * r]
        rest = np.delete(np.arange(300), res.order[: 20 + 10 * r])
        assert np.nanmin(res.scores[r][batch]) >= np.nanmax(
            res.scores[r][np.setdiff1d(rest, batch)]
        )
    # 50 labels of 8x8 digits train the small CNN to four times chance (10%) or more
    assert res.accuracy[-1] >= 0.4, res.accuracy
    counts = [c for _, c in marks]
    assert counts[1:] == [counts[1]] * 3, marks  # rounds 2-3 compile nothing


def test_cnn_options_bad_input(key):
    x, y = _blobs(0, 10)
    with pytest.raises(ValueError, match="model must be one of"):
        run_active_learning(key, x, y, x, y, model="cnn")
    with pytest.raises(ValueError, match="cnn_options applies to model='dropout_cnn' only"):
        run_active_learning(key, x, y, x, y, cnn_options={"hidden": 3})
    with pytest.raises(ValueError, match=r"cnn_options must not set \['num_steps'\]"):
        run_active_learning(key, x, y, x, y, model="dropout_cnn", cnn_options={"num_steps": 3})
