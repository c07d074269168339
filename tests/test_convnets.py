"""The MC-dropout convolutional network: its forward pass against XLA's convolution, learning,
the mask, warm starts, the spread over dropout masks, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vibook.convnets import CNNFit, dropout_cnn_predict_proba, fit_dropout_cnn

SIDE = 10
SMALL = dict(image_shape=(SIDE, SIDE), filters=(4, 8), kernel=3, hidden=16, batch_size=32)
# one data shape and one run length throughout, so the training program compiles once
N, STEPS = 100, 150
FIT = dict(SMALL, num_steps=STEPS, learning_rate=1e-2)


def _bars(seed, n):
    """Noisy 10x10 images of one horizontal (label 0) or one vertical (label 1) bright bar."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = 0.3 * rng.uniform(size=(n, SIDE, SIDE))
    where = rng.integers(2, SIDE - 2, size=n)
    for i in range(n):
        if y[i] == 0:
            x[i, where[i], :] += 1.0
        else:
            x[i, :, where[i]] += 1.0
    return x.reshape(n, -1).astype(np.float32), y.astype(np.int32)


def _reference_logits(params, x):
    """The same network written with XLA's convolution and pooling (no dropout)."""
    h = jnp.asarray(x).reshape(-1, SIDE, SIDE, 1)
    dn = ("NHWC", "HWIO", "NHWC")
    for conv, bias in (("conv1", "bias1"), ("conv2", "bias2")):
        h = jax.lax.conv_general_dilated(h, params[conv], (1, 1), "VALID", dimension_numbers=dn)
        h = jax.nn.relu(h + params[bias])
        h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    h = jax.nn.relu(h.reshape(h.shape[0], -1) @ params["dense1"] + params["bias3"])
    return h @ params["dense2"] + params["bias4"]


@pytest.fixture(scope="module")
def bars_fit():
    x, y = _bars(0, N)
    return fit_dropout_cnn(jax.random.key(0), x, y, **FIT)


def test_forward_pass_matches_xla_convolution(bars_fit):
    # with drop probabilities of 1e-7 every unit is kept (the chance of one drop among the
    # ~10^4 units of 5 images is ~1e-3 at most), so each draw is the deterministic network
    x, _ = _bars(1, 5)
    quiet = bars_fit._replace(config={**bars_fit.config, "dropout": (1e-7, 1e-7)})
    got = dropout_cnn_predict_proba(jax.random.key(1), quiet, x, num_draws=2)
    want = jax.nn.softmax(_reference_logits(bars_fit.params, x))
    # float32 sums in a different order: agreement to 1e-5 of probabilities
    np.testing.assert_allclose(got[0], want, atol=1e-5)
    np.testing.assert_allclose(got[1], want, atol=1e-5)


def test_learns_bars_and_dropout_spreads(bars_fit):
    assert isinstance(bars_fit, CNNFit) and bars_fit.losses.shape == (STEPS,)
    # the loss (the minibatch NLL under dropout, plus the penalty) falls from about chance
    # (log 2 ~ 0.69, more at a random start) to under half of it
    assert bars_fit.losses[:10].mean() > 0.5 and bars_fit.losses[-30:].mean() < 0.3
    x, y = _bars(2, 200)
    probs = dropout_cnn_predict_proba(jax.random.key(2), bars_fit, x, num_draws=10)
    assert probs.shape == (10, 200, 2) and probs.dtype == np.float32
    assert (probs.mean(0).argmax(1) == y).mean() >= 0.95  # the task is easy: Bayes accuracy 1
    # different dropout masks give different probabilities: the spread MC dropout reads
    assert probs.std(0).mean() > 1e-3


def test_masked_rows_are_never_read():
    x, y = _bars(3, N)
    mask = np.arange(N) < 70
    x2, y2 = x.copy(), y.copy()
    x2[70:], y2[70:] = 100.0, 1 - y2[70:]  # garbage where the mask is False
    kw = dict(FIT, mask=mask, n_classes=2)
    a = fit_dropout_cnn(jax.random.key(4), x, y, **kw)
    b = fit_dropout_cnn(jax.random.key(4), x2, y2, **kw)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


def test_warm_start_continues_and_same_key_same_fit():
    x, y = _bars(5, N)
    kw = FIT
    first = fit_dropout_cnn(jax.random.key(6), x, y, **kw)
    again = fit_dropout_cnn(jax.random.key(6), x, y, **kw)
    np.testing.assert_array_equal(first.losses, again.losses)
    warm = fit_dropout_cnn(jax.random.key(7), x, y, init_params=first.params, **kw)
    # a warm start begins near where the first fit ended, far below the cold start's loss
    assert warm.losses[:10].mean() < 0.5 * first.losses[:10].mean()


def test_bad_input():
    x, y = _bars(8, N)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="x must"):
        fit_dropout_cnn(key, x[:, :50], y, **SMALL)
    with pytest.raises(ValueError, match="mask must be a bool array of shape"):
        fit_dropout_cnn(key, x, y, mask=np.ones(N), **SMALL)
    with pytest.raises(ValueError, match="mask must be a bool array"):
        fit_dropout_cnn(key, x, y, mask=np.zeros(N, bool), **SMALL)
    with pytest.raises(ValueError, match=r"dropout must hold drop probabilities in \(0, 1\)"):
        fit_dropout_cnn(key, x, y, **{**SMALL, "dropout": (0.5, 1.0)})
    with pytest.raises(TypeError, match="filters must be a pair"):
        fit_dropout_cnn(key, x, y, **{**SMALL, "filters": 8})
    with pytest.raises(ValueError, match="kernel must leave each side at least 1"):
        fit_dropout_cnn(key, x, y, **{**SMALL, "kernel": 4})
    with pytest.raises(ValueError, match="y must hold labels below n_classes=2"):
        fit_dropout_cnn(key, x, y + 1, n_classes=2, **SMALL)
    fit = fit_dropout_cnn(key, x, y, **FIT)
    with pytest.raises(ValueError, match="init_params must be the params of a fit"):
        fit_dropout_cnn(key, x, y, init_params={"conv1": fit.params["conv1"]}, **SMALL)
    with pytest.raises(TypeError, match="fit must be a CNNFit"):
        dropout_cnn_predict_proba(key, fit.params, x)
    with pytest.raises(ValueError, match="x must"):
        dropout_cnn_predict_proba(key, fit, x[:, :50])
