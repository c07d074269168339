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
    out = _load().main(["--quick", "--seed", "0", "--methods", "mlp,map,bnn_svi"])
    assert out["benchmark"] == "bnn_digits" and out["quick"] is True
    assert set(out["rows"]) == {"mlp", "map", "bnn_svi"}
    for row in out["rows"].values():
        assert set(row) >= {"accuracy", "nll", "ece", "ood_auroc", "seconds"}
        # Ten digits: chance is 0.1 and a uniform guess scores nll = log 10 ~ 2.3. Even the
        # quick fits do far better (accuracy >= 0.8, nll <= 0.75, AUROC >= 0.78 measured).
        assert row["accuracy"] > 0.5 and row["nll"] < 1.5 and row["ood_auroc"] > 0.6, row
    assert set(out["targets"]) == {
        "accuracy_ge_mlp",
        "nll_le_0.8_mlp",
        "ece_le_mlp",
        "ood_auroc_ge_0.95",
    }
    comp = out["comparison"]
    b, m = out["rows"]["bnn_svi"], out["rows"]["mlp"]
    assert comp["ece_difference"]["estimate"] == pytest.approx(b["ece"] - m["ece"], abs=1e-5)
    assert comp["nll_ratio"]["estimate"] == pytest.approx(b["nll"] / m["nll"], abs=1e-5)
    for name in ("accuracy_difference", "nll_ratio", "ece_difference"):
        assert comp[name]["low"] <= comp[name]["estimate"] <= comp[name]["high"]
    for row in comp["ece_largest_bin"].values():
        assert row["count"] >= 1 and 0 < row["ece_share"] <= 1
    for row in comp["ece_if_calibrated"].values():
        assert row["low"] <= row["mean"] <= row["high"]


def test_several_seeds_report_their_summary_and_targets():
    out = _load().main(
        ["--quick", "--methods", "mlp,bnn_svi", "--seeds", "0,1,2", "--resamples", "20"]
    )
    assert out["seeds"] == [0, 1, 2] and [r["seed"] for r in out["runs"]] == [0, 1, 2]
    assert out["runs"][0]["rows"]["bnn_svi"] != out["runs"][1]["rows"]["bnn_svi"]
    assert "random_state=2" in out["runs"][2]["split"]  # each seed its own split
    held = out["targets_met_on_every_seed"]
    for target, value in held.items():
        assert value == all(r["targets"][target] for r in out["runs"])
    summary = out["summary"]
    for method in ("mlp", "bnn_svi"):
        nlls = [r["rows"][method]["nll"] for r in out["runs"]]
        mean = summary["means"][method]["nll"]
        assert mean["mean"] == pytest.approx(sum(nlls) / 3) and mean["low"] <= mean["high"]
    ratio = summary["bnn_over_mlp_nll"]
    assert ratio["estimate"] == pytest.approx(
        summary["means"]["bnn_svi"]["nll"]["mean"] / summary["means"]["mlp"]["nll"]["mean"],
        abs=1e-4,
    )
    met = out["targets_met"]
    assert met["nll_le_0.8_mlp_high_below_0.9"] == (
        ratio["estimate"] <= 0.8 and ratio["high"] < 0.9
    )
    assert met["ece_in_calibrated_band_every_seed"] == all(summary["ece_in_calibrated_band"])
    assert not any(k.startswith("_") for r in out["runs"] for k in r)


def test_bad_options_are_refused():
    mod = _load()
    for argv in (["--methods", "mlp,svm"], ["--seeds", "0,x"], ["--resamples", "1"]):
        with pytest.raises(SystemExit):
            mod.main(argv)
