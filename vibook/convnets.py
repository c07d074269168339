"""A small convolutional network with MC dropout, for active learning on images.

Gal, Islam and Ghahramani (2017) ran their active-learning study with a convolutional network
whose posterior is approximated by dropout kept on at prediction time (MC dropout; Gal and
Ghahramani 2016): the spread of the class probabilities over random dropout masks plays the part
of the spread over posterior draws, so the scores of :mod:`vibook.acquisition` apply unchanged.

The network here has their layout at a size that trains in about a second on two CPU cores:

    conv(kernel x kernel, filters[0]) - ReLU - 2x2 max-pool - conv(kernel x kernel, filters[1])
    - ReLU - 2x2 max-pool - dropout(dropout[0]) - dense(hidden) - ReLU - dropout(dropout[1])
    - dense(n_classes)

(theirs: two 4x4 convolutions of 32 filters before one pooling, and 128 dense units). It is
trained by Adam on the mean negative log-likelihood plus the L2 penalty of a Gaussian prior of
precision ``prior_precision`` on every weight, divided by the number of labelled points, as in
MC dropout's derivation (Gal and Ghahramani 2016, section 3). Each convolution is computed as the
sum over the kernel's offsets of a shifted slice of the image times a matrix: on a CPU its gradient
is several times faster than XLA's general convolution.

:func:`fit_dropout_cnn` takes a labelled set of fixed size with a ``mask`` and a warm start, so
an active-learning loop compiles it once; :func:`dropout_cnn_predict_proba` returns class
probabilities of shape (num_draws, n, n_classes), one row per dropout mask.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro

from vibook._checks import check_array, check_key, check_positive, check_positive_int
from vibook.loop import check_finite, scan_steps

__all__ = ["CNNFit", "dropout_cnn_predict_proba", "fit_dropout_cnn"]


class CNNFit(NamedTuple):
    """A trained :func:`fit_dropout_cnn` network.

    Attributes
    ----------
    params : dict of str to jax.Array
        Convolution kernels ``conv1``, ``conv2`` (kernel, kernel, in, out), dense matrices
        ``dense1``, ``dense2``, and one bias vector per layer (``bias1`` .. ``bias4``).
    losses : ndarray of shape (num_steps,)
        The training loss at every step.
    config : dict
        ``image_shape``, ``n_classes``, ``filters``, ``kernel``, ``hidden``, ``dropout``.
    """

    params: dict
    losses: np.ndarray
    config: dict


def _conv(h, w):
    """A valid convolution of images ``h`` (n, H, W, c) with kernel ``w`` (k, k, c, f)."""
    k = w.shape[0]
    rows, cols = h.shape[1] - k + 1, h.shape[2] - k + 1
    out = 0.0
    for i in range(k):
        for j in range(k):
            out = out + h[:, i : i + rows, j : j + cols, :] @ w[i, j]
    return out


def _pool(h):
    """2x2 max-pooling with stride 2 (a trailing odd row or column is dropped)."""
    return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def _drop(key, h, rate):
    keep = jax.random.bernoulli(key, 1.0 - rate, h.shape)
    return jnp.where(keep, h / (1.0 - rate), 0.0)


def _logits(params, x, key, config):
    """The network's outputs; dropout is applied when ``key`` is not None."""
    height, width = config["image_shape"]
    h = x.reshape(x.shape[0], height, width, 1)
    h = _pool(jax.nn.relu(_conv(h, params["conv1"]) + params["bias1"]))
    h = _pool(jax.nn.relu(_conv(h, params["conv2"]) + params["bias2"]))
    h = h.reshape(h.shape[0], -1)
    keys = (None, None) if key is None else jax.random.split(key)
    if key is not None:
        h = _drop(keys[0], h, config["dropout"][0])
    h = jax.nn.relu(h @ params["dense1"] + params["bias3"])
    if key is not None:
        h = _drop(keys[1], h, config["dropout"][1])
    return h @ params["dense2"] + params["bias4"]


def _shapes(config) -> dict[str, tuple[int, ...]]:
    (height, width), k, (f1, f2) = config["image_shape"], config["kernel"], config["filters"]
    side = [height, width]
    for _ in range(2):
        side = [(s - k + 1) // 2 for s in side]
    flat = side[0] * side[1] * f2
    return {
        "conv1": (k, k, 1, f1),
        "bias1": (f1,),
        "conv2": (k, k, f1, f2),
        "bias2": (f2,),
        "dense1": (flat, config["hidden"]),
        "bias3": (config["hidden"],),
        "dense2": (config["hidden"], config["n_classes"]),
        "bias4": (config["n_classes"],),
    }


def _init(key, config):
    """He initialisation (sd sqrt(2 / fan_in)) for the weights, zeros for the biases."""
    shapes = _shapes(config)
    keys = jax.random.split(key, len(shapes))
    params = {}
    for k, (name, shape) in zip(keys, shapes.items(), strict=True):
        if name.startswith("bias"):
            params[name] = jnp.zeros(shape, jnp.float32)
        else:
            fan_in = int(np.prod(shape[:-1]))
            params[name] = jnp.sqrt(2.0 / fan_in) * jax.random.normal(k, shape, jnp.float32)
    return params


@functools.partial(
    jax.jit, static_argnames=("config_items", "num_steps", "learning_rate", "batch_size")
)
def _train(
    key, params, x, y, mask, prior_precision, *, config_items, num_steps, learning_rate, batch_size
):
    config = dict(config_items)
    opt = numpyro.optim.Adam(learning_rate)
    n = jnp.sum(mask)
    weights = mask / n

    def loss_fn(p, k, idx):
        logp = jax.nn.log_softmax(_logits(p, x[idx], k, config))
        nll = -jnp.mean(jnp.take_along_axis(logp, y[idx][:, None], axis=-1))
        penalty = sum(jnp.sum(v**2) for name, v in p.items() if not name.startswith("bias"))
        return nll + 0.5 * prior_precision * penalty / n

    keys = jax.random.split(key, num_steps)

    def step(state, i):
        idx_key, drop_key = jax.random.split(keys[i])
        idx = jax.random.choice(idx_key, x.shape[0], (batch_size,), p=weights)
        loss, grads = jax.value_and_grad(loss_fn)(opt.get_params(state), drop_key, idx)
        return opt.update(grads, state), loss

    state, losses = scan_steps(step, opt.init(params), num_steps)
    return opt.get_params(state), losses


def _check_pair(value, name, *, positive_int: bool):
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise TypeError(f"{name} must be a pair; got {value!r}")
    if positive_int:
        return tuple(check_positive_int(v, f"{name}[{i}]") for i, v in enumerate(value))
    out = tuple(check_positive(v, f"{name}[{i}]") for i, v in enumerate(value))
    if max(out) >= 1:
        raise ValueError(f"{name} must hold drop probabilities in (0, 1); got {value!r}")
    return out


def fit_dropout_cnn(
    rng_key,
    x,
    y,
    *,
    image_shape=(28, 28),
    n_classes: int | None = None,
    filters=(16, 32),
    kernel: int = 5,
    hidden: int = 64,
    dropout=(0.25, 0.5),
    prior_precision: float = 1.0,
    mask=None,
    init_params: dict | None = None,
    num_steps: int = 500,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
) -> CNNFit:
    """Train the MC-dropout convolutional network of the module docstring.

    Parameters
    ----------
    rng_key : jax.random key
        Drives the initialisation (when ``init_params`` is None), minibatches and dropout masks.
    x : array of shape (n, height * width)
        Flattened grey images, one per row.
    y : array of int of shape (n,)
        Labels in ``0 .. n_classes - 1``.
    image_shape : pair of int
        ``(height, width)`` of each image.
    n_classes : int, optional
        Number of classes; by default one more than the largest label.
    filters, kernel, hidden, dropout
        The two convolutions' filters, their square kernel's side, the dense layer's units, and
        the drop probabilities before and after it.
    prior_precision : float
        Precision of the Gaussian prior on every weight (the L2 penalty, per labelled point).
    mask : array of bool of shape (n,), optional
        Which rows are labelled; all by default. Minibatches are drawn from these only.
    init_params : dict, optional
        ``fit.params`` of an earlier fit of the same configuration: a warm start.
    num_steps, batch_size, learning_rate
        Adam steps, minibatch size (drawn with replacement) and step size.

    Returns
    -------
    CNNFit
    """
    rng_key = check_key(rng_key)
    image_shape = _check_pair(image_shape, "image_shape", positive_int=True)
    x = check_array(x, "x", shape=(None, image_shape[0] * image_shape[1])).astype(np.float32)
    y = check_array(y, "y", shape=(x.shape[0],), integer=True, nonnegative=True).astype(np.int32)
    if n_classes is None:
        n_classes = int(y.max()) + 1
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    if y.max() >= n_classes:
        raise ValueError(f"y must hold labels below n_classes={n_classes}; got {y.max()}")
    filters = _check_pair(filters, "filters", positive_int=True)
    kernel = check_positive_int(kernel, "kernel")
    if min(image_shape) < 3 * kernel + 1:
        raise ValueError(
            f"kernel must leave each side at least 1 after two convolutions and poolings; got "
            f"kernel={kernel} for images of shape {image_shape}"
        )
    mask = np.ones(x.shape[0], bool) if mask is None else np.asarray(mask)
    if mask.dtype != bool or mask.shape != (x.shape[0],) or not mask.any():
        raise ValueError(
            f"mask must be a bool array of shape ({x.shape[0]},) with at least one True; got "
            f"{mask.dtype} {mask.shape}"
        )
    config = {
        "image_shape": image_shape,
        "n_classes": n_classes,
        "filters": filters,
        "kernel": kernel,
        "hidden": check_positive_int(hidden, "hidden"),
        "dropout": _check_pair(dropout, "dropout", positive_int=False),
    }
    init_key, key = jax.random.split(rng_key)
    shapes = _shapes(config)
    if init_params is None:
        params = _init(init_key, config)
    else:
        got = {k: tuple(np.shape(v)) for k, v in dict(init_params).items()}
        if got != shapes:
            raise ValueError(
                f"init_params must be the params of a fit of this configuration {shapes}; got {got}"
            )
        params = {k: jnp.asarray(v, jnp.float32) for k, v in init_params.items()}
    params, losses = _train(
        key,
        params,
        x,
        y,
        mask,
        jnp.float32(check_positive(prior_precision, "prior_precision")),
        config_items=tuple(config.items()),
        num_steps=check_positive_int(num_steps, "num_steps"),
        learning_rate=check_positive(learning_rate, "learning_rate"),
        batch_size=check_positive_int(batch_size, "batch_size"),
    )
    losses = check_finite(
        losses, what="fit_dropout_cnn", remedy=f"Try a smaller learning_rate (now {learning_rate})."
    )
    return CNNFit(params=params, losses=losses, config=config)


@functools.partial(jax.jit, static_argnames=("config_items", "num_draws"))
def _draws(key, params, x, *, config_items, num_draws):
    config = dict(config_items)
    keys = jax.random.split(key, num_draws)
    return jax.vmap(lambda k: jax.nn.softmax(_logits(params, x, k, config)))(keys)


def dropout_cnn_predict_proba(rng_key, fit: CNNFit, x, *, num_draws: int = 20) -> np.ndarray:
    """Class probabilities under ``num_draws`` random dropout masks (MC dropout).

    Parameters
    ----------
    rng_key : jax.random key
        Drives the dropout masks.
    fit : CNNFit
    x : array of shape (n, height * width)
    num_draws : int
        Dropout masks, one row of the result each.

    Returns
    -------
    ndarray of float32 of shape (num_draws, n, n_classes)
    """
    rng_key = check_key(rng_key)
    if not isinstance(fit, CNNFit):
        raise TypeError(f"fit must be a CNNFit from fit_dropout_cnn; got {type(fit).__name__}")
    height, width = fit.config["image_shape"]
    x = check_array(x, "x", shape=(None, height * width)).astype(np.float32)
    num_draws = check_positive_int(num_draws, "num_draws")
    return np.asarray(
        _draws(
            rng_key,
            fit.params,
            x,
            config_items=tuple(fit.config.items()),
            num_draws=num_draws,
        )
    )
