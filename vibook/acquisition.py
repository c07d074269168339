"""Acquisition functions: how useful would each unlabelled point's label be.

Each takes ``probs_draws``, class probabilities under posterior draws of shape
(n_draws, n_pool, n_classes) as :func:`vibook.networks.predict_proba` returns them, and returns one
score per pool point, shape (n_pool,): higher means "label this first" (Gal, Islam and Ghahramani
2017). :func:`select_batch` and :func:`initial_labelled` pick the points.

References
----------
Houlsby, Huszar, Ghahramani and Lengyel 2011, "Bayesian active learning for classification
and preference learning", arXiv:1112.5745.
Gal, Islam and Ghahramani 2017, "Deep Bayesian active learning with image data", ICML.
Freeman 1965, "Elementary applied statistics" (variation ratios).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from vibook._checks import check_array, check_choice, check_key, check_positive_int
from vibook.metrics import mutual_information, predictive_entropy

__all__ = [
    "ACQUISITIONS",
    "acquisition_scores",
    "bald",
    "check_acquisition",
    "initial_labelled",
    "max_entropy",
    "random_scores",
    "select_batch",
    "variation_ratios",
]


def bald(probs_draws) -> np.ndarray:
    """BALD score: the mutual information between a point's label and the weights.

    High where each posterior draw is confident but the draws disagree, so the label would rule
    many of them out (epistemic uncertainty); low for merely ambiguous points, where every draw is
    unsure in the same way (Houlsby et al. 2011). It is :func:`vibook.metrics.mutual_information`.

    Parameters
    ----------
    probs_draws : array of shape (n_draws, n_pool, n_classes)

    Returns
    -------
    array of shape (n_pool,)
        ``H[mean_s p_s] - mean_s H[p_s]`` in nats, >= 0.
    """
    return mutual_information(probs_draws)


def max_entropy(probs_draws) -> np.ndarray:
    """Max-entropy score: the entropy of the posterior predictive, total uncertainty.

    Picks points whose predicted label is most uncertain, whether the draws disagree or the input
    is ambiguous (Shannon 1948; Gal et al. 2017). It is :func:`vibook.metrics.predictive_entropy`.

    Parameters
    ----------
    probs_draws : array of shape (n_draws, n_pool, n_classes)

    Returns
    -------
    array of shape (n_pool,)
        ``H[mean_s p_s]`` in nats.
    """
    return predictive_entropy(_draws(probs_draws))


def variation_ratios(probs_draws) -> np.ndarray:
    """Variation ratio: one minus the probability of the most probable class.

    Low when the posterior predictive puts almost all its mass on one class, high when it
    spreads it out (Freeman 1965; Gal et al. 2017, who use ``1 - max_y p(y | x, D)``).

    Parameters
    ----------
    probs_draws : array of shape (n_draws, n_pool, n_classes)

    Returns
    -------
    array of shape (n_pool,)
        ``1 - max_c mean_s p_s(c)``, in ``[0, 1 - 1/n_classes]``.
    """
    p = _draws(probs_draws)
    return 1.0 - p.mean(0).max(-1)


def random_scores(probs_draws, *, rng_key) -> np.ndarray:
    """Random acquisition: independent uniform scores, the baseline every method must beat.

    Parameters
    ----------
    probs_draws : array of shape (n_draws, n_pool, n_classes)
        Only its shape is used.
    rng_key : jax.random key

    Returns
    -------
    array of shape (n_pool,)
        Uniform on [0, 1).
    """
    p = _draws(probs_draws)
    return np.asarray(jax.random.uniform(check_key(rng_key), (p.shape[1],)), dtype=np.float64)


ACQUISITIONS: dict[str, Callable] = {
    "bald": bald,
    "max_entropy": max_entropy,
    "variation_ratios": variation_ratios,
    "random": random_scores,
}
"""The acquisition functions by name."""


def _draws(probs_draws) -> np.ndarray:
    p = check_array(probs_draws, "probs_draws", ndim=3)
    if np.any(p < -1e-6) or not np.allclose(p.sum(-1), 1.0, atol=1e-3):
        raise ValueError("probs_draws must hold probabilities that sum to 1 over the last axis")
    return np.clip(p.astype(np.float64), 0.0, 1.0)


def check_acquisition(acquisition) -> str:
    """Check that ``acquisition`` is one of :data:`ACQUISITIONS`."""
    return check_choice(acquisition, "acquisition", ACQUISITIONS)


def acquisition_scores(acquisition: str, probs_draws, *, rng_key=None) -> np.ndarray:
    """Scores of the pool under the acquisition function called ``acquisition``.

    Parameters
    ----------
    acquisition : {"bald", "max_entropy", "variation_ratios", "random"}
    probs_draws : array of shape (n_draws, n_pool, n_classes)
    rng_key : jax.random key, optional
        Needed by ``"random"`` only.

    Returns
    -------
    array of shape (n_pool,)
    """
    fn = ACQUISITIONS[check_acquisition(acquisition)]
    if acquisition == "random":
        if rng_key is None:
            raise ValueError("acquisition 'random' needs rng_key; got None")
        return fn(probs_draws, rng_key=rng_key)
    return fn(probs_draws)


def select_batch(scores, labelled, batch_size: int) -> np.ndarray:
    """Indices of the ``batch_size`` highest-scoring points that are not labelled yet.

    Parameters
    ----------
    scores : array of shape (n_pool,)
        Acquisition scores (higher = label first).
    labelled : array of bool of shape (n_pool,)
        Which pool points already have labels; they are never picked.
    batch_size : int
        How many points to pick; at most the number of unlabelled points.

    Returns
    -------
    array of int of shape (batch_size,)
        Pool indices, best first; ties go to the lower index.
    """
    scores = check_array(scores, "scores", ndim=1).astype(np.float64)
    labelled = np.asarray(labelled)
    if labelled.dtype != bool or labelled.shape != scores.shape:
        raise ValueError(
            f"labelled must be a bool array of shape {scores.shape}; "
            f"got {labelled.dtype} {labelled.shape}"
        )
    batch_size = check_positive_int(batch_size, "batch_size")
    free = np.flatnonzero(~labelled)
    if batch_size > free.size:
        raise ValueError(
            f"batch_size must be at most the {free.size} unlabelled points; got {batch_size}"
        )
    order = np.argsort(-scores[free], kind="stable")
    return free[order[:batch_size]]


def initial_labelled(rng_key, y, n_per_class: int) -> np.ndarray:
    """A random starting set with ``n_per_class`` points of every class (Gal et al. 2017).

    Parameters
    ----------
    rng_key : jax.random key
    y : array of int of shape (n_pool,)
        Labels of the pool (only the classes' positions are used).
    n_per_class : int

    Returns
    -------
    array of int of shape (n_classes * n_per_class,)
        Pool indices, grouped by class.
    """
    rng_key = check_key(rng_key)
    y = check_array(y, "y", ndim=1, integer=True, nonnegative=True).astype(int)
    n_per_class = check_positive_int(n_per_class, "n_per_class")
    out = []
    classes = np.unique(y)
    for k, c in zip(jax.random.split(rng_key, len(classes)), classes, strict=True):
        where = np.flatnonzero(y == c)
        if where.size < n_per_class:
            raise ValueError(
                f"n_per_class must be at most the {where.size} points of class {c}; "
                f"got {n_per_class}"
            )
        pick = np.asarray(jax.random.permutation(k, where.size))[:n_per_class]
        out.append(where[pick])
    return np.concatenate(out)
