"""Active learning on handwritten digits: labels needed to reach 95% test accuracy.

Runs :func:`vibook.active.run_active_learning` with every acquisition function (BALD, max
entropy, variation ratios, random) from the same starting sets (one per seed) and prints one
JSON object: per acquisition the labels needed to reach the target accuracy (mean over seeds),
the final accuracy and the seconds per run. Target: BALD needs <= 0.6x the labels random needs
(Gal, Islam and Ghahramani 2017 report 335 vs 835 labels for 5% error on MNIST).

    python benchmarks/active_learning.py --json [--seeds N] [--workers W]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time

import numpy as np

ACQUISITIONS = ("bald", "max_entropy", "variation_ratios", "random")
TARGET_RATIO = 0.6


def _one(job):
    """One run (acquisition, seed) in a fresh process or in this one."""
    import jax

    from vibook.active import labels_to_reach, run_active_learning
    from vibook.data import load_digits_split

    acquisition, seed, cfg = job
    d = load_digits_split(seed=0)
    x, y = d["x_train"], d["y_train"]
    if cfg["pool_size"] is not None:
        x, y = x[: cfg["pool_size"]], y[: cfg["pool_size"]]
    res = run_active_learning(
        jax.random.key(seed),
        x,
        y,
        d["x_test"],
        d["y_test"],
        acquisition=acquisition,
        n_initial_per_class=cfg["initial_per_class"],
        batch_size=cfg["batch_size"],
        n_rounds=cfg["rounds"],
        num_draws=cfg["num_draws"],
        hidden=tuple(cfg["hidden"]),
        prior_scale=tuple(cfg["prior_scale"]),
        num_steps=cfg["num_steps"],
        initial_fits=cfg["initial_fits"],
    )
    reach = labels_to_reach(res.n_labels, res.accuracy, cfg["target_accuracy"])
    return {
        "acquisition": acquisition,
        "seed": seed,
        "labels_to_target": None if np.isinf(reach) else int(reach),
        "n_labels": res.n_labels.tolist(),
        "accuracy": [round(float(a), 4) for a in res.accuracy],
        "seconds": res.seconds,
    }


def run(cfg: dict) -> dict:
    """Every (acquisition, seed) run of ``cfg`` and the summary rows, as a JSON-ready dict."""
    jobs = [(a, s, cfg) for a in cfg["acquisitions"] for s in range(cfg["seeds"])]
    start = time.perf_counter()
    if cfg["workers"] > 1:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(cfg["workers"]) as pool:
            runs = pool.map(_one, jobs, chunksize=1)
    else:
        runs = [_one(j) for j in jobs]
    wall = time.perf_counter() - start
    max_labels = runs[0]["n_labels"][-1]
    rows = []
    for a in cfg["acquisitions"]:
        mine = [r for r in runs if r["acquisition"] == a]
        reach = [r["labels_to_target"] for r in mine]
        # a run that never reaches the target needs more than max_labels: count it as
        # max_labels + batch_size in a lower bound on the mean
        censored = [max_labels + cfg["batch_size"] if v is None else v for v in reach]
        final = [r["accuracy"][-1] for r in mine]
        rows.append(
            {
                "acquisition": a,
                "labels_to_95": float(np.mean(reach)) if None not in reach else None,
                "labels_to_95_at_least": float(np.mean(censored)),
                "labels_to_95_per_seed": reach,
                "labels_to_95_sd": float(np.std(censored, ddof=1)) if len(mine) > 1 else None,
                "seeds_reaching": sum(v is not None for v in reach),
                "final_accuracy": float(np.mean(final)),
                "final_accuracy_sd": float(np.std(final, ddof=1)) if len(mine) > 1 else None,
                "final_labels": max_labels,
                "seconds": float(np.mean([r["seconds"] for r in mine])),
            }
        )
    by = {r["acquisition"]: r for r in rows}
    ratio = None
    if "bald" in by and "random" in by:
        b, r = by["bald"], by["random"]
        if b["labels_to_95"] is not None and r["labels_to_95"] is not None:
            ratio = b["labels_to_95"] / r["labels_to_95"]
        elif b["labels_to_95"] is not None:
            # random's mean is censored from below, so this ratio is an upper bound
            ratio = b["labels_to_95"] / r["labels_to_95_at_least"]
    return {
        "benchmark": "active_learning",
        "dataset": "digits (scikit-learn), pool = 70% train split, test = 30%",
        "target_accuracy": cfg["target_accuracy"],
        "config": {k: v for k, v in cfg.items() if k != "workers"},
        "rows": rows,
        "curves": [
            {k: r[k] for k in ("acquisition", "seed", "n_labels", "accuracy")} for r in runs
        ],
        "bald_over_random": ratio,
        "bald_over_random_is_upper_bound": bool(
            ratio is not None and by["random"]["labels_to_95"] is None
        ),
        "target_ratio": TARGET_RATIO,
        "meets_target": bool(ratio is not None and ratio <= TARGET_RATIO),
        "wall_seconds": wall,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "note": "seconds are wall time per run on a shared machine under load; noisy",
    }


def parse(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rounds", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--initial-per-class", type=int, default=2)
    p.add_argument("--num-steps", type=int, default=1000)
    p.add_argument("--initial-fits", type=int, default=4)
    p.add_argument("--num-draws", type=int, default=100)
    p.add_argument("--hidden", type=int, nargs="+", default=[50])
    p.add_argument("--prior-scale", type=float, nargs="+", default=[3.0, 8.0])
    p.add_argument("--pool-size", type=int, default=None)
    p.add_argument("--target-accuracy", type=float, default=0.95)
    p.add_argument("--acquisitions", nargs="+", default=list(ACQUISITIONS))
    p.add_argument("--workers", type=int, default=1)
    args = vars(p.parse_args(argv))
    args.pop("json")
    return args


def main(argv=None) -> dict:
    out = run(parse(argv))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
