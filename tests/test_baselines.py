import jax
import numpy as np
import pytest

from vibook.baselines import fit_mlp, mlp_predict_proba, mlp_predict_regression
from vibook.data import gap_regression, two_moons


@pytest.fixture(scope="module")
def moons():
    return two_moons(120, noise=0.1, seed=0), two_moons(200, noise=0.1, seed=1)


@pytest.mark.parametrize(("method", "n_draws"), [("map", 1), ("dropout", 30), ("ensemble", 3)])
def test_classifiers_learn_moons_with_the_right_shapes(moons, method, n_draws):
    train, test = moons
    fit = fit_mlp(
        jax.random.key(0),
        train["x"],
        train["y"],
        method=method,
        n_classes=2,
        hidden=(16,),
        prior_scale=3.0,
        n_members=3,
        num_steps=800,
        batch_size=64,
    )
    probs = np.asarray(mlp_predict_proba(jax.random.key(1), fit, test["x"], num_draws=30))
    assert probs.shape == (n_draws, 200, 2)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    acc = np.mean(probs.mean(0).argmax(-1) == test["y"])
    assert acc > 0.9  # a linear classifier gets about 0.85 on these moons
    assert fit.losses.shape == (n_draws if method == "ensemble" else 1, 800)
    if method == "dropout":
        assert np.std(probs, axis=0).mean() > 1e-3  # masks differ between draws
    if method == "ensemble":
        assert not np.allclose(fit.weights["w0"][0], fit.weights["w0"][1])


def test_map_without_data_pull_is_the_prior_mode():
    # With a tiny prior scale the L2 penalty dominates and weights shrink towards 0.
    data = two_moons(40, seed=0)
    fit = fit_mlp(
        jax.random.key(0),
        data["x"],
        data["y"],
        n_classes=2,
        hidden=(8,),
        prior_scale=1e-3,
        num_steps=500,
        learning_rate=0.01,
    )
    assert np.abs(fit.weights["w0"]).max() < 0.01


def test_regression_learns_the_noise_sd():
    data = gap_regression(100, noise=0.1, seed=0)
    fit = fit_mlp(
        jax.random.key(0),
        data["x"],
        data["y"],
        hidden=(20,),
        activation="relu",
        prior_scale=1.5,
        num_steps=2000,
    )
    mean, sigma = mlp_predict_regression(jax.random.key(1), fit, data["x"])
    assert mean.shape == (1, 100) and sigma.shape == (1,)
    # 100 residuals pin a sd of 0.1 down to about +-10%; the fit may overfit a little.
    assert 0.06 < float(sigma[0]) < 0.14


def test_bad_input():
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="method"):
        fit_mlp(jax.random.key(0), x, [0, 1, 0, 1], method="bagging", n_classes=2)
    with pytest.raises(ValueError, match="dropout"):
        fit_mlp(jax.random.key(0), x, [0, 1, 0, 1], method="dropout", dropout=1.5, n_classes=2)
    with pytest.raises(TypeError, match="MLPFit"):
        mlp_predict_proba(jax.random.key(0), {"w0": 1}, x)
