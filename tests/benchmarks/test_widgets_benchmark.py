"""The widget benchmark's quick mode: one JSON object in its schema (no timing is checked)."""

import importlib.util
import json
from pathlib import Path

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "widgets.py"
spec = importlib.util.spec_from_file_location("widgets_benchmark", PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

WIDGETS = {
    "coin_flip_explorer",
    "bnn_prior_explorer",
    "mixture_explorer",
    "elbo_explorer",
    "tau_prior_explorer",
}


def test_quick_run_prints_one_json_object_with_every_widget(capsys):
    result = bench.main(["--json", "--quick"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(result))
    assert printed["benchmark"] == "widgets" and printed["quick"] is True
    assert set(printed["widgets"]) == WIDGETS
    for name, row in printed["widgets"].items():
        for part in ("pure", "redraw", "redraw_first_visit"):
            assert set(row[part]) == {"median_ms", "worst_ms", "n"}, (name, part)
            assert 0 <= row[part]["median_ms"] <= row[part]["worst_ms"], (name, part)
        n_values = sum(row["sliders"].values())
        assert row["pure"]["n"] == n_values
        # Two values a slider, there and back: 2 moves there (or 1 when one is the start), back.
        assert row["redraw"]["n"] > row["redraw_first_visit"]["n"] >= len(row["sliders"])
        assert set(row["continuous_update"]) == set(row["sliders"])
    assert isinstance(printed["median_under_250ms"], bool)
    assert printed["median_under_250ms"] == all(
        row["redraw"]["median_ms"] < printed["target_ms"] for row in printed["widgets"].values()
    )
    assert printed["machine"]["cpus"] >= 1
