r"""Hierarchical normal models: eight schools, centred and non-centred, and an exact case.

Eight schools (Rubin 1981) is the classic small hierarchical model: each school's coaching effect
``theta_j`` is measured with a known standard error ``sigma_j``, and the effects are drawn from a
common population with mean ``mu`` and scale ``tau``. When ``tau`` is small the ``theta_j`` are
squeezed together, so the posterior is a funnel: wide at the top, a thin neck at the bottom. NUTS
with one step size cannot follow both; in the *centred* parameterisation it reports divergent
transitions and mixes badly in ``tau``. Writing ``theta_j = mu + tau * eta_j`` with
``eta_j ~ N(0, 1)`` (the *non-centred* form) removes the funnel from the geometry the sampler sees
(Papaspiliopoulos, Roberts and Skold 2007; Betancourt and Girolami 2015).

With ``tau`` known the model is Gaussian throughout, and :func:`hierarchical_normal_posterior`
gives its exact joint posterior: the yardstick for NUTS and full-rank SVI. The per-school sites
each have their own latent ``theta_j``, so they are not minibatched: a subsample of schools would
leave the others' effects without a likelihood.

References
----------
Rubin (1981), "Estimation in parallel randomized experiments", Journal of Educational Statistics
6(4), 377-401.
Gelman, Carlin, Stern, Dunson, Vehtari and Rubin (2013), *Bayesian Data Analysis*, 3rd ed.,
section 5.5.
Betancourt and Girolami (2015), "Hamiltonian Monte Carlo for hierarchical models", in *Current
Trends in Bayesian Methodology with Applications*.
"""

from __future__ import annotations

import numpy as np
import numpyro
import numpyro.distributions as dist

from vibook._checks import check_array, check_positive, check_real, is_tracer

__all__ = [
    "EIGHT_SCHOOLS",
    "eight_schools_centred",
    "eight_schools_noncentred",
    "hierarchical_normal",
    "hierarchical_normal_posterior",
]

#: The eight schools data (Rubin 1981; Gelman et al. 2013, table 5.2): estimated coaching
#: effects ``y`` on SAT-V scores and their standard errors ``sigma``, one per school.
EIGHT_SCHOOLS = {
    "school": ("A", "B", "C", "D", "E", "F", "G", "H"),
    "y": np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0]),
    "sigma": np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]),
}


def _check_schools(y, sigma):
    """Return (y, sigma) checked: sigma 1-D and > 0, y (if given) of the same shape."""
    if not is_tracer(sigma):
        sigma = check_array(sigma, "sigma", ndim=1)
        if np.any(sigma <= 0):
            raise ValueError(f"sigma must be > 0 (standard errors); got minimum {sigma.min()}")
    if y is not None and not is_tracer(y):
        y = check_array(y, "y", ndim=1)
        if y.shape != sigma.shape:
            raise ValueError(
                f"y must have the shape of sigma {sigma.shape} (one value per group); got {y.shape}"
            )
    return y, sigma


def _check_prior(mu_loc, mu_scale):
    mu_loc = mu_loc if is_tracer(mu_loc) else check_real(mu_loc, "mu_loc")
    mu_scale = mu_scale if is_tracer(mu_scale) else check_positive(mu_scale, "mu_scale")
    return mu_loc, mu_scale


def eight_schools_centred(
    y=None, *, sigma, mu_loc: float = 0.0, mu_scale: float = 5.0, tau_scale: float = 5.0
):
    r"""Eight schools in the centred parameterisation: the group effects are sampled directly.

    .. math::
        \mu \sim \mathcal{N}(\mu_0, s_0^2), \quad \tau \sim \mathrm{HalfCauchy}(s_\tau), \quad
        \theta_j \sim \mathcal{N}(\mu, \tau^2), \quad
        y_j \mid \theta_j \sim \mathcal{N}(\theta_j, \sigma_j^2), \quad j = 1, \dots, J

    Parameters
    ----------
    y : array of shape (n_groups,), optional
        Observed effects; ``None`` draws them from the prior predictive.
    sigma : array of shape (n_groups,)
        Known standard errors of the observations (> 0).
    mu_loc, mu_scale : float
        Normal prior on the population mean ``mu``.
    tau_scale : float
        Scale of the half-Cauchy prior on the population scale ``tau``.

    Examples
    --------
    >>> import jax
    >>> from vibook import run_nuts
    >>> idata = run_nuts(jax.random.key(0), eight_schools_centred, EIGHT_SCHOOLS["y"],
    ...                  sigma=EIGHT_SCHOOLS["sigma"])  # doctest: +SKIP
    """
    y, sigma = _check_schools(y, sigma)
    mu_loc, mu_scale = _check_prior(mu_loc, mu_scale)
    tau_scale = tau_scale if is_tracer(tau_scale) else check_positive(tau_scale, "tau_scale")
    mu = numpyro.sample("mu", dist.Normal(mu_loc, mu_scale))
    tau = numpyro.sample("tau", dist.HalfCauchy(tau_scale))
    with numpyro.plate("school", sigma.shape[0]):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def eight_schools_noncentred(
    y=None, *, sigma, mu_loc: float = 0.0, mu_scale: float = 5.0, tau_scale: float = 5.0
):
    r"""Eight schools in the non-centred parameterisation: standardised effects are sampled.

    The same model as :func:`eight_schools_centred`, but the sampler moves in the standardised
    effects ``eta_j``, whose prior does not depend on ``tau``; ``theta`` is a deterministic site,
    so both parameterisations report the same variables.

    .. math::
        \mu \sim \mathcal{N}(\mu_0, s_0^2), \quad \tau \sim \mathrm{HalfCauchy}(s_\tau), \quad
        \eta_j \sim \mathcal{N}(0, 1), \quad \theta_j = \mu + \tau \eta_j, \quad
        y_j \mid \theta_j \sim \mathcal{N}(\theta_j, \sigma_j^2)

    Parameters
    ----------
    y, sigma, mu_loc, mu_scale, tau_scale
        As in :func:`eight_schools_centred`.
    """
    y, sigma = _check_schools(y, sigma)
    mu_loc, mu_scale = _check_prior(mu_loc, mu_scale)
    tau_scale = tau_scale if is_tracer(tau_scale) else check_positive(tau_scale, "tau_scale")
    mu = numpyro.sample("mu", dist.Normal(mu_loc, mu_scale))
    tau = numpyro.sample("tau", dist.HalfCauchy(tau_scale))
    with numpyro.plate("school", sigma.shape[0]):
        eta = numpyro.sample("eta", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * eta)
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def hierarchical_normal(y=None, *, sigma, tau, mu_loc: float = 0.0, mu_scale: float = 5.0):
    r"""A hierarchical normal model whose group scale ``tau`` is known: Gaussian throughout.

    Fixing ``tau`` makes every conditional Normal and linear, so the joint posterior of
    ``(mu, theta)`` is multivariate Normal, given exactly by :func:`hierarchical_normal_posterior`.

    .. math::
        \mu \sim \mathcal{N}(\mu_0, s_0^2), \quad
        \theta_j \sim \mathcal{N}(\mu, \tau^2), \quad
        y_j \mid \theta_j \sim \mathcal{N}(\theta_j, \sigma_j^2), \quad j = 1, \dots, J

    Parameters
    ----------
    y, sigma, mu_loc, mu_scale
        As in :func:`eight_schools_centred` (``y`` holds the observed group estimates).
    tau : float
        Known scale of the group effects around ``mu`` (> 0).
    """
    y, sigma = _check_schools(y, sigma)
    mu_loc, mu_scale = _check_prior(mu_loc, mu_scale)
    tau = tau if is_tracer(tau) else check_positive(tau, "tau")
    mu = numpyro.sample("mu", dist.Normal(mu_loc, mu_scale))
    with numpyro.plate("school", sigma.shape[0]):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def hierarchical_normal_posterior(
    y, *, sigma, tau, mu_loc: float = 0.0, mu_scale: float = 5.0
) -> dist.MultivariateNormal:
    r"""The exact joint posterior of ``(mu, theta_1, ..., theta_J)`` in :func:`hierarchical_normal`.

    Prior and likelihood are Gaussian in ``z = (mu, theta)``, so the posterior precision is the
    prior's plus the likelihood's, and the posterior mean solves one linear system:

    .. math::
        \Lambda = \Lambda_0 + \mathrm{diag}(0, \sigma_1^{-2}, \dots, \sigma_J^{-2}), \quad
        \Lambda m = (\mu_0 / s_0^2, y_1 / \sigma_1^2, \dots, y_J / \sigma_J^2),

    where :math:`\Lambda_0` is the precision of the prior
    :math:`\mu \sim \mathcal{N}(\mu_0, s_0^2)`, :math:`\theta_j \mid \mu \sim \mathcal{N}(\mu,
    \tau^2)`. The marginal of ``mu`` is the textbook one (Gelman et al. 2013, eq. 5.20 with a
    proper prior): precision :math:`s_0^{-2} + \sum_j (\sigma_j^2 + \tau^2)^{-1}`.

    Parameters
    ----------
    y, sigma : arrays of shape (n_groups,)
        Observed group estimates and their known standard errors (> 0).
    tau : float
        Known group scale (> 0).
    mu_loc, mu_scale : float
        Normal prior on ``mu``.

    Returns
    -------
    numpyro.distributions.MultivariateNormal
        Over the vector ``(mu, theta_1, ..., theta_J)`` of length ``n_groups + 1``.
    """
    if y is None:
        raise TypeError("y must be an array of shape (n_groups,); got None")
    y, sigma = _check_schools(y, sigma)
    mu_loc, mu_scale = _check_prior(mu_loc, mu_scale)
    tau = check_positive(tau, "tau")
    n = y.shape[0]
    # Prior precision of (mu, theta): from -log p = (mu - m0)^2 / 2 s0^2
    # + sum_j (theta_j - mu)^2 / 2 tau^2.
    prec = np.zeros((n + 1, n + 1))
    prec[0, 0] = 1 / mu_scale**2 + n / tau**2
    prec[0, 1:] = prec[1:, 0] = -1 / tau**2
    prec[1:, 1:] = np.diag(np.full(n, 1 / tau**2) + 1 / sigma**2)
    rhs = np.concatenate([[mu_loc / mu_scale**2], y / sigma**2])
    cov = np.linalg.inv(prec)
    cov = (cov + cov.T) / 2
    return dist.MultivariateNormal(loc=cov @ rhs, covariance_matrix=cov)
