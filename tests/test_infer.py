"""Runners against exact answers: conjugate posteriors, log evidence, reproducibility, errors."""

import jax
import numpy as np
import numpyro
import pytest
from arviz_stats import mcse

from vibook import SVIDivergenceError, predictive, run_nuts, run_svi
from vibook.models import (
    beta_binomial,
    beta_binomial_posterior,
    normal_normal,
    normal_normal_log_evidence,
    normal_normal_posterior,
)

X = np.random.default_rng(0).normal(1.0, 1.0, size=20)


@pytest.fixture(scope="module")
def nuts_coin():
    return run_nuts(jax.random.key(1), beta_binomial, 7, flips=10, num_warmup=500, num_draws=1000)


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


def test_posterior_predictive_mean_matches_exact(nuts_coin):
    # E[heads_new] = flips * E[theta | data]; 4000 draws of a Binomial(10, .) with sd ~1.5
    # give a Monte Carlo error of ~0.025 on the mean, so 0.1 is four of them.
    pred = predictive(jax.random.key(2), beta_binomial, nuts_coin, flips=10)
    assert set(pred) == {"heads"}
    assert pred["heads"].shape == (4000,)
    exact = 10 * float(beta_binomial_posterior(7, flips=10).mean)
    assert pred["heads"].mean() == pytest.approx(exact, abs=0.1)


@pytest.fixture(scope="module")
def svi_normal():
    return run_svi(jax.random.key(3), normal_normal, X, num_steps=3000, learning_rate=0.02)


def test_svi_normal_normal_recovers_exact_posterior(svi_normal):
    # AutoNormal contains the exact Gaussian posterior, so only optimisation noise remains:
    # Adam with step 0.02 jitters the parameters by about 0.01.
    exact = normal_normal_posterior(X)
    assert float(svi_normal.params["mu_auto_loc"]) == pytest.approx(float(exact.loc), abs=0.03)
    assert float(svi_normal.params["mu_auto_scale"]) == pytest.approx(float(exact.scale), abs=0.03)
    draws = svi_normal.posterior.posterior["mu"]
    assert draws.dims == ("chain", "draw") and draws.shape == (1, 1000)
    # 1000 draws: the sample mean has Monte Carlo sd scale/sqrt(1000) ~ 0.007.
    assert draws.mean().item() == pytest.approx(float(exact.loc), abs=0.05)


def test_svi_elbo_reaches_log_evidence_and_never_exceeds_it(svi_normal):
    # At the exact posterior the ELBO equals log p(x). The single-particle estimate is noisy,
    # so average the last 500 steps (sd of that average ~0.01); 0.05 allows for the jitter.
    log_z = normal_normal_log_evidence(X)
    final_elbo = svi_normal.elbo[-500:].mean()
    assert final_elbo == pytest.approx(log_z, abs=0.05)
    assert final_elbo <= log_z + 0.05


def test_svi_beta_binomial_close_to_exact():
    # AutoNormal is a logit-normal family: it cannot equal Beta(8, 4) exactly; the best
    # member's mean and sd differ by < 0.02, plus Monte Carlo error of 1000 draws (~0.004).
    fit = run_svi(jax.random.key(4), beta_binomial, 7, flips=10, num_steps=2000)
    exact = beta_binomial_posterior(7, flips=10)
    theta = fit.posterior.posterior["theta"]
    assert theta.mean().item() == pytest.approx(float(exact.mean), abs=0.03)
    assert theta.std().item() == pytest.approx(float(np.sqrt(exact.variance)), abs=0.03)


def test_same_key_same_numbers_and_other_key_other_numbers():
    def draws(k):
        fit = run_svi(jax.random.key(k), normal_normal, X, num_steps=200, num_draws=50)
        return np.asarray(fit.posterior.posterior["mu"]), fit.losses

    (a, la), (b, lb), (c, _) = draws(5), draws(5), draws(6)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a, c)


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


def test_init_state_continues_the_run():
    first = run_svi(jax.random.key(9), normal_normal, X, num_steps=300, num_draws=10)
    more = run_svi(
        jax.random.key(9), normal_normal, X, num_steps=300, num_draws=10, init_state=first.state
    )
    # Continuing starts from where the first run ended, not from scratch.
    assert abs(more.losses[:50].mean() - first.losses[-50:].mean()) < abs(
        more.losses[:50].mean() - first.losses[:50].mean()
    )


def test_diverging_svi_names_the_step_and_the_remedy():
    # A step size of 100 throws the guide's scale to overflow within a few dozen steps.
    with pytest.raises(SVIDivergenceError, match=r"step \d+ of 100.*smaller learning_rate"):
        run_svi(jax.random.key(0), normal_normal, X, num_steps=100, learning_rate=100.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"num_steps": 0}, ValueError, "num_steps"),
        ({"num_steps": 2.5}, TypeError, "num_steps"),
        ({"num_draws": -1}, ValueError, "num_draws"),
        ({"learning_rate": -0.1}, ValueError, "learning_rate"),
        ({"learning_rate": 0.1, "optimizer": numpyro.optim.Adam(0.1)}, ValueError, "optimizer"),
        ({"init_state": {"a": 1}}, TypeError, "init_state"),
        ({"guide": "AutoNormal"}, TypeError, "guide"),
    ],
)
def test_run_svi_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        run_svi(jax.random.key(0), normal_normal, X, **kwargs)


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


def test_minibatch_fit_records_all_its_data_as_observed():
    """observed_data holds every point, not the one random minibatch a trace would see."""
    x = np.random.default_rng(5).normal(1.0, 1.0, size=50)
    fit = run_svi(jax.random.key(0), normal_normal, x, subsample_size=10, num_steps=20)
    np.testing.assert_array_equal(fit.posterior.observed_data["x"].values, x)
