"""Scores for predictions: accuracy, likelihood, calibration, uncertainty and OOD detection.

The predictive entropy splits into an aleatoric part and an epistemic part (the mutual information
between label and weights), which flags inputs unlike the training data. :func:`paired_bootstrap`
and :func:`ece_if_calibrated` say what a finite test set can tell.

Functions taking ``probs`` accept class probabilities of shape (n, n_classes); the uncertainty
functions take per-draw probabilities of shape (n_draws, n, n_classes), as
:func:`vibook.networks.predict_proba` returns them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import bootstrap, mannwhitneyu
from sklearn.metrics import roc_auc_score

from vibook._checks import (
    check_array,
    check_choice,
    check_key,
    check_level,
    check_positive_int,
)

__all__ = [
    "accuracy",
    "brier_score",
    "calibration_bins",
    "ece_if_calibrated",
    "expected_aleatoric_entropy",
    "expected_calibration_error",
    "mutual_information",
    "nll",
    "ood_auroc",
    "ood_auroc_interval",
    "paired_bootstrap",
    "predictive_entropy",
]

_TINY = 1e-12


def _probs(probs, name="probs", ndim=2):
    p = check_array(probs, name, ndim=ndim)
    if np.any(p < -1e-6) or not np.allclose(p.sum(-1), 1.0, atol=1e-3):
        raise ValueError(f"{name} must hold probabilities that sum to 1 over the last axis")
    return np.clip(p.astype(np.float64), 0.0, 1.0)


def _labels(y, probs):
    y = check_array(y, "y", ndim=1, integer=True, nonnegative=True).astype(int)
    if y.shape[0] != probs.shape[0]:
        raise ValueError(
            f"y must have one label per row of probs ({probs.shape[0]}); got {y.shape[0]}"
        )
    if y.max() >= probs.shape[1]:
        raise ValueError(f"y must hold labels below n_classes={probs.shape[1]}; got {y.max()}")
    return y


def accuracy(probs, y) -> float:
    """Fraction of points whose most probable class is the true one.

    Parameters
    ----------
    probs : array of shape (n, n_classes)
    y : array of int of shape (n,)
    """
    p = _probs(probs)
    return float(np.mean(p.argmax(-1) == _labels(y, p)))


def nll(probs, y) -> float:
    """Mean negative log-likelihood of the true labels, ``-mean log p(y_i | x_i)``."""
    p = _probs(probs)
    y = _labels(y, p)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], _TINY))))


def brier_score(probs, y) -> float:
    """Mean squared distance between the probability vector and the one-hot label (Brier 1950).

    Summed over classes and averaged over points, so it lies in [0, 2].
    """
    p = _probs(probs)
    y = _labels(y, p)
    onehot = np.eye(p.shape[1])[y]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=-1)))


def _confidence_bins(conf, n_bins):
    """Edges of ``n_bins`` equal-width bins on [0, 1] and the bin of each confidence."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return edges, np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)


def calibration_bins(probs, y, *, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Confidence vs accuracy in equal-width confidence bins: what a reliability diagram draws.

    Parameters
    ----------
    probs : array of shape (n, n_classes)
    y : array of int of shape (n,)
    n_bins : int
        Bins of equal width on [0, 1]; a point with confidence ``c`` falls in the bin ``(lo, hi]``
        containing it (confidence 0 goes in the first).

    Returns
    -------
    dict
        ``edges`` (n_bins + 1,), ``confidence`` and ``accuracy`` (n_bins,; NaN where a bin is
        empty), ``count`` (n_bins,).
    """
    p = _probs(probs)
    y = _labels(y, p)
    n_bins = check_positive_int(n_bins, "n_bins")
    conf = p.max(-1)
    correct = p.argmax(-1) == y
    edges, which = _confidence_bins(conf, n_bins)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=conf, minlength=n_bins) / count
        mean_acc = np.bincount(which, weights=correct, minlength=n_bins) / count
    return {"edges": edges, "confidence": mean_conf, "accuracy": mean_acc, "count": count}


def expected_calibration_error(probs, y, *, n_bins: int = 15) -> float:
    """Expected calibration error: bin-weighted mean of |accuracy - confidence| (Guo et al. 2017).

    ``ECE = sum_b (n_b / n) |acc_b - conf_b|`` over ``n_bins`` equal-width confidence bins
    (Naeini et al. 2015); 0 for a perfectly calibrated classifier.
    """
    bins = calibration_bins(probs, y, n_bins=n_bins)
    nonempty = bins["count"] > 0
    w = bins["count"][nonempty] / bins["count"].sum()
    gap = np.abs(bins["accuracy"][nonempty] - bins["confidence"][nonempty])
    return float(np.sum(w * gap))


def ece_if_calibrated(
    rng_key, probs, *, n_bins: int = 15, num_draws: int = 1000, level: float = 0.9
) -> dict:
    """The ECE that ``probs`` would score on ``n`` points if they were exactly calibrated.

    On a finite test set even perfectly calibrated probabilities score an ECE above 0, each bin's
    accuracy being a mean of a few hits and misses. Labels are drawn from ``probs`` themselves,
    calibrated by construction, and the ECE scored against them ``num_draws`` times (consistency
    resampling, Bröcker and Smith 2007). A measured ECE inside the interval is what perfect
    calibration looks like on these points; ECEs differing by less than its width do not tell two
    classifiers apart.

    Parameters
    ----------
    rng_key : jax.random key
        Drives the label draws.
    probs : array of shape (n, n_classes)
    n_bins : int
        As in :func:`expected_calibration_error`.
    num_draws : int
        Label sets drawn.
    level : float
        Coverage of the interval, in (0, 1).

    Returns
    -------
    dict
        ``mean``, ``sd``, ``low`` and ``high`` (the percentile interval) of the ECE, and ``draws``
        (the ECE of each label set, shape (num_draws,)).
    """
    rng_key = check_key(rng_key)
    p = _probs(probs)
    n_bins = check_positive_int(n_bins, "n_bins")
    num_draws = check_positive_int(num_draws, "num_draws", minimum=2)
    level = check_level(level)
    labels = np.asarray(
        jax.random.categorical(rng_key, jnp.log(jnp.asarray(p)), axis=-1, shape=(num_draws, len(p)))
    )
    # The bins hold the same points whatever the labels; only which points are right changes:
    # ECE = sum_b |hits_b - sum of confidences in b| / n, for every label set at once.
    conf = p.max(-1)
    _, which = _confidence_bins(conf, n_bins)
    in_bin = np.eye(n_bins)[which]  # (n, n_bins)
    hits = (labels == p.argmax(-1)).astype(np.float64) @ in_bin  # (num_draws, n_bins)
    draws = np.abs(hits - conf @ in_bin).sum(-1) / len(p)
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return {
        "mean": float(draws.mean()),
        "sd": float(draws.std()),
        "low": float(low),
        "high": float(high),
        "draws": draws,
    }


def _entropy(p, axis=-1):
    return -np.sum(np.where(p > 0, p * np.log(np.maximum(p, _TINY)), 0.0), axis=axis)


def predictive_entropy(probs_draws) -> np.ndarray:
    """Entropy of the posterior predictive, ``H[mean_s p_s(y | x)]``, in nats: total uncertainty.

    Parameters
    ----------
    probs_draws : array of shape (n_draws, n, n_classes) or (n, n_classes)
        Class probabilities under each posterior draw (or already averaged).

    Returns
    -------
    array of shape (n,)
    """
    p = _probs(probs_draws, "probs_draws", ndim=(2, 3))
    if p.ndim == 3:
        p = p.mean(0)
    return _entropy(p)


def expected_aleatoric_entropy(probs_draws) -> np.ndarray:
    """Mean entropy of the per-draw predictions, ``mean_s H[p_s(y | x)]``: the aleatoric part.

    Parameters
    ----------
    probs_draws : array of shape (n_draws, n, n_classes)

    Returns
    -------
    array of shape (n,)
    """
    p = _probs(probs_draws, "probs_draws", ndim=3)
    return _entropy(p).mean(0)


def mutual_information(probs_draws) -> np.ndarray:
    """Mutual information between label and weights: the epistemic part of the uncertainty.

    ``I[y; w | x] = H[mean_s p_s] - mean_s H[p_s]``, large where the posterior draws disagree
    with each other although each is confident (Houlsby et al. 2011, BALD; Gal 2016).

    Parameters
    ----------
    probs_draws : array of shape (n_draws, n, n_classes)

    Returns
    -------
    array of shape (n,), >= 0
    """
    p = _probs(probs_draws, "probs_draws", ndim=3)
    return np.maximum(_entropy(p.mean(0)) - _entropy(p).mean(0), 0.0)


def ood_auroc(scores_in, scores_out) -> float:
    """Area under the ROC curve for telling out-of-distribution inputs from in-distribution ones.

    The probability, in [0, 1], that a random OOD input scores higher than a random in-distribution
    one (ties count one half): 1 is perfect detection, 0.5 is chance. A higher score means "more
    OOD" (an entropy, a mutual information, or minus the maximum probability). This is
    :func:`sklearn.metrics.roc_auc_score` with the OOD inputs as the positive class.

    Parameters
    ----------
    scores_in, scores_out : array of shape (n_in,) and (n_out,)
        Scores of the in-distribution and of the out-of-distribution inputs.
    """
    a = check_array(scores_in, "scores_in", ndim=1).astype(np.float64)
    b = check_array(scores_out, "scores_out", ndim=1).astype(np.float64)
    labels = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    return float(roc_auc_score(labels, np.concatenate([a, b])))


def ood_auroc_interval(
    rng_key, scores_in, scores_out, *, num_resamples: int = 2000, level: float = 0.9
) -> dict[str, float]:
    """:func:`ood_auroc` with a bootstrap interval: how much it rests on which inputs were drawn.

    The in- and out-of-distribution inputs are resampled separately, each set with replacement
    (scipy's two-sample :func:`scipy.stats.bootstrap`), and the AUROC recomputed on each resample
    as the Mann-Whitney U of the OOD scores over the in-distribution ones, divided by the number
    of pairs (:func:`scipy.stats.mannwhitneyu`).

    Parameters
    ----------
    rng_key : jax.random key
        Seeds the NumPy generator scipy draws from.
    scores_in, scores_out : array of shape (n_in,) and (n_out,)
        As in :func:`ood_auroc`; each needs at least 2 inputs.
    num_resamples : int
    level : float
        Coverage of the percentile interval, in (0, 1).

    Returns
    -------
    dict
        ``estimate`` (:func:`ood_auroc` on all inputs), ``low``, ``high``.
    """
    rng_key = check_key(rng_key)
    a = check_array(scores_in, "scores_in", ndim=1).astype(np.float64)
    b = check_array(scores_out, "scores_out", ndim=1).astype(np.float64)
    for name, v in (("scores_in", a), ("scores_out", b)):
        if len(v) < 2:
            raise ValueError(f"{name} must hold at least 2 scores to resample; got {len(v)}")
    num_resamples = check_positive_int(num_resamples, "num_resamples", minimum=2)
    level = check_level(level)

    def auroc(x_in, x_out, axis=-1):
        u = mannwhitneyu(x_out, x_in, axis=axis).statistic
        return u / (x_in.shape[axis] * x_out.shape[axis])

    seed = np.asarray(jax.random.bits(rng_key, (4,), jnp.uint32)).tolist()
    res = bootstrap(
        (a, b),
        auroc,
        n_resamples=num_resamples,
        vectorized=True,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return {
        "estimate": ood_auroc(a, b),
        "low": float(res.confidence_interval.low),
        "high": float(res.confidence_interval.high),
    }


def paired_bootstrap(
    rng_key,
    metric,
    probs_a,
    probs_b,
    y,
    *,
    num_resamples: int = 2000,
    level: float = 0.9,
    statistic: str = "difference",
) -> dict[str, float]:
    """How sure a comparison of two classifiers on one test set is: a paired bootstrap.

    Resamples the test points with replacement, the same points for both classifiers, and recomputes
    ``metric(probs_a) - metric(probs_b)`` (or their ratio) on each resample (Efron and Tibshirani
    1993) with :func:`scipy.stats.bootstrap`. The interval says whether a difference that size could
    come from which points happened to be in the test set, which for a binned score such as
    :func:`expected_calibration_error` is often the case.

    Parameters
    ----------
    rng_key : jax.random key
        Seeds the NumPy generator scipy draws from: the same key gives the same numbers.
    metric : callable
        ``metric(probs, y) -> float``, such as :func:`nll` or :func:`expected_calibration_error`.
    probs_a, probs_b : array of shape (n, n_classes)
        The two classifiers' probabilities for the same test points.
    y : array of int of shape (n,)
    num_resamples : int
    level : float
        Coverage of the interval, in (0, 1).
    statistic : {"difference", "ratio"}
        ``metric(a) - metric(b)`` or ``metric(a) / metric(b)``.

    Returns
    -------
    dict
        ``estimate`` (on the whole test set), ``low`` and ``high`` (the percentile interval), ``sd``
        (of the resampled statistic), and ``frac_below``: the share of resamples in which the
        statistic is below 0 (difference) or 1 (ratio), i.e. ``a`` scores lower than ``b``.
    """
    rng_key = check_key(rng_key)
    if not callable(metric):
        raise TypeError(f"metric must be callable as metric(probs, y); got {type(metric).__name__}")
    a = _probs(probs_a, "probs_a")
    b = _probs(probs_b, "probs_b")
    if a.shape != b.shape:
        raise ValueError(f"probs_a and probs_b must have the same shape; got {a.shape}, {b.shape}")
    y = _labels(y, a)
    num_resamples = check_positive_int(num_resamples, "num_resamples", minimum=2)
    level = check_level(level)
    ratio = check_choice(statistic, "statistic", ("difference", "ratio")) == "ratio"

    def stat(ma, mb):
        if ratio:
            if mb <= 0:
                raise ValueError(f"statistic='ratio' needs metric(probs_b) > 0; got {mb}")
            return ma / mb
        return ma - mb

    n = len(y)
    if n < 2:
        raise ValueError(f"y must hold at least 2 test points to resample; got {n}")

    def resampled(idx, axis=-1):
        rows = np.atleast_2d(idx)
        out = np.array([stat(float(metric(a[i], y[i])), float(metric(b[i], y[i]))) for i in rows])
        return out if np.ndim(idx) > 1 else out[0]

    # Resampling the points' indices draws the same rows of probs_a, probs_b and y for both
    # classifiers, as scipy's own paired=True does.
    seed = np.asarray(jax.random.bits(rng_key, (4,), jnp.uint32)).tolist()
    res = bootstrap(
        (np.arange(n),),
        resampled,
        n_resamples=num_resamples,
        vectorized=True,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    draws = res.bootstrap_distribution
    return {
        "estimate": stat(float(metric(a, y)), float(metric(b, y))),
        "low": float(res.confidence_interval.low),
        "high": float(res.confidence_interval.high),
        "sd": float(draws.std()),
        "frac_below": float(np.mean(draws < (1.0 if ratio else 0.0))),
    }
