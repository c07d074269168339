"""``run_svi``: stochastic variational inference, one compiled program per fit.

SVI turns inference into optimisation: it picks the member ``q`` of a family (the guide) that
maximises the evidence lower bound ``ELBO = E_q[log p(x, z) - log q(z)]`` by stochastic gradient
steps (Hoffman et al. 2013; Kucukelbir et al. 2017). This module checks the call and writes the
record; :mod:`vibook.infer.staged` tells how the fit runs.
"""

from __future__ import annotations

from collections.abc import Callable

import arviz_base as azb
import jax
import numpy as np
import xarray as xr
from numpyro.infer.autoguide import AutoNormal
from numpyro.infer.svi import SVIState

from vibook._checks import check_bool, check_key, check_model, check_positive, check_positive_int
from vibook.fit import SVIFit
from vibook.infer.psis import smooth
from vibook.infer.staged import TRACER_ERRORS, FitJob, compiled_fit, eager_fit, stage_model
from vibook.kernel import default_progress_bar
from vibook.loop import check_finite

__all__ = ["check_progress_bar", "run_svi"]


def check_progress_bar(progress_bar) -> bool:
    """``progress_bar`` checked; ``None`` means :func:`vibook.kernel.default_progress_bar`."""
    if progress_bar is None:
        return default_progress_bar()
    if not isinstance(progress_bar, bool):
        raise TypeError(
            f"progress_bar must be True, False or None; got {type(progress_bar).__name__}"
        )
    return progress_bar


def _to_datatree(draws, observed, dims) -> xr.DataTree:
    """Draws of shape (chain, draw, ...) plus the observed data as an ArviZ DataTree."""
    groups = {"posterior": {k: np.asarray(v) for k, v in draws.items()}}
    if observed:
        groups["observed_data"] = {k: np.asarray(v) for k, v in observed.items()}
    dims = {k: v for k, v in dims.items() if k in groups["posterior"] or k in observed}
    return azb.from_dict(groups, dims=dims)


def _shard_data_axis(model_args, model_kwargs):
    """Split the data axis of the array arguments over a 1-D mesh of every process's devices.

    With one process the mesh is its local devices. After ``jax.distributed.initialize`` it spans
    the devices of all processes: each process passes the same full arrays, and
    ``jax.make_array_from_callback`` keeps on each device only the rows that device holds.
    """
    devices = jax.devices()
    is_array = lambda v: isinstance(v, np.ndarray | jax.Array) and v.ndim >= 1  # noqa: E731
    arrays = [v for v in (*model_args, *model_kwargs.values()) if is_array(v)]
    if not arrays:
        raise ValueError("shard_data=True needs the data as an array argument of the model")
    n = arrays[0].shape[0]
    if n % len(devices):
        raise ValueError(
            f"shard_data=True splits the data axis over {len(devices)} devices, so its length "
            f"must be a multiple of {len(devices)}; got {n}"
        )
    mesh = jax.sharding.Mesh(np.array(devices), ("data",))
    split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    copied = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

    def place(v):
        if not isinstance(v, np.ndarray | jax.Array):
            return v
        where = split if v.ndim >= 1 and v.shape[0] == n else copied
        return jax.make_array_from_callback(v.shape, where, lambda index: v[index])

    return tuple(place(v) for v in model_args), {k: place(v) for k, v in model_kwargs.items()}


def _check_optim(optimizer, learning_rate, loss, guide, init_state):
    if optimizer is not None and learning_rate is not None:
        raise ValueError("give either optimizer or learning_rate, not both")
    if optimizer is not None and not all(
        hasattr(optimizer, m) for m in ("init", "update", "get_params")
    ):
        raise TypeError(
            f"optimizer must be a numpyro.optim optimiser such as numpyro.optim.Adam(0.01); "
            f"got {type(optimizer).__name__}"
        )
    if loss is not None and not hasattr(loss, "loss"):
        raise TypeError(
            f"loss must be a NumPyro ELBO such as Trace_ELBO(); got {type(loss).__name__}"
        )
    if guide is not None and not callable(guide):
        raise TypeError(f"guide must be a NumPyro guide; got {type(guide).__name__}")
    if init_state is not None and not isinstance(init_state, SVIState):
        raise TypeError(
            f"init_state must be the state of an earlier fit (fit.state); "
            f"got {type(init_state).__name__}"
        )


def run_svi(
    rng_key,
    model: Callable,
    *model_args,
    guide: Callable | None = None,
    num_steps: int = 2000,
    optimizer=None,
    learning_rate: float | None = None,
    loss=None,
    num_draws: int = 1000,
    psis_draws: int | None = 1000,
    init_state: SVIState | None = None,
    progress_bar: bool | None = None,
    shard_data: bool = False,
    **model_kwargs,
) -> SVIFit:
    """Fit ``model`` by stochastic variational inference and draw from the fitted guide.

    The whole fit (guide set-up, steps, posterior draws, PSIS k-hat) runs as one compiled XLA
    program (:mod:`vibook.infer.staged`), reused for the same fit on data of the same shapes.

    Parameters
    ----------
    rng_key : jax.random key
        Drives the fit and the posterior draws; the same key gives the same numbers.
    model, *model_args, **model_kwargs
        A NumPyro model and its positional and keyword arguments.
    guide : callable, optional
        The variational family; ``numpyro.infer.autoguide.AutoNormal(model)`` (mean-field
        Normal) by default. It is copied, never changed: ``fit.guide`` is the fitted one.
    num_steps, num_draws : int
        Number of optimisation steps, and of posterior draws from the fitted guide.
    optimizer : numpyro.optim optimiser, optional
        Defaults to ``numpyro.optim.Adam(learning_rate)``.
    learning_rate : float, optional
        Step size of the default Adam optimiser (0.01 by default); not with ``optimizer``.
    loss : numpyro ELBO, optional
        Defaults to :class:`vibook.infer.elbo.OrderedTraceELBO` (``Trace_ELBO()``, one particle,
        summed in an order that does not change between processes).
    psis_draws : int or None
        Draws of the guide for the PSIS k-hat ``fit.khat``, computed inside the fit on all the data
        (the default matches :func:`vibook.diagnostics.psis_diagnostic`'s). ``None`` skips it
        (``fit.khat`` is None): for models with local latent variables per data point (LDA), whose
        k-hat over thousands of dimensions says little, or to save its cost.
    init_state : SVIState, optional
        The ``state`` of an earlier fit of the same model and guide, to continue from: two runs of
        500 steps give the result of one of 1000.
    progress_bar : bool, optional
        Defaults to on in a notebook, off elsewhere and whenever ``VIBOOK_PROGRESS=0``.
    shard_data : bool
        Run each step data-parallel over all JAX devices: array arguments whose leading axis has
        the first one's length (the data axis) are split along it over a 1-D device mesh, others
        are copied to every device, and XLA partitions the step. Equal to the single-device result
        up to rounding; the data axis must be a multiple of ``jax.device_count()``. After
        ``jax.distributed.initialize`` the mesh spans the devices of every process: each process
        makes the same call with the same data and keeps only its own rows on its devices, and
        each gets the whole fit back.

    Returns
    -------
    SVIFit
        Parameters, losses, optimiser state, guide, model, posterior draws and k-hat.

    Raises
    ------
    SVIDivergenceError
        If the loss becomes NaN or infinite; the message names the step.

    Examples
    --------
    >>> import jax
    >>> from vibook.models import beta_binomial
    >>> fit = run_svi(jax.random.key(0), beta_binomial, 7, flips=10, num_steps=500)
    >>> fit.posterior.posterior["theta"].shape
    (1, 1000)
    """
    rng_key = check_key(rng_key)
    check_model(model)
    num_steps = check_positive_int(num_steps, "num_steps")
    num_draws = check_positive_int(num_draws, "num_draws")
    if psis_draws is not None:
        psis_draws = check_positive_int(psis_draws, "psis_draws", minimum=100)
    _check_optim(optimizer, learning_rate, loss, guide, init_state)
    if optimizer is None:
        learning_rate = (
            0.01 if learning_rate is None else check_positive(learning_rate, "learning_rate")
        )
    progress_bar = check_progress_bar(progress_bar)
    shard_data = check_bool(shard_data, "shard_data")
    fit_args, fit_kwargs = (
        _shard_data_axis(model_args, model_kwargs) if shard_data else (model_args, model_kwargs)
    )
    job = FitJob(
        model=model,
        guide=guide,
        optimizer=optimizer,
        learning_rate=learning_rate,
        loss=loss,
        info=stage_model(model, model_args, model_kwargs),
        fit_args=fit_args,
        fit_kwargs=fit_kwargs,
        model_args=model_args,
        model_kwargs=model_kwargs,
        num_steps=num_steps,
        num_draws=num_draws,
        psis_draws=psis_draws,
        init_state=init_state,
        progress_bar=progress_bar,
    )
    try:
        state, losses, params, draws, ratios, computed = compiled_fit(job, rng_key)
    except TRACER_ERRORS:
        state, losses, params, draws, ratios, computed = eager_fit(job, rng_key)
    rate = f" (now {learning_rate})" if learning_rate is not None else ""
    losses = check_finite(
        losses,
        params,
        what="SVI",
        remedy=f"Try a smaller learning_rate{rate}, more particles "
        f"(loss=Trace_ELBO(num_particles=...)), or a guide that starts closer to the data "
        f"(for example AutoNormal(model, init_scale=0.01)).",
    )
    observed = {k: computed.get(k, v) for k, v in job.info.observed.items()}
    draws = {k: np.asarray(v) for k, v in draws.items()}
    # The ratios' own draws tell a point-mass guide (AutoDelta, or AutoLaplaceApproximation, whose
    # trace is its mode) from an exact one; the posterior draws of a Laplace fit do move.
    khat = None if ratios is None else smooth(*ratios)[0]
    return SVIFit(
        params=params,
        losses=losses,
        state=state,
        model=model,
        posterior=_to_datatree({k: v[None] for k, v in draws.items()}, observed, job.info.dims),
        fitted_guide=guide if guide is not None else AutoNormal(model),
        model_args=tuple(model_args),
        model_kwargs=dict(model_kwargs),
        khat=khat,
    )
