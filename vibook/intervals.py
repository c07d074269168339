"""How sure a comparison over several seeds is: intervals that count both seeds and test points.

A result measured on one seed says little (a fit's start, its minibatches and the split all
move it), and one measured on one test set says no more than its test points allow. The
benchmarks and notebooks report two kinds of interval over seeds:

* :func:`seed_interval`: a Student-t interval of the mean of one number per seed (a fit time, a
  recovery score), which treats the seeds as independent draws of the whole experiment;
* :func:`seeds_paired_bootstrap`: a two-stage (hierarchical) paired bootstrap of two
  classifiers scored on each seed's own test set. Each resample draws the seeds with
  replacement, then the test points of each drawn seed with replacement, the same points for
  both classifiers (Davison and Hinkley 1997, section 3.8, resampling both stages); the
  statistic is the mean over the drawn seeds of ``metric(a)`` against that of ``metric(b)``.
  Its width counts the seed-to-seed spread and the test points' luck together, where
  :func:`vibook.metrics.paired_bootstrap` counts only the second.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from vibook._checks import check_array, check_choice, check_key, check_level, check_positive_int

__all__ = ["seed_interval", "seeds_paired_bootstrap"]


def seed_interval(values, *, level: float = 0.9) -> dict[str, float | int | None]:
    """The mean of one value per seed and its Student-t ``level`` interval.

    Parameters
    ----------
    values : array of shape (n_seeds,)
        One measurement per seed, the seeds independent.
    level : float
        Coverage of the interval, in (0, 1).

    Returns
    -------
    dict
        ``mean``, ``low``, ``high`` and ``n``; with a single value ``low`` and ``high`` are
        ``None`` (one seed gives no spread), and values all equal give a zero-width interval.
    """
    values = check_array(values, "values", ndim=1).astype(float)
    if not np.all(np.isfinite(values)):
        raise ValueError("values must be finite")
    level = check_level(level)
    mean, n = float(values.mean()), int(values.size)
    if n < 2:
        return {"mean": mean, "low": None, "high": None, "n": n}
    sem = float(stats.sem(values))
    if sem == 0:
        return {"mean": mean, "low": mean, "high": mean, "n": n}
    low, high = stats.t.interval(level, n - 1, loc=mean, scale=sem)
    return {"mean": mean, "low": float(low), "high": float(high), "n": n}


def _per_seed(probs, name):
    if isinstance(probs, np.ndarray | jax.Array) or not isinstance(probs, list | tuple):
        raise TypeError(
            f"{name} must be a list of arrays, one per seed; got {type(probs).__name__}"
        )
    return [check_array(p, f"{name}[{i}]") for i, p in enumerate(probs)]


def seeds_paired_bootstrap(
    rng_key,
    metric,
    probs_a,
    probs_b,
    y,
    *,
    num_resamples: int = 1000,
    level: float = 0.9,
    statistic: str = "ratio",
) -> dict[str, float]:
    """Two classifiers compared over several seeds, each with its own test set.

    Parameters
    ----------
    rng_key : jax.random key
        Seeds the resampling: the same key gives the same numbers.
    metric : callable
        ``metric(probs, y) -> float``, such as :func:`vibook.metrics.nll`.
    probs_a, probs_b : list of arrays
        One array of shape (n_s, n_classes) per seed, the two classifiers' probabilities for that
        seed's test points (the same points, so paired).
    y : list of int arrays
        Each seed's labels, shape (n_s,).
    num_resamples : int
    level : float
        Coverage of the percentile interval, in (0, 1).
    statistic : {"ratio", "difference"}
        ``mean_s metric(a_s) / mean_s metric(b_s)`` or their difference.

    Returns
    -------
    dict
        ``estimate`` (on every seed's whole test set), ``low`` and ``high``, ``sd`` (of the
        resampled statistic) and ``frac_below``, the share of resamples below 1 (ratio) or 0
        (difference): how often ``a`` scores lower.
    """
    rng_key = check_key(rng_key)
    if not callable(metric):
        raise TypeError(f"metric must be callable as metric(probs, y); got {type(metric).__name__}")
    a, b = _per_seed(probs_a, "probs_a"), _per_seed(probs_b, "probs_b")
    labels = _per_seed(y, "y")
    if not len(a) == len(b) == len(labels) >= 1:
        raise ValueError(
            f"probs_a, probs_b and y must hold one entry per seed each; got {len(a)}, {len(b)} "
            f"and {len(labels)}"
        )
    for s, (pa, pb, ys) in enumerate(zip(a, b, labels, strict=True)):
        if pa.ndim != 2 or pa.shape != pb.shape or ys.shape != pa.shape[:1]:
            raise ValueError(
                f"seed {s}: probs_a and probs_b must be (n, n_classes) of one shape and y (n,); "
                f"got {pa.shape}, {pb.shape} and {ys.shape}"
            )
        if ys.shape[0] < 2:
            raise ValueError(f"seed {s}: y must hold at least 2 test points; got {ys.shape[0]}")
    num_resamples = check_positive_int(num_resamples, "num_resamples", minimum=2)
    level = check_level(level)
    ratio = check_choice(statistic, "statistic", ("ratio", "difference")) == "ratio"

    def stat(ma, mb):
        if ratio and mb <= 0:
            raise ValueError(f"statistic='ratio' needs metric(probs_b) > 0; got {mb}")
        return ma / mb if ratio else ma - mb

    def score(seeds, rows):
        pairs = list(zip(seeds, rows, strict=True))
        ma = np.mean([float(metric(a[s][r], labels[s][r])) for s, r in pairs])
        mb = np.mean([float(metric(b[s][r], labels[s][r])) for s, r in pairs])
        return stat(ma, mb)

    n_seeds = len(a)
    rng = np.random.default_rng(np.asarray(jax.random.bits(rng_key, (4,), jnp.uint32)).tolist())
    draws = np.empty(num_resamples)
    for i in range(num_resamples):
        seeds = rng.integers(n_seeds, size=n_seeds)
        draws[i] = score(seeds, [rng.integers(len(labels[s]), size=len(labels[s])) for s in seeds])
    whole = [np.arange(len(ys)) for ys in labels]
    tail = (1 - level) / 2
    return {
        "estimate": float(score(range(n_seeds), whole)),
        "low": float(np.quantile(draws, tail)),
        "high": float(np.quantile(draws, 1 - tail)),
        "sd": float(draws.std()),
        "frac_below": float(np.mean(draws < (1.0 if ratio else 0.0))),
    }
