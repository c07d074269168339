"""The overhead benchmark's main function on a tiny configuration: its JSON schema."""

import importlib.util
import json
from pathlib import Path

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "overhead.py"
spec = importlib.util.spec_from_file_location("overhead_benchmark", PATH)
overhead = importlib.util.module_from_spec(spec)
spec.loader.exec_module(overhead)


def test_tiny_run_prints_one_json_object_with_rows_and_ratios(capsys):
    result = overhead.main(
        [
            "--json",
            "--repeats", "2",
            "--svi-steps", "20",
            "--svi-draws", "10",
            "--nuts-warmup", "10",
            "--nuts-samples", "10",
            "--chains", "2",
            "--no-warmup",
            "--no-first-call",  # tested below, for one task: each call is a fresh process
        ]
    )  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(result))
    rows = printed["rows"]
    assert {(r["system"], r["task"]) for r in rows} == {
        ("numpyro", "svi"),
        ("vibook", "svi"),
        ("numpyro", "nuts"),
        ("vibook", "nuts"),
    }
    for r in rows:
        assert set(r) == {"system", "task", "seconds", "cpu_seconds"}
    seconds = {(r["system"], r["task"]): r["seconds"] for r in rows}
    for task in ("svi", "nuts"):
        assert printed["ratio"][task] == seconds["vibook", task] / seconds["numpyro", task]
    assert "first_call" not in printed
    for task in ("svi", "nuts"):
        assert len(printed["repeats_seconds"][f"vibook/{task}"]) == 2
    assert printed["meets_target"] == all(v <= 1.05 for v in printed["ratio"].values())
    assert set(printed["what_each_side_does"]) == {
        "numpyro/svi",
        "vibook/svi",
        "numpyro/nuts",
        "vibook/nuts",
    }
    assert printed["settings"]["nuts"]["chain_method"] == "vectorized"


def test_first_calls_run_in_fresh_processes(capsys):
    result = overhead.main(
        ["--json", "--tasks", "svi", "--repeats", "1", "--svi-steps", "20", "--svi-draws", "10",
         "--no-warmup"]
    )  # fmt: skip
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(result))
    first = result["first_call"]["seconds"]
    assert set(first) == {"numpyro/svi", "vibook/svi"}
    assert result["first_call"]["ratio"]["svi"] == first["vibook/svi"] / first["numpyro/svi"]


def test_both_sides_compute_the_same_svi_fit():
    # Same key, guide, optimiser and steps: the raw NumPyro losses and vibook's agree.
    cfg = overhead.parse_args(["--svi-steps", "30", "--svi-draws", "5"])
    import jax
    import numpy as np

    raw_losses, _ = overhead.numpyro_svi(jax.random.key(3), cfg)
    fit = overhead.vibook_svi(jax.random.key(3), cfg)
    np.testing.assert_allclose(fit.losses, np.asarray(raw_losses), rtol=1e-6)
