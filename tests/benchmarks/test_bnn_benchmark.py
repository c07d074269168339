import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _load():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bnn.py"
    spec = importlib.util.spec_from_file_location("bench_bnn", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quick_run_has_the_schema():
    out = _load().main(["--quick", "--methods", "mlp,map,bnn_svi"])
    assert out["benchmark"] == "bnn_digits" and out["quick"] is True
    assert set(out["rows"]) == {"mlp", "map", "bnn_svi"}
    for row in out["rows"].values():
        assert set(row) >= {"accuracy", "nll", "ece", "ood_auroc", "seconds"}
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["ece"] <= 1 and row["nll"] >= 0
        assert 0 <= row["ood_auroc"] <= 1 and row["seconds"] > 0
    assert set(out["targets"]) == {
        "accuracy_ge_mlp",
        "nll_le_0.8_mlp",
        "ece_le_mlp",
        "ood_auroc_ge_0.95",
    }
