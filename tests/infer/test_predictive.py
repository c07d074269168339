"""predictive: posterior predictive draws against the models' exact predictive distributions,
its DataTree groups, the log-likelihood against SciPy, and its input checks.

The ``nuts_coin`` and ``nuts_schools`` fits are shared with test_nuts.py (tests/infer/conftest.py).
"""

import warnings

import arviz_stats as azs
import jax
import numpy as np
import pytest
import xarray as xr
from scipy import stats

from vibook import predictive, run_svi
from vibook.models import EIGHT_SCHOOLS, beta_binomial, eight_schools_noncentred, normal_normal

Y, SIGMA = EIGHT_SCHOOLS["y"], EIGHT_SCHOOLS["sigma"]


def _within(pred, name, want_mean, want_sd, n_mcse=4):
    """Mean and sd of posterior predictive draws within ``n_mcse`` Monte Carlo standard errors
    (ArviZ's, which allow for the chains' autocorrelation): a false failure has probability
    about 6e-5 per check at 4."""
    draws = pred.posterior_predictive[name]
    err_mean = azs.mcse(pred, group="posterior_predictive", var_names=[name], method="mean")
    err_sd = azs.mcse(pred, group="posterior_predictive", var_names=[name], method="sd")
    mean, sd = draws.mean(("chain", "draw")).values, draws.std(("chain", "draw")).values
    assert np.all(np.abs(mean - want_mean) < n_mcse * err_mean[name].values)
    assert np.all(np.abs(sd - want_sd) < n_mcse * err_sd[name].values)


def test_posterior_predictive_matches_the_beta_binomial(nuts_coin):
    pred = predictive(jax.random.key(2), beta_binomial, nuts_coin, flips=10)
    assert set(pred.children) == {"posterior", "sample_stats", "posterior_predictive"}
    xr.testing.assert_identical(pred.posterior.to_dataset(), nuts_coin.posterior.to_dataset())
    heads = pred.posterior_predictive["heads"]
    assert heads.dims == ("chain", "draw") and heads.shape == (4, 1000)
    # The posterior is Beta(1 + 7, 1 + 3), so new heads of 10 flips are BetaBinomial(10, 8, 4).
    exact = stats.betabinom(10, 8, 4)
    _within(pred, "heads", exact.mean(), exact.std())


def test_log_likelihood_is_the_binomial_log_pmf_at_each_draw(nuts_coin):
    pred = predictive(jax.random.key(2), beta_binomial, nuts_coin, flips=10, observed={"heads": 7})
    assert int(pred.observed_data["heads"]) == 7
    ll = pred.log_likelihood["heads"]
    assert ll.dims == ("chain", "draw") and ll.shape == (4, 1000)
    # NumPyro's float32 log-pmf (lgamma of counts) against SciPy's float64 one: rtol 1e-5.
    want = stats.binom.logpmf(7, 10, nuts_coin.posterior["theta"].values)
    np.testing.assert_allclose(ll.values, want, rtol=1e-5)


def test_eight_schools_predictive_log_likelihood_and_loo(nuts_schools):
    pred = predictive(
        jax.random.key(4), eight_schools_noncentred, nuts_schools, sigma=SIGMA, observed={"y": Y}
    )
    assert set(pred.children) == {
        "posterior",
        "sample_stats",
        "posterior_predictive",
        "log_likelihood",
        "observed_data",
    }
    y_rep = pred.posterior_predictive["y"]
    assert y_rep.dims == ("chain", "draw", "school") and y_rep.shape == (4, 500, 8)
    # y_rep_j | theta_j ~ N(theta_j, sigma_j^2): its mean is E[theta_j | y] and its variance
    # Var(theta_j | y) + sigma_j^2, the posterior's moments (from the same draws) plus the noise.
    theta = nuts_schools.posterior["theta"]
    var = theta.var(("chain", "draw")).values + SIGMA**2
    _within(pred, "y", theta.mean(("chain", "draw")).values, np.sqrt(var))
    # The same float32 computation as run_nuts(log_likelihood=True), so LOO agrees too.
    np.testing.assert_allclose(
        pred.log_likelihood["y"].values, nuts_schools.log_likelihood["y"].values, rtol=1e-6
    )
    with warnings.catch_warnings():
        # ArviZ warns when a Pareto k exceeds about 0.7 (school A's may); not what is tested.
        warnings.filterwarnings("ignore", "Estimated shape parameter of Pareto", UserWarning)
        assert azs.loo(pred).elpd == pytest.approx(azs.loo(nuts_schools).elpd, rel=1e-6)


def test_svi_fit_gives_one_chain_of_draws_with_the_models_noise():
    x = np.random.default_rng(0).normal(1.0, 1.0, size=20)
    fit = run_svi(jax.random.key(0), normal_normal, x, num_steps=300)
    pred = predictive(jax.random.key(1), normal_normal, fit, n=20, observed={"x": x})
    x_rep = pred.posterior_predictive["x"]
    assert x_rep.dims == ("chain", "draw", "obs") and x_rep.shape == (1, 1000, 20)
    assert pred.observed_data["x"].dims == ("obs",)
    # x_rep_i - mu ~ N(0, 1) independently for each of the 20 000 (draw, point) pairs: their mean
    # has sd 1/sqrt(20000) = 0.007 and their sd an error of 1/sqrt(2 * 20000) = 0.005; 4 of each.
    resid = (x_rep - fit.posterior.posterior["mu"]).values
    assert abs(resid.mean()) < 4 * 0.0071
    assert abs(resid.std() - 1.0) < 4 * 0.005
    # The log-likelihood of each point at each draw, against SciPy (float32: rtol 1e-5).
    mu = fit.posterior.posterior["mu"].values[..., None]
    np.testing.assert_allclose(
        pred.log_likelihood["x"].values, stats.norm.logpdf(x, mu, 1.0), rtol=1e-5
    )


def test_return_sites_selects_what_is_drawn(nuts_schools):
    pred = predictive(
        jax.random.key(4), eight_schools_noncentred, nuts_schools, sigma=SIGMA, return_sites=["y"]
    )
    assert list(pred.posterior_predictive.data_vars) == ["y"]
    assert "log_likelihood" not in pred.children and "observed_data" not in pred.children


def test_bad_arguments(nuts_coin):
    key = jax.random.key(0)

    def call(*args, **kwargs):
        return predictive(key, beta_binomial, nuts_coin, *args, flips=10, **kwargs)

    with pytest.raises(TypeError, match="observed"):
        call(observed=[7])
    with pytest.raises(TypeError, match="observed"):
        call(observed={})
    with pytest.raises(ValueError, match=r"observed.*\['heads'\].*'tails'"):
        call(observed={"tails": 3})
    with pytest.raises(ValueError, match=r"observed.*'theta'"):  # a latent variable
        call(observed={"theta": 0.5})
    with pytest.raises(ValueError, match=r"observed\['heads'\].*shape \(\)"):
        call(observed={"heads": np.array([7, 3])})
    with pytest.raises(ValueError, match=r"observed\['heads'\].*support"):
        call(observed={"heads": 11})  # more heads than flips
    with pytest.raises(ValueError, match=r"observed\['heads'\].*support"):
        call(observed={"heads": 6.5})
    with pytest.raises(ValueError, match=r"observed\['heads'\].*finite"):
        call(observed={"heads": np.nan})
    with pytest.raises(TypeError, match="return_sites"):
        call(return_sites="heads")
    with pytest.raises(ValueError, match="nothing to predict.*observed"):
        call(7)  # the data as the model's argument: the draws would be the data
    with pytest.raises(TypeError, match="posterior"):
        predictive(key, beta_binomial, {"theta": np.ones(4)}, flips=10)
