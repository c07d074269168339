"""Working with the draws of a Gaussian mixture fit: clusters, densities, relabelling.

For :func:`vibook.models.gmm`: per-draw covariances, responsibilities, the posterior predictive
density, point estimates, relabelling against label switching, k-means starting values; the density
of a mixture given by its parameters (a scikit-learn fit, k-means as a mixture) to compare with;
image segmentation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
from jax.scipy.special import logsumexp
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from vibook._checks import check_array, check_mixture, check_positive_int, check_seed
from vibook.fit import as_draws

__all__ = [
    "gmm_covariances",
    "gmm_init_values",
    "gmm_log_predictive",
    "gmm_point_estimate",
    "gmm_responsibilities",
    "kmeans_as_mixture",
    "mixture_log_density",
    "relabel_draws",
    "segment_image",
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
    # Written out rather than MixtureSameFamily.component_log_probs: inverting the K Cholesky
    # factors once, not a triangular solve per point and cluster, was 7-10x faster on CPU for
    # 17,000 points and 100 draws, compiling included. tests/test_mixtures.py checks the density
    # against scikit-learn's.
    chol = jnp.linalg.cholesky(covs)  # (K, d, d)
    eye = jnp.broadcast_to(jnp.eye(covs.shape[-1], dtype=chol.dtype), chol.shape)
    inv = jax.scipy.linalg.solve_triangular(chol, eye, lower=True)
    z = jnp.einsum("kij,nj->nki", inv, x) - jnp.einsum("kij,kj->ki", inv, locs)
    log_det = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)
    d = covs.shape[-1]
    return jnp.log(weights) - 0.5 * jnp.sum(z**2, -1) - log_det - 0.5 * d * jnp.log(2 * jnp.pi)


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


def mixture_log_density(x, weights, locs, covariances) -> np.ndarray:
    r"""Log density of each point under one Gaussian mixture given by its parameters.

    ``log sum_k w_k N(x_i | mu_k, Sigma_k)``, for a point estimate from any fitter: scikit-learn's
    ``weights_``, ``means_`` and ``covariances_`` (full covariances), :func:`gmm_point_estimate`, or
    :func:`kmeans_as_mixture`. The mean over held-out points is a held-out log-likelihood per
    point on the same scale as :func:`gmm_log_predictive`'s.

    Parameters
    ----------
    x : array of shape (n, d)
        Points.
    weights, locs, covariances : arrays of shape (K,), (K, d), (K, d, d)
        Weights (>= 0, summing to 1), means and covariance matrices (positive definite).

    Returns
    -------
    ndarray of shape (n,)
    """
    x = check_array(x, "x", ndim=2).astype(np.float64)
    weights, locs, _, chol = check_mixture(
        weights, locs, covariances, x.shape[1], means_name="locs"
    )
    inv = np.linalg.inv(chol)  # (K, d, d): one inversion per cluster, not one solve per point
    z = np.einsum("kij,nkj->nki", inv, x[:, None, :] - locs)
    log_det = np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), -1)
    with np.errstate(divide="ignore"):  # a weight of 0 is a cluster that adds nothing
        log_w = np.log(weights)
    per_cluster = log_w - 0.5 * np.sum(z**2, -1) - log_det - 0.5 * x.shape[1] * np.log(2 * np.pi)
    return scipy.special.logsumexp(per_cluster, axis=1)  # in float64, unlike JAX's default


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


def kmeans_as_mixture(x, labels, centres) -> dict[str, np.ndarray]:
    r"""The Gaussian mixture a k-means clustering implies, so its density can be scored.

    k-means is EM for a mixture of spherical Gaussians of one shared variance, in the limit of a
    vanishing variance (Bishop 2006, section 9.3.2); read back as such a mixture, a clustering
    gets weights (each cluster's share of the points), means (the centres) and the pooled
    within-cluster variance

    .. math::
        \sigma^2 = \frac{1}{n d} \sum_i \lVert x_i - c_{z_i} \rVert^2 ,

    the maximum likelihood value given the assignments. Score it with
    :func:`mixture_log_density`.

    Parameters
    ----------
    x : array of shape (n, d)
        The points that were clustered.
    labels : array of shape (n,)
        Each point's cluster, in ``0..K-1`` (scikit-learn's ``KMeans.labels_``).
    centres : array of shape (K, d)
        Cluster centres (``KMeans.cluster_centers_``).

    Returns
    -------
    dict
        ``weights`` (K,), ``locs`` (K, d), ``covariances`` (K, d, d): ``sigma^2 I`` for every
        cluster.
    """
    x = check_array(x, "x", ndim=2).astype(np.float64)
    centres = check_array(centres, "centres", ndim=2).astype(np.float64)
    k, d = centres.shape
    if d != x.shape[1]:
        raise ValueError(f"centres must have {x.shape[1]} columns, like x; got {centres.shape}")
    labels = check_array(labels, "labels", shape=(x.shape[0],), integer=True, nonnegative=True)
    labels = labels.astype(np.int64)
    if labels.max() >= k:
        raise ValueError(f"labels must be in 0..{k - 1} (one per centre); got {labels.max()}")
    variance = float(np.mean((x - centres[labels]) ** 2))
    if not variance > 0:
        raise ValueError("x has no spread about the centres: every point sits on its centre")
    return {
        "weights": np.bincount(labels, minlength=k) / x.shape[0],
        "locs": centres,
        "covariances": np.broadcast_to(variance * np.eye(d), (k, d, d)).copy(),
    }


def segment_image(x, posterior, shape) -> dict[str, np.ndarray]:
    """Segment an image by colour: each pixel goes to its most probable mixture component.

    Each pixel's colour is a point; a component of a mixture fitted to the colours is a
    segment; a pixel's segment is the component with the largest responsibility
    (:func:`gmm_responsibilities`), and the segmented image paints every pixel with its
    segment's mean colour (the posterior mean of that component's mean).

    Parameters
    ----------
    x : array of shape (height * width, d)
        Every pixel's colour, row by row, on the scale the mixture was fitted on (e.g. ``x`` of
        :func:`vibook.data.load_image_pixels`).
    posterior : SVIFit, DataTree or dict of arrays
        A d-D fit of :func:`vibook.models.gmm`, as in :func:`gmm_responsibilities`; relabel NUTS
        draws first (:func:`relabel_draws`).
    shape : tuple of int
        ``(height, width)`` of the image.

    Returns
    -------
    dict
        ``labels`` (height, width) int, each pixel's segment; ``image`` (height, width, d), each
        pixel's segment mean, on ``x``'s scale; ``shares`` (K,), the fraction of the pixels in
        each segment.
    """
    x = check_array(x, "x", ndim=2)
    if not isinstance(shape, tuple) or len(shape) != 2:
        raise TypeError(f"shape must be a tuple (height, width); got {shape!r}")
    h, w = (check_positive_int(v, "shape") for v in shape)
    if h * w != x.shape[0]:
        raise ValueError(f"shape {shape} must hold one pixel per row of x ({x.shape[0]})")
    labels = gmm_responsibilities(x, posterior).argmax(1)
    palette = gmm_point_estimate(posterior)["locs"]
    if palette.ndim != 2:
        raise ValueError("posterior must be a fit of d-D colours, not of 1-D data")
    return {
        "labels": labels.reshape(h, w),
        "image": palette[labels].reshape(h, w, -1),
        "shares": np.bincount(labels, minlength=palette.shape[0]) / x.shape[0],
    }


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
