"""Benchmark: vibook's minibatch SVI Gaussian mixture against scikit-learn's, over several seeds.

    python benchmarks/gmm.py --json [--seeds 0 1 2 --n N --k K --dim D --separation SEP]
    python benchmarks/gmm.py --json --dataset faithful

Prints one JSON object ``{"benchmark": "gmm", "config": {...}, "runs": [...], "summary": {...},
"targets_met": {...}}``, one run per seed (each seed draws its own data). Rows of a run:

- ``vibook-svi``: :func:`vibook.models.gmm` (full covariances) fitted by :func:`vibook.run_svi`
  with its mean-field Normal guide (:func:`vibook.models.gmm.gmm_guide`) on minibatches,
  started from k-means++ on 2000 points. It runs in two fresh Python processes, so that
  compilation is timed as a user meets it: ``cold_seconds`` with an empty compile cache,
  ``warm_seconds`` with the cache the cold run filled (:func:`vibook.enable_compile_cache`);
  ``seconds`` is the cold time. Each is the fit's wall time after JAX has started its backend;
- ``sklearn-bgmm``: ``BayesianGaussianMixture`` (full covariance, up to 200 iterations);
- ``sklearn-gmm-em``: ``GaussianMixture`` (EM, full covariance).

Each row has ``heldout_loglik`` (mean log density per held-out point: the posterior predictive
mixture for vibook, the fitted mixture for scikit-learn) and ``ari`` (adjusted Rand index of
the most probable cluster against the true labels; ``null`` for Old Faithful, which has none).
Targets, from each seed's own run: vibook's held-out log-likelihood within 0.01 nats per point of
BGMM's on every seed; its cold time at most 0.2 x BGMM's and its warm time at most 2 x EM's
(means of the per-seed ratios, which ``summary`` gives with 90% intervals).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import jax
import numpy as np
import numpyro
import optax
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from vibook import run_svi
from vibook.data import load_faithful, make_mixture
from vibook.mixtures import gmm_init_values, gmm_log_predictive, gmm_responsibilities
from vibook.models.gmm import gmm, gmm_guide

BGMM_MAX_ITER = 200


def _data(dataset, n, n_test, k, dim, separation, seed):
    if dataset == "faithful":
        x = load_faithful()
        x = (x - x.mean(0)) / x.std(0)
        perm = np.random.default_rng(seed).permutation(x.shape[0])
        cut = int(0.8 * x.shape[0])
        return x[perm[:cut]], x[perm[cut:]], None
    d = make_mixture(n + n_test, n_components=k, dim=dim, separation=separation, seed=seed)
    return d["x"][:n], d["x"][n:], d["labels"][n:]


def _ari(labels, pred):
    return None if labels is None else float(adjusted_rand_score(labels, pred))


def fit_vibook(x, k, *, seed, num_steps, batch_size, learning_rate, psis_draws=None):
    """Minibatch SVI; returns the fit. Everything from initialisation to draws is timed."""
    init = gmm_init_values(x, k, seed=seed)
    guide = functools.partial(gmm_guide, init_values=init, init_scale=0.01)
    # Step size decays geometrically by a factor 20 over the run: fast start, quiet finish.
    schedule = optax.exponential_decay(learning_rate, transition_steps=num_steps, decay_rate=0.05)
    optimizer = numpyro.optim.Adam(schedule)
    return run_svi(
        jax.random.key(seed),
        gmm,
        x,
        n_components=k,
        loc_prior_scale=10.0,
        subsample_size=min(batch_size, x.shape[0]),
        guide=guide,
        optimizer=optimizer,
        num_steps=num_steps,
        num_draws=100,
        psis_draws=psis_draws,
        progress_bar=False,
    )


def run(
    *,
    n=200_000,
    n_test=50_000,
    k=5,
    dim=2,
    seed=0,
    separation=1.0,
    dataset="synthetic",
    num_steps=1500,
    batch_size=4096,
    learning_rate=0.02,
):
    """Fit all three systems on one seed's data; that seed's run (rows and targets)."""
    if dataset not in ("synthetic", "faithful"):
        raise ValueError(f"dataset must be 'synthetic' or 'faithful'; got {dataset!r}")
    if dataset == "faithful":
        k, dim = 2, 2
    x, x_test, labels = _data(dataset, n, n_test, k, dim, separation, seed)
    rows = []

    settings = {"dataset": dataset, "n": n, "n_test": n_test, "k": k, "dim": dim, "seed": seed,
                "separation": separation, "num_steps": num_steps, "batch_size": batch_size,
                "learning_rate": learning_rate}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="vibook-gmm-cache-") as cache:
        cold = _run_worker(settings, cache)
        warm = _run_worker(settings, cache)
    rows.append(
        {
            "system": "vibook-svi",
            "seconds": cold["seconds"],
            "cold_seconds": cold["seconds"],
            "warm_seconds": warm["seconds"],
            "heldout_loglik": cold["heldout_loglik"],
            "ari": cold["ari"],
            "khat": cold["khat"],
        }
    )

    for name, est in (
        (
            "sklearn-bgmm",
            BayesianGaussianMixture(
                n_components=k, covariance_type="full", max_iter=BGMM_MAX_ITER, random_state=seed
            ),
        ),
        (
            "sklearn-gmm-em",
            GaussianMixture(n_components=k, covariance_type="full", random_state=seed),
        ),
    ):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(x)
        seconds = time.perf_counter() - t0
        rows.append(
            {
                "system": name,
                "seconds": seconds,
                "heldout_loglik": float(est.score(x_test)),
                "ari": _ari(labels, est.predict(x_test)),
                "converged": bool(est.converged_),
                "n_iter": int(est.n_iter_),
            }
        )

    by = {r["system"]: r for r in rows}
    gap = by["sklearn-bgmm"]["heldout_loglik"] - by["vibook-svi"]["heldout_loglik"]
    cold_ratio = by["vibook-svi"]["cold_seconds"] / by["sklearn-bgmm"]["seconds"]
    warm_ratio = by["vibook-svi"]["warm_seconds"] / by["sklearn-gmm-em"]["seconds"]
    return {
        "seed": seed,
        "n": int(x.shape[0]),
        "n_test": int(x_test.shape[0]),
        "rows": rows,
        "target": {
            "loglik_gap_vs_bgmm": gap,
            "cold_ratio_vs_bgmm": cold_ratio,
            "warm_ratio_vs_em": warm_ratio,
            "loglik_within_0.01": bool(gap <= 0.01),
        },
    }


def worker(settings: dict) -> dict:
    """vibook's fit in this (fresh) process, timed after JAX's backend has started."""
    import jax.numpy as jnp

    import vibook

    vibook.enable_compile_cache()
    dataset = settings["dataset"]
    keys = ("n", "n_test", "k", "dim", "separation", "seed")
    x, x_test, labels = _data(dataset, *(settings[key] for key in keys))
    jnp.zeros(()).block_until_ready()
    t0 = time.perf_counter()
    # k-hat is reported on Old Faithful only: on the synthetic data its 1000 evaluations of the
    # model on every point would be timed with the fit, and the peers compute no diagnostic.
    fit = fit_vibook(
        x,
        settings["k"],
        seed=settings["seed"],
        num_steps=settings["num_steps"],
        batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"],
        psis_draws=1000 if dataset == "faithful" else None,
    )
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "heldout_loglik": float(np.mean(gmm_log_predictive(x_test, fit))),
        "ari": _ari(labels, gmm_responsibilities(x_test, fit).argmax(1)),
        "khat": float(fit.khat) if dataset == "faithful" else None,
    }


def _run_worker(settings: dict, cache: str) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": cache, "VIBOOK_COMPILE_CACHE": "1",
           "JAX_PLATFORMS": "cpu", "VIBOOK_PROGRESS": "0"}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(settings)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the vibook worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def interval(values, level=0.9) -> dict:
    """Mean and ``level`` Student-t interval of the mean (one value: no interval)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if values.size < 2:
        return {"mean": mean, "low": None, "high": None, "n": int(values.size)}
    sem = stats.sem(values)
    if sem == 0:  # every seed gave the same value
        return {"mean": mean, "low": mean, "high": mean, "n": int(values.size)}
    low, high = stats.t.interval(level, values.size - 1, loc=mean, scale=sem)
    return {"mean": mean, "low": float(low), "high": float(high), "n": int(values.size)}


def run_seeds(seeds=(0, 1, 2), **kwargs) -> dict:
    """One run per seed; the benchmark's JSON object with the summary and targets."""
    dataset = kwargs.get("dataset", "synthetic")
    if dataset not in ("synthetic", "faithful"):
        raise ValueError(f"dataset must be 'synthetic' or 'faithful'; got {dataset!r}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    runs = [run(seed=seed, **kwargs) for seed in seeds]
    column = lambda key: [r["target"][key] for r in runs]  # noqa: E731
    summary = {key: interval(column(key)) for key in
               ("loglik_gap_vs_bgmm", "cold_ratio_vs_bgmm", "warm_ratio_vs_em")}  # fmt: skip
    for system in ("vibook-svi", "sklearn-bgmm", "sklearn-gmm-em"):
        picked = [next(row for row in r["rows"] if row["system"] == system) for r in runs]
        summary[system] = {
            "seconds": interval([p["seconds"] for p in picked]),
            "heldout_loglik": interval([p["heldout_loglik"] for p in picked]),
        }
    summary["vibook-svi"]["warm_seconds"] = interval(
        [next(row for row in r["rows"] if row["system"] == "vibook-svi")["warm_seconds"]
         for r in runs]
    )  # fmt: skip
    if dataset == "faithful":
        kwargs = {**kwargs, "k": 2, "dim": 2}
    config = {
        **{k: v for k, v in kwargs.items()},
        "seeds": seeds,
        "bgmm_max_iter": BGMM_MAX_ITER,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "jax_backend": jax.default_backend(),
    }
    return {
        "benchmark": "gmm",
        "config": config,
        "runs": runs,
        "summary": summary,
        "targets_met": {
            "loglik_within_0.01_every_seed": all(column("loglik_within_0.01")),
            "cold_at_most_0.2x_bgmm": summary["cold_ratio_vs_bgmm"]["mean"] <= 0.2,
            "warm_at_most_2x_em": summary["warm_ratio_vs_em"]["mean"] <= 2.0,
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the JSON object")
    parser.add_argument("--dataset", default="synthetic", choices=["synthetic", "faithful"])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--n-test", type=int, default=50_000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--dim", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--separation",
        type=float,
        default=1.0,
        help="minimum distance between true means, in cluster sds; 1.0 gives overlapping "
        "clusters, on which BayesianGaussianMixture runs its 200 iterations without converging",
    )
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(json.loads(args.worker))))
        return None
    out = run_seeds(
        args.seeds,
        n=args.n,
        n_test=args.n_test,
        k=args.k,
        dim=args.dim,
        separation=args.separation,
        dataset=args.dataset,
        num_steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
    )
    if args.json:
        print(json.dumps(out))
    else:
        for r in out["runs"]:
            for row in r["rows"]:
                print(f"seed {r['seed']} {row['system']:>15}  {row['seconds']:7.2f} s  "
                      f"loglik {row['heldout_loglik']:.4f}")  # fmt: skip
        print(out["targets_met"])
    return out


if __name__ == "__main__":
    os.environ.setdefault("VIBOOK_PROGRESS", "0")
    main(sys.argv[1:])
