"""The record of a variational fit, and the one way to read draws out of any fit.

Posteriors travel as an :class:`SVIFit` (:func:`vibook.run_svi`), an ArviZ ``xarray.DataTree`` with
a ``posterior`` group (:func:`vibook.run_nuts`, ``fit.posterior``) or a dict of draws;
:func:`as_datatree` and :func:`as_draws` convert any of them, so no other module does.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpyro
import xarray as xr
from numpyro.infer.autoguide import AutoGuide
from numpyro.infer.svi import SVIState

from vibook._checks import check_array

__all__ = [
    "KHAT_GOOD",
    "KHAT_OK",
    "SVIDivergenceError",
    "SVIFit",
    "as_datatree",
    "as_draws",
    "khat_reading",
]

# k-hat thresholds of Yao et al. (2018) and Vehtari et al. (2024).
KHAT_GOOD, KHAT_OK = 0.5, 0.7


def khat_reading(khat: float | None) -> str:
    """What a PSIS k-hat value says about a variational fit, in words (Yao et al. 2018)."""
    if khat is None:
        return "not computed (the fit was run with psis_draws=None)"
    if isinstance(khat, bool) or not isinstance(khat, numbers.Real):
        raise TypeError(f"khat must be a number or None; got {type(khat).__name__}")
    if np.isnan(khat):
        return "undefined (the guide traces a point, as AutoDelta and AutoLaplaceApproximation do)"
    if khat < KHAT_GOOD:
        return "good (< 0.5): the guide is close to the posterior"
    if khat < KHAT_OK:
        return "usable (0.5-0.7): the guide is rough; check what you need from it"
    return "do not trust (> 0.7): the guide misses part of the posterior"


class SVIDivergenceError(FloatingPointError):
    """A variational or optimisation run whose loss or parameters became NaN or infinite."""


@dataclass(frozen=True)
class SVIFit:
    """The result of :func:`vibook.run_svi`.

    Attributes
    ----------
    params : dict of str to array
        The fitted variational parameters (constrained values, as ``SVI.get_params`` gives).
    losses : ndarray of shape (num_steps,)
        The loss (negative ELBO estimate) at each step.
    state : numpyro.infer.svi.SVIState
        The optimiser state after the last step; ``run_svi(..., init_state=state)`` resumes it.
    model : callable
        The model that was fitted.
    posterior : xarray.DataTree
        ``num_draws`` draws from the fitted guide in a ``posterior`` group with dimensions
        ``(chain=1, draw=num_draws, ...)``, and the ``observed_data`` group, as NumPy arrays.
    fitted_guide : callable
        The guide as given, untouched by the fit; :attr:`guide` is one set up to draw from.
    model_args, model_kwargs : tuple, dict
        The positional and keyword arguments the model was fitted with.
    khat : float or None
        PSIS k-hat of the fit (Yao et al. 2018) from ``psis_draws`` draws of the guide; None when
        the fit was run with ``psis_draws=None``. :func:`vibook.diagnostics.psis_diagnostic`
        computes it again, with the importance weights.
    """

    params: dict[str, Any]
    losses: np.ndarray
    state: SVIState
    model: Callable
    posterior: xr.DataTree
    fitted_guide: Callable = field(repr=False)
    model_args: tuple = ()
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    khat: float | None = None

    @cached_property
    def guide(self) -> Callable:
        """The fitted guide, set up to draw from: ``fit.guide.sample_posterior(key, fit.params)``.

        An autoguide learns the model's sites when first called. The fit worked on a copy, so on
        first access this sets up a copy of its own (one trace with the fitted data, effects
        blocked) and keeps it. Other guides are returned as given.
        """
        guide = self.fitted_guide
        if not isinstance(guide, AutoGuide):
            return guide
        guide = copy.deepcopy(guide)
        with numpyro.handlers.block(), numpyro.handlers.seed(rng_seed=0):
            guide(*self.model_args, **self.model_kwargs)
        return guide

    @property
    def elbo(self) -> np.ndarray:
        """The ELBO estimate at each step (minus the loss), array of shape (num_steps,)."""
        return -self.losses

    @property
    def khat_reading(self) -> str:
        """:attr:`khat` in words: good, usable, or do not trust."""
        return khat_reading(self.khat)


def as_datatree(posterior, name: str = "posterior") -> xr.DataTree:
    """``posterior`` if a DataTree, else the :class:`SVIFit`'s; ``name`` is for the error."""
    if isinstance(posterior, SVIFit):
        posterior = posterior.posterior
    if not isinstance(posterior, xr.DataTree) or "posterior" not in posterior.children:
        raise TypeError(
            f"{name} must be an SVIFit or a DataTree with a 'posterior' group (from run_svi "
            f"or run_nuts); got {type(posterior).__name__}"
        )
    return posterior


def as_draws(
    posterior, name: str = "posterior", *, required: Iterable[str] = ()
) -> dict[str, np.ndarray]:
    """Posterior draws as a dict of NumPy arrays of shape (chain * draw, ...).

    Parameters
    ----------
    posterior : SVIFit, xarray.DataTree or dict of str to array
        A fit, the DataTree of one, or draws already keyed by site (each with a leading
        draws axis), which are checked and passed through.
    name : str
        The caller's argument, for the error messages.
    required : iterable of str
        Sites that must be present.
    """
    if isinstance(posterior, Mapping) and not isinstance(posterior, xr.DataTree):
        out = {k: check_array(v, f"{name}[{k!r}]") for k, v in posterior.items()}
    else:
        tree = as_datatree(posterior, name)
        out = {}
        for site, da in tree["posterior"].data_vars.items():
            da = da.transpose("chain", "draw", ...)
            out[site] = np.asarray(da.values).reshape((-1, *da.shape[2:]))
    missing = sorted(set(required) - set(out))
    if missing:
        raise ValueError(f"{name} must hold draws of {sorted(required)}; missing {missing}")
    return out
