"""Hierarchical normal models: the exact posterior with known group scale, NUTS and full-rank
SVI against it, and the centred and non-centred eight schools as one model."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro  # imported in full before arviz_base can load it lazily
import pytest
from arviz_stats import mcse
from numpyro.infer import Trace_ELBO
from numpyro.infer.autoguide import AutoMultivariateNormal
from numpyro.infer.util import log_density

from vibook import run_nuts, run_svi
from vibook.models.hierarchical import (
    EIGHT_SCHOOLS,
    eight_schools_centred,
    eight_schools_noncentred,
    hierarchical_normal,
    hierarchical_normal_posterior,
)

Y, SIGMA = EIGHT_SCHOOLS["y"], EIGHT_SCHOOLS["sigma"]
TAU, MU_SCALE = 5.0, 10.0


@pytest.fixture(scope="module")
def exact():
    return hierarchical_normal_posterior(Y, sigma=SIGMA, tau=TAU, mu_scale=MU_SCALE)


def test_exact_posterior_matches_textbook_marginals(exact):
    # Integrating theta out, y_j | mu ~ N(mu, sigma_j^2 + tau^2) (Gelman et al. 2013, 5.5):
    # the marginal of mu is Normal with the precision and mean below; then theta_j | mu, y is
    # Normal with shrinkage weight B_j = tau^-2 / (sigma_j^-2 + tau^-2). The distribution
    # holds float32 (JAX default), hence rtol=1e-5.
    w = 1 / (SIGMA**2 + TAU**2)
    prec_mu = 1 / MU_SCALE**2 + w.sum()
    mean_mu = (w * Y).sum() / prec_mu
    shrink = TAU**-2 / (SIGMA**-2 + TAU**-2)
    mean_theta = (1 - shrink) * Y + shrink * mean_mu
    var_theta = 1 / (SIGMA**-2 + TAU**-2) + shrink**2 / prec_mu
    cov = np.asarray(exact.covariance_matrix)
    np.testing.assert_allclose(np.asarray(exact.loc), [mean_mu, *mean_theta], rtol=1e-5)
    np.testing.assert_allclose(np.diag(cov), [1 / prec_mu, *var_theta], rtol=1e-5)
    np.testing.assert_allclose(cov[0, 1:], shrink / prec_mu, rtol=1e-5)


@pytest.fixture(scope="module")
def nuts_fit():
    return run_nuts(
        jax.random.key(11),
        hierarchical_normal,
        Y,
        sigma=SIGMA,
        tau=TAU,
        mu_scale=MU_SCALE,
        num_warmup=500,
        num_draws=1000,
    )


def test_nuts_matches_exact_posterior_within_mcse(nuts_fit, exact):
    post = nuts_fit.posterior
    assert post["theta"].dims == ("chain", "draw", "school")
    err = mcse(nuts_fit, method="mean")
    err_sd = mcse(nuts_fit, method="sd")
    loc, sd = np.asarray(exact.loc), np.sqrt(np.diag(np.asarray(exact.covariance_matrix)))
    # Five Monte Carlo standard errors per component: with 18 checks a false failure has
    # probability about 1e-5.
    assert abs(post["mu"].mean().item() - loc[0]) < 5 * err["mu"].item()
    assert abs(post["mu"].std().item() - sd[0]) < 5 * err_sd["mu"].item()
    theta_mean = post["theta"].mean(("chain", "draw")).values
    theta_sd = post["theta"].std(("chain", "draw")).values
    assert np.all(np.abs(theta_mean - loc[1:]) < 5 * err["theta"].values)
    assert np.all(np.abs(theta_sd - sd[1:]) < 5 * err_sd["theta"].values)
    assert int(nuts_fit.sample_stats["diverging"].sum()) == 0


def test_full_rank_svi_recovers_exact_gaussian_posterior(exact):
    # AutoMultivariateNormal contains the exact (Gaussian) posterior, so only optimisation
    # noise is left. Four particles per step and a tenfold smaller step for the last 1000
    # steps bring the jitter down to about 0.03 posterior sd on the means and 4% on the sds
    # (seen over seeds); the tolerances below are about three times that.
    fit = run_svi(
        jax.random.key(12),
        hierarchical_normal,
        Y,
        guide=AutoMultivariateNormal(hierarchical_normal),
        num_steps=4000,
        optimizer=numpyro.optim.Adam(lambda step: jnp.where(step < 3000, 0.05, 0.005)),
        loss=Trace_ELBO(num_particles=4),
        sigma=SIGMA,
        tau=TAU,
        mu_scale=MU_SCALE,
    )
    q = fit.guide.get_posterior(fit.params)  # over the flat latent (mu, theta_1..theta_8)
    loc, cov = np.asarray(exact.loc), np.asarray(exact.covariance_matrix)
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_array_less(np.abs(np.asarray(q.loc) - loc), 0.1 * sd)
    q_cov = np.asarray(q.covariance_matrix)
    np.testing.assert_allclose(np.sqrt(np.diag(q_cov)), sd, rtol=0.1)
    # The correlation of mu with each theta_j (0.2 to 0.5 here) is what a mean-field guide
    # would miss; full rank recovers it to within 0.1.
    corr = cov[0, 1:] / (sd[0] * sd[1:])
    q_corr = q_cov[0, 1:] / np.sqrt(q_cov[0, 0] * np.diag(q_cov)[1:])
    np.testing.assert_allclose(q_corr, corr, atol=0.1)
    assert fit.posterior.posterior["theta"].shape == (1, 1000, 8)


def test_centred_and_noncentred_are_the_same_model():
    # theta = mu + tau * eta, so log p_centred(mu, tau, theta, y) equals
    # log p_noncentred(mu, tau, eta, y) - J log tau (the Jacobian of eta -> theta).
    mu, tau = 3.0, 2.5
    eta = jnp.linspace(-1.5, 1.5, 8)
    theta = mu + tau * eta
    kw = dict(sigma=SIGMA)
    lp_c, _ = log_density(eight_schools_centred, (Y,), kw, {"mu": mu, "tau": tau, "theta": theta})
    lp_n, _ = log_density(eight_schools_noncentred, (Y,), kw, {"mu": mu, "tau": tau, "eta": eta})
    assert float(lp_c) == pytest.approx(float(lp_n) - 8 * np.log(tau), rel=1e-5)


def test_noncentred_theta_is_deterministic_and_prior_predictive_runs(key):
    fit = run_svi(key, eight_schools_noncentred, Y, sigma=SIGMA, num_steps=10, num_draws=5)
    post = fit.posterior.posterior
    np.testing.assert_allclose(
        post["theta"].values, (post["mu"] + post["tau"] * post["eta"]).values, rtol=1e-5, atol=1e-5
    )
    prior = numpyro.infer.Predictive(eight_schools_centred, num_samples=3)(key, sigma=SIGMA)
    assert prior["y"].shape == (3, 8)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        (dict(y=Y, sigma=-SIGMA), ValueError, "sigma must be > 0"),
        (dict(y=Y[:3], sigma=SIGMA), ValueError, "y must have the shape of sigma"),
        (dict(y=Y, sigma=SIGMA, mu_scale=0.0), ValueError, "mu_scale"),
        (dict(y="abc", sigma=SIGMA), TypeError, "y must"),
    ],
)
def test_bad_input_is_named(kwargs, err, match):
    with pytest.raises(err, match=match):
        log_density(eight_schools_centred, (), kwargs, {"mu": 0.0, "tau": 1.0, "theta": Y})


def test_exact_posterior_bad_input():
    with pytest.raises(ValueError, match="tau"):
        hierarchical_normal_posterior(Y, sigma=SIGMA, tau=0.0)
    with pytest.raises(TypeError, match="y must"):
        hierarchical_normal_posterior(None, sigma=SIGMA, tau=1.0)
