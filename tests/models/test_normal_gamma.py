"""The Normal with unknown mean and precision: exact posterior and evidence against NumPyro."""

import jax
import numpy as np
import pytest
from numpyro.infer import MCMC, NUTS
from scipy import integrate, stats

from vibook.models.normal_gamma import (
    NormalGamma,
    normal_gamma,
    normal_gamma_log_evidence,
    normal_gamma_posterior,
)

PRIOR = NormalGamma(mu=0.5, lam=2.0, a=3.0, b=2.0)
X = np.random.default_rng(3).normal(1.2, 0.7, size=15)


def _log_joint(mu, tau):
    """log p(x, mu, tau) from scipy's densities, independent of the closed forms."""
    return (
        stats.gamma.logpdf(tau, PRIOR.a, scale=1 / PRIOR.b)
        + stats.norm.logpdf(mu, PRIOR.mu, 1 / np.sqrt(PRIOR.lam * tau))
        + stats.norm.logpdf(X, mu, 1 / np.sqrt(tau)).sum()
    )


def test_log_evidence_matches_quadrature():
    # 2-D adaptive quadrature of p(x, mu, tau) / C, with C the closed form (so the integrand is
    # of order 1 and the absolute tolerance means something); the mass outside the box is
    # negligible (the posterior sd of mu is ~0.2, tau's mean ~2).
    log_c = normal_gamma_log_evidence(X, PRIOR)
    value, err = integrate.dblquad(
        lambda mu, tau: np.exp(_log_joint(mu, tau) - log_c),
        1e-8,
        40,
        lambda _: -5,
        lambda _: 7,
        epsabs=1e-12,
        epsrel=1e-10,
    )
    assert err < 1e-8
    assert np.log(value) == pytest.approx(0.0, abs=1e-8)


def test_posterior_moments_match_nuts():
    post = normal_gamma_posterior(X, PRIOR)
    mcmc = MCMC(NUTS(normal_gamma), num_warmup=500, num_samples=4000, progress_bar=False)
    mcmc.run(jax.random.key(0), X, prior=PRIOR)
    draws = mcmc.get_samples()
    # Tolerance: 5 Monte Carlo standard errors with ESS taken as a quarter of the draws.
    for value, exact_mean, exact_sd in (
        (draws["mu"], post.mu, np.sqrt(post.b / ((post.a - 1) * post.lam))),
        (draws["tau"], post.a / post.b, np.sqrt(post.a) / post.b),
    ):
        assert np.mean(value) == pytest.approx(exact_mean, abs=5 * exact_sd / np.sqrt(1000))
        assert np.std(value) == pytest.approx(exact_sd, rel=0.1)


def test_prior_predictive_draws_n_points():
    from numpyro.infer import Predictive

    x = Predictive(normal_gamma, num_samples=3)(jax.random.key(1), None, prior=PRIOR, n=5)["x"]
    assert x.shape == (3, 5)
