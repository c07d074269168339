"""How long each notebook takes to run, top to bottom, cold and with the compile cache filled.

Usage::

    python benchmarks/notebooks.py --json                  # every notebook, cold then warm
    python benchmarks/notebooks.py --json --only 01 03     # the notebooks whose names start so
    python benchmarks/notebooks.py --json --quick          # the quickstart only: the schema

Each notebook runs twice in a fresh kernel (the ``vibook`` kernel the notebooks ask for, so the
machine's Python and JAX) with ``nbclient``, as a student's "Restart and run all" does:

* ``cold``: JAX's persistent compilation cache points at an empty folder (``XDG_CACHE_HOME`` in a
  new temporary folder, which :func:`vibook.default_cache_dir` reads), so every program compiles;
* ``warm``: the same notebook again in a new kernel with that folder as the first run left it,
  as the second time a student opens it.

Times are wall-clock seconds from the kernel's start to the last cell's end, the kernel's own
start-up included (a student waits for it too). Targets, on the 2-core machine the course is
written for: every notebook under 60 s cold (``under_60s_cold``) and under 30 s warm
(``under_30s_warm``). A notebook that fails stops the benchmark with the failing cell.

Prints one JSON object: ``notebooks`` maps each notebook to ``{"cold_s", "warm_s", "cells"}``;
the two targets as booleans with the notebooks that miss each; the machine with its load average
(other work on the machine slows every row).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
COLD_TARGET_S, WARM_TARGET_S = 60.0, 30.0


def run_once(path: Path, cache_home: Path) -> float:
    """Seconds to run ``path`` top to bottom in a fresh kernel with ``cache_home`` as its cache."""
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home), VIBOOK_PROGRESS="0")
    env.pop("VIBOOK_COMPILE_CACHE", None)  # the cache on, as in a student's run
    env.pop("MPLBACKEND", None)  # the kernel's own inline backend, as in JupyterLab
    client = NotebookClient(
        nb,
        timeout=900,
        kernel_name="vibook",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    start = time.perf_counter()
    client.execute(env=env)  # raises CellExecutionError on a failing cell
    return time.perf_counter() - start


def measure(path: Path) -> dict:
    """Cold, then warm, in new kernels sharing one fresh cache folder."""
    with tempfile.TemporaryDirectory(prefix="vibook-nb-cache-") as cache_home:
        cold = run_once(path, Path(cache_home))
        warm = run_once(path, Path(cache_home))
    cells = len(nbformat.read(path, as_version=4).cells)
    return {"cold_s": round(cold, 1), "warm_s": round(warm, 1), "cells": cells}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object (always)")
    parser.add_argument("--quick", action="store_true", help="the quickstart only: schema")
    parser.add_argument("--only", nargs="+", default=None, help="name prefixes, such as 01 07")
    args = parser.parse_args(argv)
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.quick:
        paths = paths[:1]
    elif args.only:
        paths = [p for p in paths if p.name.startswith(tuple(args.only))]
        if not paths:
            parser.error(f"--only {' '.join(args.only)} matches no notebook in {NOTEBOOKS}")
    rows = {}
    for path in paths:
        rows[path.stem] = measure(path)
        print(f"{path.stem}: {rows[path.stem]}", file=sys.stderr, flush=True)
    slow_cold = [n for n, r in rows.items() if r["cold_s"] >= COLD_TARGET_S]
    slow_warm = [n for n, r in rows.items() if r["warm_s"] >= WARM_TARGET_S]
    result = {
        "benchmark": "notebooks",
        "quick": args.quick,
        "notebooks": rows,
        "total_cold_s": round(sum(r["cold_s"] for r in rows.values()), 1),
        "total_warm_s": round(sum(r["warm_s"] for r in rows.values()), 1),
        "targets_s": {"cold": COLD_TARGET_S, "warm": WARM_TARGET_S},
        "under_60s_cold": not slow_cold,
        "under_30s_warm": not slow_warm,
        "over_cold_target": slow_cold,
        "over_warm_target": slow_warm,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
