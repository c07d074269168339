"""Active learning: let the model's uncertainty choose which points to label next.

In pool-based active learning a model is fitted to a few labelled points, scores every unlabelled
point in a pool by how useful its label would be, asks for the labels of the best batch, refits, and
repeats (Settles 2009). With a Bayesian neural network the scores of :mod:`vibook.acquisition` can
tell what the model has not yet seen (epistemic) from what it cannot know (aleatoric); BALD, the
default, asks for the first (Houlsby et al. 2011; Gal et al. 2017).

:func:`run_active_learning` runs the loop as one compiled program, warm-starting each round's fit;
its result keeps the last fit and the inputs' :class:`Standardizer`, so new inputs can be predicted
as the test set was.

References
----------
Houlsby, Huszar, Ghahramani and Lengyel 2011, "Bayesian active learning for classification and
preference learning", arXiv:1112.5745.
Gal, Islam and Ghahramani 2017, "Deep Bayesian active learning with image data", ICML.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro

from vibook._checks import (
    check_array,
    check_choice,
    check_key,
    check_positive,
    check_positive_int,
)
from vibook.acquisition import (
    acquisition_scores,
    check_acquisition,
    initial_labelled,
    select_batch,
)
from vibook.convnets import CNNFit, dropout_cnn_predict_proba, fit_dropout_cnn
from vibook.metrics import accuracy
from vibook.models.bnn import bnn_guide, check_hidden
from vibook.networks import BNNFit, fit_bnn, predict_proba

__all__ = ["ActiveLearningResult", "Standardizer", "labels_to_reach", "run_active_learning"]

MODELS = ("bnn", "dropout_cnn")


class Standardizer(NamedTuple):
    """Centre and scale each input feature: ``(x - mean) / sd``.

    Attributes
    ----------
    mean, sd : ndarray of float32 of shape (d,)
        Each feature's shift and divisor (sd is 1 for a feature constant on the data).
    """

    mean: np.ndarray
    sd: np.ndarray

    @classmethod
    def fit(cls, x, *, standardize: bool = True) -> Standardizer:
        """The standardisation of ``x`` (shape (n, d)); the identity if not ``standardize``."""
        x = check_array(x, "x", ndim=2).astype(np.float32)
        if not standardize:
            return cls(np.zeros(x.shape[1], np.float32), np.ones(x.shape[1], np.float32))
        sd = x.std(0)
        return cls(x.mean(0), np.where(sd > 0, sd, 1.0).astype(np.float32))

    def apply(self, x) -> np.ndarray:
        """``(x - mean) / sd`` for inputs ``x`` of shape (n, d), as float32."""
        x = check_array(x, "x", ndim=2).astype(np.float32)
        if x.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"x must have {self.mean.shape[0]} features, as the standardised data; "
                f"got shape {x.shape}"
            )
        return (x - self.mean) / self.sd


class ActiveLearningResult(NamedTuple):
    """The record of one run of :func:`run_active_learning`.

    Attributes
    ----------
    acquisition : str
        The acquisition function's name.
    n_labels, accuracy : arrays of shape (n_rounds + 1,)
        Labelled points (int) and test accuracy of the posterior predictive after each round; the
        first entry is the starting set.
    order : array of int of shape (n_initial + n_rounds * batch_size,)
        Pool indices in the order labelled: the starting set, then each batch, best first.
    scores : array of shape (n_rounds, n_pool)
        Pool scores at each round, before its batch was labelled (NaN for points labelled earlier).
    seconds : float
        Wall-clock time of the run, compilation included.
    fit : BNNFit or CNNFit
        The last round's fit, on standardised inputs: predict new inputs ``x`` with
        ``predict_proba(key, fit, scaler.apply(x))`` (``dropout_cnn_predict_proba`` for a
        CNNFit).
    scaler : Standardizer
        The standardisation of the pool and test inputs (the identity if ``standardize=False``).
    """

    acquisition: str
    n_labels: np.ndarray
    accuracy: np.ndarray
    order: np.ndarray
    scores: np.ndarray
    seconds: float
    fit: BNNFit | CNNFit
    scaler: Standardizer


def run_active_learning(
    rng_key,
    x_pool,
    y_pool,
    x_test,
    y_test,
    *,
    acquisition: str = "bald",
    n_classes: int | None = None,
    n_initial_per_class: int = 2,
    batch_size: int = 10,
    n_rounds: int = 20,
    num_draws: int = 100,
    hidden=(20,),
    activation: str = "tanh",
    prior_scale=(3.0, 8.0),
    num_steps: int = 500,
    initial_fits: int = 4,
    learning_rate: float = 0.01,
    standardize: bool = True,
    model: str = "bnn",
    cnn_options: dict | None = None,
    callback: Callable | None = None,
) -> ActiveLearningResult:
    """Pool-based active learning with a Bayesian neural network, compiled once.

    Start from ``n_initial_per_class`` labelled points of each class; then, ``n_rounds`` times:
    score the unlabelled pool with ``acquisition`` on ``num_draws`` posterior draws, label the
    ``batch_size`` best points, and refit the mean-field BNN (:func:`vibook.networks.fit_bnn`)
    for ``num_steps`` steps, warm-started from the last round's parameters. Test accuracy is
    recorded after every fit (Gal et al. 2017). The labelled set is kept in arrays of its final
    size with a mask, so :func:`~vibook.networks.fit_bnn` and :func:`~vibook.networks.predict_proba`
    are compiled in the first round only.

    Parameters
    ----------
    rng_key : jax.random key
        Drives the starting set, the fits, the posterior draws and random acquisition.
    x_pool, y_pool : arrays of shape (n_pool, d) and of int of shape (n_pool,)
        The pool's inputs and its labels (the oracle: a label is revealed only when acquired).
    x_test, y_test : arrays of shape (n_test, d) and of int of shape (n_test,)
        Held-out inputs and labels.
    acquisition : {"bald", "max_entropy", "variation_ratios", "random"}
    n_classes : int, optional
        Number of classes; by default one more than the largest label in ``y_pool`` and ``y_test``.
    n_initial_per_class, batch_size, n_rounds : int
        Random starting points per class, points labelled per round, and acquisition rounds.
    num_draws : int
        Posterior draws for the scores and for the test predictions.
    hidden, activation, prior_scale
        The network (see :func:`vibook.models.bnn.bnn`).
    num_steps, learning_rate
        SVI steps per fit and Adam step size.
    initial_fits : int
        The first fit, from scratch, runs ``initial_fits`` consecutive warm-started calls of
        ``num_steps`` steps (one compiled program), so it converges before the first acquisition.
    standardize : bool
        Centre and scale every input feature by the pool's mean and sd (the pool's inputs are
        known, only its labels are not); features constant on the pool are left unscaled.
    model : {"bnn", "dropout_cnn"}
        The mean-field BNN (``hidden``, ``activation`` and ``prior_scale`` describe it), or the
        MC-dropout convolutional network of :func:`vibook.convnets.fit_dropout_cnn` for rows that
        are flattened images (Gal et al. 2017), with ``standardize=False`` so that every pixel
        keeps one scale.
    cnn_options : dict, optional
        Further arguments of :func:`~vibook.convnets.fit_dropout_cnn` (``image_shape``,
        ``filters``, ``batch_size``, ...), with ``model="dropout_cnn"`` only.
    callback : callable, optional
        Called after each fit as ``callback(round, n_labels, accuracy)``; round 0 is the start.

    Returns
    -------
    ActiveLearningResult
    """
    start = time.perf_counter()
    rng_key = check_key(rng_key)
    acquisition = check_acquisition(acquisition)
    x_pool = check_array(x_pool, "x_pool", ndim=2).astype(np.float32)
    y_pool = check_array(y_pool, "y_pool", ndim=1, integer=True, nonnegative=True).astype(np.int32)
    x_test = check_array(x_test, "x_test", ndim=2).astype(np.float32)
    y_test = check_array(y_test, "y_test", ndim=1, integer=True, nonnegative=True).astype(np.int32)
    if y_pool.shape[0] != x_pool.shape[0]:
        raise ValueError(
            f"x_pool and y_pool must have the same length; got {x_pool.shape[0]} and "
            f"{y_pool.shape[0]}"
        )
    if y_test.shape[0] != x_test.shape[0] or x_test.shape[1] != x_pool.shape[1]:
        raise ValueError(
            f"x_test must be (len(y_test), {x_pool.shape[1]}); got {x_test.shape} and "
            f"{y_test.shape[0]} labels"
        )
    if n_classes is None:
        n_classes = int(max(y_pool.max(), y_test.max())) + 1
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    batch_size = check_positive_int(batch_size, "batch_size")
    n_rounds = check_positive_int(n_rounds, "n_rounds", minimum=0)
    num_draws = check_positive_int(num_draws, "num_draws")
    initial_fits = check_positive_int(initial_fits, "initial_fits")
    check_positive(learning_rate, "learning_rate")
    model = check_choice(model, "model", MODELS)
    if cnn_options is not None and model != "dropout_cnn":
        raise ValueError(f"cnn_options applies to model='dropout_cnn' only; got model={model!r}")
    cnn_options = {} if cnn_options is None else dict(cnn_options)
    reserved = {"mask", "init_params", "num_steps", "learning_rate", "n_classes"} & set(cnn_options)
    if reserved:
        raise ValueError(
            f"cnn_options must not set {sorted(reserved)}: run_active_learning sets them"
        )
    hidden = check_hidden(hidden)
    if np.ndim(prior_scale) and len(prior_scale) != len(hidden) + 1:
        raise ValueError(
            f"prior_scale must be one number or one per layer, {len(hidden) + 1} for "
            f"hidden={hidden}; got {len(prior_scale)} values"
        )

    scaler = Standardizer.fit(x_pool, standardize=standardize)
    x_pool, x_test = scaler.apply(x_pool), scaler.apply(x_test)

    n_initial_per_class = check_positive_int(n_initial_per_class, "n_initial_per_class")
    init_key, key = jax.random.split(rng_key)
    start_idx = initial_labelled(init_key, y_pool, n_initial_per_class)
    capacity = start_idx.size + n_rounds * batch_size
    if capacity > x_pool.shape[0]:
        raise ValueError(
            f"n_rounds * batch_size + the starting set must fit in the pool of "
            f"{x_pool.shape[0]}; got {capacity}"
        )
    # The labelled set: fixed-size arrays filled from the front, the rest masked out.
    x_lab = np.zeros((capacity, x_pool.shape[1]), np.float32)
    y_lab = np.zeros(capacity, np.int32)
    mask = np.zeros(capacity, bool)
    labelled = np.zeros(x_pool.shape[0], bool)
    order: list[int] = []

    def add(idx):
        n = len(order)
        x_lab[n : n + idx.size], y_lab[n : n + idx.size] = x_pool[idx], y_pool[idx]
        mask[n : n + idx.size] = True
        labelled[idx] = True
        order.extend(int(i) for i in idx)

    net = dict(
        n_classes=n_classes,
        hidden=hidden,
        activation=activation,
        prior_scale=tuple(prior_scale) if np.ndim(prior_scale) else float(prior_scale),
    )
    steps = dict(num_steps=num_steps, learning_rate=learning_rate)
    if model == "bnn":
        fit_once = functools.partial(fit_bnn, **net, **steps)
        predict = predict_proba
    else:
        fit_once = functools.partial(fit_dropout_cnn, n_classes=n_classes, **cnn_options, **steps)
        predict = dropout_cnn_predict_proba

    def refit(key, params, times):
        if params is None and model == "bnn":
            key, init_key = jax.random.split(key)
            params = _initial_params(init_key, jnp.asarray(x_lab), **net)
        fit = None
        for _ in range(times):
            k, key = jax.random.split(key)
            fit = fit_once(k, x_lab.copy(), y_lab.copy(), mask=mask.copy(), init_params=params)
            params = fit.params
        return fit

    def test_accuracy(key, fit):
        p = predict(key, fit, x_test, num_draws=num_draws)
        return accuracy(np.asarray(p).mean(0), y_test)

    add(start_idx)
    _, fit_key, eval_key, key = jax.random.split(key, 4)
    fit = refit(fit_key, None, initial_fits)
    n_labels, accs, all_scores = [len(order)], [test_accuracy(eval_key, fit)], []
    if callback is not None:
        callback(0, n_labels[-1], accs[-1])
    for r in range(1, n_rounds + 1):
        draw_key, fit_key, eval_key, key = jax.random.split(key, 4)
        if acquisition == "random":
            scores = np.asarray(jax.random.uniform(draw_key, (x_pool.shape[0],)), np.float64)
        else:
            probs = predict(draw_key, fit, x_pool, num_draws=num_draws)
            scores = acquisition_scores(acquisition, probs)
        all_scores.append(np.where(labelled, np.nan, scores))
        add(select_batch(scores, labelled, batch_size))
        fit = refit(fit_key, fit.params, 1)
        n_labels.append(len(order))
        accs.append(test_accuracy(eval_key, fit))
        if callback is not None:
            callback(r, n_labels[-1], accs[-1])
    return ActiveLearningResult(
        acquisition=acquisition,
        n_labels=np.asarray(n_labels),
        accuracy=np.asarray(accs),
        order=np.asarray(order),
        scores=np.asarray(all_scores).reshape(n_rounds, x_pool.shape[0]),
        seconds=time.perf_counter() - start,
        fit=fit,
        scaler=scaler,
    )


@functools.partial(jax.jit, static_argnames=("n_classes", "hidden", "activation", "prior_scale"))
def _initial_params(rng_key, x, *, n_classes, hidden, activation, prior_scale):
    """The guide's starting parameters, typed exactly as a fit returns them.

    ``fit_bnn`` with ``init_params=None`` compiles for the guide's own, partly weakly typed,
    initial values, and a warm start compiles again; explicit float32 parameters keep one program.
    """
    config = dict(n_classes=n_classes, hidden=hidden, activation=activation)
    with numpyro.handlers.seed(rng_seed=rng_key):
        tr = numpyro.handlers.trace(bnn_guide).get_trace(x, prior_scale=prior_scale, **config)
    return {k: jnp.asarray(v["value"], jnp.float32) for k, v in tr.items() if v["type"] == "param"}


def labels_to_reach(n_labels, accuracy, target: float = 0.95) -> float:
    """The number of labels at which the accuracy first reaches ``target``.

    Parameters
    ----------
    n_labels, accuracy : arrays of shape (n,)
        Labels (int, increasing) and test accuracy after each round.
    target : float
        Accuracy to reach, in (0, 1].

    Returns
    -------
    float
        The first ``n_labels[i]`` with ``accuracy[i] >= target``, or ``inf`` if never.
    """
    n_labels = check_array(n_labels, "n_labels", ndim=1, integer=True, nonnegative=True)
    accuracy = check_array(accuracy, "accuracy", ndim=1, nonnegative=True)
    if np.any(accuracy > 1):
        raise ValueError(f"accuracy must hold fractions in [0, 1]; got maximum {accuracy.max()}")
    if n_labels.shape != accuracy.shape:
        raise ValueError(
            f"n_labels and accuracy must have the same shape; got {n_labels.shape} and "
            f"{accuracy.shape}"
        )
    target = check_positive(target, "target")
    if target > 1:
        raise ValueError(f"target must be an accuracy in (0, 1]; got {target}")
    hit = np.flatnonzero(accuracy >= target)
    return float(n_labels[hit[0]]) if hit.size else float("inf")
