"""Data-parallel SVI across processes with ``jax.distributed``, against the one-process fit.

Usage::

    python benchmarks/distributed.py --json            # a million rows, 200,000 points
    python benchmarks/distributed.py --json --quick    # small problems, seconds

Starts ``--processes`` Python processes on this machine (a loopback coordinator, CPU
collectives through Gloo), each of which calls ``jax.distributed.initialize`` and then makes the
same ``run_svi(..., shard_data=True)`` call with the same data; JAX keeps on each process's
device only its own rows, and every step adds the parts with an all-reduce. A separate single
process makes the same fits without ``shard_data``. The fits:

* ``logistic-minibatch``: Bayesian logistic regression, 500-row minibatches;
* ``logistic-full``: the same model, every step on all the rows;
* ``gmm``: the Gaussian mixture of ``benchmarks/gmm.py`` (full covariances, minibatches).

Prints one JSON object: per fit, each process's ``seconds`` (the ``run_svi`` call, compilation
included; start-up and ``jax.distributed.initialize`` excluded) and the one-process time,
``time_ratio`` (the slowest process over the one-process fit), ``max_param_diff`` (largest
absolute difference of a fitted guide parameter from the one-process fit), whether every
process got the same parameters bit for bit, and ``target``: the fits equal the one-process
ones up to float rounding (``max_param_diff`` below ``PARAM_TOL``). There is no speed target:
on one machine the processes share its cores, and the report says what that costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# float32 partial sums added in another order differ by ~1e-7 relative; over a few hundred to a
# few thousand Adam steps that stays well below 1e-3 in parameters of order one.
PARAM_TOL = 1e-3

SIZES = {
    "quick": {"logistic_n": 4_000, "logistic_steps": 200, "gmm_n": 4_000, "gmm_steps": 200},
    "full": {"logistic_n": 1_000_000, "logistic_steps": 1000, "gmm_n": 200_000, "gmm_steps": 1500},
}


def _fits(sizes: dict, shard: bool) -> dict:
    """Every fit of the benchmark, timed, in this process (which may be one of several)."""
    import functools

    import jax
    import numpyro
    import optax

    from vibook import run_svi
    from vibook.data import make_mixture, synthetic_logistic
    from vibook.mixtures import gmm_init_values
    from vibook.models import logistic_regression
    from vibook.models.gmm import gmm, gmm_guide

    data = synthetic_logistic(sizes["logistic_n"], n_features=5, seed=0)
    mixture = make_mixture(sizes["gmm_n"], n_components=5, dim=2, separation=1.0, seed=0)["x"]
    steps = sizes["gmm_steps"]
    gmm_optimizer = numpyro.optim.Adam(
        optax.exponential_decay(0.02, transition_steps=steps, decay_rate=0.05)
    )
    gmm_guide_ = functools.partial(
        gmm_guide, init_values=gmm_init_values(mixture, 5, seed=0), init_scale=0.01
    )
    calls = {
        "logistic-minibatch": lambda: run_svi(
            jax.random.key(0), logistic_regression, data["x"], data["y"],
            num_steps=sizes["logistic_steps"], learning_rate=0.02, subsample_size=500,
            num_draws=100, psis_draws=None, progress_bar=False, shard_data=shard,
        ),
        "logistic-full": lambda: run_svi(
            jax.random.key(0), logistic_regression, data["x"], data["y"],
            num_steps=sizes["logistic_steps"], learning_rate=0.02,
            num_draws=100, psis_draws=None, progress_bar=False, shard_data=shard,
        ),
        "gmm": lambda: run_svi(
            jax.random.key(0), gmm, mixture, n_components=5, loc_prior_scale=10.0,
            subsample_size=min(4096, len(mixture) // 2), guide=gmm_guide_,
            optimizer=gmm_optimizer, num_steps=steps,
            num_draws=100, psis_draws=None, progress_bar=False, shard_data=shard,
        ),
    }  # fmt: skip
    out = {}
    for name, call in calls.items():
        t0 = time.perf_counter()
        fit = call()
        seconds = time.perf_counter() - t0
        out[name] = {
            "seconds": seconds,
            "params": {k: np.asarray(v).tolist() for k, v in fit.params.items()},
            "final_loss": float(fit.losses[-1]),
        }
    return out


def worker(process_id: int, processes: int, port: int, mode: str) -> dict:
    """One process's part: join the others (when there are several), fit, report."""
    import jax

    if processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=f"127.0.0.1:{port}",
            num_processes=processes,
            process_id=process_id,
        )
    return {
        "process_id": jax.process_index(),
        "process_count": jax.process_count(),
        "devices": jax.device_count(),
        "local_devices": jax.local_device_count(),
        "fits": _fits(SIZES[mode], shard=processes > 1),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(processes: int, mode: str, timeout: float) -> tuple[list[dict], float]:
    """Start the processes, wait for all, return their reports and the wall time."""
    port = _free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "VIBOOK_PROGRESS": "0"}
    command = [sys.executable, str(Path(__file__).resolve()), "--mode", mode]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*command, "--worker", str(i), "--processes", str(processes), "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    results = [p.communicate(timeout=timeout) for p in procs]
    wall = time.perf_counter() - t0
    reports = []
    for p, (stdout, stderr) in zip(procs, results, strict=True):
        if p.returncode != 0:
            raise RuntimeError(f"a worker failed (exit {p.returncode}):\n{stderr[-3000:]}")
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    return reports, wall


def _max_diff(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(np.subtract(a[k], b[k])))) for k in a)


def run(*, processes: int = 2, quick: bool = False, timeout: float = 1800) -> dict:
    """Run the fits in one process and across ``processes``; return the benchmark's object."""
    if not isinstance(processes, int) or isinstance(processes, bool) or processes < 2:
        raise ValueError(f"processes must be an integer of at least 2; got {processes!r}")
    mode = "quick" if quick else "full"
    (single,), single_wall = _launch(1, mode, timeout)
    many, many_wall = _launch(processes, mode, timeout)
    rows = []
    for name, one in single["fits"].items():
        parts = [r["fits"][name] for r in many]
        slowest = max(p["seconds"] for p in parts)
        rows.append(
            {
                "fit": name,
                "one_process_seconds": one["seconds"],
                "process_seconds": [p["seconds"] for p in parts],
                "time_ratio": slowest / one["seconds"],
                "max_param_diff": _max_diff(parts[0]["params"], one["params"]),
                "processes_agree": all(p["params"] == parts[0]["params"] for p in parts),
                "params": {"one_process": one["params"], "processes": parts[0]["params"]},
            }
        )
    worst = max(r["max_param_diff"] for r in rows)
    return {
        "benchmark": "distributed",
        "config": {
            "mode": mode,
            **SIZES[mode],
            "processes": processes,
            "devices_per_process": [r["local_devices"] for r in many],
            "global_devices": [r["devices"] for r in many],
            "process_ids": [r["process_id"] for r in many],
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
        "rows": rows,
        "wall_seconds": {"one_process": single_wall, f"{processes}_processes": many_wall},
        "target": {
            "param_tol": PARAM_TOL,
            "max_param_diff": worst,
            "met": bool(worst < PARAM_TOL and all(r["processes_agree"] for r in rows)),
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the JSON object")
    parser.add_argument("--quick", action="store_true", help="small problems (seconds)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=sorted(SIZES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.processes, args.port, args.mode)))
        return None
    result = run(processes=args.processes, quick=args.quick)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for r in result["rows"]:
            print(
                f"{r['fit']:>20}: one process {r['one_process_seconds']:.2f} s, "
                f"{args.processes} processes {max(r['process_seconds']):.2f} s "
                f"(x{r['time_ratio']:.2f}), largest parameter difference "
                f"{r['max_param_diff']:.1e}"
            )
        print("target met:", result["target"]["met"])
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
