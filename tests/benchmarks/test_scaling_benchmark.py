"""The scaling benchmark's main function on a tiny configuration: its JSON schema and maths."""

import importlib.util
import json
from pathlib import Path

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
    }
    assert all(isinstance(v, bool) for v in printed["targets"].values())
    # NUTS, even this short, lands on the truth's held-out log-likelihood (0.016 off measured)
    truth = printed["heldout_loglik_at_truth"]
    nuts = [r["heldout_loglik"] for r in rows if r["method"] == "nuts"]
    assert nuts == pytest.approx([truth, truth], abs=0.1), (nuts, truth)


def test_needs_two_sizes():
    with pytest.raises(ValueError, match="at least 2"):
        scaling.run([1000])
