import dataclasses

import arviz_base as azb
import arviz_stats as azs
import jax
import numpy as np
import pytest
from numpyro.infer.autoguide import AutoDelta, AutoNormal
from scipy import stats

from vibook import run_nuts, run_svi
from vibook.diagnostics import khat_reading, psis_diagnostic, psis_khat
from vibook.infer.psis import loo_svi
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


def _exact_loo(loc, scale, num_draws):
    """The exact leave-one-out predictive log densities of ``normal_normal`` on X, and the Monte
    Carlo sd of their importance-sampling estimates from ``num_draws`` draws of N(loc, scale^2).

    Leaving x_i out, mu | x_-i ~ N(m_-i, v_-i), so x_i | x_-i ~ N(m_-i, v_-i + 1). The estimate
    of p(x_i | x_-i) weighs draws z ~ q by w_i = p(z | x_-i) / q(z); to first order (the delta
    method, Owen 2013, ch. 9) its log has variance E_q[h_i^2] / S with influence
    h_i = w_i (p(x_i | z) - p(x_i | x_-i)) / p(x_i | x_-i), and the sum over points has
    E_q[(sum_i h_i)^2] / S: integrals over mu, done on a grid (1-D, so to many digits).
    """
    post = normal_normal_posterior(X)
    grid = np.linspace(post.loc - 12 * post.scale, post.loc + 12 * post.scale, 20001)
    step = grid[1] - grid[0]
    q = stats.norm.pdf(grid, loc, scale)
    elpd, influence = [], []
    for i in range(len(X)):
        loo_post = normal_normal_posterior(np.delete(X, i))
        elpd.append(stats.norm.logpdf(X[i], loo_post.loc, np.hypot(loo_post.scale, 1.0)))
        w = stats.norm.pdf(grid, loo_post.loc, loo_post.scale) / q
        influence.append(w * (stats.norm.pdf(X[i], grid, 1.0) / np.exp(elpd[-1]) - 1.0))
    h = np.array(influence)
    sd_i = np.sqrt(np.sum(q * h**2, axis=1) * step / num_draws)
    sd_sum = np.sqrt(np.sum(q * h.sum(axis=0) ** 2) * step / num_draws)
    return np.array(elpd), sd_i, sd_sum


@pytest.mark.parametrize(
    ("shift", "widen"),
    [(0.0, 1.0), (0.5, 1.5)],
    ids=["exact guide", "guide off by half an sd and 1.5x too wide"],
)
def test_loo_svi_matches_the_exact_leave_one_out_predictive(fit, shift, widen):
    post = normal_normal_posterior(X)
    loc, scale = post.loc + shift * post.scale, widen * post.scale
    res = loo_svi(_with_guide(fit, loc, scale), num_draws=4000)
    assert res.approx_posterior and res.n_samples == 4000 and res.n_data_points == 20
    assert res.pareto_k.dims == ("obs",) and float(res.pareto_k.max()) < 0.5
    exact, sd_i, sd_sum = _exact_loo(loc, scale, 4000)
    # Four Monte Carlo sds on the sum (~0.08 nats), five on each of the 20 points: a false
    # failure has probability about 1e-4 in all.
    assert abs(res.elpd - exact.sum()) < 4 * sd_sum
    assert np.all(np.abs(res.elpd_i.values - exact) < 5 * sd_i)
    if shift:
        # Taken as posterior draws (plain PSIS-LOO), the same guide's draws miss by > 1 nat:
        # the weights p(x, z) / q(z) are what bring the estimate back.
        z = stats.norm.rvs(loc, scale, size=4000, random_state=1)
        naive = azb.from_dict(
            {
                "posterior": {"mu": z[None]},
                "log_likelihood": {"x": stats.norm.logpdf(X, z[:, None], 1.0)[None]},
            },
            dims={"x": ["obs"]},
        )
        assert abs(azs.loo(naive).elpd - exact.sum()) > 10 * sd_sum


def test_nuts_loo_matches_the_exact_one_and_compares_with_svi(fit):
    nuts = run_nuts(
        jax.random.key(5), normal_normal, X, num_warmup=500, num_draws=1000, log_likelihood=True
    )
    post = normal_normal_posterior(X)
    # NUTS draws are autocorrelated: the Monte Carlo sd is taken as that of ESS independent
    # draws (the bulk ESS of mu, about 1500 of the 4000 here).
    ess = float(azs.ess(nuts, var_names=["mu"])["mu"])
    exact, _, sd_sum = _exact_loo(post.loc, post.scale, ess)
    nuts_loo = azs.loo(nuts)
    assert abs(nuts_loo.elpd - exact.sum()) < 4 * sd_sum
    svi_loo = loo_svi(_with_guide(fit, post.loc, post.scale), num_draws=4000)
    table = azs.compare({"nuts": nuts_loo, "svi": svi_loo})
    assert set(table.index) == {"nuts", "svi"}
    # Both estimate the same number: they differ (elpd_diff <= 0 is the worse one's gap) by
    # less than four sds of their independent Monte Carlo errors combined (~0.15 nats).
    _, _, sd_svi = _exact_loo(post.loc, post.scale, 4000)
    assert table["elpd_diff"].abs().max() < 4 * np.hypot(sd_sum, sd_svi)


def test_loo_svi_bad_arguments(fit):
    with pytest.raises(TypeError, match="fit"):
        loo_svi(fit.posterior)
    with pytest.raises(ValueError, match="num_draws"):
        loo_svi(fit, num_draws=10)
    with pytest.raises(ValueError, match=r"var_name.*\['x'\]"):
        loo_svi(fit, var_name="y")
    with pytest.raises(TypeError, match="pointwise"):
        loo_svi(fit, pointwise="yes")
    with pytest.raises(TypeError, match="rng_key"):
        loo_svi(fit, rng_key=0)
