"""The Gaussian mixture model and its guide: prior draws, the mixture density, minibatches,
a 1-D fit, the guide's change of variables, and bad input."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer.util import log_density
from scipy.stats import multivariate_normal

from vibook import posterior_samples, run_svi
from vibook.data import make_mixture
from vibook.mixtures import gmm_init_values, gmm_log_predictive, gmm_responsibilities, relabel_draws
from vibook.models.gmm import GaussianMixture, gmm, gmm_guide


def _trace(model, *args, **kwargs):
    with numpyro.handlers.seed(rng_seed=0):
        return numpyro.handlers.trace(model).get_trace(*args, **kwargs)


def test_prior_predictive_shapes_and_ordered_1d_means():
    tr = _trace(gmm, n=40, dim=3, n_components=4)
    assert tr["x"]["value"].shape == (40, 3)
    assert tr["corr_chol"]["value"].shape == (4, 3, 3)
    tr = _trace(gmm, n=40, n_components=4)
    assert tr["x"]["value"].shape == (40,)
    assert np.all(np.diff(tr["locs"]["value"]) > 0)  # the 1-D means are ordered
    tr = _trace(gmm, n=10, dim=2, n_components=2, covariance="diag")
    assert "corr_chol" not in tr


def test_mixture_log_prob_is_the_explicit_sum():
    rng = np.random.default_rng(0)
    w = np.array([0.2, 0.5, 0.3])
    locs = rng.normal(size=(3, 2))
    a = rng.normal(size=(3, 2, 2))
    covs = a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(2)
    x = rng.normal(size=(7, 2))
    want = np.log(sum(w[k] * multivariate_normal(locs[k], covs[k]).pdf(x) for k in range(3)))
    got = GaussianMixture(w, locs, np.linalg.cholesky(covs)).log_prob(x)
    np.testing.assert_allclose(got, want, rtol=1e-5)  # float32 arithmetic
    draws = {"weights": w, "locs": locs, "scales": np.ones((3, 2)), "corr_chol": None}
    draws["corr_chol"] = np.linalg.cholesky(covs)  # unit scales: the factor is the covariance's
    np.testing.assert_allclose(gmm_log_predictive(x, draws), want, rtol=1e-5)
    # Responsibilities for one parameter set: w_k N(x | mu_k, Sigma_k) normalised over k.
    per = np.stack([w[k] * multivariate_normal(locs[k], covs[k]).pdf(x) for k in range(3)], -1)
    resp = per / per.sum(1, keepdims=True)
    np.testing.assert_allclose(gmm_responsibilities(x, draws), resp, rtol=1e-4, atol=1e-6)


def test_mixture_log_prob_equals_numpyros_mixture_same_family():
    # The model keeps its own log density for speed; it must be NumPyro's mixture density.
    # Same float32 arithmetic in a different order: agreement to a few float32 ulps of ~10.
    rng = np.random.default_rng(1)
    w = jnp.asarray([0.1, 0.6, 0.3])
    locs = jnp.asarray(rng.normal(size=(3, 2)))
    a = rng.normal(size=(3, 2, 2))
    tril = jnp.asarray(np.linalg.cholesky(a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(2)))
    x = jnp.asarray(rng.normal(size=(4, 5, 2)) * 3)  # a batch of batches, far tails included
    library = dist.MixtureSameFamily(
        dist.Categorical(probs=w), dist.MultivariateNormal(locs, scale_tril=tril)
    )
    np.testing.assert_allclose(
        GaussianMixture(w, locs, tril).log_prob(x), library.log_prob(x), rtol=1e-5, atol=1e-5
    )
    locs1, sd1 = jnp.asarray([-1.0, 0.0, 2.0]), jnp.asarray([0.5, 1.0, 2.0])
    x1 = jnp.asarray(rng.normal(size=(6, 7)) * 3)
    library1 = dist.MixtureSameFamily(dist.Categorical(probs=w), dist.Normal(locs1, sd1))
    np.testing.assert_allclose(
        GaussianMixture(w, locs1, sd1).log_prob(x1), library1.log_prob(x1), rtol=1e-5, atol=1e-5
    )
    draw = GaussianMixture(w, locs1, sd1).sample(jax.random.key(0), (4,))
    assert draw.shape == (4,) and GaussianMixture(w, locs, tril).event_shape == (2,)


def test_minibatch_log_likelihood_is_unbiased():
    # The minibatch log density, scaled by n / subsample_size, averages to the full one.
    d = make_mixture(400, n_components=2, dim=2, seed=3)
    params = {k: v for k, v in gmm_init_values(d["x"], 2).items()}
    full, _ = log_density(gmm, (d["x"],), {"n_components": 2}, params)

    def one(key):
        seeded = numpyro.handlers.seed(gmm, key)
        lp, _ = log_density(seeded, (d["x"],), {"n_components": 2, "subsample_size": 50}, params)
        return lp

    est = jax.vmap(one)(jax.random.split(jax.random.key(0), 2000))
    se = float(np.std(est) / np.sqrt(est.shape[0]))
    assert abs(float(np.mean(est)) - float(full)) < 4 * se + 1e-3 * abs(float(full))


def test_1d_fit_has_ordered_means_near_truth():
    d = make_mixture(600, n_components=2, dim=1, separation=5.0, seed=2)
    fit = run_svi(
        jax.random.key(1),
        gmm,
        d["x"],
        n_components=2,
        num_steps=1500,
        learning_rate=0.02,
        num_draws=200,
    )
    locs = np.asarray(posterior_samples(fit)["locs"])
    assert np.all(np.diff(locs, axis=1) > 0)  # no label switching in any draw
    np.testing.assert_allclose(locs.mean(0), d["locs"], atol=0.2)  # se <= 0.06


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="covariance"):
        _trace(gmm, np.zeros((5, 2)), n_components=2, covariance="tied")
    with pytest.raises(ValueError, match="subsample_size"):
        _trace(gmm, np.zeros((5, 2)), n_components=2, subsample_size=10)
    with pytest.raises(ValueError, match="x must be finite"):
        _trace(gmm, np.array([0.0, np.nan]), n_components=2)
    with pytest.raises(ValueError, match="give x"):
        _trace(gmm, n_components=2)
    with pytest.raises(ValueError, match="reference_locs"):
        relabel_draws(
            {"weights": np.ones((2, 3)) / 3, "locs": np.zeros((2, 3)), "scales": np.ones((2, 3))},
            np.zeros(2),
        )


def test_guide_density_is_the_change_of_variables():
    # q of the constrained draw is N(u | m, s) / |det dT/du|; the Jacobian is computed here by
    # automatic differentiation, independently of the transforms' own log-determinants.
    k = 3
    init = {"weights": np.array([0.2, 0.3, 0.5]), "locs": np.array([-1.0, 0.5, 2.0])}
    init["scales"] = np.array([0.5, 1.0, 1.5])
    guide = functools.partial(gmm_guide, init_values=init, init_scale=0.3)
    trace = _trace(guide, np.zeros(10), n_components=k)
    u = trace["_gmm_latent"]["value"]
    sites = [site for site in trace.values() if site["type"] == "sample"]
    log_q = sum(site["fn"].log_prob(site["value"]).sum() for site in sites)
    c = dist.constraints

    def constrained(u):  # the K-1 free weights, the ordered means, the scales
        w = dist.biject_to(c.simplex)(u[: k - 1])[: k - 1]
        locs = dist.biject_to(c.ordered_vector)(u[k - 1 : 2 * k - 1])
        return jnp.concatenate([w, locs, jnp.exp(u[2 * k - 1 :])])

    _, log_det = jnp.linalg.slogdet(jax.jacfwd(constrained)(u))
    params = {n: s["value"] for n, s in trace.items() if s["type"] == "param"}
    log_n = dist.Normal(params["gmm_loc"], params["gmm_scale"]).log_prob(u).sum()
    np.testing.assert_allclose(float(log_q), float(log_n - log_det), rtol=1e-5, atol=1e-5)
    assert np.all(np.diff(np.asarray(trace["locs"]["value"])) > 0)  # ordered by construction
    # The guide starts at the values it is given.
    trace = _trace(functools.partial(guide, init_scale=1e-6), np.zeros(10), n_components=k)
    for name, value in init.items():
        np.testing.assert_allclose(np.asarray(trace[name]["value"]), value, rtol=1e-4)


def test_guide_refuses_missing_or_misshapen_starting_values():
    x = np.zeros((6, 2))
    with pytest.raises(TypeError, match="init_values"):
        _trace(gmm_guide, x, n_components=2)
    init = {"weights": np.ones(2) / 2, "locs": np.zeros((2, 2)), "scales": np.ones((2, 2))}
    # corr_chol may be left out (the identity); the diagonal model has none.
    _trace(functools.partial(gmm_guide, init_values=init), x, n_components=2)
    with pytest.raises(ValueError, match=r"init_values\['locs'\] must have shape \(2, 2\)"):
        _trace(gmm_guide, x, n_components=2, init_values={**init, "locs": np.zeros(2)})
    with pytest.raises(ValueError, match="must have 'scales'"):
        _trace(
            gmm_guide,
            x,
            n_components=2,
            init_values={"weights": init["weights"], "locs": init["locs"]},
        )
    with pytest.raises(ValueError, match="init_scale"):
        _trace(gmm_guide, x, n_components=2, init_values=init, init_scale=0.0)
