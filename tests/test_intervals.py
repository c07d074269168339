"""Intervals over seeds: the Student-t interval and the two-stage paired bootstrap."""

import jax
import numpy as np
import pytest
from scipy import stats

from vibook.intervals import seed_interval, seeds_paired_bootstrap
from vibook.metrics import nll, paired_bootstrap


def _probs(rng, n, k=3, sharp=2.0):
    logits = sharp * rng.normal(size=(n, k))
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def test_seed_interval_is_the_t_interval_of_the_mean():
    values = np.array([0.91, 0.95, 0.88, 0.93, 0.90])
    out = seed_interval(values)
    # By hand: mean +- t_{0.95, 4} * sd / sqrt(5), sd with one degree of freedom removed.
    half = stats.t.ppf(0.95, 4) * values.std(ddof=1) / np.sqrt(5)
    assert out["n"] == 5 and out["mean"] == pytest.approx(values.mean(), abs=1e-12)
    assert out["low"] == pytest.approx(values.mean() - half, abs=1e-12)
    assert out["high"] == pytest.approx(values.mean() + half, abs=1e-12)
    wider = seed_interval(values, level=0.99)
    assert wider["low"] < out["low"] and wider["high"] > out["high"]
    assert seed_interval([0.5]) == {"mean": 0.5, "low": None, "high": None, "n": 1}
    assert seed_interval([2.0, 2.0, 2.0])["low"] == 2.0


def test_one_seed_agrees_with_the_one_test_set_bootstrap():
    rng = np.random.default_rng(0)
    y = rng.integers(3, size=400)
    a, b = _probs(rng, 400), _probs(rng, 400, sharp=1.0)
    ours = seeds_paired_bootstrap(jax.random.key(0), nll, [a], [b], [y], num_resamples=2000)
    theirs = paired_bootstrap(
        jax.random.key(1), nll, a, b, y, num_resamples=2000, statistic="ratio"
    )
    assert ours["estimate"] == pytest.approx(nll(a, y) / nll(b, y), rel=1e-12)
    assert ours["estimate"] == pytest.approx(theirs["estimate"], rel=1e-12)
    # Resampling one seed is resampling its points: the same interval up to Monte Carlo error
    # (2000 resamples put a 5% quantile within about 0.1 sd of its limit; 0.25 sd allowed).
    for end in ("low", "high"):
        assert ours[end] == pytest.approx(theirs[end], abs=0.25 * theirs["sd"])


def test_the_seeds_spread_widens_the_interval():
    rng = np.random.default_rng(1)
    ys, a, b = [], [], []
    for s in range(6):
        y = rng.integers(3, size=300)
        ys.append(y)
        b.append(_probs(rng, 300))
        # Seeds alternate: a is sharper and right on even seeds, noisier on odd ones.
        onehot = np.eye(3)[y]
        a.append(0.7 * onehot + 0.3 / 3 if s % 2 == 0 else _probs(rng, 300, sharp=4.0))
    key = jax.random.key(2)
    both = seeds_paired_bootstrap(key, nll, a, b, ys, num_resamples=500)
    # Pooling every seed's points into one test set hides the seed-to-seed spread.
    pooled = paired_bootstrap(
        key,
        nll,
        np.concatenate(a),
        np.concatenate(b),
        np.concatenate(ys),
        num_resamples=500,
        statistic="ratio",
    )
    assert both["estimate"] == pytest.approx(
        np.mean([nll(p, y) for p, y in zip(a, ys, strict=True)])
        / np.mean([nll(p, y) for p, y in zip(b, ys, strict=True)])
    )
    assert both["high"] - both["low"] > 2 * (pooled["high"] - pooled["low"])
    assert both["low"] <= both["estimate"] <= both["high"]
    same = seeds_paired_bootstrap(key, nll, b, b, ys, num_resamples=50, statistic="difference")
    assert same["low"] == same["high"] == same["estimate"] == 0.0
    again = seeds_paired_bootstrap(key, nll, a, b, ys, num_resamples=500)
    assert again == both


def test_bad_input_names_the_argument():
    y, p = np.array([0, 1, 1]), np.full((3, 2), 0.5)
    key = jax.random.key(0)
    with pytest.raises(TypeError, match="probs_a must be a list"):
        seeds_paired_bootstrap(key, nll, p, [p], [y])
    with pytest.raises(ValueError, match="one entry per seed"):
        seeds_paired_bootstrap(key, nll, [p, p], [p], [y])
    with pytest.raises(ValueError, match="seed 0"):
        seeds_paired_bootstrap(key, nll, [p], [p[:2]], [y])
    with pytest.raises(TypeError, match="metric"):
        seeds_paired_bootstrap(key, "nll", [p], [p], [y])
    with pytest.raises(ValueError, match="statistic"):
        seeds_paired_bootstrap(key, nll, [p], [p], [y], statistic="odds")
    with pytest.raises(ValueError, match="level"):
        seed_interval([1.0, 2.0], level=1.5)
    with pytest.raises(ValueError, match="values must be finite"):
        seed_interval([1.0, np.nan])
