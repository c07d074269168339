"""Pareto-smoothed importance sampling of a variational fit: how far to trust the guide.

The importance ratios ``r_s = p(x, z_s) / q(z_s)`` of draws ``z_s`` from the fitted guide ``q``
would all be equal were ``q`` the posterior; the heavier their right tail, the more mass the
posterior has where ``q`` has little. The tail's Pareto shape ``k`` (Vehtari et al. 2024) says how
far to trust ``q``: < 0.5 good, 0.5-0.7 usable, > 0.7 not (Yao et al. 2018).

:func:`log_ratios` is traceable, so :func:`vibook.run_svi` computes the ratios inside its compiled
fit and stores k-hat; :func:`psis_diagnostic` does so for a finished fit, with the smoothed weights.
The same ratios let PSIS-LOO score a variational fit (:func:`loo_svi`): leaving observation ``i``
out reweighs the draws by ``r_s / p(x_i | z_s)`` (Magnusson et al. 2019).

References
----------
Yao, Vehtari, Simpson and Gelman (2018), "Yes, but did it work?: Evaluating variational inference",
ICML.
Vehtari, Simpson, Gelman, Yao and Gabry (2024), "Pareto smoothed importance sampling", JMLR 25(72).
Magnusson, Riis Andersen, Jonasson and Vehtari (2019), "Bayesian leave-one-out cross-validation for
large data", ICML.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz_base as azb
import jax
import numpy as np
import numpyro
from arviz_stats import loo_approximate_posterior
from arviz_stats.base import array_stats
from numpyro.infer import log_likelihood
from numpyro.infer.util import log_density

from vibook._checks import check_key, check_positive_int
from vibook.fit import SVIFit, khat_reading

__all__ = [
    "PSISResult",
    "full_data",
    "log_ratios",
    "loo_svi",
    "psis_diagnostic",
    "psis_khat",
    "smooth",
]

# Draws evaluated at once: bounds the memory of the model's log density over many draws.
_BATCH = 50


def full_data(model_kwargs: dict) -> dict:
    """``model_kwargs`` without minibatching, so the model sees all of its data."""
    if model_kwargs.get("subsample_size") is not None:
        return {**model_kwargs, "subsample_size": None}
    return model_kwargs


def log_ratios(rng_key, model, guide, params, model_args, model_kwargs, num_draws: int):
    """``log p(x, z_s) - log q(z_s)`` for ``num_draws`` draws ``z_s ~ q``, and the draws.

    Traceable. The model is evaluated on all its data, also for a fit on minibatches, so the ratios
    are exact. The draws use keys ``jax.random.split(rng_key, num_draws)``.

    Returns
    -------
    log_ratios : array of shape (num_draws,)
    latent : dict of str to array of shape (num_draws, ...)
        The model's latent variables at each draw.
    """
    log_p, log_q, latent = _log_densities(
        rng_key, model, guide, params, model_args, model_kwargs, num_draws
    )
    return log_p - log_q, latent


def _log_densities(rng_key, model, guide, params, model_args, model_kwargs, num_draws: int):
    """``log p(x, z_s)``, ``log q(z_s)`` and the latent draws ``z_s ~ q``, as :func:`log_ratios`."""
    model_kwargs = full_data(model_kwargs)

    def one(key):
        seeded = numpyro.handlers.seed(guide, key)
        log_q, guide_trace = log_density(seeded, model_args, model_kwargs, params)
        replayed = numpyro.handlers.replay(model, guide_trace)
        log_p, model_trace = log_density(replayed, model_args, model_kwargs, params)
        latent = {
            name: site["value"]
            for name, site in model_trace.items()
            if site["type"] == "sample" and not site["is_observed"]
        }
        return log_p, log_q, latent

    keys = jax.random.split(rng_key, num_draws)
    return jax.lax.map(one, keys, batch_size=min(_BATCH, num_draws))


def smooth(log_ratios, latent=None) -> tuple[float, np.ndarray]:
    """Pareto-smooth the log importance ratios: k-hat and the normalised log weights.

    Equal ratios (to float32 rounding) mean ``q`` is the posterior (k-hat -inf), unless ``q`` is a
    point mass with nothing to weigh (NaN); any NaN or infinite ratio gives k-hat +inf.
    """
    log_ratios = np.asarray(log_ratios, dtype=np.float64)
    n = log_ratios.shape[0]
    flat = np.full_like(log_ratios, -np.log(n))
    if not np.all(np.isfinite(log_ratios)):
        return np.inf, flat
    if np.ptp(log_ratios) < 1e-3:
        moves = any(np.ptp(np.asarray(v), axis=0).max() > 0 for v in (latent or {}).values())
        return (-np.inf if moves else np.nan), flat
    # arviz_stats smooths log weights given as a negative log-likelihood.
    log_weights, khat = array_stats.psislw(-log_ratios)
    return float(khat), np.asarray(log_weights)


@dataclass(frozen=True)
class PSISResult:
    """Pareto-smoothed importance sampling of a variational fit, from :func:`psis_diagnostic`.

    Attributes
    ----------
    khat : float
        Estimated Pareto shape of the importance ratios' right tail.
    reading : str
        :func:`vibook.fit.khat_reading` of ``khat``.
    log_ratios : ndarray of shape (num_draws,)
        ``log p(x, z_s) - log q(z_s)`` for the draws ``z_s ~ q``.
    log_weights : ndarray of shape (num_draws,)
        Pareto-smoothed, normalised log importance weights (they log-sum-exp to 0).
    draws : dict of str to ndarray
        The guide's draws of the model's latent variables, each of shape (num_draws, ...).
    """

    khat: float
    reading: str
    log_ratios: np.ndarray
    log_weights: np.ndarray
    draws: dict

    def weighted_mean(self, name: str) -> np.ndarray:
        """Importance-weighted posterior mean of one latent variable."""
        if name not in self.draws:
            raise ValueError(f"name must be a latent variable {sorted(self.draws)}; got {name!r}")
        w = np.exp(self.log_weights - np.max(self.log_weights))
        return np.tensordot(w / w.sum(), self.draws[name], axes=1)


def psis_diagnostic(fit, *, rng_key=None, num_draws: int = 1000) -> PSISResult:
    """PSIS of a finished SVI fit: k-hat, the smoothed weights and corrected posterior means.

    With ``k < 0.7`` the smoothed weights correct posterior expectations
    (:meth:`PSISResult.weighted_mean`); the defaults reproduce ``fit.khat``.

    Parameters
    ----------
    fit, rng_key : SVIFit, jax.random key (optional)
        A :func:`vibook.run_svi` result, and the draws' key (``jax.random.key(0)`` by default).
    num_draws : int
        Draws from the guide (>= 100; the tail fit uses about ``3 sqrt(num_draws)`` of them).
    """
    if not isinstance(fit, SVIFit):
        raise TypeError(f"fit must be an SVIFit (a run_svi result); got {type(fit).__name__}")
    rng_key = jax.random.key(0) if rng_key is None else check_key(rng_key)
    num_draws = check_positive_int(num_draws, "num_draws", minimum=100)
    guide = fit.guide

    @jax.jit
    def ratios_of(key):  # the data and parameters are constants of the program
        return log_ratios(
            key, fit.model, guide, fit.params, fit.model_args, fit.model_kwargs, num_draws
        )

    ratios, latent = ratios_of(rng_key)
    latent = {k: np.asarray(v) for k, v in latent.items()}
    khat, log_weights = smooth(ratios, latent)
    return PSISResult(
        khat=float(khat),
        reading=khat_reading(khat),
        log_ratios=np.asarray(ratios, dtype=np.float64),
        log_weights=log_weights,
        draws=latent,
    )


def psis_khat(fit, *, rng_key=None, num_draws: int = 1000) -> float:
    """PSIS k-hat of an SVI fit (Yao et al. 2018): < 0.5 good, 0.5-0.7 usable, > 0.7 not."""
    return psis_diagnostic(fit, rng_key=rng_key, num_draws=num_draws).khat


def loo_svi(
    fit, *, rng_key=None, num_draws: int = 1000, var_name: str | None = None, pointwise=None
):
    r"""PSIS-LOO of an SVI fit: its expected log predictive density on data it has not seen.

    Leave-one-out cross-validation without refitting (Vehtari, Gelman and Gabry 2017), for draws
    that come from the guide ``q`` and not from the posterior: ``arviz_stats.loo`` would treat them
    as posterior draws, ``arviz_stats.loo_approximate_posterior`` first weighs them by
    ``p(x, z_s) / q(z_s)`` (Magnusson et al. 2019). Fresh draws ``z_s ~ q`` give the model's log
    joint density ``log p(x, z_s)`` (``log_p``, the target's unnormalised log density, on all the
    data), the guide's ``log q(z_s)`` (``log_q``) and each observation's ``log p(x_i | z_s)``:

    .. math::
        p(x_i \mid x_{-i}) \approx \frac{\sum_s w_s^{(i)} p(x_i \mid z_s)}{\sum_s w_s^{(i)}},
        \qquad w_s^{(i)} \propto \frac{p(x, z_s)}{q(z_s)\, p(x_i \mid z_s)}
        \ \text{(Pareto-smoothed)}.

    The result goes into ``arviz_stats.compare`` beside ``arviz_stats.loo`` of NUTS fits. Each
    observation's Pareto k says how far to trust its term; the fit's own k-hat (``fit.khat``)
    bounds them all: with the guide far from the posterior, no correction can recover it.

    Parameters
    ----------
    fit : SVIFit
        A :func:`vibook.run_svi` result; its model, data and guide are used.
    rng_key : jax.random key, optional
        The key of the guide's draws; ``jax.random.key(0)`` by default.
    num_draws : int
        Draws from the guide (>= 100; the tail fits use about ``3 sqrt(num_draws)`` of them).
    var_name : str, optional
        The observed site to score, for a model with more than one.
    pointwise : bool, optional
        Keep ``elpd_i`` and ``pareto_k`` per observation (``arviz_stats.compare`` needs them);
        ArviZ's ``rcParams["stats.ic_pointwise"]`` (True) by default.

    Returns
    -------
    arviz_stats.utils.ELPDDataLOO
        As ``arviz_stats.loo_approximate_posterior`` returns it: ``elpd``, ``se``, ``p``,
        ``pareto_k`` (dims of the observed site), ``approx_posterior=True``, ...

    Examples
    --------
    >>> import arviz_stats as azs
    >>> import jax
    >>> from vibook import run_svi
    >>> from vibook.models import EIGHT_SCHOOLS, eight_schools_noncentred
    >>> fit = run_svi(jax.random.key(0), eight_schools_noncentred, EIGHT_SCHOOLS["y"],
    ...               sigma=EIGHT_SCHOOLS["sigma"])  # doctest: +SKIP
    >>> loo_svi(fit).elpd  # doctest: +SKIP
    """
    if not isinstance(fit, SVIFit):
        raise TypeError(f"fit must be an SVIFit (a run_svi result); got {type(fit).__name__}")
    rng_key = jax.random.key(0) if rng_key is None else check_key(rng_key)
    num_draws = check_positive_int(num_draws, "num_draws", minimum=100)
    if pointwise is not None and not isinstance(pointwise, bool):
        raise TypeError(f"pointwise must be True, False or None; got {type(pointwise).__name__}")
    tree = fit.posterior
    observed = tree["observed_data"].to_dataset() if "observed_data" in tree.children else {}
    if not observed:
        raise ValueError("fit must be of a model with observed data: LOO scores predictions of it")
    if var_name is not None and (not isinstance(var_name, str) or var_name not in observed):
        raise ValueError(f"var_name must be an observed site {sorted(observed)}; got {var_name!r}")
    guide, args, kwargs = fit.guide, fit.model_args, full_data(fit.model_kwargs)

    @jax.jit
    def scores_of(key):  # the data and parameters are constants of the program
        log_p, log_q, latent = _log_densities(
            key, fit.model, guide, fit.params, args, kwargs, num_draws
        )
        return log_p, log_q, latent, log_likelihood(fit.model, latent, *args, **kwargs)

    log_p, log_q, latent, loglik = scores_of(rng_key)
    dims = {k: list(da.dims) for k, da in observed.data_vars.items()}
    dims |= {k: list(da.dims[2:]) for k, da in tree["posterior"].data_vars.items()}
    draws = azb.from_dict(
        {
            "posterior": {k: np.asarray(v)[None] for k, v in latent.items()},
            "log_likelihood": {k: np.asarray(v)[None] for k, v in loglik.items() if k in observed},
            "observed_data": {k: da.values for k, da in observed.data_vars.items()},
        },
        dims=dims,
    )
    return loo_approximate_posterior(
        draws,
        log_p=np.asarray(log_p, dtype=np.float64),
        log_q=np.asarray(log_q, dtype=np.float64),
        pointwise=pointwise,
        var_name=var_name,
    )
