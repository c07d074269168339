import importlib.util
import json
import math
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "gmm.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("gmm_benchmark", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_benchmark_prints_one_json_object_with_the_schema(bench, capsys):
    argv = ["--json", "--n", "3000", "--n-test", "500", "--k", "2", "--dim", "2", "--seeds", "0"]
    out = bench.main([*argv, "--steps", "200", "--batch-size", "256", "--separation", "6"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == out
    assert out["benchmark"] == "gmm"
    assert out["config"]["n"] == 3000 and out["config"]["k"] == 2
    (run,) = out["runs"]
    assert run["seed"] == 0
    assert [r["system"] for r in run["rows"]] == ["vibook-svi", "sklearn-bgmm", "sklearn-gmm-em"]
    for row in run["rows"]:
        assert {"system", "seconds", "heldout_loglik", "ari"} <= set(row)
        assert math.isfinite(row["heldout_loglik"])
        # Two clusters 6 sd apart: every system should find them.
        assert row["ari"] > 0.95
    vibook = run["rows"][0]
    assert vibook["seconds"] == vibook["cold_seconds"]
    assert set(out["targets_met"]) == {
        "loglik_within_0.01_every_seed",
        "cold_at_most_0.2x_bgmm",
        "warm_at_most_2x_em",
    }
    assert all(isinstance(v, bool) for v in out["targets_met"].values())
    assert out["summary"]["cold_ratio_vs_bgmm"]["n"] == 1


def test_interval_over_seeds(bench):
    got = bench.interval([1.0, 3.0])
    assert got["mean"] == 2.0 and got["low"] < 2.0 < got["high"]
    assert bench.interval([1.0])["low"] is None


def test_unknown_dataset_is_refused(bench):
    with pytest.raises(ValueError, match="dataset"):
        bench.run_seeds(dataset="iris")
    with pytest.raises(ValueError, match="seeds"):
        bench.run_seeds(())
