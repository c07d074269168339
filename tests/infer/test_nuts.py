"""run_nuts against the exact Beta posterior, its DataTree, reproducibility and errors.

The ``nuts_coin`` fit is shared with test_predictive.py (tests/infer/conftest.py).
"""

import jax
import numpy as np
import pytest
from arviz_stats import mcse

from vibook import run_nuts, run_svi
from vibook.models import beta_binomial, beta_binomial_posterior, normal_normal

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
