"""How :func:`vibook.run_svi` runs a fit as one compiled XLA program.

The story, in the order it happens:

1. **Trace the model once, staged.** Under ``jax.make_jaxpr`` the model's JAX operations are
   recorded, not run, while the data stay concrete: the model's own input checks still run (and
   raise), and one trace tells the latent, deterministic and observed sites, the data as given, and
   ArviZ's dimension names, from each site's plates (:func:`stage_model`).
2. **Split the arguments.** Arrays become arguments of the program; everything else (numbers,
   strings, functions) stays a constant of the trace, so the model's Python code sees the
   hyperparameters it would see outside ``jit`` (:func:`split_arrays`).
3. **One program.** Inside one ``jax.jit``: a fresh copy of the guide, ``SVI.init`` (the guide's
   first trace of the model, the search for valid initial values), every step (``SVI.update`` in
   :func:`vibook.loop.scan_steps`), ``SVI.get_params``, the posterior draws, the PSIS ratios
   (:func:`vibook.infer.psis.log_ratios`) and any observed data the model computes with JAX, with
   ``SVI.run``'s keys and steps. Outside ``jit``, XLA compiles each of the hundreds of operations of
   NumPyro's set-up and draws separately; together they cost one compilation.
4. **Nothing leaks out of the trace.** An autoguide records the model when first called, and inside
   the trace that record holds traced values, so each run gives the trace a deep copy of the guide,
   made outside it with concrete values and dropped after the run. ``SVI`` is built inside the trace
   too; the caller's guide is never touched.
5. **Reuse.** The program is cached under everything it depends on besides the values of its data
   (:class:`Program`): the same fit run again (a notebook cell run twice) does not compile again.
6. **Fallback.** A model whose Python code needs concrete values (a branch on the data) cannot be
   traced as one program; it is fitted step by step, as ``SVI.run`` does (:func:`eager_fit`).

Beyond NumPyro's and ArviZ's documented calls, only each site's plates are read from NumPyro's trace
(``cond_indep_stack``: each frame's ``name`` and ``dim``), for the ArviZ dims;
``tests/test_upstream_contract.py`` checks them against ArviZ's own conversion.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import numpy as np
import numpyro
from numpyro.infer import SVI, Predictive
from numpyro.infer.autoguide import AutoContinuous, AutoGuide, AutoNormal
from numpyro.infer.svi import SVIState

from vibook.infer.elbo import OrderedTraceELBO
from vibook.infer.psis import full_data, log_ratios
from vibook.loop import Progress, scan_steps

__all__ = ["TRACER_ERRORS", "FitJob", "ModelInfo", "compiled_fit", "eager_fit", "stage_model"]

# Raised when a model's Python code asks a traced (abstract) value for a concrete one.
TRACER_ERRORS = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerArrayConversionError,
    jax.errors.TracerIntegerConversionError,
)


def _full_trace(model, model_args, model_kwargs):
    """One trace of ``model`` on all its data (never one minibatch), its effects blocked."""
    with numpyro.handlers.block(), numpyro.handlers.seed(rng_seed=0):
        return numpyro.handlers.trace(model).get_trace(*model_args, **full_data(model_kwargs))


class ModelInfo(NamedTuple):
    """What a staged trace of the model tells before the fit."""

    dims: dict[str, list[str]]  # ArviZ dimension names, from the sites' plates
    latent: frozenset[str]
    deterministic: frozenset[str]
    observed: dict[str, Any]  # the data as given; None where the model computed it with JAX

    @property
    def computed(self) -> frozenset[str]:
        """Observed sites whose values the model computes with JAX."""
        return frozenset(k for k, v in self.observed.items() if v is None)


def _site_dims(site) -> list[str]:
    """A site's named dimensions: its plates, innermost last, then any ``event_dims``."""
    frames = sorted(site["cond_indep_stack"], key=lambda frame: frame.dim)
    return [frame.name for frame in frames] + list(site.get("infer", {}).get("event_dims", []))


def stage_model(model, model_args, model_kwargs) -> ModelInfo:
    """Trace ``model`` on all its data with its operations staged, not run (step 1)."""
    found = {}

    def trace_model():
        trace = _full_trace(model, model_args, model_kwargs)
        sites = {k: s for k, s in trace.items() if s["type"] in ("sample", "deterministic")}
        found["dims"] = {k: d for k, s in sites.items() if (d := _site_dims(s))}
        found["latent"] = frozenset(
            k for k, s in sites.items() if s["type"] == "sample" and not s["is_observed"]
        )
        found["deterministic"] = frozenset(
            k for k, s in sites.items() if s["type"] == "deterministic"
        )
        found["observed"] = {
            k: None if isinstance(s["value"], jax.core.Tracer) else s["value"]
            for k, s in sites.items()
            if s["type"] == "sample" and s["is_observed"]
        }
        return 0

    jax.make_jaxpr(trace_model)()
    return ModelInfo(**found)


def split_arrays(tree):
    """Split a pytree into its array leaves and the rest (step 2).

    Returns the arrays, the treedef, the other leaves (``None`` for arrays) and their positions.
    """
    leaves, treedef = jax.tree.flatten(tree)
    where = tuple(
        i for i, v in enumerate(leaves) if isinstance(v, np.ndarray | jax.Array) and v.ndim
    )
    static = tuple(None if i in where else v for i, v in enumerate(leaves))
    return [leaves[i] for i in where], treedef, static, where


@dataclass(frozen=True)
class FitJob:
    """Everything one :func:`vibook.run_svi` call fits."""

    model: Callable
    guide: Callable | None  # None: a new AutoNormal(model)
    optimizer: Any  # None: Adam(learning_rate)
    learning_rate: float | None
    loss: Any  # None: OrderedTraceELBO()
    info: ModelInfo
    fit_args: tuple  # the data as the steps see it (split over devices with shard_data)
    fit_kwargs: dict
    model_args: tuple  # the data as given
    model_kwargs: dict
    num_steps: int
    num_draws: int
    psis_draws: int | None
    init_state: SVIState | None
    progress_bar: bool

    def make_svi(self) -> SVI:
        """A new ``SVI`` with a deep copy of the guide, so the caller's guide stays as given."""
        guide = None if self.guide is None else copy.deepcopy(self.guide)
        return make_svi(self.model, guide, self.optimizer, self.learning_rate, self.loss)


def make_svi(model, guide, optimizer, learning_rate, loss) -> SVI:
    """A new ``SVI``; ``None`` means the default (AutoNormal, Adam, OrderedTraceELBO).

    :class:`vibook.infer.elbo.OrderedTraceELBO` is ``Trace_ELBO`` whose program is the same in
    every process, so that the persistent compile cache finds it.
    """
    guide = AutoNormal(model) if guide is None else guide
    optimizer = numpyro.optim.Adam(learning_rate) if optimizer is None else optimizer
    return SVI(model, guide, optimizer, OrderedTraceELBO() if loss is None else loss)


class Program(NamedTuple):
    """What a compiled fit depends on besides the values of its data: its cache key (step 5)."""

    model: Callable
    guide: Callable | None
    optimizer: Any
    learning_rate: float | None
    loss: Any
    num_steps: int
    num_draws: int
    psis_draws: int | None
    progress_bar: bool
    treedef: Any  # of ((args, kwargs), init_state)
    static: tuple  # the leaves that are not arrays, None in place of each array
    where: tuple  # positions of the arrays among the leaves
    shapes: tuple  # shape and dtype of each array and of the init_state leaves
    keep: frozenset  # the model's latent and deterministic sites
    computed: frozenset  # observed sites whose values the model computes with JAX
    direct_draws: bool  # draw by running the guide (see guide_draws)


def _job_program(job: FitJob, arrays, treedef, static, where) -> Program:
    shapes = tuple(
        (np.shape(v), str(getattr(v, "dtype", type(v))))
        for v in (*arrays, *jax.tree.leaves(job.init_state))
    )
    return Program(
        model=job.model,
        guide=job.guide,
        optimizer=job.optimizer,
        learning_rate=job.learning_rate if job.optimizer is None else None,
        loss=job.loss,
        num_steps=job.num_steps,
        num_draws=job.num_draws,
        psis_draws=job.psis_draws,
        progress_bar=job.progress_bar,
        treedef=(treedef, jax.tree.structure(job.init_state)),
        static=static,
        where=where,
        shapes=shapes,
        keep=job.info.latent | job.info.deterministic,
        computed=job.info.computed,
        direct_draws=draws_directly(job.guide, job.info),
    )


def _computed(model, model_args, model_kwargs, names) -> dict[str, Any]:
    """Values of the observed sites ``names``, which the model computes from its arguments."""
    if not names:
        return {}
    trace = _full_trace(model, model_args, model_kwargs)
    return {name: trace[name]["value"] for name in names}


class _Slots:
    """What a run of a compiled program hands its trace: its progress bar and guide copy."""

    def __init__(self, progress_bar: bool):
        self.progress = Progress("SVI") if progress_bar else None
        self.guide = None  # a deep copy of the given guide, made outside the trace


def _build(spec: Program):
    """The jitted fit for ``spec`` and the slots each run fills (step 3)."""
    slots = _Slots(spec.progress_bar)
    progress = slots.progress

    def program(rng_key, arrays, init_state):
        leaves = list(spec.static)
        for i, v in zip(spec.where, arrays, strict=True):
            leaves[i] = v
        args, kwargs = jax.tree.unflatten(spec.treedef[0], leaves)
        # Step 4: the SVI object and the copy of the guide live and die inside the trace.
        guide = None if spec.guide is None else slots.guide
        svi = make_svi(spec.model, guide, spec.optimizer, spec.learning_rate, spec.loss)
        fit_key, draw_key = jax.random.split(rng_key)
        state = svi.init(fit_key, *args, **kwargs)
        if init_state is not None:
            state = init_state
        state, losses = scan_steps(
            lambda s, _: svi.update(s, *args, **kwargs), state, spec.num_steps, progress=progress
        )
        params = svi.get_params(state)
        draws = guide_draws(
            draw_key, svi.guide, params, args, kwargs, spec.num_draws, spec.keep, spec.direct_draws
        )
        ratios = None
        if spec.psis_draws:
            ratios = log_ratios(
                jax.random.key(0), spec.model, svi.guide, params, args, kwargs, spec.psis_draws
            )
        computed = _computed(spec.model, args, kwargs, spec.computed)
        return state, losses, params, draws, ratios, computed

    return jax.jit(program), slots


_build_cached = functools.lru_cache(maxsize=16)(_build)


def compiled_fit(job: FitJob, rng_key):
    """Run ``job`` as one compiled program; returns state, losses, params, draws, ratios, data."""
    arrays, treedef, static, where = split_arrays((job.fit_args, job.fit_kwargs))
    spec = _job_program(job, arrays, treedef, static, where)
    try:
        program, slots = _build_cached(spec)
    except TypeError:  # something in the key is unhashable: compile without caching
        program, slots = _build(spec)
    # Copied here, with concrete values, for a trace to set up (a cached program never looks).
    slots.guide = None if job.guide is None else copy.deepcopy(job.guide)
    if isinstance(slots.guide, AutoContinuous):
        # An AutoContinuous packs its latent vector in the order of its initial values, and
        # NumPyro's set-up returns them in model order when run eagerly but sorted by site name
        # inside a trace (they pass through lax.while_loop). Set up here, eagerly, the copy packs
        # the fitted parameters in the order fit.guide reads them back.
        with numpyro.handlers.block(), numpyro.handlers.seed(rng_seed=rng_key):
            slots.guide(*job.fit_args, **job.fit_kwargs)
    try:
        if slots.progress is None:
            return program(rng_key, arrays, job.init_state)
        with slots.progress.showing(job.num_steps):
            return program(rng_key, arrays, job.init_state)
    finally:
        slots.guide = None


def eager_fit(job: FitJob, rng_key):
    """``SVI.run`` as NumPyro runs it, for models that cannot be traced as one program."""
    svi = job.make_svi()
    fit_key, draw_key = jax.random.split(rng_key)
    if job.init_state is not None:
        # SVI.run needs init() to set up the guide and transforms; the state's key drives the run.
        svi.init(fit_key, *job.fit_args, **job.fit_kwargs)
    result = svi.run(
        fit_key,
        job.num_steps,
        *job.fit_args,
        progress_bar=job.progress_bar,
        init_state=job.init_state,
        **job.fit_kwargs,
    )
    draws = guide_draws(
        draw_key,
        svi.guide,
        result.params,
        job.model_args,
        job.model_kwargs,
        job.num_draws,
        job.info.latent | job.info.deterministic,
        draws_directly(job.guide, job.info),
    )
    ratios = None
    if job.psis_draws:
        ratios = log_ratios(
            jax.random.key(0),
            job.model,
            svi.guide,
            result.params,
            job.model_args,
            job.model_kwargs,
            job.psis_draws,
        )
    computed = _computed(job.model, job.model_args, job.model_kwargs, job.info.computed)
    return result.state, result.losses, result.params, draws, ratios, computed


# Autoguides whose own trace draws from the fitted distribution, as sample_posterior does.
# (Not AutoLaplaceApproximation, whose trace is a point and whose posterior is not.)
_SELF_SAMPLING_GUIDES = (AutoNormal,)


def draws_directly(guide, info: ModelInfo) -> bool:
    """Whether the guide's own trace may give the draws (see :func:`guide_draws`)."""
    guide_type = AutoNormal if guide is None else type(guide)
    return not info.deterministic and guide_type in _SELF_SAMPLING_GUIDES


def guide_draws(rng_key, guide, params, model_args, model_kwargs, num_draws, keep, direct):
    """Draws of the latent variables from a fitted guide, keyed by site name.

    An autoguide's ``sample_posterior`` runs the whole model per draw to constrain the draws and
    compute deterministic sites. Where the model has none and the guide's own trace samples its
    fitted distribution (``direct``), the guide is run instead, for a fraction of the work. Only the
    sites in ``keep`` (the model's latent and deterministic ones) are returned, not auxiliary ones.
    """
    if isinstance(guide, AutoGuide) and not direct:
        return guide.sample_posterior(
            rng_key, params, *model_args, sample_shape=(num_draws,), **model_kwargs
        )
    draws = Predictive(guide, params=params, num_samples=num_draws)(
        rng_key, *model_args, **model_kwargs
    )
    return {k: v for k, v in draws.items() if k in keep}
