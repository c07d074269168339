"""The notebook benchmark's quick mode: one JSON object in its schema (no time is checked)."""

import importlib.util
import json
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "notebooks.py"
spec = importlib.util.spec_from_file_location("notebooks_benchmark", PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_quick_run_prints_one_json_object_with_its_targets(capsys):
    result = bench.main(["--json", "--quick"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(result))
    assert printed["benchmark"] == "notebooks" and printed["quick"] is True
    assert list(printed["notebooks"]) == ["00_quickstart"]
    row = printed["notebooks"]["00_quickstart"]
    assert set(row) == {"cold_s", "warm_s", "cells"} and row["cells"] > 1
    assert printed["under_60s_cold"] == (row["cold_s"] < 60) == (not printed["over_cold_target"])
    assert printed["under_30s_warm"] == (row["warm_s"] < 30) == (not printed["over_warm_target"])


def test_only_names_no_notebook_is_an_error(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--only", "99"])
    assert "matches no notebook" in capsys.readouterr().err
