"""Bayesian neural networks: an MLP with Normal priors on its weights.

A Bayesian neural network puts a distribution over the weights of a network instead of fitting one
set of them; predictions average the network over posterior draws, so the spread of those draws says
how much the data pin the function down (MacKay 1992; Neal 1996; Blundell et al. 2015).

The model :func:`bnn` runs with ``run_svi`` (``guide=bnn_guide``), ``run_nuts`` and
:func:`vibook.networks.fit_bnn`, which lives in :mod:`vibook.networks` with ``predict_proba`` and
``predict_regression``; predictive entropy, mutual information and the other scores are in
:mod:`vibook.metrics`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.infer.elbo import ELBO

from vibook._checks import (
    check_array,
    check_bool,
    check_choice,
    check_key,
    check_positive,
    check_positive_int,
    check_subsample,
    is_tracer,
)

__all__ = [
    "ACTIVATIONS",
    "LocalReparamELBO",
    "bnn",
    "bnn_apply",
    "bnn_guide",
    "bnn_layer_shapes",
    "check_activation",
    "check_hidden",
    "check_xy",
    "layer_scales",
    "prior_function_draws",
    "prior_sds",
]

ACTIVATIONS = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "sin": jnp.sin,
    "sigmoid": jax.nn.sigmoid,
}


def check_activation(activation: str) -> str:
    """Check that ``activation`` names one of :data:`ACTIVATIONS`."""
    return check_choice(activation, "activation", ACTIVATIONS)


def check_hidden(hidden) -> tuple[int, ...]:
    """Hidden layer widths as a tuple of positive integers (one int is one layer)."""
    if isinstance(hidden, int | np.integer):
        hidden = (int(hidden),)
    if not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of layer widths; got {type(hidden).__name__}")
    return tuple(check_positive_int(h, "hidden width") for h in hidden)


def layer_scales(prior_scale, n_layers: int) -> tuple[float, ...]:
    """One prior scale ``s_l`` per layer, from one number or a sequence of ``n_layers``."""
    n_layers = check_positive_int(n_layers, "n_layers")
    if isinstance(prior_scale, Sequence) and not isinstance(prior_scale, str):
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
    sizes = [n_inputs, *check_hidden(hidden), n_outputs]
    return list(zip(sizes[:-1], sizes[1:], strict=True))


def bnn_apply(weights: dict[str, Any], x, *, activation: str = "tanh"):
    """The network's output for given weights: hidden layers with ``activation``, linear last.

    Parameters
    ----------
    weights : dict of str to array
        ``w0, b0, w1, b1, ...`` with shapes ``(..., fan_in, fan_out)`` and ``(..., fan_out)``;
        leading dimensions (posterior draws) broadcast.
    x : array of shape (n, d)
    activation : str
        One of ``"tanh"``, ``"relu"``, ``"gelu"``, ``"sin"``, ``"sigmoid"``.

    Returns
    -------
    array of shape (..., n, n_outputs)
    """
    act = ACTIVATIONS[check_activation(activation)]
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

    Sites ``w0, b0, w1, b1, ...`` (and ``sigma`` for regression). Each layer's weights have prior sd
    ``prior_scale / sqrt(fan_in)`` so that, whatever the width, a unit's input has variance about
    ``prior_scale**2`` before the nonlinearity (Neal 1996): the prior over functions, not over
    single weights, stays put as the net grows.

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
        Make each ``s_l`` a parameter (``prior_scale_l``, started at ``prior_scale``) that SVI fits
        by maximising the ELBO: type-II maximum likelihood, MacKay's (1992) evidence framework. NUTS
        keeps them at their starting values.
    mask : array of bool of shape (n,), optional
        Points with ``False`` are left out of the likelihood, so a padded data set of fixed shape
        compiles once.
    subsample_size : int, optional
        Minibatch size; the likelihood is scaled by ``n / subsample_size``.
    """
    x, y, n_classes = check_xy(x, y, n_classes, y_required=False)
    mask = None if mask is None else jnp.asarray(mask)
    n, d = x.shape
    subsample_size = check_subsample(subsample_size, n)
    hidden = check_hidden(hidden)
    classify = n_classes is not None
    shapes = bnn_layer_shapes(d, hidden, n_classes if classify else 1)
    scales = layer_scales(prior_scale, len(shapes))
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


def prior_sds(n_inputs, hidden, n_outputs, prior_scale):
    """Each weight site's shape and prior sd, ``{"w0": ((fan_in, fan_out), sd), ...}``."""
    shapes = bnn_layer_shapes(n_inputs, hidden, n_outputs)
    scales = layer_scales(prior_scale, len(shapes))
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

    Every weight gets its own Normal, started at a prior draw (a standard network initialisation)
    with small sd ``init_scale``, so the fit starts as an ordinary network and widens where the data
    allow. The regression noise sd gets a LogNormal. Takes the model's arguments; set ``init_scale``
    with ``functools.partial``.
    """
    x, _, n_classes = check_xy(x, None, n_classes, y_required=False)
    init_scale = check_positive(init_scale, "init_scale")
    d = x.shape[1]
    classify = n_classes is not None
    for name, (shape, sd) in prior_sds(
        d, check_hidden(hidden), n_classes if classify else 1, prior_scale
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


class LocalReparamELBO(ELBO):
    """The ELBO of :func:`bnn` under :func:`bnn_guide`, estimated by local reparameterisation.

    Instead of one sampled network for all inputs, each unit's pre-activation is drawn directly:
    given the layer's input ``h``, under the mean-field Normal guide it is Normal with mean
    ``h @ loc + b_loc`` and variance ``h**2 @ scale**2 + b_scale**2`` (Kingma, Salimans and Welling
    2015). Each data point gets its own weight draw for one extra matrix product, and the gradient
    variance falls with the batch size. Only the estimator of the expected log-likelihood changes:
    the KL of the weights (Normal guide, Normal prior) is exact, that of the regression noise sd
    (LogNormal guide, half-Normal prior) estimated from the same draw.

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
        scales = layer_scales(cfg["prior_scale"], len(shapes))
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


def check_xy(x, y, n_classes, *, y_required: bool = True):
    """Checked data: ``x`` as float32 (n, d), ``y`` as int32 labels or float32 targets.

    With ``n_classes`` the labels must be integers in ``0..n_classes - 1``, without it ``y`` is a
    real target. ``y`` may be None unless ``y_required``. Traced values (inside ``jit``) pass
    through.
    """
    x = jnp.asarray(check_array(x, "x", ndim=2), dtype=jnp.float32)
    y_required = check_bool(y_required, "y_required")
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


def _normal_kl(loc, scale, prior_sd):
    """KL(N(loc, scale^2) || N(0, prior_sd^2)), summed over elements."""
    return dist.kl_divergence(dist.Normal(loc, scale), dist.Normal(0.0, prior_sd)).sum()


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

    The spread and wiggliness of the draws show what a prior scale, a width and an activation say
    about functions before any data (Neal 1996).

    Parameters
    ----------
    rng_key : jax.random key
    x : array of shape (n, d)
        Inputs, for example a grid of shape (200, 1).
    num_draws : int
        Number of functions drawn.
    hidden, activation, prior_scale
        As in :func:`bnn`.

    Returns
    -------
    array of shape (num_draws, n)
    """
    rng_key = check_key(rng_key)
    num_draws = check_positive_int(num_draws, "num_draws")
    x = jnp.asarray(check_array(x, "x", ndim=2), dtype=jnp.float32)
    sds = prior_sds(x.shape[1], check_hidden(hidden), 1, prior_scale)
    keys = jax.random.split(rng_key, len(sds))
    weights = {
        name: sd * jax.random.normal(k, (num_draws, *shape))
        for k, (name, (shape, sd)) in zip(keys, sds.items(), strict=True)
    }
    return bnn_apply(weights, x, activation=check_activation(activation))[..., 0]
