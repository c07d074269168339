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


def _check_schema(bench, out, printed):
    assert printed == json.loads(json.dumps(out))
    assert out["seeds"] == [0, 1] and out["levels"] == [0.9, 0.95]
    assert [r["acquisition"] for r in out["rows"]] == list(bench.ACQUISITIONS)
    for row in out["rows"]:
        for level in ("0.9", "0.95"):
            assert len(row[f"labels_to_{level}_per_seed"]) == 2
            assert row[f"labels_to_{level}_at_least"] >= 25
            assert 0 <= row[f"seeds_reaching_{level}"] <= 2
        assert set(row["final_accuracy"]) == {"mean", "low", "high", "n"}
        assert row["final_labels"] == 25  # 2 per class x 10 digits + one batch of 5
    assert len(out["curves"]) == 8
    for c in out["curves"]:
        assert c["n_labels"] == [20, 25] and len(c["accuracy"]) == 2
    assert out["target_ratio"] == 0.5
    ratio = out["bald_over_random_to_0.95"]
    met = out["targets_met"]["bald_at_most_half_of_random_labels_to_0.95"]
    assert met == (ratio is not None and ratio["mean"] <= 0.5)


@pytest.mark.parametrize("dataset", ["digits", "mnist"])
def test_quick_run_schema(bench, capsys, dataset):
    out = bench.main(["--json", "--quick", "--dataset", dataset])
    _check_schema(bench, out, json.loads(capsys.readouterr().out))
    assert out["config"]["model"] == {"digits": "bnn", "mnist": "dropout_cnn"}[dataset]
    paper = out["paper_table_1"]
    assert (paper is None) == (dataset == "digits")
    if paper is not None:  # Gal, Islam and Ghahramani 2017, Table 1
        assert paper["bald"] == {"0.9": 145, "0.95": 335}
        assert paper["random"] == {"0.9": 255, "0.95": 835}


def test_ratio_is_paired_per_seed_and_censoring_bounds_it(bench):
    cfg = {
        "acquisitions": ["bald", "random"],
        "batch_size": 10,
        "dataset": "digits",
        "validation": False,
        "seeds": 2,
    }

    def run(acq, seed, reach):
        return {
            "acquisition": acq,
            "seed": seed,
            "labels_to": {"0.9": reach, "0.95": reach},
            "n_labels": [20, 100],
            "accuracy": [0.5, 0.96],
            "seconds": 1.0,
        }

    runs = [run("bald", 0, 40), run("bald", 1, 60), run("random", 0, 80), run("random", 1, None)]
    out = bench.summarise(cfg, runs, 1.0)
    ratio = out["bald_over_random_to_0.95"]
    # seed 0: 40 / 80; seed 1: random never reached it, counted as 100 + 10 labels
    assert ratio["per_seed"] == pytest.approx([0.5, 60 / 110])
    assert ratio["mean"] == pytest.approx((0.5 + 60 / 110) / 2) and ratio["n"] == 2
    assert out["bald_over_random_is_upper_bound"] is True
    assert out["targets_met"]["bald_at_most_half_of_random_labels_to_0.95"] is False
    rows = {r["acquisition"]: r for r in out["rows"]}
    assert rows["random"]["labels_to_0.95"] is None  # a censored mean is only a lower bound
    assert rows["random"]["labels_to_0.95_at_least"] == pytest.approx(95.0)
    assert rows["bald"]["labels_to_0.95"]["mean"] == pytest.approx(50.0)
