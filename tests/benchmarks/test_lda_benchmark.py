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


def _check(result, metric, seeds):
    assert result["metric"] == metric and result["seeds"] == seeds
    assert [r["seed"] for r in result["rows"]] == seeds
    for row in result["rows"]:
        assert {"cold_seconds", "warm_seconds", "score"} <= set(row["vibook"])
        assert {"seconds", "score"} <= set(row["sklearn"]) and {"seconds", "score"} <= set(
            row["gensim"]
        )
        # The warm run reads the cold run's compiled programs: the same fit, the same topics.
        assert row["vibook_score_cold_equals_warm"] is True
        assert all(math.isfinite(row[s]["score"]) for s in ("vibook", "sklearn", "gensim"))
    summary = result["summary"]
    for key in ("cold_ratio_to_sklearn", "warm_ratio_to_gensim"):
        assert summary[key]["n"] == len(seeds)
    assert all(isinstance(v, bool) for v in result["targets"].values())


def test_synthetic_corpus_over_two_seeds(bench):
    settings = {"num_steps": 20, "subsample_size": 100, "local_steps": 5, "restarts": 2,
                "init": "random"}  # fmt: skip
    result = bench.run_corpus("synthetic", [0, 1], k=3, n_docs=300, n_vocab=60, settings=settings)
    _check(result, "recovery", [0, 1])
    assert set(result["targets"]) == {
        "recovery_at_least_0.90_every_seed",
        "recovery_at_least_0.93_on_average",
        "cold_at_most_gensim_time",
    }
    # 3 topics from 300 documents of 100 tokens: vibook finds them on both seeds.
    for row in result["rows"]:
        assert row["vibook"]["score"] > 0.95, row
    low, high = (result["summary"]["vibook"]["score"][b] for b in ("low", "high"))
    assert low <= result["summary"]["vibook"]["score"]["mean"] <= high


def test_lee_corpus_main_prints_one_json_object(bench, capsys):
    out = bench.main(["--json", "--corpus", "lee", "--seeds", "0", "--topics", "3"])
    assert json.loads(capsys.readouterr().out) == out
    assert out["benchmark"] == "lda"
    (result,) = out["corpora"]
    _check(result, "npmi", [0])
    assert result["n_docs"] == 300
    assert set(out["targets_met"]) == {f"lee:{t}" for t in result["targets"]}


def test_interval_is_a_student_t_interval(bench):
    from scipy import stats

    got = bench.interval([1.0, 2.0, 4.0])
    low, high = stats.t.interval(0.9, 2, loc=7 / 3, scale=stats.sem([1.0, 2.0, 4.0]))
    assert got["mean"] == pytest.approx(7 / 3)
    assert (got["low"], got["high"]) == pytest.approx((low, high))
    assert bench.interval([3.0])["low"] is None


def test_unknown_corpus_and_no_seeds_are_refused(bench):
    with pytest.raises(ValueError, match="corpus"):
        bench.run(("reuters",))
    with pytest.raises(ValueError, match="seeds"):
        bench.run(("lee",), seeds=())
