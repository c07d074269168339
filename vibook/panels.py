"""Panels: what each widget shows, computed by pure functions that import without ipywidgets.

A :mod:`vibook.widgets` widget draws what one of these returns, so each is tested without a browser.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm
from sklearn.mixture import BayesianGaussianMixture
from threadpoolctl import threadpool_limits

from vibook._checks import (
    check_array,
    check_choice,
    check_panel,
    check_positive,
    check_positive_int,
    check_real,
    check_seed,
)
from vibook.models.bnn import bnn_apply, check_activation, prior_function_draws, prior_sds
from vibook.models.conjugate import normal_normal_log_evidence, normal_normal_posterior
from vibook.models.hierarchical import EIGHT_SCHOOLS, TAU_PRIORS, eight_schools_tau_posterior

__all__ = [
    "BIMODAL",
    "bnn_prior_panel",
    "bnn_prior_readout",
    "coin_readout",
    "elbo_panel",
    "elbo_readout",
    "fit_gaussian_kl",
    "kl_panel",
    "mixture_occupancy",
    "tau_prior_panel",
    "tau_prior_readout",
]


def coin_readout(panel: dict) -> str:
    """The text the coin widget shows for a panel from :func:`coin_grid_posterior`."""
    panel = check_panel(panel, "panel", ("posterior_mean", "posterior_sd", "log_evidence"))
    return (
        f"posterior mean = {panel['posterior_mean']:.3f}, "
        f"posterior sd = {panel['posterior_sd']:.3f}, "
        f"log evidence = {panel['log_evidence']:.3f}"
    )


# Networks up to this width are drawn padded to it: one compiled program serves every width.
_PADDED_WIDTH = 200


@functools.lru_cache(maxsize=4)
def _flat_normals(seed: int, size: int) -> tuple[np.ndarray, ...]:
    """``size`` standard Normals for each of a one-hidden-layer network's four weight sites.

    With JAX's partitionable threefry (the default) a draw's value depends only on its key and
    flat index, so the first ``n`` of these are what ``jax.random.normal`` draws for any shape of
    ``n`` elements: what :func:`~vibook.models.bnn.prior_function_draws` draws, bit for bit.
    """
    keys = jax.random.split(jax.random.key(seed), 4)  # w0, b0, w1, b1, as prior_sds orders them
    return tuple(np.asarray(jax.random.normal(k, (size,))) for k in keys)


def _padded_prior_draws(seed, x, *, num_draws, width, activation, prior_scale):
    """:func:`prior_function_draws` for one hidden layer, computed at the padded width.

    The units past ``width`` get output weight 0, so they add nothing; the program's shapes are
    the same for every width up to :data:`_PADDED_WIDTH`, so none is compiled twice.
    """
    pad = max(width, _PADDED_WIDTH)
    normals = _flat_normals(seed, num_draws * pad)
    padded = {"w0": (1, pad), "b0": (pad,), "w1": (pad, 1), "b1": (1,)}
    weights = {}
    for z, (name, (shape, sd)) in zip(
        normals, prior_sds(1, (width,), 1, prior_scale).items(), strict=True
    ):
        drawn = np.float32(sd) * z[: num_draws * int(np.prod(shape))].reshape(num_draws, *shape)
        weights[name] = np.zeros((num_draws, *padded[name]), np.float32)
        weights[name][(slice(None), *map(slice, shape))] = drawn  # the first units; 0 past them
    return bnn_apply(weights, x, activation=activation)[..., 0]


def bnn_prior_panel(
    *,
    prior_scale: float = 1.0,
    width: int = 50,
    activation: str = "tanh",
    num_draws: int = 20,
    seed: int = 0,
) -> dict:
    """What the BNN prior explorer draws: prior function draws and two summaries of them.

    The draws are those of :func:`vibook.models.bnn.prior_function_draws` with
    ``jax.random.key(seed)``; a network up to 200 units wide is computed padded to 200 units
    (the extra ones weigh nothing), so a new width costs no compilation.

    Parameters
    ----------
    prior_scale : float
        ``s`` in :func:`vibook.models.bnn.bnn` (same for both layers).
    width, num_draws : int
        Hidden units (one hidden layer) and number of functions drawn.
    activation : str
        Hidden nonlinearity, a key of :data:`vibook.models.bnn.ACTIVATIONS`.
    seed : int
        Seed of the draws (the same seed shows the same weights, rescaled).

    Returns
    -------
    dict
        ``x`` (200,) grid on [-3, 3], ``draws`` (num_draws, 200), ``sd`` (the prior sd of
        f, averaged over the grid) and ``roughness`` (mean absolute slope of the draws).
    """
    x = np.linspace(-3.0, 3.0, 200, dtype=np.float32)
    kw = {
        "num_draws": check_positive_int(num_draws, "num_draws"),
        "activation": check_activation(activation),
        "prior_scale": check_positive(prior_scale, "prior_scale"),
    }
    seed, width = check_seed(seed), check_positive_int(width, "width")
    if jax.config.jax_threefry_partitionable:
        draws = _padded_prior_draws(seed, x[:, None], width=width, **kw)
    else:  # draws depend on their shape: draw at this width
        draws = prior_function_draws(jax.random.key(seed), x[:, None], hidden=(width,), **kw)
    draws = np.asarray(draws)
    slope = np.abs(np.diff(draws, axis=1)) / (x[1] - x[0])
    return {
        "x": x,
        "draws": draws,
        "sd": float(draws.std(0).mean()),
        "roughness": float(slope.mean()),
    }


def bnn_prior_readout(panel: dict) -> str:
    """The text the BNN prior explorer shows for a panel from :func:`bnn_prior_panel`."""
    panel = check_panel(panel, "panel", ("sd", "roughness"))
    return f"prior sd of f(x) = {panel['sd']:.2f}, mean |slope| = {panel['roughness']:.2f}"


def mixture_occupancy(
    x, *, n_components: int, concentration: float, seed: int = 0, threshold: float = 0.01
) -> dict:
    """Fit a Gaussian mixture by variational Bayes and count the clusters it keeps.

    The mean-field algorithm of Bishop (2006, section 10.2), as scikit-learn's
    ``BayesianGaussianMixture`` with a Dirichlet prior on the weights: with a small concentration
    the posterior prefers few clusters, and surplus ones are emptied (Bishop's Fig. 10.6).

    Parameters
    ----------
    x, n_components : array of shape (n, d), int
        Data (standardised) and number of clusters offered.
    concentration : float
        Dirichlet concentration of the weights (> 0).
    seed : int
        Seed of the k-means initialisation.
    threshold : float
        A cluster counts as used when its weight is at least this.

    Returns
    -------
    dict
        ``weights`` (K,), ``locs`` (K, d), ``covariances`` (K, d, d), ``labels`` (n,) the most
        probable cluster of each point, and ``n_used`` the number of clusters used.
    """
    x = check_array(x, "x", ndim=2)
    k = check_positive_int(n_components, "n_components")
    concentration = check_positive(concentration, "concentration")
    seed, threshold = check_seed(seed), check_positive(threshold, "threshold")
    if threshold > 1:
        raise ValueError(f"threshold must be a weight in (0, 1]; got {threshold}")
    vb = BayesianGaussianMixture(
        n_components=k,
        weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=concentration,
        covariance_type="full",
        max_iter=500,
        random_state=seed,
    )
    # One thread: on small matrices, BLAS and OpenMP threads competing with a busy CPU turn a
    # 50 ms fit into a second.
    with threadpool_limits(limits=1):
        vb.fit(x)
    return {
        "weights": vb.weights_,
        "locs": vb.means_,
        "covariances": vb.covariances_,
        "labels": vb.predict(x),
        "n_used": int(sum(vb.weights_ >= threshold)),
    }


BIMODAL = {"weights": (0.5, 0.5), "locs": (-2.0, 2.0), "scales": (0.6, 0.6)}


def _check_target(target) -> dict:
    """A 1-D mixture target: :data:`BIMODAL` for None, else checked weights, locs, scales."""
    if target is None:
        return {k: np.asarray(v) for k, v in BIMODAL.items()}
    t = check_panel(target, "target", ("weights", "locs", "scales"))
    if len({t[k].shape for k in BIMODAL}) > 1 or t["weights"].ndim != 1:
        raise ValueError("target's weights, locs and scales must be 1-D and of one length")
    if np.any(t["weights"] < 0) or not np.isclose(t["weights"].sum(), 1.0):
        raise ValueError(f"target['weights'] must be >= 0 and sum to 1; got {t['weights']}")
    if np.any(t["scales"] <= 0):
        raise ValueError(f"target['scales'] must be > 0; got {t['scales']}")
    return t


def _mixture_pdf(z, weights, locs, scales):
    return sum(
        wk * norm.pdf(z, m, s) for wk, m, s in zip(weights, locs, scales, strict=True)
    ) + np.zeros_like(z)


def kl_panel(q_loc: float, q_scale: float, *, target: dict | None = None, grid_size=4001):
    """Both KL divergences between a Gaussian ``q`` and a 1-D mixture target ``p``, on a grid.

    ``KL(q || p) = E_q[log q - log p]`` (reverse: what VI minimises) punishes q for putting mass
    where p has little; ``KL(p || q)`` (forward) punishes q for missing mass p has.

    Parameters
    ----------
    q_loc, q_scale : float
        Mean and sd of ``q``.
    target : dict, optional
        ``weights``, ``locs``, ``scales`` of the target mixture; :data:`BIMODAL` by default.
    grid_size : int
        Number of grid points for the quadrature.

    Returns
    -------
    dict
        ``grid``, ``p`` and ``q`` densities on it, ``kl_qp`` (reverse), ``kl_pq`` (forward) in nats.
    """
    q_loc, q_scale = check_real(q_loc, "q_loc"), check_positive(q_scale, "q_scale")
    t, grid_size = _check_target(target), check_positive_int(grid_size, "grid_size", minimum=3)
    lo = min(min(t["locs"]) - 8 * max(t["scales"]), q_loc - 8 * q_scale)
    hi = max(max(t["locs"]) + 8 * max(t["scales"]), q_loc + 8 * q_scale)
    z = np.linspace(lo, hi, grid_size)
    dz = z[1] - z[0]
    p = _mixture_pdf(z, t["weights"], t["locs"], t["scales"])
    logp = np.log(np.maximum(p, 1e-300))
    q = norm.pdf(z, q_loc, q_scale)
    logq = norm.logpdf(z, q_loc, q_scale)
    return {
        "grid": z,
        "p": p,
        "q": q,
        "kl_qp": float(np.sum(q * (logq - logp)) * dz),
        "kl_pq": float(np.sum(p * (logp - logq)) * dz),
    }


def fit_gaussian_kl(direction: str, *, target: dict | None = None, init=(1.0, 1.0)):
    """``(loc, scale)`` of the Gaussian ``q`` closest to a mixture target in forward or reverse KL.

    ``"forward"`` (``KL(p || q)``) is moment matching, in closed form: q takes p's mean and variance
    and covers both modes. ``"reverse"`` (``KL(q || p)``) is minimised numerically from ``init``
    (mean, sd) and locks onto one mode.
    """
    t = _check_target(target)
    wts, locs, scales = (t[k].astype(float) for k in ("weights", "locs", "scales"))
    init = check_array(init, "init", ndim=1)
    if init.shape != (2,) or init[1] <= 0:
        raise ValueError(f"init must be (mean, sd) with sd > 0; got {init}")
    if direction == "forward":
        mean = float(np.sum(wts * locs))
        var = float(np.sum(wts * (scales**2 + locs**2)) - mean**2)
        return mean, float(np.sqrt(var))
    if direction != "reverse":
        raise ValueError(f"direction must be 'forward' or 'reverse'; got {direction!r}")
    res = minimize(
        lambda v: kl_panel(v[0], float(np.exp(v[1])), target=t, grid_size=2001)["kl_qp"],
        x0=[init[0], np.log(init[1])],
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-9},
    )
    return float(res.x[0]), float(np.exp(res.x[1]))


def elbo_panel(x, q_loc: float, q_scale: float, *, prior_loc=0.0, prior_scale=1.0, noise_scale=1.0):
    r"""ELBO, log evidence and KL for a Gaussian ``q`` on the Normal-Normal model, exactly.

    For :func:`vibook.models.normal_normal` every term is in closed form, so the identity
    ``log p(x) = ELBO(q) + KL(q || p(mu | x))`` holds to rounding error:

    .. math::
        \mathrm{ELBO}(q) = E_q[\log p(x \mid \mu)] + E_q[\log p(\mu)] + H[q]

    Returns
    -------
    dict
        ``elbo``, ``log_evidence``, ``kl`` (``KL(q || posterior)``), ``post_loc``,
        ``post_scale``, and ``grid``, ``posterior``, ``q`` densities for plotting.
    """
    m, s = check_real(q_loc, "q_loc"), check_positive(q_scale, "q_scale")
    kw = {"prior_loc": prior_loc, "prior_scale": prior_scale, "noise_scale": noise_scale}
    post = normal_normal_posterior(x, **kw)
    log_ev = normal_normal_log_evidence(x, **kw)
    x = np.asarray(x, dtype=float)
    n, sig2, s02 = x.shape[0], noise_scale**2, prior_scale**2
    e_lik = -0.5 * n * np.log(2 * np.pi * sig2) - (np.sum((x - m) ** 2) + n * s**2) / (2 * sig2)
    e_prior = -0.5 * np.log(2 * np.pi * s02) - ((m - prior_loc) ** 2 + s**2) / (2 * s02)
    entropy = 0.5 * np.log(2 * np.pi * np.e * s**2)
    pm, ps = float(post.loc), float(post.scale)
    kl = np.log(ps / s) + (s**2 + (m - pm) ** 2) / (2 * ps**2) - 0.5
    grid = np.linspace(min(pm - 5 * ps, m - 4 * s), max(pm + 5 * ps, m + 4 * s), 400)
    return {
        "elbo": float(e_lik + e_prior + entropy),
        "log_evidence": float(log_ev),
        "kl": float(kl),
        "post_loc": pm,
        "post_scale": ps,
        "grid": grid,
        "posterior": norm.pdf(grid, pm, ps),
        "q": norm.pdf(grid, m, s),
    }


def elbo_readout(panel: dict) -> str:
    """The text the ELBO widget shows for a panel from :func:`elbo_panel`."""
    panel = check_panel(panel, "panel", ("elbo", "kl", "log_evidence"))
    return (
        f"ELBO = {panel['elbo']:.4f}, KL(q || posterior) = {panel['kl']:.4f}, "
        f"ELBO + KL = {panel['elbo'] + panel['kl']:.4f} = log p(x) = {panel['log_evidence']:.4f}"
    )


def tau_prior_panel(
    *,
    tau_prior: str = "half_cauchy",
    tau_scale: float = 5.0,
    threshold: float = 5.0,
    grid_size: int = 4001,
) -> dict:
    """What the eight-schools tau explorer draws: the prior of ``tau`` and its exact posterior.

    The posterior is :func:`vibook.models.hierarchical.eight_schools_tau_posterior` on the eight
    schools data (``mu ~ Normal(0, 5)``, as in the models' defaults), on an evenly spaced grid
    from 0 to where the mass ends: ``tau_scale`` for the uniform prior (the grid ends at the
    jump), ``min(150, 8 * tau_scale)`` for the half-normal and 150 for the half-Cauchy, whose
    posterior tail falls like ``tau**-10`` (the mass above 150 is below 1e-8). With 4001 points
    the posterior mean and 90% interval are within 3e-4 of a 200001-point grid for every scale
    the widget offers (0.32 to 100).

    Parameters
    ----------
    tau_prior : {"half_cauchy", "half_normal", "uniform"}
        The prior family of ``tau`` (:data:`vibook.models.hierarchical.TAU_PRIORS`).
    tau_scale : float
        Its scale (> 0).
    threshold : float
        The value ``c`` of ``P(tau < c | y)`` (> 0).
    grid_size : int
        Number of grid points (>= 3).

    Returns
    -------
    dict
        Everything :func:`~vibook.models.hierarchical.eight_schools_tau_posterior` returns
        (``tau``, ``prior``, ``posterior``, ``cdf``, ``posterior_mean``, ``interval_90``, ...),
        with ``tau_prior``, ``tau_scale``, ``threshold`` and ``p_below``, the posterior
        probability that ``tau < threshold``.
    """
    tau_prior = check_choice(tau_prior, "tau_prior", TAU_PRIORS)
    tau_scale = check_positive(tau_scale, "tau_scale")
    threshold = check_positive(threshold, "threshold")
    grid_size = check_positive_int(grid_size, "grid_size", minimum=3)
    upper = {"uniform": tau_scale, "half_normal": min(150.0, 8 * tau_scale)}.get(tau_prior, 150.0)
    panel = eight_schools_tau_posterior(
        EIGHT_SCHOOLS["y"],
        sigma=EIGHT_SCHOOLS["sigma"],
        tau_grid=np.linspace(0.0, upper, grid_size),
        tau_prior=tau_prior,
        tau_scale=tau_scale,
    )
    p_below = float(np.interp(threshold, panel["tau"], panel["cdf"]))  # 1 beyond the grid
    return {
        **panel,
        "tau_prior": tau_prior,
        "tau_scale": tau_scale,
        "threshold": threshold,
        "p_below": p_below,
    }


def tau_prior_readout(panel: dict) -> str:
    """The text the eight-schools tau explorer shows for a panel from :func:`tau_prior_panel`."""
    panel = check_panel(panel, "panel", ("posterior_mean", "interval_90", "threshold", "p_below"))
    if panel["interval_90"].shape != (2,):
        raise ValueError(f"panel['interval_90'] must be (lower, upper); got {panel['interval_90']}")
    lo, hi = panel["interval_90"]
    return (
        f"posterior mean of tau = {panel['posterior_mean']:.2f}, "
        f"90% interval = [{lo:.2f}, {hi:.2f}], "
        f"P(tau < {panel['threshold']:g}) = {panel['p_below']:.3f}"
    )
