"""Time to fit against data size: NUTS, full-batch SVI and minibatch SVI on logistic regression.

Usage::

    python benchmarks/scaling.py --json                     # n = 1e3 ... 1e6 (~10 minutes)
    python benchmarks/scaling.py --json --sizes 1000 3000   # a quick look

Prints one JSON object: ``rows`` with ``{"method", "n", "seconds", "heldout_loglik"}`` for
each method and size (``seconds`` is the wall time of one ``run_svi`` / ``run_nuts`` call,
compilation included, as a user waits for it; the SVI fits skip the PSIS k-hat diagnostic,
which would score 1000 guide draws on all ``n`` rows, so the time is the fit's), the fitted
exponent ``k`` of ``seconds ~ n^k`` for each method, NUTS's time at the largest ``n``
(measured, or extrapolated with its exponent where it was skipped for taking too long, and
then labelled so), ``posterior_vs_nuts`` (for each SVI fit at a size where NUTS ran: the
smallest and largest ratio of its posterior sd to NUTS's over the parameters, and the largest
distance of its posterior mean from NUTS's in NUTS sds), and the targets:

* minibatch SVI's time per fit grows sub-linearly in ``n`` at a fixed number of steps;
* at the largest ``n`` it is at least 20 times faster than NUTS, at equal held-out
  log-likelihood (within ``--heldout-tol`` nats per point of NUTS where NUTS last ran, and
  of full-batch SVI at the largest ``n``);
* where NUTS last ran, minibatch SVI's posterior sds are within a factor of 2 of NUTS's. The
  held-out log-likelihood barely sees the width of the posterior (notebook 13 shows SVI sds
  several times NUTS's at equal held-out log-likelihood), so this target is reported beside it.

Each method sees the same synthetic data (``vibook.data.synthetic_logistic``) and is scored
on the same held-out set. NUTS runs one chain with ``--nuts-warmup`` and ``--nuts-samples``
steps, and stops growing ``n`` once a run, or the next one predicted in proportion to ``n``,
would pass ``--nuts-max-seconds``; beyond, its time is extrapolated with the exponent of its
two largest runs (an underestimate where fixed costs still weigh, so the speed-up reported is
a lower bound).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import jax
import numpy as np
import numpyro
import optax

from vibook import run_nuts, run_svi
from vibook.data import synthetic_logistic
from vibook.fit import as_draws
from vibook.models import logistic_loglik, logistic_regression
from vibook.regression import logistic_heldout_loglik

DEFAULT_SIZES = (1_000, 10_000, 100_000, 300_000, 1_000_000)


def fitted_exponent(ns, seconds) -> float | None:
    """Least-squares slope of log(seconds) against log(n); None with fewer than 2 sizes."""
    ns, seconds = np.asarray(ns, float), np.asarray(seconds, float)
    if len(ns) < 2 or np.ptp(np.log(ns)) == 0:
        return None
    return float(np.polyfit(np.log(ns), np.log(seconds), 1)[0])


def _extrapolate(ns, seconds, n_new) -> float:
    """Power-law extrapolation from the two largest measured sizes (the costliest regime)."""
    (n1, n2), (t1, t2) = ns[-2:], seconds[-2:]
    k = np.log(t2 / t1) / np.log(n2 / n1)
    return float(t2 * (n_new / n2) ** max(k, 0.0)), float(k)


def posterior_moments(posterior) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and sds of ``(w_1, ..., w_d, b)`` from a ``run_svi`` or ``run_nuts`` fit."""
    draws = as_draws(posterior, required=("w", "b"))
    theta = np.column_stack([np.asarray(draws["w"]), np.asarray(draws["b"])])
    return theta.mean(axis=0), theta.std(axis=0, ddof=1)


def against_nuts(fit, nuts) -> dict:
    """SVI's posterior sds as ratios of NUTS's, and its means' distance from NUTS's in NUTS sds."""
    (mean, sd), (ref_mean, ref_sd) = posterior_moments(fit), posterior_moments(nuts)
    ratio, offset = sd / ref_sd, np.abs(mean - ref_mean) / ref_sd
    return {
        "sd_ratio_min": round(float(ratio.min()), 4),
        "sd_ratio_max": round(float(ratio.max()), 4),
        "mean_offset_max": round(float(offset.max()), 4),
    }


def _optimizer(num_steps):
    # Adam whose step decays from 0.05 to 0.001: large steps find the mode quickly, small
    # ones let the minibatch noise average out.
    return numpyro.optim.Adam(optax.exponential_decay(0.05, num_steps, 0.02))


def run(
    sizes=DEFAULT_SIZES,
    *,
    n_features: int = 10,
    svi_steps: int = 2000,
    subsample_size: int = 1000,
    nuts_warmup: int = 500,
    nuts_samples: int = 500,
    nuts_max_seconds: float = 120.0,
    n_test: int = 20_000,
    heldout_tol: float = 0.002,
    seed: int = 0,
    warmup: bool = True,
    log=None,
) -> dict:
    """Run the benchmark and return its JSON-ready result (see the module docstring)."""
    sizes = sorted(int(n) for n in sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must hold at least 2 data sizes; got {sizes}")
    test = synthetic_logistic(n_test, n_features=n_features, seed=seed + 1_000)
    rows, posterior_vs_nuts = [], []

    def record(method, n, seconds, fit):
        row = {
            "method": method,
            "n": n,
            "seconds": round(seconds, 4),
            "heldout_loglik": round(logistic_heldout_loglik(fit, test["x"], test["y"]), 6),
        }
        rows.append(row)
        if log is not None:
            print(json.dumps(row), file=log, flush=True)

    # Warm-up: JAX's first use (backend start, shared helpers) is paid here, not by the
    # first timed fit.
    if warmup:
        warm = synthetic_logistic(200, n_features=n_features, seed=seed)
        args = (jax.random.key(0), logistic_regression, warm["x"], warm["y"])
        run_svi(*args, subsample_size=50, num_steps=10, num_draws=10, progress_bar=False)
        run_nuts(*args, num_warmup=10, num_draws=10, num_chains=1, progress_bar=False)

    nuts_on = True
    nuts_ns, nuts_ts = [], []
    for i, n in enumerate(sizes):
        data = synthetic_logistic(n, n_features=n_features, seed=seed)
        x, y = jax.device_put(data["x"]), jax.device_put(data["y"])  # the data stays on device
        key = jax.random.key(seed + i)
        svi_fits = {}
        for method, m in (("svi_minibatch", min(subsample_size, n)), ("svi_full", None)):
            t0 = time.perf_counter()
            fit = run_svi(
                key,
                logistic_regression,
                x,
                y,
                subsample_size=m,
                num_steps=svi_steps,
                optimizer=_optimizer(svi_steps),
                num_draws=500,
                psis_draws=None,
                progress_bar=False,
            )
            jax.block_until_ready(fit.params)
            record(method, n, time.perf_counter() - t0, fit)
            svi_fits[method] = fit
        if nuts_on and nuts_ns:
            # Whether to run NUTS is decided with linear growth (each gradient touches every
            # row), which small sizes, where fixed costs dominate, would underestimate.
            nuts_on = nuts_ts[-1] * n / nuts_ns[-1] <= nuts_max_seconds
        if nuts_on:
            t0 = time.perf_counter()
            tree = run_nuts(
                key,
                logistic_regression,
                x,
                y,
                num_warmup=nuts_warmup,
                num_draws=nuts_samples,
                num_chains=1,
                progress_bar=False,
            )
            seconds = time.perf_counter() - t0
            record("nuts", n, seconds, tree)
            for method, fit in svi_fits.items():
                posterior_vs_nuts.append({"method": method, "n": n, **against_nuts(fit, tree)})
            nuts_ns.append(n)
            nuts_ts.append(seconds)
            nuts_on = seconds <= nuts_max_seconds

    def col(method, key):
        return [r[key] for r in rows if r["method"] == method]

    n_max = sizes[-1]
    exponents = {
        m: fitted_exponent(col(m, "n"), col(m, "seconds"))
        for m in ("svi_minibatch", "svi_full", "nuts")
    }
    mini = {r["n"]: r for r in rows if r["method"] == "svi_minibatch"}
    full = {r["n"]: r for r in rows if r["method"] == "svi_full"}
    nuts = {r["n"]: r for r in rows if r["method"] == "nuts"}
    if n_max in nuts:
        nuts_at_max, nuts_source, nuts_k = nuts[n_max]["seconds"], "measured", None
    elif len(nuts_ns) >= 2:
        nuts_at_max, nuts_k = _extrapolate(nuts_ns, nuts_ts, n_max)
        nuts_source = f"extrapolated from n={nuts_ns[-2]} and n={nuts_ns[-1]}"
    else:
        nuts_at_max, nuts_source, nuts_k = None, "too few NUTS runs to extrapolate", None
    n_nuts = max(nuts) if nuts else None
    gap_nuts = (
        abs(mini[n_nuts]["heldout_loglik"] - nuts[n_nuts]["heldout_loglik"]) if nuts else None
    )
    gap_full = abs(mini[n_max]["heldout_loglik"] - full[n_max]["heldout_loglik"])
    speedup = nuts_at_max / mini[n_max]["seconds"] if nuts_at_max else None
    equal = gap_nuts is not None and gap_nuts <= heldout_tol and gap_full <= heldout_tol
    mini_vs_nuts = [r for r in posterior_vs_nuts if r["method"] == "svi_minibatch"]
    sds_close = bool(mini_vs_nuts) and (
        0.5 <= mini_vs_nuts[-1]["sd_ratio_min"] and mini_vs_nuts[-1]["sd_ratio_max"] <= 2.0
    )
    truth = synthetic_logistic(1, n_features=n_features, seed=seed)
    return {
        "benchmark": "scaling",
        "model": f"logistic_regression (d={n_features})",
        "device": f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}",
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "config": {
            "sizes": sizes,
            "svi_steps": svi_steps,
            "svi_optimizer": "Adam, step 0.05 decaying to 0.001",
            "subsample_size": subsample_size,
            "nuts_warmup": nuts_warmup,
            "nuts_samples": nuts_samples,
            "nuts_chains": 1,
            "nuts_max_seconds": nuts_max_seconds,
            "n_test": n_test,
            "heldout_tol": heldout_tol,
        },
        "rows": rows,
        "heldout_loglik_at_truth": round(
            logistic_loglik(test["x"], test["y"], w=truth["w"], b=truth["b"]), 6
        ),
        "exponents": exponents,
        "nuts_seconds_at_max_n": nuts_at_max,
        "nuts_seconds_at_max_n_source": nuts_source,
        "nuts_exponent_used": nuts_k,
        "speedup_minibatch_vs_nuts_at_max_n": speedup,
        "heldout_gap_minibatch_vs_nuts": gap_nuts,
        "heldout_gap_minibatch_vs_full_at_max_n": gap_full,
        "posterior_vs_nuts": posterior_vs_nuts,
        "targets": {
            "minibatch_sublinear": exponents["svi_minibatch"] is not None
            and exponents["svi_minibatch"] < 1.0,
            "minibatch_20x_faster_than_nuts": speedup is not None and speedup >= 20.0,
            "equal_heldout_loglik": bool(equal),
            "minibatch_sds_within_2x_of_nuts": sds_close,
        },
    }


def main(argv=None) -> dict:
    """Command-line entry point; prints the result as JSON with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--n-features", type=int, default=10)
    parser.add_argument("--svi-steps", type=int, default=2000)
    parser.add_argument("--subsample-size", type=int, default=1000)
    parser.add_argument("--nuts-warmup", type=int, default=500)
    parser.add_argument("--nuts-samples", type=int, default=500)
    parser.add_argument("--nuts-max-seconds", type=float, default=120.0)
    parser.add_argument("--n-test", type=int, default=20_000)
    parser.add_argument("--heldout-tol", type=float, default=0.002)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", action="store_true", help="print each row to stderr")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up fits")
    args = parser.parse_args(argv)
    result = run(
        args.sizes,
        n_features=args.n_features,
        svi_steps=args.svi_steps,
        subsample_size=args.subsample_size,
        nuts_warmup=args.nuts_warmup,
        nuts_samples=args.nuts_samples,
        nuts_max_seconds=args.nuts_max_seconds,
        n_test=args.n_test,
        heldout_tol=args.heldout_tol,
        seed=args.seed,
        warmup=not args.no_warmup,
        log=sys.stderr if args.progress else None,
    )
    if args.json:
        print(json.dumps(result))
    else:
        for row in result["rows"]:
            print(
                f"{row['method']:>14} n={row['n']:>8} {row['seconds']:9.2f} s  "
                f"held-out {row['heldout_loglik']:.4f}"
            )
        print("exponents:", result["exponents"], "targets:", result["targets"])
    return result


if __name__ == "__main__":
    main()
