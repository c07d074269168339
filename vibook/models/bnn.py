"""Bayesian neural networks: an MLP with Normal priors on its weights.

A Bayesian neural network puts a distribution over the weights of a network instead of
fitting one set of them; predictions average the network over posterior draws, so the
spread of those draws says how much the data pin the function down (MacKay 1992; Neal 1996;
Blundell et al. 2015).

API
---
``bnn(x, y=None, *, n_classes=None, hidden=(50,), activation="tanh", prior_scale=1.0,
noise_scale=1.0, mask=None, subsample_size=None)``
    The NumPyro model. ``n_classes=None`` is regression (Gaussian likelihood with a learned
    noise sd ``sigma``), an integer is classification (categorical likelihood). Sites ``w0,
    b0, w1, b1, ...`` (and ``sigma``). ``mask`` (bool, shape (n,)) drops points from the
    likelihood, so a padded data set of fixed shape compiles once. Works with ``run_svi``
    (pass ``guide=bnn_guide``) and ``run_nuts``.
``bnn_guide(...)``
    The mean-field Normal guide (same arguments as the model), means started at a prior draw
    and scales at ``init_scale`` (small), the usual start for BNN variational inference.
``fit_bnn(rng_key, x, y, *, n_classes=None, mask=None, init_params=None, ...) -> BNNFit``
    SVI with the analytic-KL ELBO, compiled once per (config, data shape) and cached: call it
    again with new data of the same shape, or warm-started with ``init_params=fit.params``,
    and nothing is recompiled. Opt-in refinements: ``init_loc="map"`` (start the means at a
    MAP fit), ``local_reparam=True`` (:class:`LocalReparamELBO`), ``lr_schedule="cosine"``.
``LocalReparamELBO(config)``
    The same ELBO estimated by the local reparameterisation trick (Kingma et al. 2015).
``predict_proba(rng_key, posterior, x, *, num_draws=100) -> array (num_draws, n, n_classes)``
    Class probabilities under each posterior draw; ``posterior`` is a :class:`BNNFit`, an
    ``SVIFit``/DataTree from ``run_svi``/``run_nuts``, or a dict of weight draws.
``predict_regression(rng_key, posterior, x, *, num_draws=100) -> (mean, sigma)``
    Network outputs of shape (num_draws, n) and noise sds of shape (num_draws,).
``bnn_apply(weights, x, *, activation)``
    The network itself, for one set of weights or a leading batch of draws.

Predictive entropy, mutual information and the other scores live in :mod:`vibook.metrics`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.infer import SVI, TraceMeanField_ELBO
from numpyro.infer.util import log_density

from vibook._checks import (
    check_array,
    check_choice,
    check_key,
    check_positive,
    check_positive_int,
    check_subsample,
    is_tracer,
)

__all__ = [
    "BNNFit",
    "LocalReparamELBO",
    "bnn",
    "bnn_apply",
    "bnn_guide",
    "bnn_layer_shapes",
    "fit_bnn",
    "predict_proba",
    "predict_regression",
    "prior_function_draws",
]

ACTIVATIONS = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "sin": jnp.sin,
    "sigmoid": jax.nn.sigmoid,
}


def _check_activation(activation: str) -> str:
    return check_choice(activation, "activation", ACTIVATIONS)


def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, int | np.integer):
        hidden = (int(hidden),)
    if not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of layer widths; got {type(hidden).__name__}")
    return tuple(check_positive_int(h, "hidden width") for h in hidden)


def _layer_scales(prior_scale, n_layers: int) -> tuple[float, ...]:
    if isinstance(prior_scale, Sequence):
        if len(prior_scale) != n_layers:
            raise ValueError(
                f"prior_scale must be a number or one per layer ({n_layers}); "
                f"got {len(prior_scale)} values"
            )
        return tuple(check_positive(s, "prior_scale") for s in prior_scale)
    return (check_positive(prior_scale, "prior_scale"),) * n_layers


def bnn_layer_shapes(n_inputs: int, hidden, n_outputs: int) -> list[tuple[int, int]]:
    """The (fan_in, fan_out) of each layer of an MLP ``n_inputs -> hidden -> n_outputs``."""
    n_inputs = check_positive_int(n_inputs, "n_inputs")
    n_outputs = check_positive_int(n_outputs, "n_outputs")
    sizes = [n_inputs, *_check_hidden(hidden), n_outputs]
    return list(zip(sizes[:-1], sizes[1:], strict=True))


def bnn_apply(weights: dict[str, Any], x, *, activation: str = "tanh"):
    """The network's output for given weights: hidden layers with ``activation``, linear last.

    Parameters
    ----------
    weights : dict of str to array
        ``w0, b0, w1, b1, ...`` with shapes ``(..., fan_in, fan_out)`` and ``(..., fan_out)``;
        leading dimensions (posterior draws) broadcast.
    x : array of shape (n, d)
        Inputs.
    activation : str
        One of ``"tanh"``, ``"relu"``, ``"gelu"``, ``"sin"``, ``"sigmoid"``.

    Returns
    -------
    array of shape (..., n, n_outputs)
    """
    act = ACTIVATIONS[_check_activation(activation)]
    n_layers = _check_weights(weights)
    h = check_array(x, "x", ndim=2)
    for i in range(n_layers):
        h = h @ weights[f"w{i}"] + weights[f"b{i}"][..., None, :]
        if i < n_layers - 1:
            h = act(h)
    return h


def bnn(
    x,
    y=None,
    *,
    n_classes: int | None = None,
    hidden=(50,),
    activation: str = "tanh",
    prior_scale=1.0,
    noise_scale: float = 1.0,
    learn_prior_scale: bool = False,
    mask=None,
    subsample_size: int | None = None,
):
    r"""An MLP with Normal priors on its weights, for regression or classification.

    Each layer's weights have prior sd ``prior_scale / sqrt(fan_in)`` so that, whatever the
    width, a unit's input has variance about ``prior_scale**2`` before the nonlinearity
    (Neal 1996): the prior over functions, not over single weights, stays put as the net grows.

    .. math::

        W_l \sim \mathcal N(0, s_l^2 / \mathrm{fan\_in}_l),\quad b_l \sim \mathcal N(0, s_l^2),
        \quad f(x) = W_L\,\phi(\cdots \phi(W_0 x + b_0)\cdots) + b_L,\quad
        y_i \mid x_i \sim \begin{cases}
        \mathcal N(f(x_i), \sigma^2),\ \sigma \sim \mathcal N^+(0, \tau^2) & \text{regression}\\
        \mathrm{Categorical}(\mathrm{softmax}\,f(x_i)) & \text{classification}
        \end{cases}

    Parameters
    ----------
    x : array of shape (n, d)
        Inputs (scale them to about unit size).
    y : array of shape (n,), optional
        Targets (floats) or class labels in ``0..n_classes-1``; ``None`` draws them.
    n_classes : int, optional
        ``None`` for regression, the number of classes for classification.
    hidden : sequence of int
        Hidden layer widths.
    activation : str
        Hidden-layer nonlinearity (see :func:`bnn_apply`).
    prior_scale : float or sequence of float
        ``s_l``: one value for every layer, or one per layer (``len(hidden) + 1``).
    noise_scale : float
        ``tau``, scale of the half-Normal prior on the regression noise sd.
    learn_prior_scale : bool
        Make each ``s_l`` a parameter (``prior_scale_l``, started at ``prior_scale``) that
        SVI fits by maximising the ELBO: type-II maximum likelihood, MacKay's (1992) evidence
        framework. NUTS keeps them at their starting values.
    mask : array of bool of shape (n,), optional
        Points with ``False`` are left out of the likelihood (padding).
    subsample_size : int, optional
        Minibatch size; the likelihood is scaled by ``n / subsample_size``.
    """
    x, y, n_classes = _check_xy(x, y, n_classes, y_required=False)
    mask = None if mask is None else jnp.asarray(mask)
    n, d = x.shape
    subsample_size = check_subsample(subsample_size, n)
    hidden = _check_hidden(hidden)
    classify = n_classes is not None
    shapes = bnn_layer_shapes(d, hidden, n_classes if classify else 1)
    scales = _layer_scales(prior_scale, len(shapes))
    if learn_prior_scale:
        scales = [
            numpyro.param(
                f"prior_scale_{i}",
                jnp.asarray(s, dtype=jnp.float32),
                constraint=dist.constraints.positive,
            )
            for i, s in enumerate(scales)
        ]
    weights = {}
    for i, ((fan_in, fan_out), s) in enumerate(zip(shapes, scales, strict=True)):
        weights[f"w{i}"] = numpyro.sample(
            f"w{i}", dist.Normal(0.0, s / fan_in**0.5).expand([fan_in, fan_out]).to_event(2)
        )
        weights[f"b{i}"] = numpyro.sample(
            f"b{i}", dist.Normal(0.0, s).expand([fan_out]).to_event(1)
        )
    if not classify:
        sigma = numpyro.sample("sigma", dist.HalfNormal(noise_scale))
    with numpyro.plate("data", n, subsample_size=subsample_size) as idx:
        xb = x[idx]
        yb = None if y is None else y[idx]
        out = bnn_apply(weights, xb, activation=activation)
        if classify:
            likelihood = dist.Categorical(logits=out)
        else:
            likelihood = dist.Normal(out[..., 0], sigma)
        if mask is not None:
            likelihood = likelihood.mask(mask[idx])
        numpyro.sample("y", likelihood, obs=yb)


def _prior_sds(d, hidden, n_out, prior_scale):
    shapes = bnn_layer_shapes(d, hidden, n_out)
    scales = _layer_scales(prior_scale, len(shapes))
    sds = {}
    for i, ((fan_in, fan_out), s) in enumerate(zip(shapes, scales, strict=True)):
        sds[f"w{i}"] = ((fan_in, fan_out), s / np.sqrt(fan_in))
        sds[f"b{i}"] = ((fan_out,), s)
    return sds


def bnn_guide(
    x,
    y=None,
    *,
    n_classes: int | None = None,
    hidden=(50,),
    activation: str = "tanh",
    prior_scale=1.0,
    noise_scale: float = 1.0,
    learn_prior_scale: bool = False,
    mask=None,
    subsample_size: int | None = None,
    init_scale: float = 1e-3,
):
    """Mean-field Normal guide for :func:`bnn` (Blundell et al. 2015).

    Every weight gets its own Normal, started at a draw from the prior (a standard network
    initialisation) with a small sd ``init_scale``, so the fit starts as an ordinary network
    and widens where the data allow. The noise sd (regression) gets a LogNormal. Takes the
    model's arguments; set ``init_scale`` with ``functools.partial``.
    """
    x, _, n_classes = _check_xy(x, None, n_classes, y_required=False)
    init_scale = check_positive(init_scale, "init_scale")
    d = x.shape[1]
    classify = n_classes is not None
    for name, (shape, sd) in _prior_sds(
        d, _check_hidden(hidden), n_classes if classify else 1, prior_scale
    ).items():
        loc = numpyro.param(
            f"{name}_loc",
            functools.partial(
                lambda key, shape, sd: sd * jax.random.normal(key, shape), shape=shape, sd=sd
            ),
        )
        scale = numpyro.param(
            f"{name}_scale",
            jnp.full(shape, init_scale, dtype=jnp.float32),
            constraint=dist.constraints.softplus_positive,
        )
        numpyro.sample(name, dist.Normal(loc, scale).to_event(len(shape)))
    if not classify:
        loc = numpyro.param("sigma_loc", jnp.asarray(np.log(0.05 * noise_scale), dtype=jnp.float32))
        scale = numpyro.param(
            "sigma_scale",
            jnp.asarray(0.1, dtype=jnp.float32),
            constraint=dist.constraints.softplus_positive,
        )
        numpyro.sample("sigma", dist.LogNormal(loc, scale))


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


class LocalReparamELBO(numpyro.infer.elbo.ELBO):
    """The ELBO of :func:`bnn` under :func:`bnn_guide`, estimated by local reparameterisation.

    Rather than draw every weight and push the inputs through one sampled network, draw each
    unit's pre-activation directly: under a mean-field Normal guide it is Normal with mean
    ``h @ loc + b_loc`` and variance ``h**2 @ scale**2 + b_scale**2``, given the layer's input
    ``h`` (Kingma, Salimans and Welling 2015). Each data point then gets its own weight draw at
    the cost of one extra matrix product, and the gradient variance falls with the batch size
    instead of staying put. Same ELBO, same guide, same parameters: only the estimator of the
    expected log-likelihood changes. The KL between the Normal guide and the Normal prior of
    the weights is exact; that of the regression noise sd (LogNormal guide, half-Normal prior)
    is estimated from the same draw.

    Parameters
    ----------
    config : dict
        The keyword arguments of :func:`bnn` (``n_classes``, ``hidden``, ``activation``,
        ``prior_scale``, ``noise_scale``, ``learn_prior_scale``).
    num_particles : int
        Draws per estimate.
    """

    def __init__(self, config: dict, num_particles: int = 1):
        super().__init__(num_particles=num_particles)
        self.config = dict(config)

    def loss_with_mutable_state(self, rng_key, param_map, model, guide, x, y, **kwargs):
        """Negative ELBO; ``model`` and ``guide`` are :func:`bnn` and :func:`bnn_guide`."""
        keys = jax.random.split(rng_key, self.num_particles)
        losses = jax.vmap(lambda k: self._loss(k, param_map, x, y, **kwargs))(keys)
        return {"loss": jnp.mean(losses), "mutable_state": None}

    def _loss(self, key, params, x, y, mask=None, subsample_size=None):
        cfg = self.config
        classify = cfg["n_classes"] is not None
        shapes = bnn_layer_shapes(x.shape[1], cfg["hidden"], cfg["n_classes"] or 1)
        scales = _layer_scales(cfg["prior_scale"], len(shapes))
        if cfg["learn_prior_scale"]:
            scales = [params[f"prior_scale_{i}"] for i in range(len(shapes))]
        n = x.shape[0]
        idx_key, sigma_key, key = jax.random.split(key, 3)
        if subsample_size is not None:
            idx = jax.random.choice(idx_key, n, (subsample_size,), replace=False)
            x, y = x[idx], y[idx]
            mask = None if mask is None else mask[idx]
        act = ACTIVATIONS[cfg["activation"]]
        kl = 0.0
        h = x
        for i, ((fan_in, _), s) in enumerate(zip(shapes, scales, strict=True)):
            loc, scale = params[f"w{i}_loc"], params[f"w{i}_scale"]
            b_loc, b_scale = params[f"b{i}_loc"], params[f"b{i}_scale"]
            mean = h @ loc + b_loc
            sd = jnp.sqrt((h**2) @ (scale**2) + b_scale**2)
            key, sub = jax.random.split(key)
            h = mean + sd * jax.random.normal(sub, mean.shape)
            if i < len(shapes) - 1:
                h = act(h)
            kl = kl + _normal_kl(loc, scale, s / fan_in**0.5) + _normal_kl(b_loc, b_scale, s)
        if classify:
            loglik = dist.Categorical(logits=h).log_prob(y)
        else:
            q_sigma = dist.LogNormal(params["sigma_loc"], params["sigma_scale"])
            sigma = q_sigma.rsample(sigma_key)
            kl = kl + q_sigma.log_prob(sigma) - dist.HalfNormal(cfg["noise_scale"]).log_prob(sigma)
            loglik = dist.Normal(h[..., 0], sigma).log_prob(y)
        if mask is not None:
            loglik = jnp.where(mask, loglik, 0.0)
        return kl - loglik.sum() * (n / x.shape[0])


def _normal_kl(loc, scale, prior_sd):
    """KL(N(loc, scale^2) || N(0, prior_sd^2)), summed over elements."""
    ratio = scale / prior_sd
    return jnp.sum(0.5 * (ratio**2 + (loc / prior_sd) ** 2 - 1.0) - jnp.log(ratio))


def _cosine(learning_rate: float, num_steps: int):
    """Cosine decay of the step size to 1% over ``num_steps`` (Loshchilov and Hutter 2017)."""

    def schedule(i):
        frac = jnp.minimum(i, num_steps) / num_steps
        return learning_rate * (0.01 + 0.99 * 0.5 * (1.0 + jnp.cos(jnp.pi * frac)))

    return schedule


def _step_size(learning_rate: float, num_steps: int, lr_schedule: str):
    return _cosine(learning_rate, num_steps) if lr_schedule == "cosine" else learning_rate


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
            state, loss = svi.update(state, x, y, mask=mask, subsample_size=batch_size)
            return state, loss

        state, losses = jax.lax.scan(step, state, None, length=num_steps)
        return svi.get_params(state), losses

    return init, run


@functools.lru_cache(maxsize=64)
def _map_program(config_items, num_steps, learning_rate, lr_schedule):
    """A compiled maximum-a-posteriori fit of :func:`bnn`: Adam on its log joint density.

    The network starts from a standard initialisation, weights with sd ``sqrt(2 / fan_in)``
    for ReLU-like activations (He et al. 2015) and ``sqrt(1 / fan_in)`` otherwise (LeCun et
    al. 1998), biases at zero, whatever the prior, so a broad prior does not mean a poor start.
    The regression noise sd is optimised on the log scale.
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

        state = optim.init(start(key, x.shape[1]))
        state, losses = jax.lax.scan(step, state, None, length=num_steps)
        return optim.get_params(state), losses  # the noise sd, if any, as log_sigma

    return run


def _freeze(config: dict) -> tuple:
    return tuple(
        sorted((k, tuple(v) if isinstance(v, list | tuple) else v) for k, v in config.items())
    )


def _check_xy(x, y, n_classes, *, y_required: bool = True):
    """Checked data: ``x`` as float32 (n, d), ``y`` as int32 labels or float32 targets.

    With ``n_classes`` the labels must be integers in ``0..n_classes - 1`` (classification);
    without it ``y`` is a real-valued target (regression). ``y`` may be None where it is not
    required (a model drawing its targets). Traced values (inside ``jit``) pass through.
    """
    x = jnp.asarray(check_array(x, "x", ndim=2), dtype=jnp.float32)
    if n_classes is not None:
        n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    if y is None:
        if y_required:
            raise TypeError("y must be an array of targets or labels; got None")
        return x, None, n_classes
    if n_classes is not None:
        y = check_array(y, "y", ndim=1, integer=True, nonnegative=True)
        if not is_tracer(y) and y.max() >= n_classes:
            raise ValueError(f"y must hold labels in 0..{n_classes - 1}; got {y.max()}")
        y = jnp.asarray(y, dtype=jnp.int32)
    else:
        y = jnp.asarray(check_array(y, "y", ndim=1), dtype=jnp.float32)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x and y must have the same length; got {x.shape[0]} and {y.shape[0]}")
    return x, y, n_classes


def _check_weights(weights) -> int:
    """The number of layers in a ``w0, b0, w1, b1, ...`` dict, after checking it."""
    if not isinstance(weights, Mapping):
        raise TypeError(
            f"weights must be a dict of arrays w0, b0, w1, b1, ...; got {type(weights).__name__}"
        )
    n_layers = sum(1 for k in weights if isinstance(k, str) and k[:1] == "w" and k[1:].isdigit())
    missing = [f"{p}{i}" for i in range(n_layers) for p in "wb" if f"{p}{i}" not in weights]
    if n_layers == 0 or missing:
        raise ValueError(
            f"weights must hold w0, b0, ..., w{{L-1}}, b{{L-1}}; got keys {sorted(weights)}"
        )
    for name, value in weights.items():
        check_array(value, f"weights[{name!r}]")
    return n_layers


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

    The KL term between the Normal guide and Normal prior is computed exactly
    (``TraceMeanField_ELBO``); only the likelihood is estimated by Monte Carlo. The whole run
    is one ``jax.lax.scan`` compiled for the configuration and data shape, and cached: fitting
    again with new data of the same shape (a padded labelled set with a new ``mask``) or from
    ``init_params`` costs no compilation.

    Three standard refinements are opt-in. ``init_loc="map"`` first fits the network by
    maximum a posteriori from a standard initialisation and starts the variational means
    there with small sds, so SVI starts from a good network rather than from a random one and
    only has to learn how far each weight may move (Krishnan et al. 2020).
    ``local_reparam=True`` estimates the same ELBO with lower variance
    (:class:`LocalReparamELBO`, Kingma et al. 2015). ``lr_schedule="cosine"`` decays the step
    size to 1% of ``learning_rate`` (Loshchilov and Hutter 2017), so the last steps average
    out the gradient noise instead of riding on it.

    Parameters
    ----------
    rng_key : jax.random key
        Drives the initialisation (when ``init_params`` is None), minibatches and the ELBO.
    x : array of shape (n, d)
        Inputs.
    y : array of shape (n,)
        Targets or integer labels.
    n_classes, hidden, activation, prior_scale, noise_scale, learn_prior_scale
        As in :func:`bnn`.
    mask : array of bool of shape (n,), optional
        Which points count; all of them by default.
    init_params : dict, optional
        ``fit.params`` of an earlier fit with the same configuration: a warm start.
    num_steps : int
        Adam steps.
    learning_rate : float
        Adam step size.
    batch_size : int, optional
        Minibatch size; full batch by default.
    num_particles : int
        Weight draws per ELBO estimate.
    init_scale : float
        Initial sd of each weight's Normal.
    init_loc : {"prior", "map"}
        Where the variational means start: a draw from the prior, or the weights of a
        maximum-a-posteriori fit of ``map_steps`` Adam steps (ignored with ``init_params``).
    map_steps : int
        Full-batch Adam steps of the MAP fit for ``init_loc="map"``.
    map_learning_rate : float
        Adam step size of the MAP fit.
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
    Krishnan, R., Subedar, M. and Tickoo, O. (2020). Specifying weight priors in Bayesian
    deep neural networks with empirical Bayes. AAAI.
    Loshchilov, I. and Hutter, F. (2017). SGDR: stochastic gradient descent with warm
    restarts. ICLR.
    """
    rng_key = check_key(rng_key)
    x, y, n_classes = _check_xy(x, y, n_classes)
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
    config = {
        "n_classes": n_classes,
        "hidden": _check_hidden(hidden),
        "activation": _check_activation(activation),
        "prior_scale": tuple(prior_scale) if isinstance(prior_scale, Sequence) else prior_scale,
        "noise_scale": check_positive(noise_scale, "noise_scale"),
        "learn_prior_scale": bool(learn_prior_scale),
    }
    init_loc = check_choice(init_loc, "init_loc", ("prior", "map"))
    lr_schedule = check_choice(lr_schedule, "lr_schedule", ("constant", "cosine"))
    if not isinstance(local_reparam, bool | np.bool_):
        raise TypeError(f"local_reparam must be True or False; got {type(local_reparam).__name__}")
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
    losses = np.asarray(losses)
    if not np.all(np.isfinite(losses)):
        step = int(np.flatnonzero(~np.isfinite(losses))[0])
        raise FloatingPointError(
            f"fit_bnn diverged at step {step}: try a smaller learning_rate (now "
            f"{learning_rate}) or a smaller init_scale"
        )
    return BNNFit(params=params, losses=losses, config=config)


def _map_start(key, x, y, mask, params, config, num_steps, learning_rate, lr_schedule):
    """Guide parameters with the means moved to a MAP fit (the sds are left as they are)."""
    run = _map_program(_freeze(config), num_steps, learning_rate, lr_schedule)
    values, losses = run(jax.random.fold_in(key, 1), x, y, mask)
    if not np.all(np.isfinite(np.asarray(losses))):
        raise FloatingPointError(
            f"the MAP fit of fit_bnn diverged: try a smaller map_learning_rate (now "
            f"{learning_rate})"
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
    """Weight draws, shape (num_draws, ...), and the config, from any kind of posterior."""
    from vibook.infer import SVIFit, posterior_samples

    if isinstance(posterior, BNNFit):
        return _guide_draws(rng_key, posterior.params, num_draws)
    if isinstance(posterior, SVIFit) or hasattr(posterior, "children"):
        posterior = posterior_samples(posterior)
    if not isinstance(posterior, dict) or "w0" not in posterior:
        raise TypeError(
            "posterior must be a BNNFit, an SVIFit or DataTree of a bnn fit, or a dict of "
            f"weight draws; got {type(posterior).__name__}"
        )
    total = next(iter(posterior.values())).shape[0]
    if num_draws > total:
        raise ValueError(f"num_draws must be <= the {total} posterior draws; got {num_draws}")
    idx = np.linspace(0, total - 1, num_draws).round().astype(int)
    return {k: jnp.asarray(v)[idx] for k, v in posterior.items()}


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
        Inputs.
    num_draws : int
        Number of weight draws.
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
    rng_key : jax.random key
        Drives the draws from a :class:`BNNFit`.
    posterior : BNNFit, SVIFit, DataTree or dict
        A fit of a regression :func:`bnn`.
    x : array of shape (n, d)
        Inputs.
    num_draws : int
        Number of weight draws.
    activation : str
        Hidden nonlinearity; taken from a :class:`BNNFit`'s config when given one.

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


def prior_function_draws(
    rng_key,
    x,
    *,
    num_draws: int = 20,
    hidden=(50,),
    activation: str = "tanh",
    prior_scale=1.0,
):
    """Functions drawn from the prior of a regression :func:`bnn`: what the prior believes.

    Each draw samples every weight from its prior and runs the network on ``x``; the spread
    and wiggliness of the draws show what a prior scale, a width and an activation say about
    functions before any data (Neal 1996).

    Parameters
    ----------
    rng_key : jax.random key
    x : array of shape (n, d)
        Inputs, for example a grid of shape (200, 1).
    num_draws : int
        Number of functions.
    hidden, activation, prior_scale
        As in :func:`bnn`.

    Returns
    -------
    array of shape (num_draws, n)
    """
    rng_key = check_key(rng_key)
    num_draws = check_positive_int(num_draws, "num_draws")
    x = jnp.asarray(check_array(x, "x", ndim=2), dtype=jnp.float32)
    sds = _prior_sds(x.shape[1], _check_hidden(hidden), 1, prior_scale)
    keys = jax.random.split(rng_key, len(sds))
    weights = {
        name: sd * jax.random.normal(k, (num_draws, *shape))
        for k, (name, (shape, sd)) in zip(keys, sds.items(), strict=True)
    }
    return bnn_apply(weights, x, activation=_check_activation(activation))[..., 0]
