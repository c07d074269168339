"""Conjugate models: analytic posteriors and evidences against independent computations,
and minibatches in the Normal model against its exact posterior."""

import jax.numpy as jnp
import numpy as np
import numpyro
import pytest
from jax.example_libraries.optimizers import exponential_decay
from numpyro import handlers
from scipy import integrate, stats

from vibook import run_svi
from vibook.models import (
    beta_binomial_log_evidence,
    beta_binomial_posterior,
    coin_grid_posterior,
    normal_normal,
    normal_normal_log_evidence,
    normal_normal_posterior,
)


@pytest.mark.parametrize(("heads", "flips", "a", "b"), [(7, 10, 1.0, 1.0), (0, 5, 2.0, 3.0)])
def test_beta_binomial_evidence_matches_quadrature(heads, flips, a, b):
    # p(h) = integral of Binomial(h | n, t) Beta(t | a, b) dt, by adaptive quadrature (~1e-10).
    def integrand(t):
        return stats.binom.pmf(heads, flips, t) * stats.beta.pdf(t, a, b)

    value, _ = integrate.quad(integrand, 0, 1, epsabs=1e-13)
    assert beta_binomial_log_evidence(heads, flips=flips, a=a, b=b) == pytest.approx(
        np.log(value), abs=1e-5
    )


def test_beta_binomial_posterior_is_prior_plus_counts():
    post = beta_binomial_posterior(7, flips=10, a=2.0, b=3.0)
    assert float(post.concentration1) == 9.0
    assert float(post.concentration0) == 6.0


def test_grid_posterior_agrees_with_conjugate_answer():
    # 801 midpoint cells: the Riemann sums are accurate to about 1e-5 for this smooth density.
    panel = coin_grid_posterior(7, flips=10, a=2.0, b=3.0)
    exact = beta_binomial_posterior(7, flips=10, a=2.0, b=3.0)
    assert panel["posterior_mean"] == pytest.approx(float(exact.mean), abs=1e-4)
    assert panel["posterior_sd"] == pytest.approx(float(np.sqrt(exact.variance)), abs=1e-4)
    assert panel["log_evidence"] == pytest.approx(
        beta_binomial_log_evidence(7, flips=10, a=2.0, b=3.0), abs=1e-4
    )
    width = 1 / len(panel["theta"])
    for name in ("prior", "likelihood", "posterior"):
        assert np.sum(panel[name]) * width == pytest.approx(1.0, abs=1e-3), name


def test_grid_logit_normal_prior_integrates_to_one_and_moves_with_loc():
    low = coin_grid_posterior(5, flips=10, prior="logit-normal", loc=-2.0, scale=0.5)
    high = coin_grid_posterior(5, flips=10, prior="logit-normal", loc=2.0, scale=0.5)
    width = 1 / len(low["theta"])
    assert np.sum(low["prior"]) * width == pytest.approx(1.0, abs=1e-3)
    assert low["posterior_mean"] < 0.5 < high["posterior_mean"]


def test_normal_normal_posterior_and_evidence_match_dense_formulas():
    rng = np.random.default_rng(1)
    x = rng.normal(1.0, 2.0, size=12)
    m0, s0, sigma = 0.5, 1.5, 2.0
    # Dense multivariate-normal marginal: x ~ N(m0 1, sigma^2 I + s0^2 11^T).
    cov = sigma**2 * np.eye(12) + s0**2 * np.ones((12, 12))
    dense = stats.multivariate_normal(np.full(12, m0), cov).logpdf(x)
    kwargs = {"prior_loc": m0, "prior_scale": s0, "noise_scale": sigma}
    assert normal_normal_log_evidence(x, **kwargs) == pytest.approx(dense, abs=1e-8)
    post = normal_normal_posterior(x, **kwargs)
    precision = 1 / s0**2 + 12 / sigma**2
    assert float(post.loc) == pytest.approx((m0 / s0**2 + x.sum() / sigma**2) / precision)
    assert float(post.scale) == pytest.approx(precision**-0.5)


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: beta_binomial_posterior(-1, flips=10), ValueError, "heads"),
        (lambda: beta_binomial_posterior(11, flips=10), ValueError, "heads"),
        (lambda: beta_binomial_posterior(2.5, flips=10), ValueError, "heads"),
        (lambda: beta_binomial_posterior(2, flips=10, a=0.0), ValueError, "a"),
        (lambda: beta_binomial_log_evidence(2, flips=-3), ValueError, "flips"),
        (lambda: normal_normal_posterior([1.0, np.nan]), ValueError, "x"),
        (lambda: normal_normal_posterior(np.ones((2, 2))), ValueError, "x"),
        (lambda: normal_normal_posterior([]), ValueError, "x"),
        (lambda: normal_normal_posterior(["a", "b"]), TypeError, "x"),
        (lambda: normal_normal_log_evidence([1.0], noise_scale=-1.0), ValueError, "noise_scale"),
        (lambda: coin_grid_posterior(3, flips=5, prior="uniform"), ValueError, "prior"),
    ],
)
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=rf"\b{name}\b"):
        call()


def _trace(model, *args, **kwargs):
    with handlers.seed(rng_seed=3):
        return handlers.trace(model).get_trace(*args, **kwargs)


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
