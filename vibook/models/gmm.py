r"""Bayesian Gaussian mixtures, with the cluster assignments summed out.

A mixture says each point came from one of ``K`` Gaussian clusters, picked with probabilities
``weights``. Summing out each point's discrete assignment (log-sum-exp over the ``K`` clusters)
leaves a smooth likelihood in the continuous parameters, so both SVI and NUTS can fit the model;
responsibilities (the posterior probability that a point belongs to each cluster) are recovered
afterwards with :func:`vibook.mixtures.gmm_responsibilities`.

The likelihood does not change when the clusters are renamed, so the posterior has ``K!`` copies of
every mode: label switching. In 1-D the model orders the cluster means, which removes it; in d
dimensions :func:`vibook.mixtures.relabel_draws` matches each draw to a reference fit.

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
from jax.scipy.special import logsumexp
from numpyro.distributions import transforms
from numpyro.distributions.util import sum_rightmost

from vibook._checks import (
    check_array,
    check_positive,
    check_positive_int,
    check_real,
    check_subsample,
    is_tracer,
)
from vibook.models.minibatch import with_replacement

__all__ = ["GaussianMixture", "gmm", "gmm_guide"]

_COVARIANCES = ("full", "diag")


class GaussianMixture(dist.Distribution):
    """A finite mixture of Gaussians whose log density sums the clusters out (log-sum-exp).

    The same density as NumPyro's :class:`~numpyro.distributions.MixtureSameFamily` of
    ``Categorical(probs=weights)`` and ``Normal(locs, scales)`` (1-D) or
    ``MultivariateNormal(locs, scale_tril=scales)`` (d-D) clusters, which draws the samples.

    Parameters
    ----------
    weights, locs : arrays of shape (K,), and (K,) for 1-D points or (K, d)
        Mixture weights (summing to 1) and cluster means.
    scales : array of shape (K,) or (K, d, d)
        Cluster standard deviations (1-D) or lower Cholesky factors of the covariances.
    validate_args : bool, optional
        As in :class:`numpyro.distributions.Distribution`.
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
        # Written out rather than MixtureSameFamily.log_prob: inverting the K small Cholesky factors
        # once makes a minibatch SVI fit about 3x faster on CPU than MultivariateNormal's triangular
        # solve per point and cluster. tests/models/test_gmm.py checks that the two densities agree.
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

    The assignments are summed out (see the module docstring); in 1-D the means are ordered. In d-D
    each cluster's covariance is ``diag(s_k) L_k L_k^T diag(s_k)``, with an LKJ prior on the
    correlation factor ``L_k`` (``covariance="full"``) or ``L_k = I`` (``"diag"``).

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
    n, dim : int, optional
        Number and dimension of the points to draw when ``x`` is None; ``dim=None`` is 1-D, (n,).
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
    with with_replacement("data"), numpyro.plate("data", n, subsample_size=subsample_size):
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

    Every parameter is mapped to unconstrained space (weights by stick-breaking, scales by ``log``,
    correlation factors by LKJ's signed stick-breaking, ordered means by log gaps) and packed into
    one vector ``u`` of independent Normals, like ``AutoDiagonalNormal`` (Kucukelbir et al. 2017):

    .. math::
        q(u) = \mathcal N(u \mid m, \operatorname{diag}(s^2)), \qquad (w, \mu, s, L) = T(u).

    Unlike an autoguide it needs no model trace and no search for valid starting values to set
    itself up, so a fit compiles a smaller program. Give the starting values with
    ``functools.partial(gmm_guide, init_values=...)``, e.g. :func:`vibook.mixtures.gmm_init_values`.

    Parameters
    ----------
    x, n_components, n, dim, covariance, subsample_size
        As in :func:`gmm`; the prior's hyperparameters are taken and ignored.
    init_values : dict of str to array
        Starting means of ``weights``, ``locs``, ``scales`` (and ``corr_chol`` for full
        covariances; the identity if missing), in the model's shapes.
    init_scale : float
        Starting sd of every unconstrained coordinate (small: the fit starts at ``init_values``).
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
