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
gives its exact joint posterior: the yardstick for NUTS and full-rank SVI. With ``tau`` unknown,
``theta`` and ``mu`` still integrate out in closed form, leaving the one-dimensional posterior of
``tau`` that :func:`eight_schools_tau_posterior` computes on a grid, under any of the priors
:data:`TAU_PRIORS` (Gelman et al. 2013, section 5.4). The per-school sites each have their own
latent ``theta_j``, so they are not minibatched: a subsample of schools would leave the others'
effects without a likelihood.

References
----------
Rubin (1981), "Estimation in parallel randomized experiments", Journal of Educational Statistics
6(4), 377-401.
Gelman, Carlin, Stern, Dunson, Vehtari and Rubin (2013), *Bayesian Data Analysis*, 3rd ed.,
sections 5.4-5.5.
Gelman (2006), "Prior distributions for variance parameters in hierarchical models", Bayesian
Analysis 1(3), 515-534.
Betancourt and Girolami (2015), "Hamiltonian Monte Carlo for hierarchical models", in *Current
Trends in Bayesian Methodology with Applications*.
"""

from __future__ import annotations

import numpy as np
import numpyro
import numpyro.distributions as dist
from scipy import stats
from scipy.integrate import cumulative_trapezoid, trapezoid

from vibook._checks import check_array, check_choice, check_positive, check_real, is_tracer

__all__ = [
    "EIGHT_SCHOOLS",
    "TAU_PRIORS",
    "eight_schools_centred",
    "eight_schools_noncentred",
    "eight_schools_tau_posterior",
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


#: The priors on the population scale ``tau`` that the eight-schools models and
#: :func:`eight_schools_tau_posterior` offer: ``HalfCauchy(s)``, ``HalfNormal(s)`` and
#: ``Uniform(0, s)``, each with scale ``s = tau_scale`` (Gelman 2006 compares them).
TAU_PRIORS = ("half_cauchy", "half_normal", "uniform")


def _tau_prior(tau_prior, tau_scale):
    """The checked prior of ``tau``, as a NumPyro distribution."""
    tau_prior = check_choice(tau_prior, "tau_prior", TAU_PRIORS)
    tau_scale = tau_scale if is_tracer(tau_scale) else check_positive(tau_scale, "tau_scale")
    if tau_prior == "half_cauchy":
        return dist.HalfCauchy(tau_scale)
    if tau_prior == "half_normal":
        return dist.HalfNormal(tau_scale)
    return dist.Uniform(0.0, tau_scale)


def eight_schools_centred(
    y=None,
    *,
    sigma,
    mu_loc: float = 0.0,
    mu_scale: float = 5.0,
    tau_scale: float = 5.0,
    tau_prior: str = "half_cauchy",
):
    r"""Eight schools in the centred parameterisation: the group effects are sampled directly.

    .. math::
        \mu \sim \mathcal{N}(\mu_0, s_0^2), \quad \tau \sim \mathrm{HalfCauchy}(s_\tau), \quad
        \theta_j \sim \mathcal{N}(\mu, \tau^2), \quad
        y_j \mid \theta_j \sim \mathcal{N}(\theta_j, \sigma_j^2), \quad j = 1, \dots, J

    ``tau_prior`` swaps the half-Cauchy for a half-normal or a uniform prior on ``tau``.

    Parameters
    ----------
    y : array of shape (n_groups,), optional
        Observed effects; ``None`` draws them from the prior predictive.
    sigma : array of shape (n_groups,)
        Known standard errors of the observations (> 0).
    mu_loc, mu_scale : float
        Normal prior on the population mean ``mu``.
    tau_scale : float
        Scale ``s_tau`` of the prior on the population scale ``tau``.
    tau_prior : {"half_cauchy", "half_normal", "uniform"}
        The prior's family (:data:`TAU_PRIORS`): ``HalfCauchy(s_tau)`` (the default, as in
        Gelman 2006), ``HalfNormal(s_tau)`` or ``Uniform(0, s_tau)``. The site is ``tau`` in each.

    Examples
    --------
    >>> import jax
    >>> from vibook import run_nuts
    >>> idata = run_nuts(jax.random.key(0), eight_schools_centred, EIGHT_SCHOOLS["y"],
    ...                  sigma=EIGHT_SCHOOLS["sigma"])  # doctest: +SKIP
    """
    y, sigma = _check_schools(y, sigma)
    mu_loc, mu_scale = _check_prior(mu_loc, mu_scale)
    tau_dist = _tau_prior(tau_prior, tau_scale)
    mu = numpyro.sample("mu", dist.Normal(mu_loc, mu_scale))
    tau = numpyro.sample("tau", tau_dist)
    with numpyro.plate("school", sigma.shape[0]):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def eight_schools_noncentred(
    y=None,
    *,
    sigma,
    mu_loc: float = 0.0,
    mu_scale: float = 5.0,
    tau_scale: float = 5.0,
    tau_prior: str = "half_cauchy",
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
    y, sigma, mu_loc, mu_scale, tau_scale, tau_prior
        As in :func:`eight_schools_centred`.
    """
    y, sigma = _check_schools(y, sigma)
    mu_loc, mu_scale = _check_prior(mu_loc, mu_scale)
    tau_dist = _tau_prior(tau_prior, tau_scale)
    mu = numpyro.sample("mu", dist.Normal(mu_loc, mu_scale))
    tau = numpyro.sample("tau", tau_dist)
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


def _tau_log_prior(tau, tau_prior, tau_scale):
    """The log prior density of tau on a grid (SciPy's; -inf outside the support)."""
    if tau_prior == "half_cauchy":
        return stats.halfcauchy.logpdf(tau, scale=tau_scale)
    if tau_prior == "half_normal":
        return stats.halfnorm.logpdf(tau, scale=tau_scale)
    return stats.uniform.logpdf(tau, loc=0.0, scale=tau_scale)


def _check_tau_grid(tau_grid):
    tau = check_array(tau_grid, "tau_grid", ndim=1).astype(np.float64)
    if tau.shape[0] < 3:
        raise ValueError(f"tau_grid must have at least 3 points; got {tau.shape[0]}")
    if tau[0] < 0:
        raise ValueError(f"tau_grid must start at tau >= 0 (a scale); got {tau[0]}")
    if np.any(np.diff(tau) <= 0):
        raise ValueError("tau_grid must be strictly increasing")
    return tau


def eight_schools_tau_posterior(
    y,
    *,
    sigma,
    tau_grid,
    tau_prior: str = "half_cauchy",
    tau_scale: float = 5.0,
    mu_loc: float = 0.0,
    mu_scale: float = 5.0,
) -> dict[str, np.ndarray | float]:
    r"""The exact marginal posterior of ``tau`` in :func:`eight_schools_centred`, on a grid.

    Every other unknown is Gaussian given ``tau``, so it can be integrated out exactly: what
    remains is one prior times one closed-form likelihood, a curve in one variable that a grid
    normalises. Integrating each ``theta_j`` out gives
    :math:`y_j \mid \mu, \tau \sim \mathcal{N}(\mu, v_j)` with :math:`v_j = \sigma_j^2 + \tau^2`;
    integrating :math:`\mu \sim \mathcal{N}(\mu_0, s_0^2)` out then gives

    .. math::
        P(\tau) = s_0^{-2} + \sum_j v_j^{-1}, \qquad
        \hat\mu(\tau) = P(\tau)^{-1} \Big(\mu_0 / s_0^2 + \sum_j y_j / v_j\Big),

        \log p(y \mid \tau) = -\tfrac12 \sum_j \log(2\pi v_j) - \tfrac12 \log(s_0^2 P)
        - \tfrac12 \Big(\sum_j y_j^2 / v_j + \mu_0^2 / s_0^2 - P \hat\mu^2\Big),

        p(\tau \mid y) = p(\tau)\, p(y \mid \tau) \Big/ \int_0^\infty p(t)\, p(y \mid t)\, dt,

    where :math:`\mu \mid \tau, y \sim \mathcal{N}(\hat\mu, P^{-1})` (Gelman et al. 2013,
    eq. 5.20-5.21 is the flat-prior case :math:`s_0 \to \infty`). This is the multivariate
    Normal density of ``y`` with covariance :math:`\mathrm{diag}(v) + s_0^2 \mathbf{1}
    \mathbf{1}^\top`, computed in log space. The normalising integral is the trapezoid rule on
    ``tau_grid``, so the grid must cover the posterior's mass: start at 0 (or where the mass
    below is negligible), reach far enough into the tail, and be fine where the density
    bends. A grid that visibly misses mass at either end (more than 1e-3 of it, estimated as
    ``density * tau`` at the end point) is refused. For the uniform prior put ``tau_scale``
    on the grid or end the grid there: the density jumps to 0 above it, and a jump between
    two grid points costs the trapezoid rule an error of up to ``density * spacing / 2``.

    Parameters
    ----------
    y, sigma : arrays of shape (n_groups,)
        Observed group estimates and their known standard errors (> 0).
    tau_grid : array of shape (n_grid,)
        Values of ``tau`` (>= 0, strictly increasing, at least 3) at which to evaluate.
    tau_prior : {"half_cauchy", "half_normal", "uniform"}
        The prior family on ``tau`` (:data:`TAU_PRIORS`), as in :func:`eight_schools_centred`.
    tau_scale : float
        Its scale: ``HalfCauchy(tau_scale)``, ``HalfNormal(tau_scale)`` or
        ``Uniform(0, tau_scale)``.
    mu_loc, mu_scale : float
        Normal prior on ``mu``.

    Returns
    -------
    dict
        ``tau`` (the grid), and on it, arrays of shape (n_grid,): ``prior`` and ``posterior``
        densities, ``cdf`` (the posterior's, by the trapezoid rule), ``log_likelihood``
        (``log p(y | tau)``), ``mu_mean`` and ``mu_sd`` (of ``mu | tau, y``). Floats:
        ``posterior_mean``, ``posterior_sd``, ``median`` of ``tau`` and ``log_evidence``
        (``log p(y)`` under this prior); ``interval_90``, an array of the 5% and 95%
        quantiles.

    Examples
    --------
    >>> import numpy as np
    >>> post = eight_schools_tau_posterior(
    ...     EIGHT_SCHOOLS["y"], sigma=EIGHT_SCHOOLS["sigma"], tau_grid=np.linspace(0, 100, 4001)
    ... )
    >>> round(post["posterior_mean"], 2)
    3.6

    References
    ----------
    Gelman, Carlin, Stern, Dunson, Vehtari and Rubin (2013), *Bayesian Data Analysis*, 3rd ed.,
    section 5.4 (the marginal posterior of the hyperparameters, eq. 5.20-5.21).
    """
    if y is None:
        raise TypeError("y must be an array of shape (n_groups,); got None")
    y, sigma = _check_schools(y, sigma)
    mu_loc, mu_scale = _check_prior(mu_loc, mu_scale)
    tau_prior = check_choice(tau_prior, "tau_prior", TAU_PRIORS)
    tau_scale = check_positive(tau_scale, "tau_scale")
    tau = _check_tau_grid(tau_grid)
    y, sigma = y.astype(np.float64), sigma.astype(np.float64)
    log_prior = _tau_log_prior(tau, tau_prior, tau_scale)
    if not np.any(np.isfinite(log_prior)):
        raise ValueError(f"tau_grid lies outside the prior's support [0, {tau_scale:g}]")

    v = sigma**2 + tau[:, None] ** 2  # (n_grid, n_groups): var of y_j given mu and tau
    prec = 1 / mu_scale**2 + np.sum(1 / v, axis=1)
    mu_mean = (mu_loc / mu_scale**2 + np.sum(y / v, axis=1)) / prec
    log_lik = -0.5 * (
        np.sum(np.log(2 * np.pi * v), axis=1)
        + np.log(mu_scale**2 * prec)
        + np.sum(y**2 / v, axis=1)
        + mu_loc**2 / mu_scale**2
        - prec * mu_mean**2
    )

    log_joint = log_prior + log_lik
    shift = np.max(log_joint)
    joint = np.exp(log_joint - shift)
    evidence = trapezoid(joint, tau)
    post = joint / evidence
    upper_open = tau_prior != "uniform" or tau[-1] < tau_scale
    for where, at in (("start", 0), ("end", -1)):
        missed = post[at] * tau[at] if where == "start" or upper_open else 0.0
        if missed > 1e-3:
            raise ValueError(
                f"tau_grid must cover the posterior's mass: about {missed:.2g} of it lies "
                f"beyond its {where} (tau = {tau[at]:g}); extend the grid"
            )
    cdf = cumulative_trapezoid(post, tau, initial=0.0)
    mean = trapezoid(tau * post, tau)
    rising = np.concatenate([[True], np.diff(cdf) > 0])  # cdf is flat where the density is 0
    q05, q50, q95 = np.interp([0.05, 0.5, 0.95], cdf[rising], tau[rising])
    return {
        "tau": tau,
        "prior": np.exp(log_prior),
        "posterior": post,
        "cdf": cdf,
        "log_likelihood": log_lik,
        "mu_mean": mu_mean,
        "mu_sd": 1 / np.sqrt(prec),
        "posterior_mean": float(mean),
        "posterior_sd": float(np.sqrt(trapezoid((tau - mean) ** 2 * post, tau))),
        "median": float(q50),
        "interval_90": np.array([q05, q95]),
        "log_evidence": float(np.log(evidence) + shift),
    }
