"""Posterior draws out of a fit, and the posterior predictive distribution."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer import Predictive

from vibook._checks import check_key, check_model
from vibook.fit import as_datatree, as_draws

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


def predictive(
    rng_key,
    model: Callable,
    posterior,
    *model_args,
    return_sites: list[str] | None = None,
    **model_kwargs,
) -> dict[str, np.ndarray]:
    """Draw from the posterior predictive distribution of ``model``.

    For each posterior draw the model is run forward with its latent variables fixed at that
    draw; pass the observed argument as ``None`` (or leave it out) to draw new data.

    Parameters
    ----------
    rng_key, model : jax.random key, callable
        The key of the draws, and the NumPyro model that was fitted.
    posterior : SVIFit or xarray.DataTree
        A result of :func:`run_svi` or :func:`run_nuts`.
    *model_args, **model_kwargs
        Arguments of ``model`` (new inputs for predictions).
    return_sites : list of str, optional
        Sites to return; by default the observed and deterministic ones.

    Returns
    -------
    dict of str to ndarray
        Each array has shape (n_draws, ...), one row per posterior draw.
    """
    rng_key = check_key(rng_key)
    check_model(model)
    samples = posterior_samples(posterior)
    if return_sites is not None and (
        isinstance(return_sites, str)
        or not isinstance(return_sites, list | tuple)
        or not all(isinstance(s, str) for s in return_sites)
    ):
        raise TypeError(
            f"return_sites must be a list of site names (str) or None; got {return_sites!r}"
        )
    pred = Predictive(model, posterior_samples=samples, return_sites=return_sites)
    out = pred(rng_key, *model_args, **model_kwargs)
    # Unless asked for, the posterior draws that Predictive passes through are left out.
    keep = set(return_sites) if return_sites is not None else set(out) - set(samples)
    return {k: np.asarray(v) for k, v in out.items() if k in keep}
