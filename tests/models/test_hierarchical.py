"""Hierarchical normal models: the exact posterior with known group scale, NUTS and full-rank
SVI against it, the centred and non-centred eight schools as one model, and the exact marginal
posterior of eight schools' tau under three priors, against brute-force quadrature and NUTS."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import numpyro  # imported in full before arviz_base can load it lazily
import pytest
from arviz_stats import mcse
from numpyro.infer import Trace_ELBO
from numpyro.infer.autoguide import AutoMultivariateNormal
from numpyro.infer.util import log_density
from scipy import stats
from scipy.integrate import quad

from vibook import run_nuts, run_svi
from vibook.models.hierarchical import (
    EIGHT_SCHOOLS,
    TAU_PRIORS,
    eight_schools_centred,
    eight_schools_noncentred,
    eight_schools_tau_posterior,
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


# --- the marginal posterior of tau, with theta and mu integrated out ---

# The models' default priors: mu ~ Normal(0, 5) and each tau prior with scale 5, in SciPy.
TAU_SCALE = 5.0
SCIPY_PRIORS = {
    "half_cauchy": stats.halfcauchy(scale=TAU_SCALE),
    "half_normal": stats.halfnorm(scale=TAU_SCALE),
    "uniform": stats.uniform(0.0, TAU_SCALE),
}
# A grid that covers the mass: to 100 (the half-Cauchy posterior above it is below 1e-7), or
# ending at the uniform prior's upper end, where the density jumps to 0.
GRIDS = {
    "half_cauchy": np.linspace(0.0, 100.0, 4001),
    "half_normal": np.linspace(0.0, 100.0, 4001),
    "uniform": np.linspace(0.0, TAU_SCALE, 4001),
}


def _pdf(x, loc, scale):
    return math.exp(-0.5 * ((x - loc) / scale) ** 2) / (math.sqrt(2 * math.pi) * scale)


# Adaptive quadrature to 1e-11 relative; absolute tolerance 0, as p(y | tau) is about 1e-14.
QUAD = dict(epsabs=0.0, epsrel=1e-11, limit=200)


def _likelihood_over_mu(tau):
    """p(y | tau) by quadrature over mu of N(mu; 0, 5) prod_j N(y_j; mu, sigma_j^2 + tau^2)."""
    sd = np.sqrt(SIGMA**2 + tau**2)

    def integrand(mu):
        return _pdf(mu, 0.0, 5.0) * math.prod(_pdf(y, mu, s) for y, s in zip(Y, sd, strict=True))

    return quad(integrand, -60.0, 60.0, **QUAD)[0]  # +-12 prior sds of mu


def _likelihood_over_mu_and_theta(tau):
    """p(y | tau) from the model as written: quadrature over each theta_j, then over mu."""

    def school(mu, y, s):
        half = 12 * max(tau, s)
        return quad(
            lambda theta: _pdf(theta, mu, tau) * _pdf(y, theta, s),
            min(mu, y) - half,
            max(mu, y) + half,
            **QUAD,
        )[0]

    def integrand(mu):
        return _pdf(mu, 0.0, 5.0) * math.prod(
            school(mu, y, s) for y, s in zip(Y, SIGMA, strict=True)
        )

    return quad(integrand, -60.0, 60.0, **QUAD)[0]


@pytest.fixture(scope="module", params=TAU_PRIORS)
def brute_force(request):
    """Unnormalised posterior, its normaliser and mean, all by nested quadrature to infinity."""
    prior = SCIPY_PRIORS[request.param]
    pieces = (
        [(0.0, 5.0)] if request.param == "uniform" else [(0.0, 5.0), (5.0, 20.0), (20.0, np.inf)]
    )

    def joint(tau):
        return prior.pdf(tau) * _likelihood_over_mu(tau)

    z = sum(quad(joint, a, b, epsabs=0.0, epsrel=1e-10, limit=200)[0] for a, b in pieces)
    m = sum(
        quad(lambda t: t * joint(t), a, b, epsabs=0.0, epsrel=1e-10, limit=200)[0]
        for a, b in pieces
    )
    return request.param, joint, z, m / z


def test_tau_posterior_matches_brute_force_quadrature(brute_force):
    # The grid density is normalised by the trapezoid rule; the reference by adaptive quadrature
    # over [0, inf). The trapezoid rule is nearly exact here (the density is even in tau at 0
    # and its tail negligible at the grid's end): measured 8e-9 relative on the density and
    # log evidence, 1.2e-5 on the mean (the half-Cauchy mass beyond 100). Tolerances: 100x
    # the density's and about 10x the mean's.
    name, joint, z, mean = brute_force
    post = eight_schools_tau_posterior(Y, sigma=SIGMA, tau_grid=GRIDS[name], tau_prior=name)
    at = [0.0, 0.5, 2.0, 4.0, 5.0] + ([] if name == "uniform" else [10.0, 25.0])
    want = np.array([joint(t) for t in at]) / z
    np.testing.assert_allclose(np.interp(at, post["tau"], post["posterior"]), want, rtol=1e-6)
    assert post["log_evidence"] == pytest.approx(math.log(z), abs=1e-6)
    assert post["posterior_mean"] == pytest.approx(mean, abs=1e-4)
    np.testing.assert_allclose(post["prior"], SCIPY_PRIORS[name].pdf(post["tau"]), rtol=1e-12)
    assert post["cdf"][0] == 0 and post["cdf"][-1] == pytest.approx(1.0, abs=1e-12)
    lo, hi = post["interval_90"]
    assert np.interp([lo, post["median"], hi], post["tau"], post["cdf"]) == pytest.approx(
        [0.05, 0.5, 0.95], abs=1e-6
    )


def test_closed_form_likelihood_is_the_model_with_theta_and_mu_integrated_out():
    # Nested adaptive quadrature of the model as written (8 theta_j, then mu), each level to
    # 1e-11 relative, agrees with the closed form to about 1e-13 on the log (measured); the
    # tolerance 1e-8 is far above quadrature error and far below any mistake in a term.
    post = eight_schools_tau_posterior(Y, sigma=SIGMA, tau_grid=GRIDS["half_cauchy"])
    at = int(np.searchsorted(post["tau"], 3.0))
    assert post["tau"][at] == 3.0
    assert post["log_likelihood"][at] == pytest.approx(
        math.log(_likelihood_over_mu_and_theta(3.0)), abs=1e-8
    )


def test_closed_form_likelihood_is_a_multivariate_normal_and_mu_given_tau_is_exact():
    # y | tau ~ N(mu_loc 1, diag(sigma^2 + tau^2) + mu_scale^2 11^T), by SciPy's own linear
    # algebra: both float64, so they agree to rounding (1e-9 on a log density of about -35).
    tau = np.array([0.0, 0.7, 3.0, 5.0, 12.0, 40.0])
    kw = dict(sigma=SIGMA, mu_loc=2.0, mu_scale=MU_SCALE, tau_grid=np.r_[tau, 100.0])
    post = eight_schools_tau_posterior(Y, **kw)
    for i, t in enumerate(tau):
        cov = np.diag(SIGMA**2 + t**2) + MU_SCALE**2
        want = stats.multivariate_normal(np.full(8, 2.0), cov).logpdf(Y)
        assert post["log_likelihood"][i] == pytest.approx(want, abs=1e-9)
    # mu | tau, y from the known-tau joint posterior (float32, hence rtol 1e-5), at tau = 5.
    exact = hierarchical_normal_posterior(Y, sigma=SIGMA, tau=5.0, mu_loc=2.0, mu_scale=MU_SCALE)
    assert post["mu_mean"][3] == pytest.approx(float(exact.loc[0]), rel=1e-5)
    assert post["mu_sd"][3] == pytest.approx(float(exact.covariance_matrix[0, 0]) ** 0.5, rel=1e-5)


def test_uniform_prior_posterior_is_zero_above_its_scale():
    grid = np.linspace(0.0, 10.0, 401)  # 5.0 is a grid point
    post = eight_schools_tau_posterior(Y, sigma=SIGMA, tau_grid=grid, tau_prior="uniform")
    assert np.all(post["posterior"][grid > TAU_SCALE] == 0) and post["posterior"][200] > 0
    assert post["interval_90"][1] < TAU_SCALE


@pytest.mark.parametrize("name", TAU_PRIORS)
def test_models_sample_tau_from_the_named_prior(name):
    # The model's tau site against SciPy's density; float32 log densities, hence rtol 1e-6.
    kw = dict(sigma=SIGMA) if name == "half_cauchy" else dict(sigma=SIGMA, tau_prior=name)
    for model in (eight_schools_centred, eight_schools_noncentred):
        trace = numpyro.handlers.trace(numpyro.handlers.seed(model, 0)).get_trace(Y, **kw)
        assert {"mu", "tau", "theta", "y"} <= set(trace)
        got = np.asarray(trace["tau"]["fn"].log_prob(jnp.array([0.5, 2.0, 4.5])))
        np.testing.assert_allclose(got, SCIPY_PRIORS[name].logpdf([0.5, 2.0, 4.5]), rtol=1e-6)


@pytest.fixture(scope="module", params=["half_cauchy", "half_normal"])
def nuts_tau(request):
    fit = run_nuts(
        jax.random.key(21 if request.param == "half_cauchy" else 22),
        eight_schools_noncentred,
        Y,
        sigma=SIGMA,
        tau_prior=request.param,
        num_warmup=1000,
        num_draws=1000,
        num_chains=4,
    )
    return request.param, fit.posterior["tau"]


def test_nuts_matches_exact_tau_posterior_within_mcse(nuts_tau):
    # Mean, five quantiles and P(tau < 5) of 4 x 1000 NUTS draws against the grid answer
    # (whose own error, below 1e-4, is negligible). Four Monte Carlo standard errors each:
    # with 14 checks over both priors a false failure has probability about 1e-3. Measured
    # with these keys (ESS about 2000): every deviation within 1.9 MCSE, the largest 1.82
    # (half-Cauchy, 75% quantile: 4.86 against 4.99, MCSE 0.073).
    name, tau = nuts_tau
    exact = eight_schools_tau_posterior(Y, sigma=SIGMA, tau_grid=GRIDS[name], tau_prior=name)
    assert abs(float(tau.mean()) - exact["posterior_mean"]) < 4 * float(mcse(tau, method="mean"))
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        want = np.interp(q, exact["cdf"], exact["tau"])
        err = float(mcse(tau, method="quantile", prob=q))
        assert abs(float(tau.quantile(q)) - want) < 4 * err, q
    below = (tau < 5.0).astype(float)
    want = np.interp(5.0, exact["tau"], exact["cdf"])
    assert abs(float(below.mean()) - want) < 4 * float(mcse(below, method="mean"))


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        (dict(tau_grid=np.linspace(10.0, 0.0, 50)), ValueError, "tau_grid must be strictly"),
        (dict(tau_grid=np.linspace(-1.0, 50.0, 50)), ValueError, "tau_grid must start"),
        (dict(tau_grid=np.ones((5, 5))), ValueError, "tau_grid must have 1"),
        (dict(tau_grid=[0.0, 50.0]), ValueError, "tau_grid must have at least 3"),
        (dict(tau_grid=np.linspace(0.0, 10.0, 50)), ValueError, "tau_grid must cover"),
        (dict(tau_grid=np.linspace(1.0, 100.0, 50)), ValueError, "beyond its start"),
        (dict(tau_grid=np.linspace(6.0, 9.0, 5), tau_prior="uniform"), ValueError, "support"),
        (dict(tau_grid=[0.0, np.nan, 2.0]), ValueError, "tau_grid must be finite"),
        (dict(tau_prior="cauchy"), ValueError, "tau_prior must be one of"),
        (dict(tau_prior=None), TypeError, "tau_prior must be one of"),
        (dict(tau_scale=0.0), ValueError, "tau_scale"),
        (dict(mu_scale=-1.0), ValueError, "mu_scale"),
        (dict(y=None), TypeError, "y must"),
        (dict(y=Y[:3]), ValueError, "y must have the shape of sigma"),
    ],
)
def test_tau_posterior_bad_input_is_named(kwargs, err, match):
    kwargs = {"y": Y, "sigma": SIGMA, "tau_grid": GRIDS["half_cauchy"], **kwargs}
    with pytest.raises(err, match=match):
        eight_schools_tau_posterior(kwargs.pop("y"), **kwargs)


def test_models_refuse_an_unknown_tau_prior():
    with pytest.raises(ValueError, match="tau_prior must be one of"):
        log_density(
            eight_schools_noncentred,
            (Y,),
            dict(sigma=SIGMA, tau_prior="gamma"),
            {"mu": 0.0, "tau": 1.0, "eta": Y},
        )
