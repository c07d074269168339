"""``run_nuts``: the No-U-Turn Sampler, the reference every variational fit is checked against."""

from __future__ import annotations

from collections.abc import Callable

import arviz_base as azb
import jax
import numpy as np
import xarray as xr
from numpyro import handlers
from numpyro.infer import MCMC, NUTS

from vibook._checks import check_bool, check_key, check_model, check_positive, check_positive_int
from vibook.infer.svi import check_progress_bar

__all__ = ["run_nuts"]


def _as_numpy(tree: xr.DataTree) -> xr.DataTree:
    """The same DataTree with every variable's values as a NumPy array (not a JAX array)."""
    return tree.map_over_datasets(
        lambda ds: ds.copy(data={k: np.asarray(v.values) for k, v in ds.data_vars.items()})
    )


def _refuse_discrete_latents(model, model_args, model_kwargs) -> None:
    """Raise ValueError naming unobserved discrete sites (often an observation passed as None)."""
    trace = handlers.trace(handlers.seed(model, 0)).get_trace(*model_args, **model_kwargs)
    discrete = [
        name
        for name, site in trace.items()
        if site["type"] == "sample"
        and not site["is_observed"]
        and site["fn"].support.is_discrete
        and not site["infer"].get("enumerate")
    ]
    if discrete:
        raise ValueError(
            f"the model has unobserved discrete site(s) {discrete}, which NUTS cannot sample: "
            f"pass their observed values (is an argument such as {discrete[0]!r} None?)"
        )


# Per-draw statistics kept for diagnostics; ArviZ names them diverging, energy, lp,
# acceptance_rate, n_steps, tree_depth and step_size.
_NUTS_STATS = (
    "diverging",
    "energy",
    "potential_energy",
    "accept_prob",
    "num_steps",
    "adapt_state.step_size",
)


def run_nuts(
    rng_key,
    model: Callable,
    *model_args,
    num_warmup: int = 1000,
    num_draws: int = 1000,
    num_chains: int = 4,
    target_accept_prob: float = 0.8,
    dense_mass: bool = False,
    chain_method: str | None = None,
    progress_bar: bool | None = None,
    log_likelihood: bool = False,
    **model_kwargs,
) -> xr.DataTree:
    """Sample the posterior of ``model`` with the No-U-Turn Sampler (Hoffman & Gelman 2014).

    Asymptotically exact, with diagnostics (R-hat, ESS, divergences) that say when it failed.

    Parameters
    ----------
    rng_key : jax.random key
        Drives warm-up and sampling; the same key gives the same draws.
    model, *model_args, **model_kwargs
        A NumPyro model and its positional and keyword arguments.
    num_warmup, num_draws, num_chains : int
        Warm-up steps, kept draws per chain, and chains.
    target_accept_prob : float
        Step-size adaptation target, in (0, 1); raise it (0.9, 0.95) to cure divergences.
    dense_mass : bool
        Adapt a dense mass matrix (helps correlated posteriors).
    chain_method : {"parallel", "vectorized", "sequential"}, optional
        How chains share the hardware. By default ``"parallel"`` (one chain per device) when
        there are at least ``num_chains`` JAX devices, else ``"vectorized"`` (all chains in one
        compiled program, about twice as fast as one after another for small models on a CPU).
    progress_bar : bool, optional
        Defaults to on in a notebook, off elsewhere and whenever ``VIBOOK_PROGRESS=0``.
    log_likelihood : bool
        Add the ``log_likelihood`` group: each observation's log-likelihood at each draw, which
        ``arviz_stats.loo`` and ``arviz_stats.compare`` read. Off by default, as in
        ``arviz_base.from_numpyro``: it holds ``n_obs * num_draws * num_chains`` numbers (3.2 GB
        of float32 for 200 000 points and 4 x 1000 draws) and costs one more pass of the model per
        draw.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior`` (dims ``chain``, ``draw``, ...), ``sample_stats`` (``diverging``,
        ``energy``, ``tree_depth``, ...) and ``observed_data``; with ``log_likelihood=True`` also
        ``log_likelihood``, one variable per observed site with dims ``chain``, ``draw`` and the
        site's own (its plates), as ``arviz_base.from_numpyro(mcmc, log_likelihood=True)`` makes it.

    Examples
    --------
    >>> import arviz_stats as azs
    >>> import jax
    >>> from vibook.models import EIGHT_SCHOOLS, eight_schools_noncentred
    >>> tree = run_nuts(jax.random.key(0), eight_schools_noncentred, EIGHT_SCHOOLS["y"],
    ...                 sigma=EIGHT_SCHOOLS["sigma"], log_likelihood=True)  # doctest: +SKIP
    >>> azs.loo(tree)  # doctest: +SKIP
    """
    rng_key = check_key(rng_key)
    check_model(model)
    num_warmup = check_positive_int(num_warmup, "num_warmup")
    num_draws = check_positive_int(num_draws, "num_draws")
    num_chains = check_positive_int(num_chains, "num_chains")
    target_accept_prob = check_positive(target_accept_prob, "target_accept_prob")
    if not target_accept_prob < 1:
        raise ValueError(f"target_accept_prob must be in (0, 1); got {target_accept_prob}")
    dense_mass = check_bool(dense_mass, "dense_mass")
    log_likelihood = check_bool(log_likelihood, "log_likelihood")
    progress_bar = check_progress_bar(progress_bar)
    if chain_method is None:
        chain_method = "parallel" if jax.local_device_count() >= num_chains else "vectorized"
    elif chain_method not in ("parallel", "vectorized", "sequential"):
        raise ValueError(
            f"chain_method must be 'parallel', 'vectorized' or 'sequential'; got {chain_method!r}"
        )
    _refuse_discrete_latents(model, model_args, model_kwargs)
    mcmc = MCMC(
        NUTS(model, target_accept_prob=target_accept_prob, dense_mass=dense_mass),
        num_warmup=num_warmup,
        num_samples=num_draws,
        num_chains=num_chains,
        chain_method=chain_method,
        progress_bar=progress_bar,
    )
    mcmc.run(rng_key, *model_args, extra_fields=_NUTS_STATS, **model_kwargs)
    return _as_numpy(azb.from_numpyro(mcmc, log_likelihood=log_likelihood))
