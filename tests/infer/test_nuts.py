"""run_nuts against the exact Beta posterior, its DataTree, log-likelihood, reproducibility
and errors.

The ``nuts_coin`` and ``nuts_schools`` fits are shared with test_predictive.py
(tests/infer/conftest.py).
"""

import warnings

import arviz_stats as azs
import jax
import numpy as np
import pytest
from arviz_stats import mcse
from scipy import stats
from scipy.special import logsumexp

from vibook import run_nuts, run_svi
from vibook.models import EIGHT_SCHOOLS, beta_binomial, beta_binomial_posterior, normal_normal

X = np.random.default_rng(0).normal(1.0, 1.0, size=20)


def test_nuts_matches_beta_posterior_within_mcse(nuts_coin):
    exact = beta_binomial_posterior(7, flips=10)
    theta = nuts_coin.posterior["theta"]
    err_mean = mcse(nuts_coin, var_names=["theta"], method="mean")["theta"].item()
    err_sd = mcse(nuts_coin, var_names=["theta"], method="sd")["theta"].item()
    # Four Monte Carlo standard errors: a false failure has probability ~1e-4.
    assert abs(theta.mean().item() - float(exact.mean)) < 4 * err_mean
    assert abs(theta.std().item() - float(np.sqrt(exact.variance))) < 4 * err_sd


def test_nuts_datatree_has_sample_stats_and_observed_data(nuts_coin):
    assert nuts_coin.posterior["theta"].dims == ("chain", "draw")
    assert nuts_coin.posterior["theta"].shape == (4, 1000)
    for stat in ("diverging", "energy", "lp", "tree_depth"):
        assert stat in nuts_coin.sample_stats
    assert int(nuts_coin.sample_stats["diverging"].sum()) == 0
    assert int(nuts_coin.observed_data["heads"]) == 7
    # Off by default: n_obs * draws * chains numbers that big-data callers do not want.
    assert "log_likelihood" not in nuts_coin.children


def test_log_likelihood_is_each_schools_normal_log_density(nuts_schools):
    ll = nuts_schools.log_likelihood["y"]
    assert ll.dims == ("chain", "draw", "school")
    assert ll.shape == (4, 500, 8)
    assert type(ll.values) is np.ndarray  # NumPy, like every group of the tree
    # y_j | theta_j ~ N(theta_j, sigma_j^2) at each draw, computed by SciPy in float64 from the
    # float32 draws: NumPyro's float32 log density agrees to a few units in the 7th digit.
    theta = nuts_schools.posterior["theta"].transpose("chain", "draw", "school").values
    want = stats.norm.logpdf(EIGHT_SCHOOLS["y"], theta, EIGHT_SCHOOLS["sigma"])
    np.testing.assert_allclose(ll.values, want, rtol=1e-5)


def test_loo_of_eight_schools_runs_on_the_tree(nuts_schools):
    with warnings.catch_warnings():
        # ArviZ warns when some Pareto k exceeds about 0.7; school A's often does, and the
        # values are checked below rather than through the warning.
        warnings.filterwarnings("ignore", "Estimated shape parameter of Pareto", UserWarning)
        res = azs.loo(nuts_schools)
    assert (res.n_samples, res.n_data_points) == (2000, 8)
    assert res.pareto_k.dims == ("school",)
    assert np.all(np.isfinite(res.pareto_k.values))
    # p_loo is by definition lppd - elpd_loo, with lppd the in-sample log predictive density
    # sum_j log mean_s p(y_j | theta_s); float64 sums of float32 terms, hence rtol=1e-6.
    ll = nuts_schools.log_likelihood["y"].values.reshape(2000, 8).astype(np.float64)
    lppd = float(np.sum(logsumexp(ll, axis=0) - np.log(2000)))
    assert res.p == pytest.approx(lppd - res.elpd, rel=1e-6)
    # Each school's own data pull its predictions towards it, so leaving it out lowers its
    # predictive density: p_loo is positive, and below the model's 10 parameters.
    assert 0 < res.p < 10


def test_nuts_same_key_same_draws():
    def draws(k):
        idata = run_nuts(
            jax.random.key(k),
            beta_binomial,
            3,
            flips=5,
            num_warmup=100,
            num_draws=100,
            num_chains=2,
        )
        return np.asarray(idata.posterior["theta"])

    np.testing.assert_array_equal(draws(7), draws(7))
    assert not np.array_equal(draws(7), draws(8))


def test_runners_refuse_a_seed_int_and_bad_data():
    with pytest.raises(TypeError, match="rng_key"):
        run_svi(0, normal_normal, X)
    with pytest.raises(TypeError, match="model"):
        run_nuts(jax.random.key(0), "normal_normal", X)
    with pytest.raises(ValueError, match=r"\bx\b.*finite"):
        run_svi(jax.random.key(0), normal_normal, np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"\bx\b.*dimension"):
        run_nuts(jax.random.key(0), normal_normal, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"\bheads\b"):
        run_nuts(jax.random.key(0), beta_binomial, -2, flips=10)
    with pytest.raises(ValueError, match="chain_method"):
        run_nuts(jax.random.key(0), beta_binomial, 2, flips=10, chain_method="threads")
    with pytest.raises(TypeError, match="log_likelihood"):
        run_nuts(jax.random.key(0), beta_binomial, 2, flips=10, log_likelihood=1)
