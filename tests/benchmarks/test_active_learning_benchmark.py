import importlib.util
import json
from pathlib import Path

import pytest

PATH = Path(__file__).parents[2] / "benchmarks" / "active_learning.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("active_learning_benchmark", PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tiny_run_schema(bench, capsys):
    argv = "--json --seeds 2 --rounds 1 --batch-size 5 --num-steps 20 --initial-fits 1 "
    argv += "--num-draws 5 --hidden 4 --pool-size 120 --target-accuracy 0.01"
    out = bench.main(argv.split())
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(out))
    assert [r["acquisition"] for r in out["rows"]] == list(bench.ACQUISITIONS)
    for row in out["rows"]:
        assert set(row) >= {"labels_to_95", "final_accuracy", "seconds", "seeds_reaching"}
        assert len(row["labels_to_95_per_seed"]) == 2
        assert row["final_labels"] == 25  # 2 per class x 10 digits + one batch of 5
    assert len(out["curves"]) == 8
    for c in out["curves"]:
        assert c["n_labels"] == [20, 25] and len(c["accuracy"]) == 2
    # 1% is far below chance (10%): every run reaches it at once, so the ratio is defined
    assert out["bald_over_random"] is not None
    assert out["meets_target"] == (out["bald_over_random"] <= 0.6)
    assert out["target_ratio"] == 0.6
