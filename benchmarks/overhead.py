"""What vibook's runners cost on top of raw NumPyro: ``run_svi`` / ``run_nuts`` vs ``SVI.run`` /
``MCMC.run`` on the same model with identical settings.

Usage::

    python benchmarks/overhead.py --json                 # defaults below, 5 repeats
    python benchmarks/overhead.py --json --repeats 9     # steadier medians on a busy machine

Both systems fit the non-centred eight schools model (``vibook.models``) in one process, with
the same random key, guide (``AutoNormal``), optimiser (``Adam(0.01)``), loss
(``Trace_ELBO()``), number of steps, NUTS settings (warm-up, draws, chains,
``chain_method``, ``target_accept_prob``, the same per-draw sampler statistics) and no
progress bar. Each side must hand back usable draws:

* ``numpyro``, SVI: ``SVI.run`` then ``guide.sample_posterior`` for ``--svi-draws`` draws
  (a dict of arrays). NUTS: ``MCMC.run`` then ``get_samples(group_by_chain=True)`` and
  ``get_extra_fields(group_by_chain=True)`` (dicts of arrays).
* ``vibook``: ``run_svi`` / ``run_nuts``, which do the same (SVI as one compiled program)
  and also check the input and the loss for divergence and convert the draws, sampler
  statistics and observed data to an ArviZ ``DataTree``. That conversion is counted as part
  of vibook's job.

The times include compilation, as a user waits for them. NumPyro traces and compiles a fresh
closure in every ``SVI.run`` (only its eager set-up operations stay cached); vibook compiles a
fit once per model, settings and data shapes and reuses it, so its repeated SVI calls (a
notebook cell run again) skip compilation. The two systems alternate within each repeat, the
order flipping from one repeat to the next, after one untimed round; the reported figure is
the median over repeats. ``first_call`` reports the other case, a fit run for the first time:
each system and task once in a fresh Python process (imports not counted), every compilation
included. Target: ``vibook / numpyro <= 1.05`` for both tasks, on the repeats.

Prints one JSON object: ``rows`` of ``{"system", "task", "seconds", "cpu_seconds"}``
(medians of wall-clock and of process CPU time), ``ratio`` (of wall-clock medians) and
``cpu_ratio`` per task, ``meets_target`` (on ``ratio``), every repeat's times, the settings,
what each side does, and the machine with its load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import jax
import numpy as np
import numpyro
from numpyro.infer import MCMC, NUTS, SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal

from vibook import run_nuts, run_svi
from vibook.models import EIGHT_SCHOOLS, eight_schools_noncentred

TARGET = 1.05
# The same per-draw statistics vibook.run_nuts keeps for its diagnostics.
NUTS_FIELDS = (
    "diverging",
    "energy",
    "potential_energy",
    "accept_prob",
    "num_steps",
    "adapt_state.step_size",
)
MODEL = eight_schools_noncentred
ARGS = (EIGHT_SCHOOLS["y"],)
KWARGS = {"sigma": EIGHT_SCHOOLS["sigma"]}


def numpyro_svi(key, cfg):
    guide = AutoNormal(MODEL)
    svi = SVI(MODEL, guide, numpyro.optim.Adam(cfg.learning_rate), Trace_ELBO())
    fit_key, draw_key = jax.random.split(key)
    result = svi.run(fit_key, cfg.svi_steps, *ARGS, progress_bar=False, **KWARGS)
    draws = guide.sample_posterior(
        draw_key, result.params, *ARGS, sample_shape=(cfg.svi_draws,), **KWARGS
    )
    return jax.block_until_ready((result.losses, draws))


def vibook_svi(key, cfg):
    fit = run_svi(
        key,
        MODEL,
        *ARGS,
        num_steps=cfg.svi_steps,
        learning_rate=cfg.learning_rate,
        num_draws=cfg.svi_draws,
        progress_bar=False,
        **KWARGS,
    )
    return fit


def numpyro_nuts(key, cfg):
    mcmc = MCMC(
        NUTS(MODEL, target_accept_prob=0.8, dense_mass=False),
        num_warmup=cfg.nuts_warmup,
        num_samples=cfg.nuts_samples,
        num_chains=cfg.chains,
        chain_method=cfg.chain_method,
        progress_bar=False,
    )
    mcmc.run(key, *ARGS, extra_fields=NUTS_FIELDS, **KWARGS)
    out = (mcmc.get_samples(group_by_chain=True), mcmc.get_extra_fields(group_by_chain=True))
    return jax.block_until_ready(out)


def vibook_nuts(key, cfg):
    return run_nuts(
        key,
        MODEL,
        *ARGS,
        num_warmup=cfg.nuts_warmup,
        num_draws=cfg.nuts_samples,
        num_chains=cfg.chains,
        target_accept_prob=0.8,
        chain_method=cfg.chain_method,
        progress_bar=False,
        **KWARGS,
    )


RUNNERS = {
    ("numpyro", "svi"): numpyro_svi,
    ("vibook", "svi"): vibook_svi,
    ("numpyro", "nuts"): numpyro_nuts,
    ("vibook", "nuts"): vibook_nuts,
}


def _timed(fn, key, cfg) -> tuple[float, float]:
    """Wall-clock and process CPU seconds (all threads) of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn(key, cfg)
    return time.perf_counter() - t0, time.process_time() - c0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object (the default)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--svi-steps", type=int, default=1000)
    p.add_argument("--svi-draws", type=int, default=1000)
    p.add_argument("--learning-rate", type=float, default=0.01)
    p.add_argument("--nuts-warmup", type=int, default=300)
    p.add_argument("--nuts-samples", type=int, default=300)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--chain-method", default="vectorized")
    p.add_argument("--tasks", nargs="+", default=["svi", "nuts"], choices=["svi", "nuts"])
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed first round")
    p.add_argument("--no-first-call", action="store_true", help="skip the fresh-process calls")
    p.add_argument("--first-call-of", help=argparse.SUPPRESS)  # SYSTEM/TASK, in the child
    return p.parse_args(argv)


def _settings_argv(cfg) -> list[str]:
    return [
        *("--svi-steps", str(cfg.svi_steps), "--svi-draws", str(cfg.svi_draws)),
        *("--learning-rate", str(cfg.learning_rate), "--nuts-warmup", str(cfg.nuts_warmup)),
        *("--nuts-samples", str(cfg.nuts_samples), "--chains", str(cfg.chains)),
        *("--chain-method", cfg.chain_method),
    ]


def _first_call(system, task, cfg) -> float:
    """Wall-clock seconds of one call in a fresh Python process: nothing compiled before."""
    argv = [sys.executable, __file__, "--first-call-of", f"{system}/{task}", *_settings_argv(cfg)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    cfg = parse_args(argv)
    if cfg.first_call_of:
        system, task = cfg.first_call_of.split("/")
        print(_timed(RUNNERS[system, task], jax.random.key(0), cfg)[0])
        return {}
    systems = ("numpyro", "vibook")
    times = {(s, t): [] for s in systems for t in cfg.tasks}
    cpu = {(s, t): [] for s in systems for t in cfg.tasks}
    for task in cfg.tasks:
        if not cfg.no_warmup:
            for system in systems:
                RUNNERS[system, task](jax.random.key(0), cfg)
        for r in range(cfg.repeats):
            order = systems if r % 2 == 0 else systems[::-1]
            for system in order:
                # The same key on both sides: the same computation, step for step.
                wall, cpu_s = _timed(RUNNERS[system, task], jax.random.key(r), cfg)
                times[system, task].append(wall)
                cpu[system, task].append(cpu_s)

    rows = [
        {
            "system": s,
            "task": t,
            "seconds": float(np.median(times[s, t])),
            "cpu_seconds": float(np.median(cpu[s, t])),
        }
        for t in cfg.tasks
        for s in systems
    ]
    med = {(r["system"], r["task"]): r["seconds"] for r in rows}
    ratio = {t: med["vibook", t] / med["numpyro", t] for t in cfg.tasks}
    med_cpu = {(r["system"], r["task"]): r["cpu_seconds"] for r in rows}
    cpu_ratio = {t: med_cpu["vibook", t] / med_cpu["numpyro", t] for t in cfg.tasks}
    result = {
        "benchmark": "overhead",
        "rows": rows,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "target": f"vibook / numpyro <= {TARGET} for every task",
        "meets_target": all(v <= TARGET for v in ratio.values()),
        "repeats_seconds": {f"{s}/{t}": [float(x) for x in v] for (s, t), v in times.items()},
        "repeats_cpu_seconds": {f"{s}/{t}": [float(x) for x in v] for (s, t), v in cpu.items()},
        "settings": {
            "model": "eight_schools_noncentred",
            "repeats": cfg.repeats,
            "svi": {
                "guide": "AutoNormal",
                "optimizer": f"Adam({cfg.learning_rate})",
                "loss": "Trace_ELBO()",
                "num_steps": cfg.svi_steps,
                "posterior_draws": cfg.svi_draws,
            },
            "nuts": {
                "num_warmup": cfg.nuts_warmup,
                "num_draws": cfg.nuts_samples,
                "num_chains": cfg.chains,
                "chain_method": cfg.chain_method,
                "target_accept_prob": 0.8,
                "extra_fields": list(NUTS_FIELDS),
            },
            "timing": "wall time (seconds) and process CPU time of all threads (cpu_seconds) "
            "per call, compilation included; systems alternate, order flipped each repeat, "
            "after one untimed round; median over repeats. On a shared, loaded machine the "
            "CPU time is the steadier of the two",
        },
        "what_each_side_does": {
            "numpyro/svi": "SVI.run + guide.sample_posterior -> dict of arrays",
            "vibook/svi": "input checks + SVI.init, the steps and the draws as one compiled "
            "program (reused when the same fit runs again) + NaN/inf loss check + DataTree "
            "(posterior, observed_data)",
            "numpyro/nuts": "MCMC.run + get_samples + get_extra_fields -> dicts of arrays",
            "vibook/nuts": "input checks + MCMC.run + DataTree (posterior, sample_stats, "
            "observed_data) via arviz_base.from_numpyro",
        },
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "jax": jax.__version__,
            "numpyro": numpyro.__version__,
            "devices": [str(d) for d in jax.devices()],
            "cpu_count": os.cpu_count(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
    }
    if not cfg.no_first_call:
        first = {f"{s}/{t}": _first_call(s, t, cfg) for t in cfg.tasks for s in systems}
        result["first_call"] = {
            "seconds": first,
            "ratio": {t: first[f"vibook/{t}"] / first[f"numpyro/{t}"] for t in cfg.tasks},
        }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
