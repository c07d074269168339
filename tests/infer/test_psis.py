import dataclasses

import jax
import numpy as np
import pytest
from numpyro.infer.autoguide import AutoDelta, AutoNormal

from vibook import run_svi
from vibook.diagnostics import khat_reading, psis_diagnostic, psis_khat
from vibook.models import normal_normal, normal_normal_log_evidence, normal_normal_posterior

X = np.random.default_rng(0).normal(1.0, 1.0, size=20)


@pytest.fixture(scope="module")
def fit():
    # A short AutoNormal run; its parameters are then set by hand (below) to known guides.
    return run_svi(jax.random.key(0), normal_normal, X, num_steps=300, num_draws=100)


def _with_guide(fit, loc, scale):
    params = {"mu_auto_loc": np.float32(loc), "mu_auto_scale": np.float32(scale)}
    return dataclasses.replace(fit, params=params)


def test_exact_guide_has_constant_ratios_equal_to_the_evidence(fit):
    post = normal_normal_posterior(X)
    res = psis_diagnostic(_with_guide(fit, post.loc, post.scale), num_draws=400)
    # q = p(mu | x) makes every ratio p(x, mu) / q(mu) equal to p(x): float32 rounding only.
    np.testing.assert_allclose(res.log_ratios, normal_normal_log_evidence(X), atol=1e-3)
    assert res.khat < 0.5
    # Exact importance sampling: every draw weighs the same, 1/400.
    np.testing.assert_allclose(res.log_weights, -np.log(400), rtol=1e-6)


def test_too_narrow_guide_has_large_khat(fit):
    post = normal_normal_posterior(X)
    # A guide 10 times too narrow: the ratios have a heavy right tail, with Pareto shape
    # k = 1 - (1/10)^2 = 0.99 in theory (finite-sample estimates come out lower).
    res = psis_diagnostic(_with_guide(fit, post.loc, post.scale / 10), num_draws=2000)
    assert res.khat > 0.7
    assert res.reading.startswith("do not trust")


def test_importance_weights_correct_a_shifted_guide(fit):
    post = normal_normal_posterior(X)
    # A guide 1.5x too wide and off-centre by half a posterior sd: k-hat stays low (wide
    # proposals have light-tailed ratios), and the weighted mean moves back to the exact one.
    res = psis_diagnostic(
        _with_guide(fit, post.loc + 0.5 * post.scale, 1.5 * post.scale), num_draws=4000
    )
    assert res.khat < 0.5
    raw = res.draws["mu"].mean()
    corrected = res.weighted_mean("mu")
    # MC error of the self-normalised estimate: about 1.5 sd / sqrt(4000 / 2) ~ 0.03 sd.
    assert abs(corrected - post.loc) < 0.15 * post.scale < abs(raw - post.loc)


def test_svi_fit_reports_khat_and_reading(fit):
    # AutoNormal holds the exact (Normal) posterior, so a converged fit reads "good".
    assert fit.khat == psis_khat(fit)  # cached, and the same key by default
    assert fit.khat_reading == khat_reading(fit.khat)


def test_khat_readings_and_point_mass_guide():
    assert khat_reading(0.2).startswith("good")
    assert khat_reading(0.6).startswith("usable")
    assert khat_reading(0.9).startswith("do not trust")
    delta = run_svi(
        jax.random.key(1),
        normal_normal,
        X,
        guide=AutoDelta(normal_normal),
        num_steps=10,
        num_draws=10,
    )
    assert np.isnan(delta.khat)  # q has no density: the ratios do not vary
    assert delta.khat_reading.startswith("undefined")


def test_bad_arguments():
    with pytest.raises(TypeError, match="SVIFit"):
        psis_khat({"mu": 1.0})
    guide = AutoNormal(normal_normal)
    assert callable(guide)
