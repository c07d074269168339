"""Working with the draws of a Gaussian mixture fit: clusters, densities, relabelling.

For :func:`vibook.models.gmm`: per-draw covariances, responsibilities, the posterior predictive
density, point estimates, relabelling against label switching, k-means starting values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax.scipy.special import logsumexp
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from vibook._checks import check_array, check_positive_int, check_seed
from vibook.fit import as_draws

__all__ = [
    "gmm_covariances",
    "gmm_init_values",
    "gmm_log_predictive",
    "gmm_point_estimate",
    "gmm_responsibilities",
    "relabel_draws",
]


def _draws(posterior, name: str = "posterior") -> dict[str, np.ndarray]:
    """Draws (n_draws, ...) of a :func:`gmm` fit; a single point estimate gets a draws axis."""
    out = as_draws(posterior, name, required=("weights", "locs", "scales"))
    if out["weights"].ndim == 1:  # a single point estimate: add a draws axis
        out = {k: v[None] for k, v in out.items()}
    return out


def gmm_covariances(draws: dict) -> np.ndarray:
    """Cluster covariance matrices of each draw, shape (n_draws, K, d, d); d = 1 for 1-D draws."""
    draws = _draws(draws, "draws")
    scales = draws["scales"]
    if scales.ndim == 2:  # 1-D data
        return (scales**2)[..., None, None]
    if "corr_chol" in draws:
        tril = scales[..., :, None] * draws["corr_chol"]
        return tril @ np.swapaxes(tril, -1, -2)
    return np.einsum("skd,de->skde", scales**2, np.eye(scales.shape[-1]))


def _component_log_prob(x, weights, locs, covs):
    """Per-cluster ``log w_k + log N(x_n | mu_k, Sigma_k)`` for one draw, shape (n, K)."""
    clusters = dist.MultivariateNormal(locs, scale_tril=jnp.linalg.cholesky(covs))
    mixture = dist.MixtureSameFamily(dist.Categorical(probs=weights), clusters)
    return mixture.component_log_probs(x)


@jax.jit
def _log_joint_all(x, weights, locs, covs):
    return jax.vmap(_component_log_prob, in_axes=(None, 0, 0, 0))(x, weights, locs, covs)


def _prepare(x, posterior):
    draws = _draws(posterior)
    x = check_array(x, "x", ndim=(1, 2))
    locs = draws["locs"]
    if x.ndim == 1:
        if locs.ndim != 2:
            raise ValueError("x is 1-D but the draws are of a d-D mixture")
        x, locs = x[:, None], locs[..., None]
    elif locs.ndim != 3 or locs.shape[-1] != x.shape[1]:
        raise ValueError(f"x has {x.shape[1]} columns but the draws' means have shape {locs.shape}")
    return x, draws["weights"], locs, gmm_covariances(draws)


def gmm_responsibilities(x, posterior) -> np.ndarray:
    r"""Posterior probability that each point belongs to each cluster, averaged over draws.

    For one draw, ``r_{ik} = w_k N(x_i | mu_k, Sigma_k) / sum_j w_j N(x_i | mu_j, Sigma_j)``
    (EM's E-step), averaged over draws; relabel d-D NUTS draws first (:func:`relabel_draws`).

    Parameters
    ----------
    x : array of shape (n,) or (n, d)
        Points.
    posterior : SVIFit, DataTree or dict of arrays
        A fit of :func:`gmm`, or its draws (``weights``, ``locs``, ``scales`` and, for full
        covariances, ``corr_chol``), with a leading draws axis or as one point estimate.

    Returns
    -------
    ndarray of shape (n, K)
        Rows sum to 1.
    """
    x, w, locs, covs = _prepare(x, posterior)
    lj = _log_joint_all(jnp.asarray(x), w, locs, covs)  # (S, n, K)
    r = jnp.exp(lj - logsumexp(lj, axis=-1, keepdims=True))
    return np.asarray(r.mean(0))


def gmm_log_predictive(x, posterior) -> np.ndarray:
    r"""Log posterior predictive density of each point, array of shape (n,).

    ``log p(x_i | data) ≈ log (1/S) sum_s p(x_i | theta_s)`` over ``S`` draws; it needs no
    relabelling, and its mean over held-out points is the held-out log-likelihood per point.

    Parameters
    ----------
    x : array of shape (n,) or (n, d)
        Points (held out, typically).
    posterior : SVIFit, DataTree or dict of arrays
        As in :func:`gmm_responsibilities`.
    """
    x, w, locs, covs = _prepare(x, posterior)
    lj = _log_joint_all(jnp.asarray(x), w, locs, covs)  # (S, n, K)
    per_draw = logsumexp(lj, axis=-1)
    return np.asarray(logsumexp(per_draw, axis=0) - np.log(per_draw.shape[0]))


def gmm_point_estimate(posterior) -> dict[str, np.ndarray]:
    """Posterior means of the weights, means and covariance matrices.

    Returns
    -------
    dict
        ``weights`` (K,), ``locs`` (K,) or (K, d), ``covariances`` (K, 1, 1) or (K, d, d).
        Averages over labels are meaningful only for relabelled draws (:func:`relabel_draws`).
    """
    draws = _draws(posterior)
    return {
        "weights": draws["weights"].mean(0),
        "locs": draws["locs"].mean(0),
        "covariances": gmm_covariances(draws).mean(0),
    }


def relabel_draws(draws: dict, reference_locs) -> dict[str, np.ndarray]:
    """Rename the clusters of each draw to match a reference fit: undo label switching.

    Each draw's clusters are permuted (Hungarian algorithm) to bring their means closest, in summed
    squared distance, to ``reference_locs``: a simple form of Stephens' (2000) relabelling.

    Parameters
    ----------
    draws : dict of str to array
        Draws of a :func:`gmm` fit with a leading draws axis, e.g.
        :func:`vibook.posterior_samples` of a NUTS run.
    reference_locs : array of shape (K,) or (K, d)
        Cluster means of a reference fit (one chain, an EM fit, a MAP fit).

    Returns
    -------
    dict of str to ndarray
        The same sites with clusters permuted draw by draw; ``"permutation"`` (n_draws, K)
        gives the cluster of each draw that became cluster ``k``.
    """
    draws = _draws(draws, "draws")
    ref = check_array(reference_locs, "reference_locs", ndim=(1, 2))
    locs = draws["locs"]
    if ref.shape != locs.shape[1:]:
        raise ValueError(
            f"reference_locs must have shape {locs.shape[1:]} like one draw's means; "
            f"got {ref.shape}"
        )
    loc3 = locs if locs.ndim == 3 else locs[..., None]
    ref2 = ref if ref.ndim == 2 else ref[:, None]
    cost = np.sum((loc3[:, None, :, :] - ref2[None, :, None, :]) ** 2, -1)  # (S, ref k, draw j)
    perms = np.stack([linear_sum_assignment(c)[1] for c in cost])
    rows = np.arange(perms.shape[0])[:, None]
    k = ref.shape[0]
    out = {}
    for name, value in draws.items():
        if value.ndim >= 2 and value.shape[1] == k and name in _PER_CLUSTER:
            out[name] = value[rows, perms]
        else:
            out[name] = value
    out["permutation"] = perms
    return out


_PER_CLUSTER = ("weights", "locs", "scales", "corr_chol")


def gmm_init_values(
    x, n_components: int, *, seed: int = 0, subsample: int = 2000, n_iter: int = 10, n_init: int = 5
):
    """Starting values for a fit: k-means++ on a random subset, then a few Lloyd steps.

    SVI started from the prior can stall in a poor local optimum; the best of a few quick
    clusterings of a few thousand points avoids most (Arthur and Vassilvitskii 2007, "k-means++: the
    advantages of careful seeding"); each cluster's points give its weight and spread.

    Parameters
    ----------
    x, n_components : array of shape (n,) or (n, d), int
        Data and number of clusters.
    seed : int
        Seed of the NumPy generator that picks the subset and seeds the clustering.
    subsample : int
        Number of points used (all of them if there are fewer).
    n_iter : int
        At most this many Lloyd iterations after seeding (``KMeans(max_iter=n_iter)``).
    n_init : int
        Independent seedings; the one with the smallest within-cluster sum of squares is kept.

    Returns
    -------
    dict of str to jax.Array
        ``weights``, ``locs``, ``scales`` (and ``corr_chol``, the identity, for d-D data) in
        :func:`gmm`'s shapes, for ``numpyro.infer.init_to_value(values=...)``. JAX arrays: NumPyro's
        transforms index them with JAX arrays, which NumPy arrays refuse inside a compiled fit.
    """
    x = check_array(x, "x", ndim=(1, 2))
    k = check_positive_int(n_components, "n_components")
    subsample = check_positive_int(subsample, "subsample")
    n_iter = check_positive_int(n_iter, "n_iter")
    n_init = check_positive_int(n_init, "n_init")
    one_d = x.ndim == 1
    rng = np.random.default_rng(check_seed(seed))
    pts = x[:, None] if one_d else x
    if pts.shape[0] > subsample:
        pts = pts[rng.choice(pts.shape[0], subsample, replace=False)]
    if pts.shape[0] < k:
        raise ValueError(f"need at least n_components ({k}) points; got {pts.shape[0]}")
    kmeans = KMeans(
        n_clusters=k,
        init="k-means++",
        n_init=n_init,
        max_iter=n_iter,
        random_state=int(rng.integers(2**31 - 1)),
    )
    # One thread: OpenMP threads competing with a busy CPU turn milliseconds into seconds.
    with threadpool_limits(limits=1, user_api="openmp"):
        kmeans.fit(pts)
    centres, label = kmeans.cluster_centers_, kmeans.labels_
    spread = pts.std(0) / k
    scales = np.stack(
        [pts[label == j].std(0) if np.sum(label == j) > 1 else spread for j in range(k)]
    )
    scales = np.maximum(scales, 1e-3 * pts.std(0) + 1e-12)
    counts = np.bincount(label, minlength=k) + 1.0
    weights = counts / counts.sum()
    if one_d:
        order = np.argsort(centres[:, 0])
        values = {"weights": weights[order], "locs": centres[order, 0], "scales": scales[order, 0]}
    else:
        d = pts.shape[1]
        values = {
            "weights": weights,
            "locs": centres,
            "scales": scales,
            "corr_chol": np.broadcast_to(np.eye(d), (k, d, d)),
        }
    return {name: jnp.asarray(v) for name, v in values.items()}
