"""Conjugate toy models, each with its exact posterior and log evidence.

Conjugacy keeps the posterior in the prior's family, so inference's answer is known in closed form:
these models are the yardstick for checking SVI and NUTS posteriors (and ELBOs).

References
----------
Gelman, Carlin, Stern, Dunson, Vehtari and Rubin (2013), *Bayesian Data Analysis*, 3rd ed.,
chapters 2.4 (Beta-Binomial) and 2.5 (Normal with known variance).
"""

from __future__ import annotations

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import betaln, gammaln

from vibook._checks import (
    check_array,
    check_positive,
    check_positive_int,
    check_real,
    check_subsample,
    is_tracer,
)

__all__ = [
    "beta_binomial",
    "beta_binomial_log_evidence",
    "beta_binomial_posterior",
    "coin_grid_posterior",
    "logit_normal_coin",
    "normal_normal",
    "normal_normal_log_evidence",
    "normal_normal_posterior",
]


def _check_heads(heads, flips, *, required: bool = False):
    flips = check_positive_int(flips, "flips", minimum=0)
    if heads is None and required:
        raise TypeError(f"heads must be a whole number between 0 and flips ({flips}); got None")
    if heads is None or is_tracer(heads):
        return heads, flips
    h = check_array(heads, "heads", ndim=0, integer=True, nonnegative=True)
    if h > flips:
        raise ValueError(f"heads must be <= flips ({flips}); got {int(h)}")
    return h, flips


def beta_binomial(heads=None, *, flips: int, a: float = 1.0, b: float = 1.0):
    r"""Coin with unknown bias ``theta`` and a Beta prior, observed as ``heads`` of ``flips``.

    .. math::
        \theta \sim \mathrm{Beta}(a, b), \qquad
        \text{heads} \mid \theta \sim \mathrm{Binomial}(\text{flips}, \theta)

    Parameters
    ----------
    heads : int, optional
        Observed number of heads; ``None`` draws it from the prior predictive.
    flips : int
        Number of flips (>= 0).
    a, b : float
        Beta prior parameters (> 0): "pseudo-counts" of ``a - 1`` heads and ``b - 1`` tails.
    """
    heads, flips = _check_heads(heads, flips)
    a = a if is_tracer(a) else check_positive(a, "a")
    b = b if is_tracer(b) else check_positive(b, "b")
    theta = numpyro.sample("theta", dist.Beta(a, b))
    numpyro.sample("heads", dist.Binomial(flips, theta), obs=heads)


def beta_binomial_posterior(heads, *, flips: int, a: float = 1.0, b: float = 1.0) -> dist.Beta:
    """The exact posterior of :func:`beta_binomial`: ``Beta(a + heads, b + flips - heads)``."""
    heads, flips = _check_heads(heads, flips, required=True)
    a, b = check_positive(a, "a"), check_positive(b, "b")
    return dist.Beta(a + heads, b + flips - heads)


def beta_binomial_log_evidence(heads, *, flips: int, a: float = 1.0, b: float = 1.0) -> float:
    r"""Exact log marginal likelihood of :func:`beta_binomial`.

    .. math::
        \log p(h) = \log\binom{n}{h} + \log B(a + h, b + n - h) - \log B(a, b)
    """
    heads, flips = _check_heads(heads, flips, required=True)
    a, b = check_positive(a, "a"), check_positive(b, "b")
    h, n = float(heads), float(flips)
    log_choose = gammaln(n + 1) - gammaln(h + 1) - gammaln(n - h + 1)
    return float(log_choose + betaln(a + h, b + n - h) - betaln(a, b))


def logit_normal_coin(heads=None, *, flips: int, loc: float = 0.0, scale: float = 1.5):
    r"""Coin whose bias has a Normal prior on the log-odds: a prior with no conjugate partner.

    .. math::
        z \sim \mathcal{N}(\mathrm{loc}, \mathrm{scale}^2), \quad \theta = \sigma(z), \quad
        \text{heads} \mid \theta \sim \mathrm{Binomial}(\text{flips}, \theta)

    No closed-form posterior; NUTS and SVI are checked against :func:`coin_grid_posterior`.
    """
    heads, flips = _check_heads(heads, flips)
    loc = loc if is_tracer(loc) else check_real(loc, "loc")
    scale = scale if is_tracer(scale) else check_positive(scale, "scale")
    z = numpyro.sample("z", dist.Normal(loc, scale))
    theta = numpyro.deterministic("theta", jax.nn.sigmoid(z))
    numpyro.sample("heads", dist.Binomial(flips, probs=theta), obs=heads)


def coin_grid_posterior(
    heads,
    *,
    flips: int,
    prior: str = "beta",
    a: float = 1.0,
    b: float = 1.0,
    loc: float = 0.0,
    scale: float = 1.5,
    grid_size: int = 801,
) -> dict[str, np.ndarray | float]:
    """Prior, likelihood and posterior of a coin's bias on a grid, with the log evidence.

    Bayes' theorem by brute force: prior times likelihood at many values of ``theta``, normalised by
    the sum (a Riemann estimate of the evidence); it works for any 1-D prior.

    Parameters
    ----------
    heads, flips : int
        Observed heads and number of flips.
    prior : {"beta", "logit-normal"}
        ``Beta(a, b)`` on ``theta``, or ``Normal(loc, scale)`` on ``logit(theta)``.
    a, b, loc, scale : float
        ``a, b`` for ``prior="beta"``, ``loc, scale`` for ``prior="logit-normal"``.
    grid_size : int
        Number of grid points in (0, 1) (midpoints of equal cells).

    Returns
    -------
    dict
        ``theta`` (grid, array of shape (grid_size,)), ``prior``, ``likelihood`` and
        ``posterior`` densities on it (``likelihood`` is rescaled to integrate to 1 over theta,
        for plotting), ``log_evidence``, ``posterior_mean`` and ``posterior_sd``.
    """
    heads, flips = _check_heads(heads, flips, required=True)
    grid_size = check_positive_int(grid_size, "grid_size", minimum=10)
    theta = (np.arange(grid_size) + 0.5) / grid_size
    width = 1.0 / grid_size
    if prior == "beta":
        beta = dist.Beta(check_positive(a, "a"), check_positive(b, "b"))
        log_prior = np.asarray(beta.log_prob(theta))
    elif prior == "logit-normal":
        z = np.log(theta) - np.log1p(-theta)
        normal = dist.Normal(check_real(loc, "loc"), check_positive(scale, "scale"))
        # Change of variables: p(theta) = N(logit theta) * |d logit / d theta|.
        log_prior = np.asarray(normal.log_prob(z)) - np.log(theta) - np.log1p(-theta)
    else:
        raise ValueError(f"prior must be 'beta' or 'logit-normal'; got {prior!r}")
    log_lik = np.asarray(dist.Binomial(flips, probs=theta).log_prob(float(heads)))
    log_joint = log_prior + log_lik
    shift = log_joint.max()
    evidence_scaled = np.sum(np.exp(log_joint - shift)) * width
    posterior = np.exp(log_joint - shift) / evidence_scaled
    lik = np.exp(log_lik - log_lik.max())
    mean = np.sum(theta * posterior) * width
    sd = np.sqrt(np.sum((theta - mean) ** 2 * posterior) * width)
    return {
        "theta": theta,
        "prior": np.exp(log_prior),
        "likelihood": lik / (np.sum(lik) * width),
        "posterior": posterior,
        "log_evidence": float(np.log(evidence_scaled) + shift),
        "posterior_mean": float(mean),
        "posterior_sd": float(sd),
    }


def _check_normal_args(prior_loc, prior_scale, noise_scale):
    return (
        check_real(prior_loc, "prior_loc"),
        check_positive(prior_scale, "prior_scale"),
        check_positive(noise_scale, "noise_scale"),
    )


def normal_normal(
    x=None,
    *,
    n: int | None = None,
    prior_loc: float = 0.0,
    prior_scale: float = 1.0,
    noise_scale: float = 1.0,
    subsample_size: int | None = None,
):
    r"""Unknown mean ``mu`` of Normal data with known noise scale, and a Normal prior.

    .. math::
        \mu \sim \mathcal{N}(m_0, s_0^2), \qquad
        x_i \mid \mu \sim \mathcal{N}(\mu, \sigma^2), \quad i = 1, \dots, n

    Parameters
    ----------
    x : array of shape (n,), optional
        Observations; ``None`` draws ``n`` of them from the prior predictive.
    n : int, optional
        Number of observations when ``x`` is None.
    prior_loc, prior_scale, noise_scale : float
        Prior mean and sd of ``mu``, and the known sd of each observation.
    subsample_size : int, optional
        Minibatch size: each evaluation uses this many random observations, their
        log-likelihood scaled by ``n / subsample_size`` (an unbiased estimate of the sum).
    """
    if x is None:
        if n is None:
            raise ValueError("give x (the data) or n (how many points to draw)")
        n = check_positive_int(n, "n")
    else:
        checked = check_array(x, "x", ndim=1)
        x = x if isinstance(x, jax.Array) else checked  # device data stays on its device
        if n is not None and n != x.shape[0]:
            raise ValueError(f"n must equal len(x) ({x.shape[0]}) when both are given; got {n}")
        n = x.shape[0]
    if not any(is_tracer(v) for v in (prior_loc, prior_scale, noise_scale)):
        prior_loc, prior_scale, noise_scale = _check_normal_args(
            prior_loc, prior_scale, noise_scale
        )
    subsample_size = check_subsample(subsample_size, n)
    mu = numpyro.sample("mu", dist.Normal(prior_loc, prior_scale))
    with numpyro.plate("obs", n, subsample_size=subsample_size):
        xb = None if x is None else numpyro.subsample(x, event_dim=0)
        numpyro.sample("x", dist.Normal(mu, noise_scale), obs=xb)


def normal_normal_posterior(
    x, *, prior_loc: float = 0.0, prior_scale: float = 1.0, noise_scale: float = 1.0
) -> dist.Normal:
    r"""The exact posterior of :func:`normal_normal`: precisions add, means average.

    .. math::
        \mu \mid x \sim \mathcal{N}\!\left(
        \frac{m_0 / s_0^2 + \sum_i x_i / \sigma^2}{1/s_0^2 + n/\sigma^2},\;
        \frac{1}{1/s_0^2 + n/\sigma^2}\right)
    """
    x = check_array(x, "x", ndim=1)
    m0, s0, sigma = _check_normal_args(prior_loc, prior_scale, noise_scale)
    precision = 1.0 / s0**2 + x.shape[0] / sigma**2
    mean = (m0 / s0**2 + x.sum() / sigma**2) / precision
    return dist.Normal(float(mean), float(np.sqrt(1.0 / precision)))


def normal_normal_log_evidence(
    x, *, prior_loc: float = 0.0, prior_scale: float = 1.0, noise_scale: float = 1.0
) -> float:
    r"""Exact log marginal likelihood of :func:`normal_normal`.

    Marginally ``x ~ N(m_0 1, sigma^2 I + s_0^2 1 1^T)``, evaluated in O(n) by the matrix
    determinant lemma and the Sherman-Morrison formula.
    """
    x = check_array(x, "x", ndim=1).astype(np.float64)
    m0, s0, sigma = _check_normal_args(prior_loc, prior_scale, noise_scale)
    n = x.shape[0]
    r = x - m0
    s2, t2 = sigma**2, s0**2
    logdet = (n - 1) * np.log(s2) + np.log(s2 + n * t2)
    quad = (r @ r) / s2 - t2 * r.sum() ** 2 / (s2 * (s2 + n * t2))
    return float(-0.5 * (n * np.log(2 * np.pi) + logdet + quad))
