"""Posterior draws out of a fit, and the posterior predictive distribution.

:func:`predictive` runs the model forward once per posterior draw, and returns the draws as the
``posterior_predictive`` group of an ArviZ DataTree beside the fit's ``posterior``; given the
observations it adds ``observed_data`` and each observation's ``log_likelihood`` at each draw, so
``arviz_plots.plot_ppc_dist`` and ``arviz_stats.loo`` work on the result directly (Gelman et al.
2013, ch. 6; Vehtari, Gelman and Gabry 2017).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import arviz_base as azb
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from numpyro import handlers
from numpyro.infer import Predictive, log_likelihood

from vibook._checks import check_array, check_key, check_model
from vibook.fit import as_datatree, as_draws
from vibook.infer.staged import stage_model

__all__ = ["posterior_samples", "predictive"]


def posterior_samples(posterior) -> dict[str, jax.Array]:
    """Posterior draws as a dict of arrays of shape (chain * draw, ...).

    Parameters
    ----------
    posterior : SVIFit or xarray.DataTree
        A result of :func:`run_svi` or :func:`run_nuts` (or any DataTree with a
        ``posterior`` group having ``chain`` and ``draw`` dimensions).
    """
    return {k: jnp.asarray(v) for k, v in as_draws(as_datatree(posterior)).items()}


def _draws_by_chain(tree: xr.DataTree) -> dict[str, np.ndarray]:
    """The ``posterior`` group's draws as arrays of shape (chain, draw, ...)."""
    post = tree["posterior"]
    if not {"chain", "draw"} <= set(post.dims):
        raise ValueError(
            f"posterior's posterior group must have dims 'chain' and 'draw'; got {tuple(post.dims)}"
        )
    return {
        k: np.asarray(da.transpose("chain", "draw", ...).values) for k, da in post.data_vars.items()
    }


def _check_return_sites(return_sites, info) -> None:
    """``return_sites`` checked: None, or a non-empty list of the model's site names."""
    if return_sites is None:
        return
    if (
        isinstance(return_sites, str)
        or not isinstance(return_sites, list | tuple)
        or not all(isinstance(s, str) for s in return_sites)
    ):
        raise TypeError(
            f"return_sites must be a list of site names (str) or None; got {return_sites!r}"
        )
    sites = sorted(info.latent | info.deterministic | set(info.observed))
    unknown = sorted(set(return_sites) - set(sites))
    if not return_sites or unknown:
        raise ValueError(
            f"return_sites must name at least one of the model's sites {sites}; "
            f"got {list(return_sites)!r}"
        )


def _check_observed(observed, model, draws, model_args, model_kwargs) -> dict[str, np.ndarray]:
    """``observed`` checked against the model's sites at the first draw: names, shapes, support."""
    if not isinstance(observed, Mapping) or not observed:
        raise TypeError(
            "observed must be None or a non-empty dict from observed site names to their data, "
            f"such as {{'y': y}}; got {observed!r:.80}"
        )
    checked = {k: check_array(v, f"observed[{k!r}]", allow_empty=True) for k, v in observed.items()}
    first = {k: v[0, 0] for k, v in draws.items()}
    conditioned = handlers.condition(model, data=checked)
    trace = handlers.trace(handlers.seed(handlers.substitute(conditioned, data=first), 0))
    sites = trace.get_trace(*model_args, **model_kwargs)
    allowed = sorted(k for k, s in sites.items() if s["type"] == "sample" and k not in draws)
    for name, value in checked.items():
        if name not in allowed:
            raise ValueError(
                f"observed must name sample sites of the model that are not latent variables "
                f"{allowed}; got {name!r}"
            )
        fn = sites[name]["fn"]
        if value.shape != tuple(fn.shape()):
            raise ValueError(
                f"observed[{name!r}] must have the site's shape {tuple(fn.shape())}; "
                f"got {value.shape}"
            )
        if not np.all(np.asarray(fn.support(value))):
            raise ValueError(
                f"observed[{name!r}] must lie in the support of its distribution "
                f"({type(fn).__name__}: {fn.support}); some values do not"
            )
    return checked


def predictive(
    rng_key,
    model: Callable,
    posterior,
    *model_args,
    observed: Mapping[str, np.ndarray] | None = None,
    return_sites: list[str] | None = None,
    **model_kwargs,
) -> xr.DataTree:
    """Draw from the posterior predictive distribution of ``model``, as an ArviZ DataTree.

    Data the fit could have seen, had the world been as each posterior draw says: for each draw
    the model is run forward with its latent variables fixed at that draw. Pass the observed
    argument as ``None`` (or leave it out) to draw new data, and the data as ``observed`` to
    compare them with the draws (``arviz_plots.plot_ppc_dist``) and to score the model by PSIS-LOO
    (``arviz_stats.loo``).

    Parameters
    ----------
    rng_key, model : jax.random key, callable
        The key of the draws, and the NumPyro model that was fitted.
    posterior : SVIFit or xarray.DataTree
        A result of :func:`run_svi` or :func:`run_nuts` (any DataTree whose ``posterior`` group
        has ``chain`` and ``draw`` dims).
    *model_args, **model_kwargs
        Arguments of ``model``, with the observed argument ``None`` (new inputs for predictions).
    observed : dict of str to array, optional
        The observations, by site name (as in the ``observed_data`` group), such as ``{"y": y}``
        for ``numpyro.sample("y", ..., obs=y)``: each must have its site's shape at these
        arguments and lie in its distribution's support. They add the ``observed_data`` and
        ``log_likelihood`` groups; the draws do not depend on them.
    return_sites : list of str, optional
        Sites to draw; by default the observed ones, and deterministic ones not in the posterior.

    Returns
    -------
    xarray.DataTree
        ``posterior`` (and ``sample_stats``, if any) copied from the fit, and
        ``posterior_predictive``: each site of shape (chain, draw, ...), one draw per posterior
        draw, its dims named from its plates as in ``posterior``. With ``observed``, also
        ``observed_data`` and ``log_likelihood`` (each observed site's log density at each draw,
        shape (chain, draw, ...) with the site's dims, computed by
        ``numpyro.infer.log_likelihood``). For an SVI fit the draws come from the guide, not the
        posterior: score it with :func:`vibook.infer.psis.loo_svi`, which corrects for that,
        rather than ``arviz_stats.loo``.

    Examples
    --------
    >>> import arviz_stats as azs
    >>> import jax
    >>> from vibook import run_nuts
    >>> from vibook.models import EIGHT_SCHOOLS, eight_schools_noncentred
    >>> y, sigma = EIGHT_SCHOOLS["y"], EIGHT_SCHOOLS["sigma"]
    >>> fit = run_nuts(jax.random.key(0), eight_schools_noncentred, y, sigma=sigma)
    >>> pred = predictive(jax.random.key(1), eight_schools_noncentred, fit, sigma=sigma,
    ...                   observed={"y": y})  # doctest: +SKIP
    >>> pred.posterior_predictive["y"].dims  # doctest: +SKIP
    ('chain', 'draw', 'school')
    >>> azs.loo(pred)  # doctest: +SKIP
    """
    rng_key = check_key(rng_key)
    check_model(model)
    tree = as_datatree(posterior)
    draws = _draws_by_chain(tree)
    info = stage_model(model, model_args, model_kwargs)
    _check_return_sites(return_sites, info)
    if observed is not None:
        observed = _check_observed(observed, model, draws, model_args, model_kwargs)
    sites = None if return_sites is None else list(return_sites)
    pred = Predictive(model, posterior_samples=draws, return_sites=sites, batch_ndims=2)
    out = pred(rng_key, *model_args, **model_kwargs)
    if return_sites is None:
        # Left out: the posterior draws Predictive passes through, and the sites the arguments
        # gave data (their "draws" would be the data itself).
        keep = set(out) - set(draws) - set(info.observed)
        if not keep:
            raise ValueError(
                f"nothing to predict: the model's observed site(s) {sorted(info.observed)} were "
                f"given their data by model_args or model_kwargs; pass that argument as None and "
                f"the data as observed={{{next(iter(sorted(info.observed)), 'y')!r}: ...}}"
            )
    else:
        keep = set(return_sites)
    chain, draw = tree["posterior"]["chain"].values, tree["posterior"]["draw"].values
    groups = {"posterior_predictive": {k: np.asarray(v) for k, v in out.items() if k in keep}}
    if observed is not None:
        conditioned = handlers.condition(model, data=observed)
        loglik = log_likelihood(conditioned, draws, *model_args, batch_ndims=2, **model_kwargs)
        groups["log_likelihood"] = {k: np.asarray(loglik[k]) for k in observed}
        groups["observed_data"] = observed
    made = azb.from_dict(groups, coords={"chain": chain, "draw": draw}, dims=info.dims)
    kept = {g: tree[g].to_dataset() for g in ("posterior", "sample_stats") if g in tree.children}
    return xr.DataTree.from_dict({**kept, **{g: made[g].to_dataset() for g in groups}})
