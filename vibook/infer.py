"""Inference runners: the only place in vibook that drives NumPyro's SVI and NUTS.

The runners are thin. ``run_svi`` is ``numpyro.infer.SVI(...).run(...)`` plus an ELBO trace,
a divergence check and posterior draws; ``run_nuts`` is ``numpyro.infer.MCMC(NUTS(...)).run``.
Both take an explicit random key (no global seed) and hand their posterior draws back as an
ArviZ 1.x ``xarray.DataTree`` with ``chain`` and ``draw`` dimensions (an SVI fit has one
chain), so every ArviZ function, and any comparison between the two, works on them directly.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import arviz_base as azb
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import xarray as xr
from arviz_base.io_numpyro import infer_dims
from numpyro.infer import MCMC, NUTS, SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoGuide, AutoNormal
from numpyro.infer.svi import SVIState

from vibook._checks import check_key, check_positive, check_positive_int

__all__ = ["SVIDivergenceError", "SVIFit", "posterior_samples", "predictive", "run_nuts", "run_svi"]


class SVIDivergenceError(FloatingPointError):
    """An SVI run whose loss became NaN or infinite."""


@dataclass(frozen=True)
class SVIFit:
    """The result of :func:`run_svi`.

    Attributes
    ----------
    params : dict of str to array
        The fitted variational parameters (constrained values, as ``SVI.get_params`` gives).
    losses : ndarray of shape (num_steps,)
        The loss (negative ELBO estimate) at each step.
    state : numpyro.infer.svi.SVIState
        The optimiser state after the last step; pass it as ``run_svi(..., init_state=state)``
        to continue the run where it stopped.
    fitted_guide : callable
        The guide that was fitted, as given; use :attr:`guide`, which sets an autoguide up.
    model : callable
        The model that was fitted.
    posterior : xarray.DataTree
        ``num_samples`` draws from the fitted guide in a ``posterior`` group with dimensions
        ``(chain=1, draw=num_samples, ...)``, and the ``observed_data`` group.
    model_args : tuple
        The positional arguments the model was fitted with.
    model_kwargs : dict
        The keyword arguments the model was fitted with.
    """

    params: dict[str, Any]
    losses: np.ndarray
    state: SVIState
    model: Callable
    posterior: xr.DataTree
    fitted_guide: Callable = field(repr=False)
    model_args: tuple = ()
    model_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def guide(self) -> Callable:
        """The fitted guide (an ``AutoNormal`` unless another was given), ready to use.

        The fit ran as one compiled program, whose record of the model an autoguide does not
        keep; on first access here it records the model again, with the fitted data, so
        ``fit.guide.sample_posterior(key, fit.params, ...)`` works as after ``SVI.run``.
        """
        guide = self.fitted_guide
        if any(g.prototype_trace is None for g in _autoguides_within(guide)):
            with numpyro.handlers.block(), numpyro.handlers.seed(rng_seed=0):
                guide(*self.model_args, **self.model_kwargs)
        return guide

    @property
    def elbo(self) -> np.ndarray:
        """The ELBO estimate at each step (minus the loss), array of shape (num_steps,)."""
        return -self.losses

    @cached_property
    def khat(self) -> float:
        """PSIS k-hat of the fit (Yao et al. 2018), computed on first use from 1000 draws.

        Below 0.5 good, 0.5-0.7 usable, above 0.7 do not trust; see
        :func:`vibook.diagnostics.psis_diagnostic` for the weights and corrected means.
        """
        from vibook.diagnostics import psis_khat

        return psis_khat(self)

    @property
    def khat_reading(self) -> str:
        """:attr:`khat` in words: good, usable, or do not trust."""
        from vibook.diagnostics import khat_reading

        return khat_reading(self.khat)


def _default_progress_bar() -> bool:
    """Show a progress bar in a notebook; never when ``VIBOOK_PROGRESS=0`` (tests, CI)."""
    flag = os.environ.get("VIBOOK_PROGRESS")
    if flag is not None:
        return flag not in ("0", "false", "False", "")
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the lab extra
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _check_model(model, name: str = "model") -> None:
    if not callable(model):
        raise TypeError(f"{name} must be a NumPyro model function; got {type(model).__name__}")


def _check_progress_bar(progress_bar) -> bool:
    if progress_bar is None:
        return _default_progress_bar()
    if not isinstance(progress_bar, bool):
        raise TypeError(
            f"progress_bar must be True, False or None; got {type(progress_bar).__name__}"
        )
    return progress_bar


def _full_data(model_kwargs):
    """``model_kwargs`` without minibatching, so a trace of the model sees all the data."""
    if model_kwargs.get("subsample_size") is not None:
        return {**model_kwargs, "subsample_size": None}
    return model_kwargs


def _full_trace(model, model_args, model_kwargs):
    """One trace of ``model`` on all its data (never one minibatch), its effects blocked."""
    with numpyro.handlers.block(), numpyro.handlers.seed(rng_seed=0):
        return numpyro.handlers.trace(model).get_trace(*model_args, **_full_data(model_kwargs))


def _computed(model, model_args, model_kwargs, names) -> dict[str, Any]:
    """Values of the observed sites ``names``, which the model computes from its arguments.

    The other observed sites are recorded as given (:func:`_staged_trace`). A fit on
    minibatches (``subsample_size``) still records all the data it was fitted to: the model
    is traced without subsampling, not on one random minibatch.
    """
    if not names:
        return {}
    trace = _full_trace(model, model_args, model_kwargs)
    return {name: trace[name]["value"] for name in names}


def _computed_names(info) -> frozenset[str]:
    return frozenset(k for k, v in info.observed.items() if v is None)


class _ModelInfo(NamedTuple):
    """What a staged trace of the model tells before the fit."""

    dims: dict[str, list[str]]  # ArviZ dimension names
    latent: frozenset[str]
    deterministic: frozenset[str]
    observed: dict[str, Any]  # the data as given; None where the model computed it with JAX


def _staged_trace(model, model_args, model_kwargs) -> _ModelInfo:
    """Trace ``model`` on all the data with its operations staged, not run.

    Under ``jax.make_jaxpr`` every JAX operation of the model is recorded instead of being
    compiled and executed one by one, while the data stay concrete Python values: the
    model's own checks of its inputs still run (and raise), at the cost of a Python trace.
    """
    found = {}

    def trace_model():
        found["dims"] = infer_dims(model, model_args, _full_data(model_kwargs))
        trace = _full_trace(model, model_args, model_kwargs)
        sample = [(name, site) for name, site in trace.items() if site["type"] == "sample"]
        found["latent"] = frozenset(name for name, site in sample if not site["is_observed"])
        found["deterministic"] = frozenset(
            name for name, site in trace.items() if site["type"] == "deterministic"
        )
        found["observed"] = {
            name: None if isinstance(site["value"], jax.core.Tracer) else site["value"]
            for name, site in sample
            if site["is_observed"]
        }
        return 0

    jax.make_jaxpr(trace_model)()
    return _ModelInfo(**found)


def _to_datatree(draws, observed, dims) -> xr.DataTree:
    """Draws of shape (chain, draw, ...) plus the observed data as an ArviZ DataTree."""
    groups = {"posterior": {k: np.asarray(v) for k, v in draws.items()}}
    if observed:
        groups["observed_data"] = {k: np.asarray(v) for k, v in observed.items()}
    dims = {k: v for k, v in dims.items() if k in groups["posterior"] or k in observed}
    return azb.from_dict(groups, dims=dims)


# Raised when a model's Python code asks a traced (abstract) value for a concrete one.
_TRACER_ERRORS = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerArrayConversionError,
    jax.errors.TracerIntegerConversionError,
)


def _split_arrays(tree):
    """Split a pytree into its array leaves and the rest.

    Arrays with at least one axis become arguments of the compiled program; everything
    else (numbers, strings, ``None``, functions) stays a Python constant of the trace, so
    the model's Python code sees the same hyperparameters it would see outside ``jit``.
    Returns the arrays, the tree's structure, the other leaves (``None`` in place of each
    array) and the positions of the arrays.
    """
    leaves, treedef = jax.tree.flatten(tree)
    where = tuple(
        i for i, v in enumerate(leaves) if isinstance(v, np.ndarray | jax.Array) and v.ndim
    )
    static = tuple(None if i in where else v for i, v in enumerate(leaves))
    return [leaves[i] for i in where], treedef, static, where


def _guides_within(guide):
    """The guide and, for an ``AutoGuideList``, every guide inside it."""
    yield guide
    for inner in getattr(guide, "_guides", ()):
        yield from _guides_within(inner)


def _autoguides_within(guide):
    return [g for g in _guides_within(guide) if isinstance(g, AutoGuide)]


class _GuideSnapshot:
    """Put back the attributes a guide had, once a trace has set it up with traced values.

    An autoguide records the model's trace the first time it is called; when that call is
    traced inside ``jit`` the record holds abstract values, which must not outlive the
    trace. Restoring the attributes leaves the guide as the caller gave it: it sets itself
    up again, with concrete values, the next time it is used outside the compiled fit.
    """

    def __init__(self, guide):
        self.saved = [(g, dict(vars(g))) for g in _guides_within(guide) if hasattr(g, "__dict__")]

    def restore(self):
        for g, attrs in self.saved:
            vars(g).clear()
            vars(g).update(attrs)


class _Progress:
    """A tqdm bar fed from inside the compiled loop through ``jax.debug.callback``."""

    def __init__(self, num_steps):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=num_steps, desc="compiling")

    def update(self, step, loss):
        step = int(step) + 1
        self.bar.set_description("SVI", refresh=False)
        self.bar.set_postfix_str(f"loss {float(loss):.4g}", refresh=False)
        self.bar.update(step - self.bar.n)

    def close(self):
        self.bar.close()


@dataclass(frozen=True)
class _Job:
    """Everything one :func:`run_svi` call fits, as the two ways of running it need it."""

    svi: SVI
    guide: Callable
    default_guide: bool  # run_svi made the guide (AutoNormal(model)); none was given
    model: Callable
    info: _ModelInfo
    fit_args: tuple  # the data as the steps see it (split over devices with shard_data)
    fit_kwargs: dict
    model_args: tuple  # the data as given
    model_kwargs: dict
    num_steps: int
    num_samples: int
    init_state: SVIState | None
    progress_bar: bool


class _Program(NamedTuple):
    """What a compiled fit depends on besides the values of its data: its cache key.

    ``guide``, ``optimizer`` and ``loss`` are ``None`` for run_svi's defaults (a new
    ``AutoNormal(model)``, ``Adam(learning_rate)`` and ``Trace_ELBO()`` for each trace), so a
    fit run again with the same model, settings and data shapes (a notebook cell run twice)
    reuses the compiled program instead of compiling it again.
    """

    model: Callable
    guide: Callable | None
    optimizer: Any
    learning_rate: float | None
    loss: Any
    num_steps: int
    num_samples: int
    progress_bar: bool
    treedef: Any  # of (args, kwargs)
    static: tuple  # its leaves that are not arrays, None in place of each array
    where: tuple  # positions of the arrays among the leaves
    shapes: tuple  # shape and dtype of each array and of the init_state leaves
    keep: frozenset  # the model's latent and deterministic sites
    computed: frozenset  # observed sites whose values the model computes with JAX
    direct_draws: bool  # draw by running the guide (see _guide_draws)


def _program_for(job: _Job, learning_rate, optimizer, loss, arrays, treedef, static, where):
    state_leaves = jax.tree.leaves(job.init_state)
    shapes = tuple(
        (np.shape(v), str(getattr(v, "dtype", type(v)))) for v in (*arrays, *state_leaves)
    )
    info = job.info
    return _Program(
        model=job.model,
        guide=None if job.default_guide else job.guide,
        optimizer=optimizer,
        learning_rate=learning_rate if optimizer is None else None,
        loss=loss,
        num_steps=job.num_steps,
        num_samples=job.num_samples,
        progress_bar=job.progress_bar,
        treedef=(treedef, jax.tree.structure(job.init_state)),
        static=static,
        where=where,
        shapes=shapes,
        keep=info.latent | info.deterministic,
        computed=_computed_names(info),
        direct_draws=_draws_directly(job.guide, info),
    )


def _build_program(spec: _Program):
    """The jitted fit for ``spec``, and the slot its progress callback reads its bar from."""
    progress = {}
    every = max(spec.num_steps // 50, 1)

    def report(step, loss):
        progress["bar"].update(step, loss)

    def program(rng_key, arrays, init_state):
        leaves = list(spec.static)
        for i, v in zip(spec.where, arrays, strict=True):
            leaves[i] = v
        args, kwargs = jax.tree.unflatten(spec.treedef[0], leaves)
        guide = AutoNormal(spec.model) if spec.guide is None else spec.guide
        optimizer = (
            numpyro.optim.Adam(spec.learning_rate) if spec.optimizer is None else spec.optimizer
        )
        svi = SVI(spec.model, guide, optimizer, Trace_ELBO() if spec.loss is None else spec.loss)
        fit_key, draw_key = jax.random.split(rng_key)
        state = svi.init(fit_key, *args, **kwargs)  # also sets up the guide and svi's transforms
        if init_state is not None:
            state = init_state

        def step(state, i):
            state, loss = svi.update(state, *args, **kwargs)
            if spec.progress_bar:  # every `every` steps and at the last one
                due = (i % every == every - 1) | (i == spec.num_steps - 1)
                jax.lax.cond(due, lambda: jax.debug.callback(report, i, loss), lambda: None)
            return state, loss

        state, losses = jax.lax.scan(step, state, jnp.arange(spec.num_steps))
        params = svi.get_params(state)
        draws = _guide_draws(
            draw_key, guide, params, args, kwargs, spec.num_samples, spec.keep, spec.direct_draws
        )
        return state, losses, params, draws, _computed(spec.model, args, kwargs, spec.computed)

    return jax.jit(program), progress


_build_program_cached = functools.lru_cache(maxsize=16)(_build_program)


def _compiled_fit(job: _Job, rng_key, *, learning_rate, optimizer, loss):
    """Initialise, optimise, draw from the guide and record the data in one XLA program.

    Run outside ``jit``, NumPyro's set-up (the guide's first trace of the model, the search
    for valid initial values, the draws) executes operation by operation, and XLA compiles
    every one of those hundreds of operations separately; compiled together they cost one
    compilation, and none when the same fit is run again. The steps are ``SVI.run``'s, with
    the same keys.
    """
    arrays, treedef, static, where = _split_arrays((job.fit_args, job.fit_kwargs))
    spec = _program_for(job, learning_rate, optimizer, loss, arrays, treedef, static, where)
    try:
        program, progress = _build_program_cached(spec)
    except TypeError:  # something in the key is unhashable: compile without caching
        program, progress = _build_program(spec)
    snapshot = _GuideSnapshot(job.guide)
    if job.progress_bar:
        progress["bar"] = _Progress(job.num_steps)
    try:
        return program(rng_key, arrays, job.init_state)
    finally:
        snapshot.restore()
        if job.progress_bar:
            progress.pop("bar").close()


def _eager_fit(job: _Job, rng_key):
    """``SVI.run`` as NumPyro runs it, for models that cannot be traced as one program."""
    fit_key, draw_key = jax.random.split(rng_key)
    if job.init_state is not None:
        # SVI.run resumes from a state but needs init() to have set up the guide and the
        # constraint transforms; the state's own key then drives the continued run.
        job.svi.init(fit_key, *job.fit_args, **job.fit_kwargs)
    result = job.svi.run(
        fit_key,
        job.num_steps,
        *job.fit_args,
        progress_bar=job.progress_bar,
        init_state=job.init_state,
        **job.fit_kwargs,
    )
    draws = _guide_draws(
        draw_key,
        job.guide,
        result.params,
        job.model_args,
        job.model_kwargs,
        job.num_samples,
        job.info.latent | job.info.deterministic,
        _draws_directly(job.guide, job.info),
    )
    computed = _computed(job.model, job.model_args, job.model_kwargs, _computed_names(job.info))
    return result.state, result.losses, result.params, draws, computed


# Autoguides whose own trace draws from the fitted distribution, as sample_posterior does.
# (Not AutoLaplaceApproximation, whose trace is a point and whose posterior is not.)
_SELF_SAMPLING_GUIDES = (AutoNormal,)


def _draws_directly(guide, info: _ModelInfo) -> bool:
    """Whether the guide's own trace may give the draws (see :func:`_guide_draws`)."""
    return not info.deterministic and type(guide) in _SELF_SAMPLING_GUIDES


def _guide_draws(
    rng_key, guide, params, model_args, model_kwargs, num_samples, keep=None, direct=False
):
    """Draws of the latent variables from a fitted guide, keyed by site name.

    An autoguide's ``sample_posterior`` runs the whole model once per draw to constrain the
    draws and to compute its deterministic sites. Where the model has none and the guide's
    own trace samples its fitted distribution (``direct``), the guide is run instead: the
    same distribution, at a fraction of the work. Only the sites in ``keep`` (the model's
    latent and deterministic ones) are returned, not a guide's auxiliary variables.
    """
    if isinstance(guide, AutoGuide) and not direct:
        return guide.sample_posterior(
            rng_key, params, *model_args, sample_shape=(num_samples,), **model_kwargs
        )
    draws = Predictive(guide, params=params, num_samples=num_samples)(
        rng_key, *model_args, **model_kwargs
    )
    if keep is not None:
        draws = {k: v for k, v in draws.items() if k in keep}
    return draws


def _shard_data_axis(model_args, model_kwargs):
    """Split the data axis of the array arguments over a 1-D mesh of all local devices."""
    devices = jax.local_devices()
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
        return jax.device_put(v, split if v.ndim >= 1 and v.shape[0] == n else copied)

    return tuple(place(v) for v in model_args), {k: place(v) for k, v in model_kwargs.items()}


def run_svi(
    rng_key,
    model: Callable,
    *model_args,
    guide: Callable | None = None,
    num_steps: int = 2000,
    optimizer=None,
    learning_rate: float | None = None,
    loss=None,
    num_samples: int = 1000,
    init_state: SVIState | None = None,
    progress_bar: bool | None = None,
    shard_data: bool = False,
    **model_kwargs,
) -> SVIFit:
    """Fit ``model`` by stochastic variational inference and draw from the fitted guide.

    SVI turns inference into optimisation: it picks the member ``q`` of a family (the guide)
    that maximises the evidence lower bound, ``ELBO = E_q[log p(x, z) - log q(z)]``, by
    stochastic gradient steps (Hoffman et al. 2013; Kucukelbir et al. 2017).

    Parameters
    ----------
    rng_key : jax.random key
        Drives the fit and the posterior draws; the same key gives the same numbers.
    model : callable
        A NumPyro model.
    *model_args
        Positional arguments of ``model``.
    guide : callable, optional
        The variational family; ``numpyro.infer.autoguide.AutoNormal(model)`` (mean-field
        Normal) by default.
    num_steps : int
        Number of optimisation steps.
    optimizer : numpyro.optim optimiser, optional
        Defaults to ``numpyro.optim.Adam(learning_rate)``.
    learning_rate : float, optional
        Step size of the default Adam optimiser, 0.01 unless given. Give either this or
        ``optimizer``, not both.
    loss : numpyro ELBO, optional
        Defaults to ``Trace_ELBO()`` (one particle).
    num_samples : int
        Number of posterior draws taken from the fitted guide.
    init_state : SVIState, optional
        The ``state`` of an earlier fit of the same model and guide: the run continues
        from it, so two runs of 500 steps give the same result as one of 1000.
    progress_bar : bool, optional
        Defaults to on in a notebook, off elsewhere and whenever ``VIBOOK_PROGRESS=0``.
    shard_data : bool
        Run each step data-parallel over all local JAX devices: every array argument whose
        leading axis has the length of the first one (the data axis) is split along that
        axis over a one-dimensional device mesh (``jax.sharding.NamedSharding``), the
        others are copied to every device, and XLA partitions the step, summing the
        per-device parts of the ELBO. The result equals the single-device one up to float
        rounding. The data axis must be a multiple of ``jax.local_device_count()``.
    **model_kwargs
        Keyword arguments of ``model``.

    Returns
    -------
    SVIFit
        Parameters, losses, optimiser state, guide, model and posterior draws.

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
    _check_model(model)
    num_steps = check_positive_int(num_steps, "num_steps")
    num_samples = check_positive_int(num_samples, "num_samples")
    if optimizer is not None and learning_rate is not None:
        raise ValueError("give either optimizer or learning_rate, not both")
    given_optimizer, default_guide = optimizer, guide is None
    if optimizer is None:
        learning_rate = (
            0.01 if learning_rate is None else check_positive(learning_rate, "learning_rate")
        )
        optimizer = numpyro.optim.Adam(learning_rate)
    if init_state is not None and not isinstance(init_state, SVIState):
        raise TypeError(
            f"init_state must be the state of an earlier fit (fit.state); "
            f"got {type(init_state).__name__}"
        )
    if guide is None:
        guide = AutoNormal(model)
    elif not callable(guide):
        raise TypeError(f"guide must be a NumPyro guide; got {type(guide).__name__}")
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
    progress_bar = _check_progress_bar(progress_bar)
    if not isinstance(shard_data, bool):
        raise TypeError(f"shard_data must be True or False; got {type(shard_data).__name__}")
    fit_args, fit_kwargs = (
        _shard_data_axis(model_args, model_kwargs) if shard_data else (model_args, model_kwargs)
    )

    # The model is traced once with the concrete data, staged and never executed: its own
    # input checks run, and ArviZ's dimension names come out of the same trace.
    job = _Job(
        svi=SVI(model, guide, optimizer, loss if loss is not None else Trace_ELBO()),
        guide=guide,
        default_guide=default_guide,
        model=model,
        info=_staged_trace(model, model_args, model_kwargs),
        fit_args=fit_args,
        fit_kwargs=fit_kwargs,
        model_args=model_args,
        model_kwargs=model_kwargs,
        num_steps=num_steps,
        num_samples=num_samples,
        init_state=init_state,
        progress_bar=progress_bar,
    )
    try:
        state, losses, params, draws, computed = _compiled_fit(
            job, rng_key, learning_rate=learning_rate, optimizer=given_optimizer, loss=loss
        )
    except _TRACER_ERRORS:
        # A model whose Python code needs concrete values (a branch on the data, say) cannot
        # be compiled as one program; run it the way NumPyro does, step by step.
        state, losses, params, draws, computed = _eager_fit(job, rng_key)
    observed = {k: computed.get(k, v) for k, v in job.info.observed.items()}
    losses = np.asarray(losses)
    bad = np.flatnonzero(~np.isfinite(losses))
    rate = f" (now {learning_rate})" if learning_rate is not None else ""
    remedy = (
        f"Try a smaller learning_rate{rate}, more particles "
        f"(loss=Trace_ELBO(num_particles=...)), or a guide that starts closer to the data "
        f"(for example AutoNormal(model, init_scale=0.01))."
    )
    if bad.size:
        step = int(bad[0])
        last = f"{losses[step - 1]:.4g}" if step > 0 else "none"
        raise SVIDivergenceError(
            f"SVI diverged: the loss became {losses[step]} at step {step} of {num_steps} "
            f"(last finite loss: {last}). {remedy}"
        )
    # The last update can break the parameters while every loss (computed before it) is finite.
    broken = sorted(
        k for k, v in params.items() if not all(np.isfinite(x).all() for x in jax.tree.leaves(v))
    )
    if broken:
        raise SVIDivergenceError(
            f"SVI diverged: the update at step {num_steps - 1} of {num_steps} (the last) made "
            f"{', '.join(broken)} NaN or infinite, though every loss was finite. {remedy}"
        )
    draws = {k: np.asarray(v)[None] for k, v in draws.items()}
    posterior = _to_datatree(draws, observed, job.info.dims)
    return SVIFit(
        params=params,
        losses=losses,
        state=state,
        fitted_guide=guide,
        model=model,
        posterior=posterior,
        model_args=tuple(model_args),
        model_kwargs=dict(model_kwargs),
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
    num_samples: int = 1000,
    num_chains: int = 4,
    target_accept_prob: float = 0.8,
    dense_mass: bool = False,
    chain_method: str | None = None,
    progress_bar: bool | None = None,
    **model_kwargs,
) -> xr.DataTree:
    """Sample the posterior of ``model`` with the No-U-Turn Sampler (Hoffman & Gelman 2014).

    NUTS is the reference: asymptotically exact, and with diagnostics (R-hat, ESS,
    divergences) that say when it has not worked. Chains run in parallel when there are at
    least ``num_chains`` JAX devices, vectorised on one device otherwise.

    Parameters
    ----------
    rng_key : jax.random key
        Drives warm-up and sampling; the same key gives the same draws.
    model : callable
        A NumPyro model.
    *model_args
        Positional arguments of ``model``.
    num_warmup, num_samples, num_chains : int
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
    **model_kwargs
        Keyword arguments of ``model``.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior`` (dims ``chain``, ``draw``, ...), ``sample_stats`` (``diverging``,
        ``energy``, ``tree_depth``, ...) and ``observed_data``.
    """
    rng_key = check_key(rng_key)
    _check_model(model)
    num_warmup = check_positive_int(num_warmup, "num_warmup")
    num_samples = check_positive_int(num_samples, "num_samples")
    num_chains = check_positive_int(num_chains, "num_chains")
    target_accept_prob = check_positive(target_accept_prob, "target_accept_prob")
    if not target_accept_prob < 1:
        raise ValueError(f"target_accept_prob must be in (0, 1); got {target_accept_prob}")
    if not isinstance(dense_mass, bool):
        raise TypeError(f"dense_mass must be True or False; got {type(dense_mass).__name__}")
    progress_bar = _check_progress_bar(progress_bar)
    if chain_method is None:
        chain_method = "parallel" if jax.local_device_count() >= num_chains else "vectorized"
    elif chain_method not in ("parallel", "vectorized", "sequential"):
        raise ValueError(
            f"chain_method must be 'parallel', 'vectorized' or 'sequential'; got {chain_method!r}"
        )
    mcmc = MCMC(
        NUTS(model, target_accept_prob=target_accept_prob, dense_mass=dense_mass),
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method=chain_method,
        progress_bar=progress_bar,
    )
    mcmc.run(rng_key, *model_args, extra_fields=_NUTS_STATS, **model_kwargs)
    return azb.from_numpyro(mcmc)


def posterior_samples(posterior) -> dict[str, jax.Array]:
    """Posterior draws as a dict of arrays of shape (chain * draw, ...).

    Parameters
    ----------
    posterior : SVIFit or xarray.DataTree
        A result of :func:`run_svi` or :func:`run_nuts` (or any DataTree with a
        ``posterior`` group having ``chain`` and ``draw`` dimensions).
    """
    if isinstance(posterior, SVIFit):
        posterior = posterior.posterior
    if not isinstance(posterior, xr.DataTree) or "posterior" not in posterior.children:
        raise TypeError(
            "posterior must be an SVIFit or a DataTree with a 'posterior' group; "
            f"got {type(posterior).__name__}"
        )
    out = {}
    for name, da in posterior["posterior"].data_vars.items():
        da = da.transpose("chain", "draw", ...)
        out[name] = jnp.asarray(da.values.reshape((-1, *da.shape[2:])))
    return out


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
    rng_key : jax.random key
        Drives the draws.
    model : callable
        The NumPyro model that was fitted.
    posterior : SVIFit or xarray.DataTree
        A result of :func:`run_svi` or :func:`run_nuts`.
    *model_args
        Positional arguments of ``model`` (new inputs for predictions).
    return_sites : list of str, optional
        Sites to return; by default the observed and deterministic ones.
    **model_kwargs
        Keyword arguments of ``model``.

    Returns
    -------
    dict of str to ndarray
        Each array has shape (n_draws, ...), one row per posterior draw.
    """
    rng_key = check_key(rng_key)
    _check_model(model)
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
