"""Diverging fits: SVI stops at the first non-finite loss and says so; NUTS divergences counted."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from vibook import SVIDivergenceError, run_nuts, run_svi
from vibook.models import normal_normal

X = np.random.default_rng(0).normal(1.0, 1.0, size=20)


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
    # test_resume.py), so a run of `step` steps has only finite losses, and it is its last
    # update (the one that produced the bad loss) that is named; one step more names `step`.
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


Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def _schools_centred(y, sigma):
    """Eight schools (Rubin 1981), centred: theta's scale is tau, a funnel for NUTS."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("school", len(y)):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def _schools_noncentred(y, sigma):
    """The same model with theta = mu + tau * z: NUTS sees independent standard Normals."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("school", len(y)):
        z = numpyro.sample("z", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * z)
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


@pytest.fixture(scope="module")
def schools():
    kw = {"num_warmup": 300, "num_draws": 300, "num_chains": 2}
    return (
        run_nuts(jax.random.key(0), _schools_centred, Y, SIGMA, **kw),
        run_nuts(jax.random.key(0), _schools_noncentred, Y, SIGMA, **kw),
    )


def test_nuts_divergences_are_counted_and_reported_in_plain_words(schools):
    from vibook.diagnostics import nuts_diagnostics

    centred, noncentred = schools
    diverging = centred.sample_stats["diverging"]
    assert diverging.dtype == bool and diverging.dims == ("chain", "draw")
    # The centred model's funnel makes NUTS diverge; the non-centred one does not. (Seen with
    # keys 0, 1, 2 at this size: 10 to 14 divergences against 0 or 1; the margin is wide.)
    count = int(diverging.sum())
    assert count >= 5
    diag = nuts_diagnostics(centred)
    assert diag.n_divergent == count and diag.n_draws == 600
    report = diag.report()
    assert f"divergences: {count} of 600 draws" in report
    sentence = next(p for p in diag.problems if "diverged" in p)
    assert sentence.startswith(f"{count} of 600 transitions")
    assert "non-centred" in sentence and "target_accept_prob" in sentence  # what to try
    calm = nuts_diagnostics(noncentred)
    assert calm.n_divergent <= 1
    assert calm.n_divergent == int(noncentred.sample_stats["diverging"].sum())
