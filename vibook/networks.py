"""Fitting a Bayesian neural network and predicting with it.

:func:`fit_bnn` fits :func:`vibook.models.bnn` under :func:`vibook.models.bnn_guide` by mean-field
SVI, compiled once per configuration and data shape. :func:`predict_proba` and
:func:`predict_regression` run the network under posterior draws of its weights, from a
:class:`BNNFit`, an ``SVIFit`` or DataTree of ``run_svi`` / ``run_nuts``, or a dict of draws.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import optax
import xarray as xr
from numpyro.infer import SVI, TraceMeanField_ELBO
from numpyro.infer.util import log_density

from vibook._checks import (
    check_array,
    check_bool,
    check_choice,
    check_key,
    check_positive,
    check_positive_int,
)
from vibook.fit import SVIFit, as_draws
from vibook.loop import check_finite, scan_steps
from vibook.models.bnn import (
    LocalReparamELBO,
    bnn,
    bnn_apply,
    bnn_guide,
    bnn_layer_shapes,
    check_activation,
    check_hidden,
    check_xy,
    layer_scales,
    prior_sds,
)

__all__ = [
    "BNNFit",
    "fit_bnn",
    "predict_proba",
    "predict_regression",
    "sd_over_prior",
]


class BNNFit(NamedTuple):
    """The result of :func:`fit_bnn`.

    Attributes
    ----------
    params : dict of str to array
        Variational parameters ``{site}_loc`` and ``{site}_scale`` of :func:`bnn_guide`; pass
        them as ``init_params`` to warm-start the next fit.
    losses : array of shape (num_steps,)
        Negative ELBO at each step.
    config : dict
        The model's keyword arguments (``n_classes``, ``hidden``, ``activation``, ...).
    """

    params: dict[str, Any]
    losses: np.ndarray
    config: dict[str, Any]


def _step_size(learning_rate: float, num_steps: int, lr_schedule: str):
    """A constant step size, or one cosine-decayed to 1% (Loshchilov and Hutter 2017)."""
    if lr_schedule == "cosine":
        return optax.cosine_decay_schedule(learning_rate, decay_steps=num_steps, alpha=0.01)
    return learning_rate


@functools.lru_cache(maxsize=64)
def _program(
    config_items,
    num_steps,
    learning_rate,
    num_particles,
    init_scale,
    batch_size,
    lr_schedule="constant",
    local_reparam=False,
):
    """A compiled SVI run for one model configuration; jax.jit caches per data shape."""
    config = dict(config_items)
    model = functools.partial(bnn, **config)
    guide = functools.partial(bnn_guide, **config, init_scale=init_scale)
    if local_reparam:
        elbo = LocalReparamELBO(config, num_particles=num_particles)
    else:
        elbo = TraceMeanField_ELBO(num_particles=num_particles)
    optim = numpyro.optim.Adam(_step_size(learning_rate, num_steps, lr_schedule))
    svi = SVI(model, guide, optim, elbo)

    @jax.jit
    def init(key, x):
        with numpyro.handlers.seed(rng_seed=key):
            tr = numpyro.handlers.trace(guide).get_trace(x)
        return {k: v["value"] for k, v in tr.items() if v["type"] == "param"}

    @jax.jit
    def run(key, x, y, mask, params):
        init_key, key = jax.random.split(key)
        state = svi.init(init_key, x, y, mask=mask, subsample_size=batch_size, init_params=params)
        state = state._replace(rng_key=key)

        def step(state, _):
            return svi.update(state, x, y, mask=mask, subsample_size=batch_size)

        state, losses = scan_steps(step, state, num_steps)
        return svi.get_params(state), losses

    return init, run


@functools.lru_cache(maxsize=64)
def _map_program(config_items, num_steps, learning_rate, lr_schedule):
    """A compiled maximum-a-posteriori fit of :func:`bnn`: Adam on its log joint density.

    Whatever the prior, the network starts from a standard initialisation: weight sd
    ``sqrt(2 / fan_in)`` for ReLU-like activations (He et al. 2015), ``sqrt(1 / fan_in)`` otherwise
    (LeCun et al. 1998), biases at zero. The regression noise sd is optimised on the log scale.
    """
    config = dict(config_items)
    model = functools.partial(bnn, **config)
    optim = numpyro.optim.Adam(_step_size(learning_rate, num_steps, lr_schedule))
    gain = 2.0 if config["activation"] in ("relu", "gelu") else 1.0

    def start(key, d):
        shapes = bnn_layer_shapes(d, config["hidden"], config["n_classes"] or 1)
        keys = jax.random.split(key, len(shapes))
        values = {}
        for i, (k, (fan_in, fan_out)) in enumerate(zip(keys, shapes, strict=True)):
            values[f"w{i}"] = (gain / fan_in) ** 0.5 * jax.random.normal(k, (fan_in, fan_out))
            values[f"b{i}"] = jnp.zeros(fan_out)
        if config["n_classes"] is None:
            values["log_sigma"] = jnp.log(0.1 * config["noise_scale"])
        return values

    def neg_log_joint(values, x, y, mask):
        values = dict(values)
        if "log_sigma" in values:
            values["sigma"] = jnp.exp(values.pop("log_sigma"))
        log_joint, _ = log_density(model, (x, y), {"mask": mask}, values)
        return -log_joint / jnp.sum(mask)

    @jax.jit
    def run(key, x, y, mask):
        def step(state, _):
            loss, grads = jax.value_and_grad(neg_log_joint)(optim.get_params(state), x, y, mask)
            return optim.update(grads, state), loss

        state, losses = scan_steps(step, optim.init(start(key, x.shape[1])), num_steps)
        return optim.get_params(state), losses  # the noise sd, if any, as log_sigma

    return run


def _freeze(config: dict) -> tuple:
    return tuple(
        sorted((k, tuple(v) if isinstance(v, list | tuple) else v) for k, v in config.items())
    )


def fit_bnn(
    rng_key,
    x,
    y,
    *,
    n_classes: int | None = None,
    hidden=(50,),
    activation: str = "tanh",
    prior_scale=1.0,
    noise_scale: float = 1.0,
    learn_prior_scale: bool = False,
    mask=None,
    init_params: dict | None = None,
    num_steps: int = 2000,
    learning_rate: float = 0.01,
    batch_size: int | None = None,
    num_particles: int = 1,
    init_scale: float = 1e-3,
    init_loc: str = "prior",
    map_steps: int = 2000,
    map_learning_rate: float = 0.01,
    lr_schedule: str = "constant",
    local_reparam: bool = False,
) -> BNNFit:
    """Fit :func:`bnn` by mean-field SVI, compiled once and reused (Blundell et al. 2015).

    The KL between the Normal guide and prior is exact (``TraceMeanField_ELBO``); only the
    likelihood is estimated by Monte Carlo. The run is one ``jax.lax.scan``, compiled per
    configuration and data shape and cached: new data of the same shape (a padded labelled set with
    a new ``mask``) or ``init_params`` cost no compilation.

    Three standard refinements are opt-in. ``init_loc="map"`` starts the variational means, with
    small sds, at a maximum-a-posteriori fit from a standard initialisation, so SVI only has to
    learn how far each weight may move (Krishnan et al. 2020). ``local_reparam=True`` estimates the
    same ELBO with lower variance (:class:`LocalReparamELBO`, Kingma et al. 2015).
    ``lr_schedule="cosine"`` decays the step size to 1% of ``learning_rate`` (Loshchilov and Hutter
    2017), so the last steps average out the gradient noise.

    Parameters
    ----------
    rng_key : jax.random key
        Drives the initialisation (when ``init_params`` is None), minibatches and the ELBO.
    x, y : arrays of shape (n, d) and (n,)
        Inputs, and targets or integer labels.
    n_classes, hidden, activation, prior_scale, noise_scale, learn_prior_scale
        As in :func:`bnn`.
    mask : array of bool of shape (n,), optional
        Which points count; all of them by default.
    init_params : dict, optional
        ``fit.params`` of an earlier fit with the same configuration: a warm start.
    num_steps, learning_rate : int, float
        Adam steps and step size.
    batch_size : int, optional
        Minibatch size; full batch by default.
    num_particles : int
        Weight draws per ELBO estimate.
    init_scale : float
        Initial sd of each weight's Normal.
    init_loc : {"prior", "map"}
        Start of the variational means: a prior draw or a MAP fit (ignored with ``init_params``).
    map_steps, map_learning_rate : int, float
        Full-batch Adam steps and step size of the MAP fit.
    lr_schedule : {"constant", "cosine"}
        Step size of both fits: constant, or cosine-decayed to 1%.
    local_reparam : bool
        Estimate the ELBO by local reparameterisation (:class:`LocalReparamELBO`).

    Returns
    -------
    BNNFit

    References
    ----------
    Blundell, C. et al. (2015). Weight uncertainty in neural networks. ICML.
    He, K. et al. (2015). Delving deep into rectifiers. ICCV.
    Kingma, D. P., Salimans, T. and Welling, M. (2015). Variational dropout and the local
    reparameterization trick. NeurIPS.
    Krishnan, R., Subedar, M. and Tickoo, O. (2020). Specifying weight priors in Bayesian deep
    neural networks with empirical Bayes. AAAI.
    Loshchilov, I. and Hutter, F. (2017). SGDR: stochastic gradient descent with warm restarts.
    ICLR.
    """
    rng_key = check_key(rng_key)
    x, y, n_classes = check_xy(x, y, n_classes)
    if mask is None:
        mask = jnp.ones(x.shape[0], dtype=bool)
    else:
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (x.shape[0],):
            raise ValueError(
                f"mask must be a bool array of shape ({x.shape[0]},); got {mask.dtype} {mask.shape}"
            )
        mask = jnp.asarray(mask)
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
        if batch_size >= x.shape[0]:
            batch_size = None
    hidden = check_hidden(hidden)
    layer_scales(prior_scale, len(hidden) + 1)  # checks prior_scale
    config = {
        "n_classes": n_classes,
        "hidden": hidden,
        "activation": check_activation(activation),
        "prior_scale": tuple(prior_scale) if isinstance(prior_scale, Sequence) else prior_scale,
        "noise_scale": check_positive(noise_scale, "noise_scale"),
        "learn_prior_scale": check_bool(learn_prior_scale, "learn_prior_scale"),
    }
    init_loc = check_choice(init_loc, "init_loc", ("prior", "map"))
    lr_schedule = check_choice(lr_schedule, "lr_schedule", ("constant", "cosine"))
    local_reparam = check_bool(local_reparam, "local_reparam")
    map_steps = check_positive_int(map_steps, "map_steps")
    map_learning_rate = check_positive(map_learning_rate, "map_learning_rate")
    init, run = _program(
        _freeze(config),
        check_positive_int(num_steps, "num_steps"),
        check_positive(learning_rate, "learning_rate"),
        check_positive_int(num_particles, "num_particles"),
        check_positive(init_scale, "init_scale"),
        batch_size,
        lr_schedule,
        bool(local_reparam),
    )
    init_key, run_key = jax.random.split(rng_key)
    if init_params is None:
        init_params = init(init_key, x)
        if init_loc == "map":
            init_params = _map_start(
                init_key, x, y, mask, init_params, config, map_steps, map_learning_rate, lr_schedule
            )
    params, losses = run(run_key, x, y, mask, init_params)
    losses = check_finite(
        losses,
        params,
        what="fit_bnn",
        remedy=f"Try a smaller learning_rate (now {learning_rate}) or a smaller init_scale.",
    )
    return BNNFit(params=params, losses=losses, config=config)


def _map_start(key, x, y, mask, params, config, num_steps, learning_rate, lr_schedule):
    """Guide parameters with the means moved to a MAP fit (the sds are left as they are)."""
    run = _map_program(_freeze(config), num_steps, learning_rate, lr_schedule)
    values, losses = run(jax.random.fold_in(key, 1), x, y, mask)
    check_finite(
        losses,
        values,
        what="the MAP fit of fit_bnn",
        remedy=f"Try a smaller map_learning_rate (now {learning_rate}).",
    )
    params = dict(params)
    for name, value in values.items():  # the guide's LogNormal of sigma has loc log(sigma)
        params["sigma_loc" if name == "log_sigma" else f"{name}_loc"] = value
    return params


@functools.partial(jax.jit, static_argnames=("num_draws",))
def _guide_draws(key, params, num_draws):
    names = sorted(k[: -len("_loc")] for k in params if k.endswith("_loc"))
    keys = jax.random.split(key, len(names))
    out = {}
    for k, name in zip(keys, names, strict=True):
        loc, scale = params[f"{name}_loc"], params[f"{name}_scale"]
        eps = jax.random.normal(k, (num_draws, *jnp.shape(loc)))
        out[name] = loc + scale * eps
        if name == "sigma":
            out[name] = jnp.exp(out[name])
    return out


def _weight_draws(rng_key, posterior, num_draws):
    """Weight draws, shape (num_draws, ...), from any kind of posterior of a :func:`bnn`."""
    if isinstance(posterior, BNNFit):
        return _guide_draws(rng_key, posterior.params, num_draws)
    if not isinstance(posterior, SVIFit | xr.DataTree | Mapping):
        raise TypeError(
            "posterior must be a BNNFit, an SVIFit or DataTree of a bnn fit, or a dict of "
            f"weight draws; got {type(posterior).__name__}"
        )
    draws = as_draws(posterior, required=("w0", "b0"))
    total = next(iter(draws.values())).shape[0]
    if num_draws > total:
        raise ValueError(f"num_draws must be <= the {total} posterior draws; got {num_draws}")
    idx = np.linspace(0, total - 1, num_draws).round().astype(int)
    return {k: jnp.asarray(v)[idx] for k, v in draws.items()}


def predict_proba(rng_key, posterior, x, *, num_draws: int = 100, activation: str = "tanh"):
    """Class probabilities under each of ``num_draws`` posterior draws of the weights.

    Average over the first axis for the posterior predictive; its spread is the epistemic
    uncertainty (:func:`vibook.metrics.mutual_information`).

    Parameters
    ----------
    rng_key : jax.random key
        Drives the draws from a :class:`BNNFit` (other posteriors are thinned evenly).
    posterior : BNNFit, SVIFit, DataTree or dict
        A fit of a classification :func:`bnn`.
    x : array of shape (n, d)
    num_draws : int
    activation : str
        Hidden nonlinearity; taken from a :class:`BNNFit`'s config when given one.

    Returns
    -------
    array of shape (num_draws, n, n_classes)
    """
    rng_key = check_key(rng_key)
    num_draws = check_positive_int(num_draws, "num_draws")
    x = jnp.asarray(check_array(x, "x", ndim=2), dtype=jnp.float32)
    if isinstance(posterior, BNNFit):
        if posterior.config["n_classes"] is None:
            raise ValueError("predict_proba needs a classification fit (n_classes given)")
        activation = posterior.config["activation"]
    weights = _weight_draws(rng_key, posterior, num_draws)
    weights = {k: v for k, v in weights.items() if k != "sigma"}
    return _softmax_apply(weights, x, activation)


@functools.partial(jax.jit, static_argnames=("activation",))
def _softmax_apply(weights, x, activation):
    return jax.nn.softmax(bnn_apply(weights, x, activation=activation), axis=-1)


def predict_regression(rng_key, posterior, x, *, num_draws: int = 100, activation: str = "tanh"):
    """Regression function values and noise sds under ``num_draws`` posterior draws.

    Parameters
    ----------
    rng_key, x, num_draws, activation
        As in :func:`predict_proba`.
    posterior : BNNFit, SVIFit, DataTree or dict
        A fit of a regression :func:`bnn`.

    Returns
    -------
    mean : array of shape (num_draws, n)
        The network's output ``f(x)`` under each draw.
    sigma : array of shape (num_draws,)
        The noise sd under each draw.
    """
    rng_key = check_key(rng_key)
    num_draws = check_positive_int(num_draws, "num_draws")
    x = jnp.asarray(check_array(x, "x", ndim=2), dtype=jnp.float32)
    if isinstance(posterior, BNNFit):
        if posterior.config["n_classes"] is not None:
            raise ValueError("predict_regression needs a regression fit (n_classes=None)")
        activation = posterior.config["activation"]
    weights = _weight_draws(rng_key, posterior, num_draws)
    sigma = weights.pop("sigma")
    return bnn_apply(weights, x, activation=activation)[..., 0], sigma


def sd_over_prior(fit: BNNFit) -> dict[str, np.ndarray]:
    """Each weight's variational sd over its prior sd: how much the data narrowed it.

    Near 1, the ELBO kept the weight at its prior (the data say little about it); far below 1,
    the weight is pinned down, by the data or by an optimiser that stopped the sd short.

    Parameters
    ----------
    fit : BNNFit
        A fit of :func:`fit_bnn` (with a learned prior scale, the learned one is used).

    Returns
    -------
    dict of str to ndarray
        One array per site (``w0``, ``b0``, ...), each of that site's shape.
    """
    if not isinstance(fit, BNNFit):
        raise TypeError(f"fit must be a BNNFit from fit_bnn; got {type(fit).__name__}")
    config, params = fit.config, fit.params
    n_layers = len(config["hidden"]) + 1
    scales = layer_scales(config["prior_scale"], n_layers)
    if config["learn_prior_scale"]:
        scales = tuple(float(params[f"prior_scale_{i}"]) for i in range(n_layers))
    sds = prior_sds(params["w0_loc"].shape[0], config["hidden"], config["n_classes"] or 1, scales)
    return {name: np.asarray(params[f"{name}_scale"]) / sd for name, (_, sd) in sds.items()}
