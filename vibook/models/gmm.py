r"""Bayesian Gaussian mixtures, with the cluster assignments summed out.

A mixture says each point came from one of ``K`` Gaussian clusters, picked with probabilities
``weights``. The assignment of a point is a discrete latent variable; summing it out
(log-sum-exp over the ``K`` clusters) leaves a smooth likelihood in the continuous parameters,
so both SVI and NUTS can fit the model. Responsibilities (the posterior probability that a
point belongs to each cluster) are recovered afterwards with :func:`gmm_responsibilities`.

The likelihood does not change when the clusters are renamed, so the posterior has ``K!``
copies of every mode: label switching. In 1-D the model orders the cluster means, which
removes it; in d dimensions :func:`relabel_draws` matches each draw to a reference fit.

References
----------
Bishop (2006), *Pattern Recognition and Machine Learning*, sections 9.2 and 10.2.
Stephens (2000), "Dealing with label switching in mixture models", JRSS B 62(4).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import xarray as xr
from jax.scipy.special import logsumexp
from numpyro.distributions import transforms
from numpyro.distributions.util import sum_rightmost
from scipy.optimize import linear_sum_assignment

from vibook._checks import (
    check_array,
    check_positive,
    check_positive_int,
    check_real,
    check_seed,
    check_subsample,
    is_tracer,
)

__all__ = [
    "GaussianMixture",
    "gmm",
    "gmm_covariances",
    "gmm_guide",
    "gmm_init_values",
    "gmm_log_predictive",
    "gmm_point_estimate",
    "gmm_responsibilities",
    "relabel_draws",
]

_COVARIANCES = ("full", "diag")


class GaussianMixture(dist.Distribution):
    """A finite mixture of Gaussians whose log density sums the clusters out (log-sum-exp).

    Parameters
    ----------
    weights : array of shape (K,)
        Mixture weights (sum to 1).
    locs : array of shape (K,) or (K, d)
        Cluster means; (K,) for 1-D points.
    scales : array of shape (K,) or (K, d, d)
        Cluster standard deviations (1-D) or lower Cholesky factors of the covariances.
    """

    arg_constraints = {"weights": dist.constraints.simplex, "locs": dist.constraints.real}
    pytree_data_fields = ("weights", "locs", "scales")

    def __init__(self, weights, locs, scales, *, validate_args=None):
        self.weights, self.locs, self.scales = weights, locs, scales
        event_shape = () if jnp.ndim(locs) == 1 else jnp.shape(locs)[-1:]
        super().__init__(batch_shape=(), event_shape=event_shape, validate_args=validate_args)

    @property
    def support(self):  # noqa: D102 - as in numpyro.distributions
        return dist.constraints.real if self.event_shape == () else dist.constraints.real_vector

    def _per_cluster(self, value):
        """Per-cluster ``log w_k + log N(value | mu_k, Sigma_k)``, shape (..., K)."""
        if self.event_shape == ():
            maha = ((value[..., None] - self.locs) / self.scales) ** 2
            logdet = jnp.log(self.scales)
            d = 1
        else:
            d = self.event_shape[0]
            eye = jnp.broadcast_to(jnp.eye(d), self.scales.shape)
            inv = jax.scipy.linalg.solve_triangular(self.scales, eye, lower=True)  # (K, d, d)
            z = jnp.einsum("kij,...kj->...ki", inv, value[..., None, :] - self.locs)
            maha = jnp.sum(z**2, -1)
            logdet = jnp.sum(jnp.log(jnp.diagonal(self.scales, axis1=-2, axis2=-1)), -1)
        return jnp.log(self.weights) - 0.5 * maha - logdet - 0.5 * d * jnp.log(2 * jnp.pi)

    def log_prob(self, value):
        """Log density of the mixture: log-sum-exp over the clusters."""
        return logsumexp(self._per_cluster(value), axis=-1)

    def sample(self, key, sample_shape=()):
        """Draw points: pick a cluster for each, then draw from its Gaussian."""
        if self.event_shape == ():
            component = dist.Normal(self.locs, self.scales)
        else:
            component = dist.MultivariateNormal(self.locs, scale_tril=self.scales)
        mixture = dist.MixtureSameFamily(dist.Categorical(probs=self.weights), component)
        return mixture.sample(key, sample_shape)


def _check_data(x, n, dim):
    """Return (x, n, dim) with dim=None for 1-D data of shape (n,)."""
    if x is None:
        if n is None:
            raise ValueError("give x (the data) or n (how many points to draw)")
        n = check_positive_int(n, "n")
        if dim is not None:
            dim = check_positive_int(dim, "dim")
        return None, n, dim
    if not is_tracer(x):
        x = check_array(x, "x", ndim=(1, 2))
    if n is not None and n != x.shape[0]:
        raise ValueError(f"n must equal len(x) ({x.shape[0]}) when both are given; got {n}")
    if dim is not None and (x.ndim == 1 or dim != x.shape[1]):
        got = "1-D data" if x.ndim == 1 else f"{x.shape[1]} columns"
        raise ValueError(f"dim must match x's number of columns; got dim={dim} and {got}")
    return x, x.shape[0], (None if x.ndim == 1 else x.shape[1])


def gmm(
    x=None,
    *,
    n_components: int,
    n: int | None = None,
    dim: int | None = None,
    covariance: str = "full",
    concentration: float = 1.0,
    loc_prior_loc: float = 0.0,
    loc_prior_scale: float = 5.0,
    scale_prior_scale: float = 2.0,
    lkj_concentration: float = 2.0,
    subsample_size: int | None = None,
):
    r"""A Gaussian mixture with ``n_components`` clusters, for 1-D or d-D data.

    Each point picks a cluster ``z_i`` with probabilities ``w`` and is drawn from that
    cluster's Gaussian; ``z_i`` is summed out, so only ``w``, the means and the covariances
    are sampled. In 1-D the means are ordered (``mu_1 < ... < mu_K``), which removes label
    switching; in d-D each cluster has a covariance ``diag(s_k) L_k L_k^T diag(s_k)`` with an
    LKJ prior on the correlation factor ``L_k`` (``covariance="full"``) or no correlation
    (``covariance="diag"``).

    .. math::
        w \sim \mathrm{Dirichlet}(\alpha \mathbf 1_K), \quad
        \mu_{k} \sim \mathcal N(m_0, s_0^2 I), \quad s_{kj} \sim \mathrm{HalfNormal}(\tau),
        \quad L_k \sim \mathrm{LKJCholesky}(\eta), \quad
        p(x_i \mid w, \mu, \Sigma) = \sum_{k=1}^K w_k\, \mathcal N(x_i \mid \mu_k, \Sigma_k)

    Parameters
    ----------
    x : array of shape (n,) or (n, d), optional
        Observations; ``None`` draws ``n`` of them from the prior predictive. Work on
        standardised data (mean 0, sd 1 per column) for the default priors to be weak.
    n_components : int
        Number of clusters ``K``.
    n : int, optional
        Number of points to draw when ``x`` is None.
    dim : int, optional
        Dimension of the points to draw when ``x`` is None; ``None`` means 1-D, shape (n,).
    covariance : {"full", "diag"}
        Cluster covariance in d-D (ignored in 1-D).
    concentration : float
        Dirichlet concentration ``alpha`` of the weights. Below 1 it favours few occupied
        clusters: extra ones are emptied (Bishop 2006, Fig. 10.6).
    loc_prior_loc, loc_prior_scale : float
        Prior mean and sd ``m_0, s_0`` of each coordinate of each cluster mean. In 1-D the
        ordered means are ``m_0 + s_0 * ordered(u)`` with the first ``u`` standard Normal and
        the log gaps standard Normal.
    scale_prior_scale : float
        Scale ``tau`` of the HalfNormal prior on each cluster's standard deviations.
    lkj_concentration : float
        LKJ concentration ``eta`` (1 is uniform over correlations; larger shrinks towards 0).
    subsample_size : int, optional
        Minibatch size: each evaluation sees a random subset of the points and scales its
        log-likelihood by ``n / subsample_size`` (an unbiased estimate), for SVI on big data.
    """
    x, n, dim = _check_data(x, n, dim)
    k = check_positive_int(n_components, "n_components")
    if covariance not in _COVARIANCES:
        raise ValueError(f"covariance must be 'full' or 'diag'; got {covariance!r}")
    subsample_size = check_subsample(subsample_size, n)
    hyper = (concentration, loc_prior_loc, loc_prior_scale, scale_prior_scale, lkj_concentration)
    if not any(is_tracer(v) for v in hyper):
        check_positive(concentration, "concentration")
        check_real(loc_prior_loc, "loc_prior_loc")
        check_positive(loc_prior_scale, "loc_prior_scale")
        check_positive(scale_prior_scale, "scale_prior_scale")
        check_positive(lkj_concentration, "lkj_concentration")

    weights = numpyro.sample("weights", dist.Dirichlet(jnp.full(k, float(concentration))))
    if dim is None:
        ordered = dist.TransformedDistribution(
            dist.Normal(0.0, 1.0).expand([k]).to_event(1),
            [
                transforms.OrderedTransform(),
                transforms.AffineTransform(loc_prior_loc, loc_prior_scale),
            ],
        )
        locs = numpyro.sample("locs", ordered)
        with numpyro.plate("components", k):
            scales = numpyro.sample("scales", dist.HalfNormal(scale_prior_scale))
        mixture = GaussianMixture(weights, locs, scales)
        event_dim = 0
    else:
        with numpyro.plate("components", k):
            locs = numpyro.sample(
                "locs", dist.Normal(loc_prior_loc, loc_prior_scale).expand([dim]).to_event(1)
            )
            scales = numpyro.sample(
                "scales", dist.HalfNormal(scale_prior_scale).expand([dim]).to_event(1)
            )
            if covariance == "full":
                corr = numpyro.sample("corr_chol", dist.LKJCholesky(dim, lkj_concentration))
                tril = scales[..., None] * corr
            else:
                tril = scales[..., None] * jnp.eye(dim)
        mixture = GaussianMixture(weights, locs, tril)
        event_dim = 1
    with _FastSubsample("data"), numpyro.plate("data", n, subsample_size=subsample_size):
        obs = None if x is None else numpyro.subsample(x, event_dim=event_dim)
        numpyro.sample("x", mixture, obs=obs)


def _latent_sites(k: int, dim: int | None, covariance: str):
    """(name, support, shape, event_dim) of each latent site of :func:`gmm`."""
    c = dist.constraints
    if dim is None:
        return [
            ("weights", c.simplex, (k,), 1),
            ("locs", c.ordered_vector, (k,), 1),
            ("scales", c.positive, (k,), 0),
        ]
    sites = [
        ("weights", c.simplex, (k,), 1),
        ("locs", c.real, (k, dim), 1),
        ("scales", c.positive, (k, dim), 1),
    ]
    if covariance == "full":
        sites.append(("corr_chol", c.corr_cholesky, (k, dim, dim), 2))
    return sites


def gmm_guide(
    x=None,
    *,
    n_components: int,
    n: int | None = None,
    dim: int | None = None,
    covariance: str = "full",
    concentration: float = 1.0,
    loc_prior_loc: float = 0.0,
    loc_prior_scale: float = 5.0,
    scale_prior_scale: float = 2.0,
    lkj_concentration: float = 2.0,
    subsample_size: int | None = None,
    init_values=None,
    init_scale: float = 0.01,
):
    r"""Mean-field Normal guide for :func:`gmm`, started at given values.

    All the mixture's parameters are mapped to unconstrained space (the weights by
    stick-breaking, the scales by ``log``, the correlation factors by the signed
    stick-breaking of LKJ, ordered means by log gaps) and packed into one vector ``u``
    with independent Normals, as ``AutoDiagonalNormal`` does (Kucukelbir et al. 2017):

    .. math::
        q(u) = \mathcal N(u \mid m, \operatorname{diag}(s^2)), \qquad
        (w, \mu, s, L) = T(u).

    Unlike an autoguide it needs no trace of the model, and no search for valid starting
    values, to set itself up, so a fit compiles a smaller program. Takes the model's arguments; give
    the starting values with ``functools.partial(gmm_guide, init_values=...)``, for example
    :func:`gmm_init_values` of the data.

    Parameters
    ----------
    x, n_components, n, dim, covariance, subsample_size
        As in :func:`gmm`; the prior's hyperparameters are taken and ignored.
    init_values : dict of str to array
        Starting means of ``weights``, ``locs``, ``scales`` (and ``corr_chol`` for full
        covariances; the identity if missing), in the model's shapes.
    init_scale : float
        Starting sd of every unconstrained coordinate (small: the fit starts at
        ``init_values``).
    """
    del concentration, loc_prior_loc, loc_prior_scale, scale_prior_scale, lkj_concentration
    del subsample_size  # every parameter is global: the guide is the same for a minibatch
    x, n, dim = _check_data(x, n, dim)
    k = check_positive_int(n_components, "n_components")
    if covariance not in _COVARIANCES:
        raise ValueError(f"covariance must be 'full' or 'diag'; got {covariance!r}")
    init_scale = check_positive(init_scale, "init_scale")
    sites = _latent_sites(k, dim, covariance)
    if not isinstance(init_values, dict):
        raise TypeError(
            "init_values must be a dict of starting values, given as "
            "functools.partial(gmm_guide, init_values=gmm_init_values(x, n_components)); "
            f"got {type(init_values).__name__}"
        )
    starts = []
    for name, support, shape, _ in sites:
        if name == "corr_chol" and name not in init_values:
            value = jnp.broadcast_to(jnp.eye(dim), shape)
        elif name not in init_values:
            raise ValueError(f"init_values must have {name!r}; got {sorted(init_values)}")
        else:
            value = jnp.asarray(init_values[name], dtype=jnp.float32)
        if value.shape != shape:
            raise ValueError(f"init_values[{name!r}] must have shape {shape}; got {value.shape}")
        starts.append(jnp.ravel(dist.biject_to(support).inv(value)))
    start = jnp.concatenate(starts)
    loc = numpyro.param("gmm_loc", start)
    scale = numpyro.param(
        "gmm_scale",
        jnp.full(start.shape, init_scale, dtype=start.dtype),
        constraint=dist.constraints.softplus_positive,
    )
    u = numpyro.sample(
        "_gmm_latent", dist.Normal(loc, scale).to_event(1), infer={"is_auxiliary": True}
    )
    offset = 0
    for name, support, shape, event_dim in sites:
        transform = dist.biject_to(support)
        u_shape = transform.inverse_shape(shape)
        size = int(np.prod(u_shape))
        part = u[offset : offset + size].reshape(u_shape)
        offset += size
        value = transform(part)
        log_det = transform.log_abs_det_jacobian(part, value)
        log_det = sum_rightmost(log_det, jnp.ndim(log_det) - (len(shape) - event_dim))
        numpyro.sample(name, dist.Delta(value, log_density=-log_det, event_dim=event_dim))


def _draw_with_replacement(size, subsample_size, rng_key=None):
    """Minibatch indices drawn uniformly with replacement: O(subsample_size) work."""
    if rng_key is None:
        raise ValueError("minibatches need a random key: fit with SVI (NUTS cannot subsample)")
    return jax.random.randint(rng_key, (subsample_size,), 0, size)


class _FastSubsample(numpyro.primitives.Messenger):
    """Draw a plate's minibatch with replacement instead of by a partial shuffle.

    On CPU NumPyro picks a minibatch without replacement by a scan over a copy of all ``n``
    indices, which costs O(n) per step; with replacement the sum over the minibatch, scaled
    by ``n / subsample_size``, is still an unbiased estimate of the full log-likelihood.
    """

    def __init__(self, name):
        self.name = name
        super().__init__()

    def process_message(self, msg):
        if msg["type"] == "plate" and msg["name"] == self.name and msg["value"] is None:
            msg["fn"] = _draw_with_replacement


# ---------------------------------------------------------------------------------------------
# Working with draws: covariances, responsibilities, predictive density, relabelling


def _draws(posterior, name: str = "posterior") -> dict[str, np.ndarray]:
    """Posterior draws (n_draws, ...) from an SVIFit, a DataTree or a dict of arrays.

    ``name`` is the caller's argument, for the error messages.
    """
    if isinstance(posterior, dict):
        out = {k: check_array(v, f"{name}[{k!r}]") for k, v in posterior.items()}
    else:
        from vibook.infer import SVIFit, posterior_samples

        if not isinstance(posterior, SVIFit | xr.DataTree):
            raise TypeError(
                f"{name} must be a dict of draws, an SVIFit or a DataTree with a 'posterior' "
                f"group; got {type(posterior).__name__}"
            )
        out = {k: np.asarray(v) for k, v in posterior_samples(posterior).items()}
    missing = {"weights", "locs", "scales"} - set(out)
    if missing:
        raise ValueError(
            f"{name} must hold draws of a gmm fit (weights, locs, scales); "
            f"missing {sorted(missing)}"
        )
    if out["weights"].ndim == 1:  # a single point estimate: add a draws axis
        out = {k: v[None] for k, v in out.items()}
    return out


def gmm_covariances(draws: dict) -> np.ndarray:
    """Cluster covariance matrices of each draw, array of shape (n_draws, K, d, d).

    For 1-D draws the result has shape (n_draws, K, 1, 1).
    """
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
    chol = jnp.linalg.cholesky(covs)  # (K, d, d)
    diff = x[:, None, :] - locs[None]  # (n, K, d)
    sol = jax.scipy.linalg.solve_triangular(chol[None], diff[..., None], lower=True)[..., 0]
    d = x.shape[-1]
    logdet = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)
    return (
        jnp.log(weights)[None]
        - 0.5 * jnp.sum(sol**2, -1)
        - logdet[None]
        - 0.5 * d * jnp.log(2 * jnp.pi)
    )


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
    (the E-step of EM); the result averages this over the posterior draws. Relabel d-D NUTS
    draws first (:func:`relabel_draws`), or the average mixes clusters.

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

    ``log p(x_i | data) ≈ log (1/S) sum_s p(x_i | theta_s)``, the mixture density averaged
    over ``S`` posterior draws. Renaming clusters leaves it unchanged, so it needs no
    relabelling; its mean over held-out points is the held-out log-likelihood per point.

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

    For every draw, the permutation of its clusters that brings its means closest (in summed
    squared distance) to ``reference_locs`` is found by the Hungarian algorithm and applied to
    every per-cluster site. A simple, widely used form of the relabelling of Stephens (2000).

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


def _kmeans(pts, k, rng, n_iter):
    """k-means++ seeding and ``n_iter`` Lloyd steps; the centres, array of shape (k, d)."""
    centres = [pts[rng.integers(pts.shape[0])]]
    for _ in range(1, k):
        d2 = np.min(((pts[:, None] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(pts[rng.choice(pts.shape[0], p=d2 / d2.sum())])
    centres = np.asarray(centres)
    for _ in range(n_iter):
        label = np.argmin(((pts[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        centres = np.stack(
            [pts[label == j].mean(0) if np.any(label == j) else centres[j] for j in range(k)]
        )
    return centres


def gmm_init_values(
    x, n_components: int, *, seed: int = 0, subsample: int = 2000, n_iter: int = 10, n_init: int = 5
):
    """Starting values for a fit: k-means++ on a random subset, then a few Lloyd steps.

    SVI on a mixture can stall in a poor local optimum when started from the prior; starting
    from the best of a few quick clusterings of a few thousand points avoids most of them
    (Arthur and Vassilvitskii 2007, "k-means++: the advantages of careful seeding").

    Parameters
    ----------
    x : array of shape (n,) or (n, d)
        Data.
    n_components : int
        Number of clusters.
    seed : int
        Seed of the NumPy generator that picks the subset and the seeds.
    subsample : int
        Number of points used (all of them if there are fewer).
    n_iter : int
        Lloyd iterations after seeding.
    n_init : int
        Independent seedings; the one with the smallest within-cluster sum of squares is kept.

    Returns
    -------
    dict of str to jax.Array
        ``weights``, ``locs``, ``scales`` (and ``corr_chol`` for d-D data, the identity) in
        the shapes :func:`gmm` uses, for ``numpyro.infer.init_to_value(values=...)``. They
        are JAX arrays, not NumPy ones: NumPyro's transforms index their values with JAX
        arrays, which NumPy arrays refuse inside a compiled fit.
    """
    x = check_array(x, "x", ndim=(1, 2))
    k = check_positive_int(n_components, "n_components")
    subsample = check_positive_int(subsample, "subsample")
    n_iter = check_positive_int(n_iter, "n_iter", minimum=0)
    n_init = check_positive_int(n_init, "n_init")
    one_d = x.ndim == 1
    rng = np.random.default_rng(check_seed(seed))
    pts = x[:, None] if one_d else x
    if pts.shape[0] > subsample:
        pts = pts[rng.choice(pts.shape[0], subsample, replace=False)]
    if pts.shape[0] < k:
        raise ValueError(f"need at least n_components ({k}) points; got {pts.shape[0]}")
    best, best_inertia = None, np.inf
    for _ in range(n_init):
        centres = _kmeans(pts, k, rng, n_iter)
        inertia = np.min(((pts[:, None] - centres[None]) ** 2).sum(-1), axis=1).sum()
        if inertia < best_inertia:
            best, best_inertia = centres, inertia
    centres = best
    label = np.argmin(((pts[:, None] - centres[None]) ** 2).sum(-1), axis=1)
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
