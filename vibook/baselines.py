"""Non-Bayesian baselines with the BNN's architecture: MAP, MC dropout and deep ensembles.

The network is :func:`vibook.models.bnn.bnn_apply` (same layers, initialised from the same prior),
trained by Adam (``numpyro.optim``) on the log posterior: the negative log-likelihood plus the
Gaussian prior's L2 penalty.

* ``method="map"``: one network, a point estimate; its softmax is all the uncertainty it has.
* ``method="dropout"``: trained and predicted with dropout on the hidden units; the spread over
  dropout masks approximates a posterior (Gal and Ghahramani 2016).
* ``method="ensemble"``: networks from different random starts, trained independently (vectorised,
  one compilation); the spread over members is the uncertainty (Lakshminarayanan et al. 2017,
  without the adversarial-training option).

Every method predicts with :func:`mlp_predict_proba` (shape (n_draws, n, n_classes)) or
:func:`mlp_predict_regression`, so the scores of :mod:`vibook.metrics` and :func:`score_table` apply
to them and to the BNN alike.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import pandas as pd

from vibook._checks import (
    check_array,
    check_choice,
    check_key,
    check_positive,
    check_positive_int,
)
from vibook.loop import check_finite, scan_steps
from vibook.metrics import (
    accuracy,
    expected_calibration_error,
    mutual_information,
    nll,
    ood_auroc,
    predictive_entropy,
)
from vibook.models.bnn import (
    ACTIVATIONS,
    bnn_apply,
    check_activation,
    check_hidden,
    check_xy,
    prior_sds,
)
from vibook.networks import BNNFit, predict_proba

__all__ = [
    "MLPFit",
    "class_probability_draws",
    "fit_mlp",
    "mlp_predict_proba",
    "mlp_predict_regression",
    "score_table",
]

METHODS = ("map", "dropout", "ensemble")


class MLPFit(NamedTuple):
    """The result of :func:`fit_mlp`.

    Attributes
    ----------
    weights : dict of str to array
        ``w0, b0, ...`` (and ``log_sigma`` for regression); with a leading member axis of
        length ``n_members`` for every method (1 for MAP and dropout).
    losses : array of shape (n_members, num_steps)
        Training loss (per-point negative log posterior) at each step.
    config : dict
        ``method``, ``n_classes``, ``hidden``, ``activation``, ``dropout``.
    """

    weights: dict[str, Any]
    losses: np.ndarray
    config: dict[str, Any]


def _forward(weights, x, *, activation, dropout=0.0, key=None):
    """The MLP with optional (inverted) dropout on every hidden layer's output."""
    act = ACTIVATIONS[activation]
    n_layers = sum(1 for k in weights if k.startswith("w") and k[1:].isdigit())
    h = x
    for i in range(n_layers):
        h = h @ weights[f"w{i}"] + weights[f"b{i}"]
        if i < n_layers - 1:
            h = act(h)
            if dropout > 0:
                key, sub = jax.random.split(key)
                keep = jax.random.bernoulli(sub, 1.0 - dropout, h.shape)
                h = jnp.where(keep, h / (1.0 - dropout), 0.0)
    return h


@functools.lru_cache(maxsize=64)
def _program(
    n_classes, hidden, activation, prior_scale, dropout, num_steps, learning_rate, batch_size, start
):
    classify = n_classes is not None
    opt = numpyro.optim.Adam(learning_rate)
    gain = 2.0 if activation in ("relu", "gelu") else 1.0

    def init(key, d):
        sds = prior_sds(d, hidden, n_classes if classify else 1, prior_scale)
        keys = jax.random.split(key, len(sds))
        weights = {}
        for k, (name, (shape, sd)) in zip(keys, sds.items(), strict=True):
            if start == "standard":  # He (ReLU-like) or LeCun: sd sqrt(gain / fan_in), biases 0
                sd = (gain / shape[0]) ** 0.5 if name.startswith("w") else 0.0
            weights[name] = sd * jax.random.normal(k, shape)
        if not classify:
            weights["log_sigma"] = jnp.asarray(0.0)
        return weights, sds

    def loss_fn(weights, key, x, y, n_total, sds):
        out = _forward(weights, x, activation=activation, dropout=dropout, key=key)
        if classify:
            loglik = jnp.take_along_axis(jax.nn.log_softmax(out), y[:, None], axis=-1)[:, 0]
        else:
            sigma = jnp.exp(weights["log_sigma"])
            loglik = (
                -0.5 * ((y - out[:, 0]) / sigma) ** 2 - jnp.log(sigma) - 0.5 * jnp.log(2 * jnp.pi)
            )
        penalty = sum(0.5 * jnp.sum((weights[k] / sd) ** 2) for k, (_, sd) in sds.items())
        return -jnp.mean(loglik) + penalty / n_total

    @jax.jit
    def run(key, x, y):
        init_key, key = jax.random.split(key)
        weights, sds = init(init_key, x.shape[1])
        n = x.shape[0]

        keys = jax.random.split(key, num_steps)

        def step(state, i):
            idx_key, drop_key = jax.random.split(keys[i])
            if batch_size is None:
                xb, yb = x, y
            else:
                idx = jax.random.choice(idx_key, n, (batch_size,), replace=False)
                xb, yb = x[idx], y[idx]
            loss, grads = jax.value_and_grad(loss_fn)(
                opt.get_params(state), drop_key, xb, yb, n, sds
            )
            return opt.update(grads, state), loss

        state, losses = scan_steps(step, opt.init(weights), num_steps)
        return opt.get_params(state), losses

    return run


def fit_mlp(
    rng_key,
    x,
    y,
    *,
    method: str = "map",
    n_classes: int | None = None,
    hidden=(50,),
    activation: str = "tanh",
    prior_scale: float = 1.0,
    dropout: float = 0.1,
    n_members: int = 5,
    num_steps: int = 2000,
    learning_rate: float = 0.01,
    batch_size: int | None = None,
    init: str = "prior",
) -> MLPFit:
    """Train the BNN's architecture without a posterior: MAP, MC dropout or a deep ensemble.

    Parameters
    ----------
    rng_key : jax.random key
        Drives initialisation, minibatches and dropout masks.
    x, y : arrays of shape (n, d) and (n,)
        Inputs, and regression targets or (with ``n_classes``) integer labels.
    method : {"map", "dropout", "ensemble"}
        Which baseline (see the module docstring).
    n_classes : int, optional
        Number of classes; ``None`` for regression (Gaussian likelihood, learned noise sd).
    hidden, activation, prior_scale
        As in :func:`vibook.models.bnn.bnn`; the Gaussian prior gives the L2 penalty.
    dropout : float
        Hidden-unit drop probability in (0, 1), used by ``method="dropout"`` (always checked).
    n_members : int
        Ensemble size, used by ``method="ensemble"`` (always checked).
    num_steps, learning_rate, batch_size
        Adam steps, step size, and minibatch size (full batch by default).
    init : {"prior", "standard"}
        Start each network from a draw of the prior, or from a standard initialisation (weight
        sd ``sqrt(2 / fan_in)`` for ReLU-like activations, He et al. 2015, ``sqrt(1 / fan_in)``
        otherwise; biases 0), as :func:`vibook.networks.fit_bnn`'s MAP start does: under a broad
        prior a prior draw saturates the units.

    Returns
    -------
    MLPFit
    """
    rng_key = check_key(rng_key)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    x, y, n_classes = check_xy(x, y, n_classes)
    dropout = check_positive(dropout, "dropout")
    if not dropout < 1:
        raise ValueError(f"dropout must be in (0, 1); got {dropout}")
    dropout = dropout if method == "dropout" else 0.0
    n_members = check_positive_int(n_members, "n_members")
    n_members = n_members if method == "ensemble" else 1
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
        if batch_size >= x.shape[0]:
            batch_size = None
    hidden = check_hidden(hidden)
    activation = check_activation(activation)
    run = _program(
        n_classes,
        hidden,
        activation,
        check_positive(prior_scale, "prior_scale"),
        dropout,
        check_positive_int(num_steps, "num_steps"),
        check_positive(learning_rate, "learning_rate"),
        batch_size,
        check_choice(init, "init", ("prior", "standard")),
    )
    keys = jax.random.split(rng_key, n_members)
    weights, losses = jax.vmap(run, in_axes=(0, None, None))(keys, x, y)
    losses = np.asarray(losses)
    for member, member_losses in enumerate(losses):
        check_finite(
            member_losses,
            what="fit_mlp" if n_members == 1 else f"fit_mlp (ensemble member {member})",
            remedy=f"Try a smaller learning_rate (now {learning_rate}).",
        )
    config = {
        "method": method,
        "n_classes": n_classes,
        "hidden": hidden,
        "activation": activation,
        "dropout": dropout,
    }
    return MLPFit(weights=weights, losses=losses, config=config)


@functools.partial(jax.jit, static_argnames=("activation", "dropout", "num_draws"))
def _dropout_outputs(key, weights, x, activation, dropout, num_draws):
    one = {k: v[0] for k, v in weights.items() if k != "log_sigma"}
    keys = jax.random.split(key, num_draws)
    return jax.vmap(lambda k: _forward(one, x, activation=activation, dropout=dropout, key=k))(keys)


def _outputs(rng_key, fit, x, num_draws):
    if not isinstance(fit, MLPFit):
        raise TypeError(f"fit must be an MLPFit from fit_mlp; got {type(fit).__name__}")
    rng_key = check_key(rng_key)
    x = jnp.asarray(check_array(x, "x", ndim=2), dtype=jnp.float32)
    cfg = fit.config
    if cfg["method"] == "dropout":
        num_draws = check_positive_int(num_draws, "num_draws")
        return _dropout_outputs(
            rng_key, fit.weights, x, cfg["activation"], cfg["dropout"], num_draws
        )
    weights = {k: v for k, v in fit.weights.items() if k != "log_sigma"}
    return bnn_apply(weights, x, activation=cfg["activation"])


def mlp_predict_proba(rng_key, fit: MLPFit, x, *, num_draws: int = 100):
    """Class probabilities of a baseline, one row per draw (dropout mask or member).

    Parameters
    ----------
    rng_key : jax.random key
        Drives the dropout masks (unused by MAP and ensembles).
    fit : MLPFit
        A classification fit.
    x : array of shape (n, d)
    num_draws : int
        Dropout masks for ``method="dropout"``; MAP gives 1 row and an ensemble one per member.

    Returns
    -------
    array of shape (n_draws, n, n_classes)
    """
    if isinstance(fit, MLPFit) and fit.config["n_classes"] is None:
        raise ValueError("mlp_predict_proba needs a classification fit (n_classes given)")
    return jax.nn.softmax(_outputs(rng_key, fit, x, num_draws), axis=-1)


def mlp_predict_regression(rng_key, fit: MLPFit, x, *, num_draws: int = 100):
    """Regression outputs of a baseline, one row per draw (dropout mask or member).

    Returns
    -------
    mean : array of shape (n_draws, n)
    sigma : array of shape (n_draws,)
        The learned noise sd, repeated for dropout draws.
    """
    if isinstance(fit, MLPFit) and fit.config["n_classes"] is not None:
        raise ValueError("mlp_predict_regression needs a regression fit (n_classes=None)")
    mean = _outputs(rng_key, fit, x, num_draws)[..., 0]
    sigma = jnp.exp(fit.weights["log_sigma"])
    sigma = jnp.broadcast_to(sigma, (mean.shape[0],)) if sigma.shape[0] == 1 else sigma
    return mean, sigma


def class_probability_draws(rng_key, fit, x, *, num_draws: int = 100) -> np.ndarray:
    """Class probabilities of a BNN or of a baseline, one row per draw.

    A :class:`~vibook.networks.BNNFit` gives ``num_draws`` posterior draws of the weights
    (:func:`vibook.networks.predict_proba`), an :class:`MLPFit` those of :func:`mlp_predict_proba`.

    Parameters
    ----------
    rng_key : jax.random key
        Drives the weight draws or dropout masks (unused by MAP and ensembles).
    fit : BNNFit or MLPFit
        A classification fit of :func:`vibook.networks.fit_bnn` or :func:`fit_mlp`.
    x : array of shape (n, d)
    num_draws : int
        Posterior draws of a BNN, dropout masks of MC dropout.

    Returns
    -------
    ndarray of shape (n_draws, n, n_classes)
    """
    if isinstance(fit, BNNFit):
        return np.asarray(predict_proba(rng_key, fit, x, num_draws=num_draws))
    if isinstance(fit, MLPFit):
        return np.asarray(mlp_predict_proba(rng_key, fit, x, num_draws=num_draws))
    raise TypeError(
        f"fit must be a BNNFit from fit_bnn or an MLPFit from fit_mlp; got {type(fit).__name__}"
    )


def _draws(probs, name, n=None, n_classes=None):
    """Per-draw class probabilities as (n_draws, n, n_classes), checked; (n, k) is one draw."""
    p = check_array(probs, name, ndim=(2, 3))
    p = p[None] if p.ndim == 2 else p
    if np.any(p < -1e-6) or not np.allclose(p.sum(-1), 1.0, atol=1e-3):
        raise ValueError(f"{name} must hold probabilities that sum to 1 over the last axis")
    if n is not None and p.shape[1] != n:
        raise ValueError(f"{name} must have one row per label ({n}); got shape {p.shape}")
    if n_classes is not None and p.shape[2] != n_classes:
        raise ValueError(f"{name} must have {n_classes} classes; got shape {p.shape}")
    return p


def score_table(probs_by_method, y, *, ood=None, n_bins: int = 15) -> pd.DataFrame:
    """Accuracy, NLL, calibration and OOD detection of several classifiers, one row each.

    Parameters
    ----------
    probs_by_method : dict of str to array
        Each method's class probabilities on the test inputs, of shape (n_draws, n, n_classes)
        as :func:`class_probability_draws` returns them, or (n, n_classes) for one draw.
    y : array of int of shape (n,)
        Test labels.
    ood : dict of str to dict of str to array, optional
        Out-of-distribution sets by name; each maps some of the methods to their class
        probabilities on that set's inputs, shaped as in ``probs_by_method``.
    n_bins : int
        Confidence bins of the ECE.

    Returns
    -------
    pandas.DataFrame
        One row per method, in the order given, scored on the posterior predictive (the mean over
        draws): ``accuracy``, ``nll`` (:func:`vibook.metrics.nll`), ``ece``
        (:func:`vibook.metrics.expected_calibration_error`), ``mean confidence`` (the mean top
        probability: below the accuracy is underconfident, above it overconfident) and, for each OOD
        set ``name``, the AUROC (:func:`vibook.metrics.ood_auroc`) of telling its inputs from the
        test inputs by predictive entropy (``"name, entropy"``) and by mutual information
        (``"name, MI"``). NaN marks a method missing from an OOD set, and the MI of a method with
        one draw (its MI is zero everywhere).
    """
    if not isinstance(probs_by_method, Mapping) or not probs_by_method:
        raise TypeError(
            "probs_by_method must be a non-empty dict of method name to class probabilities; "
            f"got {type(probs_by_method).__name__}"
        )
    y = check_array(y, "y", ndim=1, integer=True, nonnegative=True)
    if ood is not None and not isinstance(ood, Mapping):
        raise TypeError(
            "ood must be a dict of set name to dict of method name to probabilities; "
            f"got {type(ood).__name__}"
        )
    test, n_classes = {}, None
    for name, probs in probs_by_method.items():
        test[name] = _draws(probs, f"probs_by_method[{name!r}]", n=len(y), n_classes=n_classes)
        n_classes = test[name].shape[2]
    rows = {}
    for name, p in test.items():
        mean = p.mean(0)
        rows[name] = {
            "accuracy": accuracy(mean, y),
            "nll": nll(mean, y),
            "ece": expected_calibration_error(mean, y, n_bins=n_bins),
            "mean confidence": float(mean.max(-1).mean()),
        }
    for set_name, by_method in (ood or {}).items():
        if not isinstance(by_method, Mapping):
            raise TypeError(
                f"ood[{set_name!r}] must be a dict of method name to probabilities; "
                f"got {type(by_method).__name__}"
            )
        unknown = sorted(set(by_method) - set(test))
        if unknown:
            raise ValueError(f"ood[{set_name!r}] names methods not in probs_by_method: {unknown}")
        for name, row in rows.items():
            row[f"{set_name}, entropy"] = row[f"{set_name}, MI"] = np.nan
            if name not in by_method:
                continue
            p_in = test[name]
            p_out = _draws(by_method[name], f"ood[{set_name!r}][{name!r}]", n_classes=n_classes)
            row[f"{set_name}, entropy"] = ood_auroc(
                predictive_entropy(p_in), predictive_entropy(p_out)
            )
            if p_in.shape[0] > 1 and p_out.shape[0] > 1:
                row[f"{set_name}, MI"] = ood_auroc(
                    mutual_information(p_in), mutual_information(p_out)
                )
    return pd.DataFrame.from_dict(rows, orient="index")
