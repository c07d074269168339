"""Working with mixture fits: k-means starting values, relabelling draws, point estimates,
responsibilities and the predictive density, on fits of synthetic data with a known truth."""

import functools

import jax
import numpy as np
import pytest
from numpyro.infer import init_to_value
from numpyro.infer.autoguide import AutoNormal

from vibook import posterior_samples, run_svi
from vibook.data import make_mixture
from vibook.mixtures import (
    gmm_init_values,
    gmm_log_predictive,
    gmm_point_estimate,
    gmm_responsibilities,
    relabel_draws,
)
from vibook.models.gmm import gmm, gmm_guide


@pytest.fixture(scope="module", params=["AutoNormal", "gmm_guide"])
def fit2d(request):
    d = make_mixture(1200, n_components=3, dim=2, separation=5.0, seed=1)
    init = gmm_init_values(d["x"], 3)
    if request.param == "AutoNormal":
        guide = AutoNormal(gmm, init_loc_fn=init_to_value(values=init))
    else:
        guide = functools.partial(gmm_guide, init_values=init)
    fit = run_svi(
        jax.random.key(0),
        gmm,
        d["x"],
        n_components=3,
        guide=guide,
        num_steps=800,
        learning_rate=0.02,
        num_draws=200,
    )
    return d, fit


def test_svi_recovers_synthetic_truth_up_to_permutation(fit2d):
    d, fit = fit2d
    # Only the model's sites are kept (not gmm_guide's packed auxiliary vector).
    assert set(fit.posterior.posterior.data_vars) == {"weights", "locs", "scales", "corr_chol"}
    draws = relabel_draws(posterior_samples(fit), d["locs"])
    est = gmm_point_estimate(draws)
    # ~400 points per cluster with sd <= 1: the means' standard errors are <= 0.05; 0.2 allows
    # 4 of them. Weights: binomial se sqrt(0.25 / 1200) ~ 0.015, tolerance 0.05.
    np.testing.assert_allclose(est["locs"], d["locs"], atol=0.2)
    np.testing.assert_allclose(est["weights"], d["weights"], atol=0.05)
    np.testing.assert_allclose(est["covariances"], d["covariances"], atol=0.25)
    r = gmm_responsibilities(d["x"], draws)
    # Clusters 5 sd apart: almost every point goes to its own cluster.
    assert np.mean(r.argmax(1) == d["labels"]) > 0.97


def test_relabelling_undoes_label_switching(fit2d):
    d, fit = fit2d
    draws = {k: np.asarray(v) for k, v in posterior_samples(fit).items()}
    rng = np.random.default_rng(0)
    perms = np.stack([rng.permutation(3) for _ in range(draws["locs"].shape[0])])
    rows = np.arange(perms.shape[0])[:, None]
    switched = {k: v[rows, perms] for k, v in draws.items()}
    # Switched draws average the clusters together; relabelled ones do not.
    mixed = switched["locs"].mean(0)
    assert np.min(np.linalg.norm(mixed[:, None] - d["locs"][None], axis=-1), axis=1).max() > 1.0
    fixed = relabel_draws(switched, draws["locs"].mean(0))
    for k in ("weights", "locs", "scales", "corr_chol"):
        np.testing.assert_array_equal(fixed[k], draws[k])
    # The predictive density does not depend on the labels at all.
    np.testing.assert_allclose(
        gmm_log_predictive(d["x"][:50], switched), gmm_log_predictive(d["x"][:50], draws), rtol=1e-5
    )


def test_init_values_shapes_and_order():
    d = make_mixture(300, n_components=3, dim=1, seed=0)
    init = gmm_init_values(d["x"], 3)
    assert np.all(np.diff(init["locs"]) > 0)
    # k-means finds the three clusters, so each weight is its cluster's share of the 300
    # points, with one pseudo-count per cluster, in the order of the means
    sizes = np.bincount(d["labels"])[np.argsort(d["locs"])]
    np.testing.assert_allclose(init["weights"], (sizes + 1) / 303, rtol=1e-6)
    d = make_mixture(300, n_components=3, dim=2, seed=0)
    init = gmm_init_values(d["x"], 3)
    assert init["locs"].shape == (3, 2) and init["corr_chol"].shape == (3, 2, 2)
    assert all(isinstance(v, jax.Array) for v in init.values())
    again = gmm_init_values(d["x"], 3)
    for name, value in init.items():
        np.testing.assert_array_equal(value, again[name])  # same seed, same start
    # Clusters 5 sd apart: each k-means centre is within 4 standard errors (sd / sqrt(100)
    # per coordinate, <= 0.1) of a true mean, and the weights near the truth (se ~0.03).
    d = make_mixture(300, n_components=3, dim=2, separation=5.0, seed=0)
    init = relabel_draws(
        {k: np.asarray(v)[None] for k, v in gmm_init_values(d["x"], 3).items()}, d["locs"]
    )
    np.testing.assert_allclose(init["locs"][0], d["locs"], atol=0.4)
    np.testing.assert_allclose(init["weights"][0], d["weights"], atol=0.1)
    with pytest.raises(ValueError, match="n_iter"):
        gmm_init_values(d["x"], 3, n_iter=0)
