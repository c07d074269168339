"""run_svi compiles a fit as one program; the step-by-step path still serves other models."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer.autoguide import AutoNormal

from vibook import run_svi
from vibook.models import normal_normal, normal_normal_posterior

X = np.random.default_rng(3).normal(2.0, 1.0, size=40)


def _exact(x):
    post = normal_normal_posterior(x)
    return float(post.mean), float(post.scale)


def test_a_fit_is_one_compiled_program(count_compilations):
    # The same fit on 26 points compiles whatever does not depend on the data's shape; then
    # 27 points, a data shape no other test uses, leave nothing cached for the fit itself.
    run_svi(jax.random.key(0), normal_normal, X[:26], num_steps=3000, learning_rate=0.01)
    x = X[:27]
    with count_compilations() as compiled:
        fit = run_svi(jax.random.key(0), normal_normal, x, num_steps=3000, learning_rate=0.01)
    # Set-up, 3000 steps, draws and the observed data: one program. Run step by step, the
    # same fit compiles well over a hundred (one per operation of NumPyro's set-up).
    assert compiled.count == 1, compiled.names
    # AutoNormal holds the exact posterior; Adam at step 0.01 jitters the fit by about 0.01.
    mean, sd = _exact(x)
    assert float(fit.params["mu_auto_loc"]) == pytest.approx(mean, abs=0.03)
    assert float(fit.params["mu_auto_scale"]) == pytest.approx(sd, abs=0.03)


def branching_model(x):
    """normal_normal with a Python branch on the data, which cannot be traced by jit."""
    x = np.asarray(x)  # needs concrete values
    scale = 1.0 if float(x.std()) > 0 else 2.0
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.sample("x", dist.Normal(mu, scale), obs=x)


def test_a_model_that_needs_concrete_data_is_fitted_step_by_step():
    fit = run_svi(jax.random.key(1), branching_model, X, num_steps=3000, learning_rate=0.01)
    mean, sd = _exact(X)
    assert float(fit.params["mu_auto_loc"]) == pytest.approx(mean, abs=0.03)
    assert float(fit.params["mu_auto_scale"]) == pytest.approx(sd, abs=0.03)
    np.testing.assert_array_equal(fit.posterior.observed_data["x"].values, X)


def test_the_guide_comes_back_ready_to_use():
    guide = AutoNormal(normal_normal)
    before = dict(vars(guide))
    fit = run_svi(jax.random.key(2), normal_normal, X, guide=guide, num_steps=1500)
    # The fit set up a copy inside the compiled program: the guide given is as it was.
    assert fit.fitted_guide is guide
    assert vars(guide).keys() == before.keys() and all(
        vars(guide)[k] is v for k, v in before.items()
    )
    # fit.guide is a copy set up concretely, so NumPyro's own calls work on it.
    assert fit.guide is not guide and fit.guide is fit.guide
    draws = fit.guide.sample_posterior(jax.random.key(3), fit.params, X, sample_shape=(4000,))
    # 4000 draws: the mean's Monte Carlo sd is scale/sqrt(4000) ~ 0.003.
    assert float(np.mean(draws["mu"])) == pytest.approx(float(fit.params["mu_auto_loc"]), abs=0.01)
    assert np.isfinite(fit.khat)
    # Fitted again with the same (untouched) guide: the same fit, up to Adam's jitter.
    again = run_svi(jax.random.key(7), normal_normal, X, guide=guide, num_steps=1500)
    for name in ("mu_auto_loc", "mu_auto_scale"):  # Adam's jitter at step 0.01: ~0.01
        assert float(again.params[name]) == pytest.approx(float(fit.params[name]), abs=0.03)


def scaled_model(x):
    """Observations the model transforms with JAX before observing them."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
    numpyro.sample("y", dist.Normal(mu, 2.0), obs=2.0 * jnp.asarray(x))


def test_observed_data_are_recorded_as_given_or_as_computed():
    fit = run_svi(jax.random.key(4), normal_normal, X, num_steps=20)
    got = fit.posterior.observed_data["x"].values
    assert got.dtype == X.dtype  # as given, float64: not passed through the program
    np.testing.assert_array_equal(got, X)
    fit = run_svi(jax.random.key(4), scaled_model, X, num_steps=20)
    np.testing.assert_allclose(fit.posterior.observed_data["y"].values, 2.0 * X, rtol=1e-6)


def test_progress_bar_reports_every_step_from_inside_the_program(capsys):
    run_svi(jax.random.key(5), normal_normal, X, num_steps=120, progress_bar=True)
    err = capsys.readouterr().err
    assert "120/120" in err
    assert "loss" in err


def test_the_compiled_fit_is_the_step_by_step_fit():
    # Same key, same steps: the one-program fit and NumPyro's SVI.run agree to rounding.
    # The Python branch of branching_model sends it down the step-by-step path.
    a = run_svi(jax.random.key(6), normal_normal, X, num_steps=400, num_draws=50)
    b = run_svi(jax.random.key(6), branching_model, X, num_steps=400, num_draws=50)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-4)
    np.testing.assert_allclose(a.params["mu_auto_loc"], b.params["mu_auto_loc"], rtol=1e-4)


def test_the_same_fit_run_again_is_not_compiled_again(count_compilations):
    x = X[:31]  # a data shape no other test uses
    with count_compilations() as compiled:
        first = run_svi(jax.random.key(8), normal_normal, x, num_steps=2000, learning_rate=0.02)
    assert compiled.count >= 1, compiled.names  # the fit's program, at least
    # A cell run again: same model, settings and shapes, other data: nothing is compiled.
    with count_compilations() as compiled:
        second = run_svi(
            jax.random.key(8), normal_normal, x + 1.0, num_steps=2000, learning_rate=0.02
        )
    assert compiled.count == 0, compiled.names
    # ... and the numbers are those of the new data: the posterior mean moves by
    # n / (n + 1) = 31/32 of the shift (prior N(0, 1), unit noise), up to Adam's jitter of
    # about 0.01 in each fit.
    shift = float(second.params["mu_auto_loc"] - first.params["mu_auto_loc"])
    assert shift == pytest.approx(31 / 32, abs=0.05)
    # Other settings are another program, and only that one is compiled.
    with count_compilations() as compiled:
        run_svi(jax.random.key(9), normal_normal, x, num_steps=2001, learning_rate=0.02)
    assert compiled.count == 1, compiled.names
