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
    argv = ["--json", "--n", "3000", "--n-test", "500", "--k", "2", "--dim", "2"]
    out = bench.main([*argv, "--steps", "200", "--batch-size", "256", "--separation", "6"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == out
    assert out["benchmark"] == "gmm"
    assert out["config"]["n"] == 3000 and out["config"]["k"] == 2
    assert [r["system"] for r in out["rows"]] == ["vibook-svi", "sklearn-bgmm", "sklearn-gmm-em"]
    for row in out["rows"]:
        assert {"system", "seconds", "heldout_loglik", "ari"} <= set(row)
        assert math.isfinite(row["heldout_loglik"])
        # Two clusters 6 sd apart: every system should find them.
        assert row["ari"] > 0.95
    assert isinstance(out["target"]["met"], bool)


def test_unknown_dataset_is_refused(bench):
    with pytest.raises(ValueError, match="dataset"):
        bench.run(dataset="iris")
