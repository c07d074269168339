"""Logistic regression with minibatches.

Minibatch scaling is checked exactly (a subsampled log-likelihood is ``n / m`` times the sum
over the rows the plate picked); the fit is checked against the known truth with tolerances of
a few posterior standard deviations.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro import handlers

from vibook import run_svi
from vibook.data import synthetic_logistic
from vibook.models import logistic_loglik, logistic_regression
from vibook.regression import logistic_heldout_loglik


def _trace(model, *args, **kwargs):
    with handlers.seed(rng_seed=3):
        return handlers.trace(model).get_trace(*args, **kwargs)


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


def test_device_arrays_are_not_copied_to_the_host():
    data = synthetic_logistic(64, n_features=2)
    x = jax.device_put(data["x"])
    tr = _trace(logistic_regression, x, jnp.asarray(data["y"]))
    assert isinstance(tr["y"]["value"], jax.Array)
