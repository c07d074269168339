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


def test_mixture_log_density_matches_scikit_learn():
    from sklearn.mixture import GaussianMixture

    from vibook.mixtures import mixture_log_density

    d = make_mixture(400, n_components=3, dim=2, seed=2)
    em = GaussianMixture(n_components=3, covariance_type="full", random_state=0).fit(d["x"])
    ours = mixture_log_density(d["x"], em.weights_, em.means_, em.covariances_)
    # the same float64 formula, computed two ways: agreement to rounding
    np.testing.assert_allclose(ours, em.score_samples(d["x"]), rtol=1e-10, atol=1e-10)
    # a weight of 0 drops its cluster: the density of the other two, renormalised by hand
    w = np.array([0.25, 0.75, 0.0])
    two = mixture_log_density(d["x"], w[:2], em.means_[:2], em.covariances_[:2])
    np.testing.assert_allclose(
        mixture_log_density(d["x"], w, em.means_, em.covariances_), two, rtol=1e-12
    )
    with pytest.raises(ValueError, match="weights must sum to 1"):
        mixture_log_density(d["x"], [0.5, 0.4, 0.0], em.means_, em.covariances_)
    # the draws' densities (in float32, in JAX) at EM's estimate, given as one draw
    chol = np.linalg.cholesky(em.covariances_)
    sd = np.sqrt(np.diagonal(em.covariances_, axis1=-2, axis2=-1))
    one = {"weights": em.weights_, "locs": em.means_, "scales": sd}
    one["corr_chol"] = chol / sd[..., None]
    np.testing.assert_allclose(gmm_log_predictive(d["x"], one), ours, atol=1e-4)  # float32
    r = gmm_responsibilities(d["x"], one)
    np.testing.assert_allclose(r, em.predict_proba(d["x"]), atol=1e-5)


def test_kmeans_as_mixture_by_hand():
    from vibook.mixtures import kmeans_as_mixture, mixture_log_density

    x = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [10.0, 2.0], [10.0, 1.0]])
    labels = np.array([0, 0, 1, 1, 1])
    centres = np.array([[1.0, 0.0], [10.0, 1.0]])
    mix = kmeans_as_mixture(x, labels, centres)
    # residuals (-1, 0), (1, 0), (0, -1), (0, 1), (0, 0): 4 over n d = 10 points-coordinates
    np.testing.assert_allclose(mix["covariances"], 0.4 * np.broadcast_to(np.eye(2), (2, 2, 2)))
    np.testing.assert_allclose(mix["weights"], [0.4, 0.6])
    np.testing.assert_array_equal(mix["locs"], centres)
    # the point (0, 0): 0.4 N(x | (1, 0), 0.4 I) + 0.6 N(x | (10, 1), 0.4 I), written out
    dens = 0.4 * np.exp(-1 / 0.8) / (2 * np.pi * 0.4) + 0.6 * np.exp(-101 / 0.8) / (2 * np.pi * 0.4)
    np.testing.assert_allclose(mixture_log_density(x[:1], **mix), [np.log(dens)], rtol=1e-12)
    with pytest.raises(ValueError, match="labels"):
        kmeans_as_mixture(x, labels + 1, centres)


def test_segment_image_assigns_each_pixel_to_its_colour():
    from vibook.mixtures import segment_image

    rng = np.random.default_rng(0)
    locs = np.array([[-3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, -3.0]])
    draws = {
        "weights": np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2]]),
        "locs": np.stack([locs, locs + 0.1]),
        "scales": np.full((2, 3, 3), 0.5),
    }
    truth = rng.integers(0, 3, size=(4, 5))
    x = locs[truth.ravel()] + 0.1 * rng.normal(size=(20, 3))  # 0.1 sd, 6 sd from the others
    seg = segment_image(x, draws, (4, 5))
    np.testing.assert_array_equal(seg["labels"], truth)
    np.testing.assert_allclose(seg["image"], (locs + 0.05)[truth])  # the posterior mean colour
    np.testing.assert_allclose(seg["shares"], np.bincount(truth.ravel(), minlength=3) / 20)
    with pytest.raises(ValueError, match="shape"):
        segment_image(x, draws, (5, 5))
