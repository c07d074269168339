"""The scaling benchmark's main function on a tiny configuration: its JSON schema and maths."""

import importlib.util
import json
from pathlib import Path

import arviz_base as azb
import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "scaling.py"
spec = importlib.util.spec_from_file_location("scaling_benchmark", PATH)
scaling = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scaling)


def test_fitted_exponent_recovers_a_power_law():
    ns = np.array([1e3, 1e4, 1e5])
    assert scaling.fitted_exponent(ns, 3.0 * ns**0.7) == pytest.approx(0.7, abs=1e-9)
    assert scaling.fitted_exponent([1e3], [1.0]) is None
    seconds, k = scaling._extrapolate([1e3, 1e4], [2.0, 20.0], 1e6)
    assert k == pytest.approx(1.0) and seconds == pytest.approx(2000.0)


def test_against_nuts_reads_sd_ratios_and_mean_offsets_in_nuts_sds():
    rng = np.random.default_rng(0)
    z_w, z_b = rng.standard_normal((1, 4000, 2)), rng.standard_normal((1, 4000))
    z_w, z_b = (z_w - z_w.mean(1)) / z_w.std(1, ddof=1), (z_b - z_b.mean()) / z_b.std(ddof=1)
    nuts = azb.from_dict({"posterior": {"w": z_w * [1.0, 2.0], "b": z_b}})
    svi = azb.from_dict({"posterior": {"w": z_w * [3.0, 2.0] + [0.5, 0.0], "b": z_b - 4.0}})
    got = scaling.against_nuts(svi, nuts)
    # sds (3, 2, 1) against (1, 2, 1); means off by (0.5, 0, 4) in NUTS sds (1, 2, 1)
    assert got == {"sd_ratio_min": 1.0, "sd_ratio_max": 3.0, "mean_offset_max": 4.0}


def test_tiny_run_prints_one_json_object_with_the_rows(capsys):
    result = scaling.main(
        [
            "--json",
            "--sizes", "200", "400",
            "--n-features", "2",
            "--svi-steps", "20",
            "--subsample-size", "50",
            "--nuts-warmup", "10",
            "--nuts-samples", "10",
            "--n-test", "100",
            "--no-warmup",
            "--nuts-max-seconds", "1e6",
        ]
    )  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(result))
    rows = printed["rows"]
    assert {tuple(sorted(r)) for r in rows} == {("heldout_loglik", "method", "n", "seconds")}
    assert sorted((r["method"], r["n"]) for r in rows) == sorted(
        (m, n) for m in ("nuts", "svi_full", "svi_minibatch") for n in (200, 400)
    )
    assert all(np.isfinite(r["heldout_loglik"]) for r in rows)
    assert set(printed["exponents"]) == {"nuts", "svi_full", "svi_minibatch"}
    assert all(isinstance(k, float) for k in printed["exponents"].values())
    assert printed["nuts_seconds_at_max_n_source"] == "measured"
    assert set(printed["targets"]) == {
        "minibatch_sublinear",
        "minibatch_20x_faster_than_nuts",
        "equal_heldout_loglik",
        "minibatch_sds_within_2x_of_nuts",
    }
    # one comparison with NUTS per SVI fit, at each size where NUTS ran (here both)
    vs = printed["posterior_vs_nuts"]
    assert sorted((r["method"], r["n"]) for r in vs) == sorted(
        (m, n) for m in ("svi_full", "svi_minibatch") for n in (200, 400)
    )
    assert all(0 < r["sd_ratio_min"] <= r["sd_ratio_max"] and r["mean_offset_max"] >= 0 for r in vs)
    assert all(isinstance(v, bool) for v in printed["targets"].values())
    # NUTS, even this short, lands on the truth's held-out log-likelihood (0.016 off measured)
    truth = printed["heldout_loglik_at_truth"]
    nuts = [r["heldout_loglik"] for r in rows if r["method"] == "nuts"]
    assert nuts == pytest.approx([truth, truth], abs=0.1), (nuts, truth)


def test_needs_two_sizes():
    with pytest.raises(ValueError, match="at least 2"):
        scaling.run([1000])
