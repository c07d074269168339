"""run_svi against exact answers, its errors, resuming bit for bit, and diverging fits.

Conjugate posteriors and log evidence; same key, same numbers; two runs of 500 steps equal one
of 1000 exactly; a diverging fit stops at the first non-finite loss and says what to try.

Why resuming is exactly equal and not just close: ``fit.state`` holds everything a step
depends on (the step counter, the optimiser's moments, the parameters and the random key that
the next step splits), and each step is the same compiled loop body applied to that state.
Run 500 steps, hand the state back, run 500 more, and the second run sees exactly the inputs
that steps 500..999 of the long run saw, so on the same machine the numbers agree to the last
bit. (Only a change of XLA version or hardware could reorder a floating-point sum; that is
not what these tests are about.)
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer.autoguide import AutoMultivariateNormal

from vibook import SVIDivergenceError, run_svi
from vibook.models import (
    beta_binomial,
    beta_binomial_posterior,
    logit_normal_coin,
    normal_normal,
    normal_normal_log_evidence,
    normal_normal_posterior,
)

X = np.random.default_rng(0).normal(1.0, 1.0, size=20)


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


def test_minibatch_fit_records_all_its_data_as_observed():
    """observed_data holds every point, not the one random minibatch a trace would see."""
    x = np.random.default_rng(5).normal(1.0, 1.0, size=50)
    fit = run_svi(jax.random.key(0), normal_normal, x, subsample_size=10, num_steps=20)
    np.testing.assert_array_equal(fit.posterior.observed_data["x"].values, x)


# ------------------------------------------------------------------ resuming


def _state_arrays(state):
    out = []
    for leaf in jax.tree.leaves(state):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out.append(np.asarray(leaf))
    return out


CASES = {
    "normal_normal, AutoNormal, Adam": (normal_normal, (X,), {}),
    "logit_normal_coin, full-rank guide, ClippedAdam": (
        logit_normal_coin,
        (7,),
        {
            "flips": 10,
            "guide": AutoMultivariateNormal(logit_normal_coin),
            "optimizer": numpyro.optim.ClippedAdam(0.02),
        },
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_two_runs_of_500_steps_equal_one_of_1000(case):
    model, args, kwargs = CASES[case]
    key = jax.random.key(3)
    first = run_svi(key, model, *args, num_steps=500, num_draws=50, **kwargs)
    second = run_svi(
        key, model, *args, num_steps=500, num_draws=50, init_state=first.state, **kwargs
    )
    whole = run_svi(key, model, *args, num_steps=1000, num_draws=50, **kwargs)

    np.testing.assert_array_equal(np.concatenate([first.losses, second.losses]), whole.losses)
    assert set(second.params) == set(whole.params)
    for name in whole.params:
        np.testing.assert_array_equal(second.params[name], whole.params[name])
    for a, b in zip(_state_arrays(second.state), _state_arrays(whole.state), strict=True):
        np.testing.assert_array_equal(a, b)
    # The posterior draws use the call's own key, so they agree too.
    for name in whole.posterior.posterior.data_vars:
        np.testing.assert_array_equal(
            second.posterior.posterior[name].values, whole.posterior.posterior[name].values
        )
    # And the resumed run did move: the state is not the one it was handed.
    assert int(_state_arrays(second.state)[0]) == 1000
    assert not np.array_equal(second.losses, first.losses)


# ------------------------------------------------------------------ diverging fits


def _diverged_step(message: str) -> int:
    match = re.search(r"at step (\d+) of (\d+)", message)
    assert match, message
    return int(match.group(1))


def test_svi_divergence_names_the_first_bad_step_and_what_to_try():
    # A step size of 100 blows the guide's scale up to overflow within a few dozen steps.
    key = jax.random.key(0)
    with pytest.raises(SVIDivergenceError) as info:
        run_svi(key, normal_normal, X, num_steps=200, learning_rate=100.0, num_draws=5)
    message = str(info.value)
    step = _diverged_step(message)
    assert 0 < step < 200
    assert "smaller learning_rate (now 100.0)" in message
    assert "init_scale" in message  # the better-initialisation remedy
    assert "last finite loss" in message
    assert isinstance(info.value, FloatingPointError)
    # The named step is the first bad one. The same key retraces the same path (see
    # test_two_runs_of_500_steps_equal_one_of_1000), so a run of `step` steps has only finite
    # losses, and it is its last update (the one that produced the bad loss) that is named;
    # one step more names `step`.
    with pytest.raises(SVIDivergenceError) as info:
        run_svi(key, normal_normal, X, num_steps=step, learning_rate=100.0, num_draws=5)
    assert re.search(rf"update at step {step - 1} of {step} \(the last\)", str(info.value))
    assert "though every loss was finite" in str(info.value)
    assert "smaller learning_rate" in str(info.value)
    with pytest.raises(SVIDivergenceError, match=rf"at step {step} of {step + 1}\b"):
        run_svi(key, normal_normal, X, num_steps=step + 1, learning_rate=100.0, num_draws=5)


def _impossible_data():
    """A model whose data has zero likelihood everywhere: the loss is infinite at once."""
    z = numpyro.sample("z", dist.Normal(0.0, 1.0))
    numpyro.factor("impossible", jnp.where(z > jnp.inf, 0.0, -jnp.inf))


def _hand_written_guide():
    numpyro.sample("z", dist.Normal(numpyro.param("z_loc", 0.0), 1.0))


def test_svi_loss_infinite_from_the_start_is_step_0():
    with pytest.raises(
        SVIDivergenceError, match=r"became inf at step 0 of 10 \(last finite loss: none\)"
    ):
        run_svi(jax.random.key(0), _impossible_data, guide=_hand_written_guide, num_steps=10)


def _two_sites_out_of_order():
    # Model order (b, a) differs from name order (a, b); an AutoContinuous packs its latent
    # vector in one of them, and fit.params must be read back in the order they were written.
    numpyro.sample("b", dist.Normal(5.0, 1.0))
    numpyro.sample("a", dist.Normal(-5.0, 0.1))


def test_full_rank_guide_reads_its_parameters_back_in_the_order_the_fit_wrote_them():
    from vibook.infer.psis import psis_diagnostic

    fit = run_svi(
        jax.random.key(0),
        _two_sites_out_of_order,
        guide=AutoMultivariateNormal(_two_sites_out_of_order),
        num_steps=3000,
        learning_rate=0.02,
        num_draws=4000,
    )
    again = fit.guide.sample_posterior(jax.random.key(1), fit.params, sample_shape=(4000,))
    # The guide holds the exact (prior) posterior; 4000 draws give a mean within 0.05 sd of it
    # (4 MC standard errors are 0.06 sd), and 0.3 sd allows for the optimisation's residual.
    for name, loc, scale in (("b", 5.0, 1.0), ("a", -5.0, 0.1)):
        for draws in (np.asarray(fit.posterior.posterior[name]).ravel(), np.asarray(again[name])):
            assert abs(draws.mean() - loc) < 0.3 * scale
            assert abs(draws.std() / scale - 1) < 0.15
    # The k-hat stored with the fit is psis_diagnostic's at its default key.
    assert psis_diagnostic(fit).khat == pytest.approx(fit.khat, abs=1e-6)


def test_laplace_fit_draws_the_gaussian_at_the_mode_and_has_no_khat():
    from numpyro.infer.autoguide import AutoLaplaceApproximation

    fit = run_svi(
        jax.random.key(0),
        normal_normal,
        X,
        guide=AutoLaplaceApproximation(normal_normal),
        num_steps=1000,
        learning_rate=0.05,
        num_draws=4000,
    )
    # The Normal-Normal posterior is Gaussian, so the Laplace approximation is exact: 4000 draws
    # give its sd within 5% (the sd of a sample sd is about 1 / sqrt(2 * 4000) = 1.1%).
    draws = np.asarray(fit.posterior.posterior["mu"]).ravel()
    exact = normal_normal_posterior(X)
    assert abs(draws.mean() - float(exact.loc)) < 0.1 * float(exact.scale)
    assert abs(draws.std() / float(exact.scale) - 1) < 0.05
    # Its trained guide is a point at the mode: the importance ratios have nothing to weigh.
    assert np.isnan(fit.khat) and "AutoLaplaceApproximation" in fit.khat_reading
