"""Logistic regression with minibatches, and minibatches in the conjugate Normal model.

Minibatch scaling is checked exactly (a subsampled log-likelihood is ``n / m`` times the sum
over the rows the plate picked); fits are checked against the known truth or the exact
posterior with tolerances of a few posterior standard deviations.
"""

import arviz_base as azb
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import pytest
from jax.example_libraries.optimizers import exponential_decay
from numpyro import handlers

from vibook import run_svi
from vibook.data import synthetic_logistic
from vibook.models import (
    logistic_loglik,
    logistic_regression,
    normal_normal,
    normal_normal_posterior,
)
from vibook.regression import logistic_heldout_loglik


def _trace(model, *args, **kwargs):
    with handlers.seed(rng_seed=3):
        return handlers.trace(model).get_trace(*args, **kwargs)


def test_synthetic_logistic_is_reproducible_and_shares_truth():
    a = synthetic_logistic(50, n_features=3, seed=1)
    b = synthetic_logistic(50, n_features=3, seed=1)
    c = synthetic_logistic(50, n_features=3, seed=2)
    np.testing.assert_array_equal(a["x"], b["x"])
    assert not np.array_equal(a["x"], c["x"])
    np.testing.assert_array_equal(a["w"], c["w"])  # same truth_seed, same truth
    assert a["x"].shape == (50, 3) and a["x"].dtype == np.float32
    assert set(np.unique(a["y"])) <= {0, 1}


def test_minibatch_log_likelihood_is_scaled_sum_over_chosen_rows():
    data = synthetic_logistic(40, n_features=3)
    w, b = jnp.array([0.5, -1.0, 2.0]), jnp.array(0.3)
    model = handlers.substitute(logistic_regression, {"w": w, "b": b})
    tr = _trace(model, data["x"], data["y"], subsample_size=8)
    site = tr["y"]
    idx = np.asarray(tr["data"]["value"])
    assert idx.shape == (8,) and idx.min() >= 0 and idx.max() < 40
    assert site["scale"] == pytest.approx(40 / 8)
    by_hand = logistic_loglik(data["x"][idx], data["y"][idx], w=np.asarray(w), b=0.3) * 8
    got = float(site["scale"] * site["fn"].log_prob(site["value"]).sum())
    assert got == pytest.approx(40 / 8 * by_hand, rel=1e-5)  # float32 sums
    full = _trace(model, data["x"], data["y"])["y"]
    assert full["scale"] is None and full["value"].shape == (40,)


def test_prior_predictive_and_bad_input():
    data = synthetic_logistic(30, n_features=2)
    tr = _trace(logistic_regression, data["x"])
    assert tr["y"]["value"].shape == (30,) and not tr["y"]["is_observed"]
    with pytest.raises(ValueError, match="y must have one label"):
        logistic_regression(data["x"], data["y"][:5])
    with pytest.raises(ValueError, match="labels 0 or 1"):
        logistic_regression(data["x"], data["y"] * 2)
    with pytest.raises(ValueError, match="x must have 2"):
        logistic_regression(data["y"])
    with pytest.raises(ValueError, match="subsample_size must be <="):
        _trace(logistic_regression, data["x"], data["y"], subsample_size=31)
    with pytest.raises(TypeError, match="subsample_size"):
        _trace(logistic_regression, data["x"], data["y"], subsample_size=2.5)
    with pytest.raises(ValueError, match="prior_scale"):
        logistic_regression(data["x"], data["y"], prior_scale=0.0)


def test_minibatch_svi_recovers_truth_and_predicts_like_it(key):
    data = synthetic_logistic(10_000, n_features=3, seed=0)
    test = synthetic_logistic(5_000, n_features=3, seed=1)
    fit = run_svi(
        key,
        logistic_regression,
        data["x"],
        data["y"],
        subsample_size=500,
        num_steps=1000,
        learning_rate=0.02,
        num_draws=200,
    )
    w = fit.posterior.posterior["w"].mean(("chain", "draw")).values
    # The posterior sd of each weight is about 1/sqrt(n * 0.2) = 0.022 (Fisher information of
    # a logistic model with p near 0.5); 0.1 allows four of them plus minibatch jitter.
    np.testing.assert_allclose(w, data["w"], atol=0.1)
    assert fit.posterior.posterior["w"].dims == ("chain", "draw", "w_dim_0")
    ours = logistic_heldout_loglik(fit, test["x"], test["y"])
    ceiling = logistic_loglik(test["x"], test["y"], w=data["w"], b=data["b"])
    # Estimation error costs O(d / n) nats per point; 0.01 is far above that yet far below
    # the gap to a useless predictor (log 0.5 = -0.69 against a ceiling near -0.5).
    assert ours == pytest.approx(ceiling, abs=0.01)


def test_heldout_loglik_of_a_point_posterior_is_the_loglik_at_that_point():
    test = synthetic_logistic(300, n_features=2, seed=5)
    w, b = np.array([0.7, -0.2]), 0.1
    draws = {"w": np.broadcast_to(w, (1, 4, 2)).copy(), "b": np.full((1, 4), b)}
    tree = azb.from_dict({"posterior": draws})
    got = logistic_heldout_loglik(tree, test["x"], test["y"])
    assert got == pytest.approx(logistic_loglik(test["x"], test["y"], w=w, b=b), abs=1e-5)
    assert got < 0
    with pytest.raises(ValueError, match="columns"):
        logistic_heldout_loglik(tree, test["x"][:, :1], test["y"])


def test_normal_normal_minibatch_is_scaled_and_fits_the_exact_posterior(key):
    rng = np.random.default_rng(0)
    x = rng.normal(1.5, 1.0, size=1000)
    tr = _trace(handlers.substitute(normal_normal, {"mu": 0.0}), x, subsample_size=50)
    idx = np.asarray(tr["obs"]["value"])
    assert tr["x"]["scale"] == pytest.approx(20.0)
    np.testing.assert_allclose(tr["x"]["value"], x[idx])
    fit = run_svi(
        key,
        normal_normal,
        jnp.asarray(x),
        subsample_size=100,
        num_steps=1000,
        optimizer=numpyro.optim.Adam(exponential_decay(0.05, 500, 0.1)),
        num_draws=2000,
    )
    exact = normal_normal_posterior(x)
    mu = fit.posterior.posterior["mu"].values.ravel()
    # The posterior sd is 1/sqrt(1001) = 0.032; minibatch noise moves the fitted mean by a
    # fraction of it once the step size has decayed, so 2 sds (0.063) is a safe bound.
    assert mu.mean() == pytest.approx(float(exact.mean), abs=2 * float(exact.scale))
    with pytest.raises(ValueError, match="subsample_size must be <="):
        normal_normal(x, subsample_size=1001)


def test_device_arrays_are_not_copied_to_the_host():
    data = synthetic_logistic(64, n_features=2)
    x = jax.device_put(data["x"])
    tr = _trace(logistic_regression, x, jnp.asarray(data["y"]))
    assert isinstance(tr["y"]["value"], jax.Array)
