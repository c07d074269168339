import importlib.util
import json
import math
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "lda.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("lda_benchmark", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_rows(out, metric):
    assert [r["system"] for r in out["rows"]] == ["vibook", "sklearn", "gensim"]
    for row in out["rows"]:
        assert set(row) == {"system", "seconds", metric}
    assert all(isinstance(v, bool) for v in out["targets"].values())


def test_synthetic_benchmark_prints_one_json_object(bench, capsys):
    argv = ["--json", "--corpus", "synthetic", "--docs", "300", "--vocab", "60"]
    out = bench.main([*argv, "--topics", "3", "--steps", "40"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == out
    _check_rows(out, "recovery")
    assert out["n_docs"] == 300 and out["n_vocab"] == 60 and out["n_topics"] == 3
    # 3 topics from 300 documents: vibook finds them (cosine 0.9999 measured)
    recovery = {r["system"]: r["recovery"] for r in out["rows"]}
    assert recovery["vibook"] > 0.9, recovery
    assert set(out["targets"]) == {"recovery_at_least_0.90", "at_most_half_sklearn_time"}


def test_lee_benchmark_reports_coherence(bench, capsys):
    out = bench.main(["--json", "--corpus", "lee", "--topics", "3", "--steps", "5"])
    assert json.loads(capsys.readouterr().out) == out
    _check_rows(out, "npmi")
    assert all(math.isfinite(r["npmi"]) for r in out["rows"])  # NPMI lies in [-1, 1] anyway
    assert out["n_docs"] == 300
