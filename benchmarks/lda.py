"""Benchmark: vibook's LDA against scikit-learn's and gensim's, over several seeds.

    python benchmarks/lda.py --json [--corpus lee|synthetic|both] [--seeds 0 1 2 3 4]
                                    [--topics K] [--docs D] [--vocab V]

Prints one JSON object. Each system fits the same documents over the same vocabulary with the
same Dirichlet priors (``1 / K`` for both, the default of all three):

* ``vibook``: :func:`vibook.online_lda.fit_lda_natural`, stochastic variational inference with
  natural-gradient steps on Dirichlet topics (Hoffman et al. 2013), one compiled program;
* ``sklearn``: ``LatentDirichletAllocation(learning_method="online")``, its defaults otherwise
  (10 passes, batches of 128);
* ``gensim``: ``LdaModel`` (10 passes on Lee, 1 on the synthetic corpus, batches of 2000).

vibook runs each seed in two fresh Python processes, so that compilation is timed as a user meets
it: ``cold`` with an empty compile cache (every program compiled) and ``warm`` with the cache the
cold run filled (:func:`vibook.enable_compile_cache`). Each time is the fit's wall time, from the
counts to the topics, after JAX has started its CPU backend (as the peers' times leave out their
imports). The peers run in this process. On a shared machine compare the ratios of one run.

Scores: on the Lee corpus (:func:`vibook.corpora.load_lee_corpus`, 300 documents) ``npmi``, the
NPMI coherence of each system's top-10 words (:func:`vibook.topic_scores.npmi_coherence`); on a
synthetic corpus (:func:`vibook.corpora.make_lda_corpus`, ``--docs`` documents of 100 tokens, its
seed the run's) ``recovery``, the mean cosine between true and estimated topics after the best
matching. ``summary`` has, per corpus and system, the mean of each figure over the seeds with a
90% interval (Student's t), and the per-seed ratios of vibook's times to the peers'. Targets:

* Lee: vibook's cold time at most 2 x scikit-learn's and its warm time at most scikit-learn's
  (means over the seeds), and its mean NPMI at least the best peer's mean;
* synthetic: vibook's recovery at least 0.90 on every seed and 0.93 on average, in at most
  gensim's time (cold, mean over the seeds).

vibook's settings were chosen on seeds 10-14, never reported here (the default seeds are 0-4):
on Lee the whole corpus each step from the k-means++ start (:func:`vibook.topics.seed_topics`),
50 steps of 5 E-step iterations (mean NPMI 0.062 on 10-14, against scikit-learn's 0.038 and
gensim's 0.009; random starts gave 0.023); on the synthetic corpus minibatches of 1000
documents, 4 random starts compared after one pass, 60 steps (mean recovery 0.945, lowest
0.905; one start gave 0.918 and 0.878, 8 starts 0.960 in 30% more time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

LEE = {"num_steps": 50, "local_steps": 5, "init": "kmeans++"}
SYNTHETIC = {
    "num_steps": 60,
    "subsample_size": 1000,
    "local_steps": 5,
    "restarts": 4,
    "init": "random",
}


def _corpus(name, seed, n_docs, n_vocab, k):
    from vibook.corpora import load_lee_corpus, make_lda_corpus

    if name == "lee":
        return load_lee_corpus()
    return make_lda_corpus(n_docs, n_topics=k, n_vocab=n_vocab, doc_length=100, seed=seed)


def _score(name, corpus, topics):
    from vibook.topic_scores import npmi_coherence, topic_recovery
    from vibook.topics import top_words

    if name == "lee":
        return float(npmi_coherence(top_words(topics, corpus.vocab), corpus.texts))
    return float(topic_recovery(corpus.topics, topics))


def worker(name, seed, n_docs, n_vocab, k, settings) -> dict:
    """One vibook fit in this (fresh) process; the caller sets the compile cache's folder."""
    import jax
    import jax.numpy as jnp

    import vibook
    from vibook.online_lda import fit_lda_natural
    from vibook.topics import seed_topics, topic_word_distributions

    vibook.enable_compile_cache()
    corpus = _corpus(name, seed, n_docs, n_vocab, k)
    jnp.zeros(()).block_until_ready()  # start JAX's CPU backend before the clock
    settings = dict(settings)
    init = settings.pop("init")
    start = time.perf_counter()
    init_topics = None
    if init == "kmeans++":
        init_topics = seed_topics(
            corpus.counts, corpus.word_ids, n_topics=k, n_vocab=corpus.n_vocab, seed=seed
        )
    fit = fit_lda_natural(
        jax.random.key(seed),
        corpus.counts,
        corpus.word_ids,
        n_topics=k,
        n_vocab=corpus.n_vocab,
        init_topics=init_topics,
        **settings,
    )
    topics = topic_word_distributions(fit)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "score": _score(name, corpus, topics)}


def _run_worker(name, seed, n_docs, n_vocab, k, cache, settings) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": cache, "VIBOOK_COMPILE_CACHE": "1"}
    env["JAX_PLATFORMS"] = "cpu"
    job = [name, seed, n_docs, n_vocab, k, settings]
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the vibook worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fit_sklearn(corpus, k, seed):
    from sklearn.decomposition import LatentDirichletAllocation

    x = corpus.to_csr()
    start = time.perf_counter()
    model = LatentDirichletAllocation(n_components=k, learning_method="online", random_state=seed)
    model.fit(x)
    seconds = time.perf_counter() - start
    return model.components_ / model.components_.sum(1, keepdims=True), seconds


def _fit_gensim(corpus, k, seed, passes):
    import logging

    from gensim.models import LdaModel

    logging.getLogger("gensim").setLevel(logging.WARNING)
    bow = corpus.to_bow()
    start = time.perf_counter()
    model = LdaModel(
        corpus=bow, id2word=corpus.dictionary(), num_topics=k, passes=passes, random_state=seed
    )
    seconds = time.perf_counter() - start
    return model.get_topics(), seconds


def interval(values, level=0.9) -> dict:
    """Mean and ``level`` Student-t interval of the mean (a single value: no interval)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if values.size < 2:
        return {"mean": mean, "low": None, "high": None, "n": int(values.size)}
    sem = stats.sem(values)
    if sem == 0:  # every seed gave the same value
        return {"mean": mean, "low": mean, "high": mean, "n": int(values.size)}
    low, high = stats.t.interval(level, values.size - 1, loc=mean, scale=sem)
    return {"mean": mean, "low": float(low), "high": float(high), "n": int(values.size)}


def run_corpus(name, seeds, *, k, n_docs=20000, n_vocab=5000, settings=None) -> dict:
    """Every seed on one corpus: per-seed rows, the summary and the targets."""
    settings = settings or (LEE if name == "lee" else SYNTHETIC)
    gensim_passes = 10 if name == "lee" else 1
    rows = []
    for seed in seeds:
        corpus = _corpus(name, seed, n_docs, n_vocab, k)
        with tempfile.TemporaryDirectory(prefix="vibook-lda-cache-") as cache:
            cold = _run_worker(name, seed, n_docs, n_vocab, k, cache, settings)
            warm = _run_worker(name, seed, n_docs, n_vocab, k, cache, settings)
        row = {
            "seed": seed,
            "vibook": {"cold_seconds": cold["seconds"], "warm_seconds": warm["seconds"]},
            "vibook_score_cold_equals_warm": cold["score"] == warm["score"],
        }
        row["vibook"]["score"] = cold["score"]
        for system, (topics, seconds) in (
            ("sklearn", _fit_sklearn(corpus, k, seed)),
            ("gensim", _fit_gensim(corpus, k, seed, gensim_passes)),
        ):
            row[system] = {"seconds": seconds, "score": _score(name, corpus, topics)}
        for peer in ("sklearn", "gensim"):
            row[f"cold_ratio_to_{peer}"] = cold["seconds"] / row[peer]["seconds"]
            row[f"warm_ratio_to_{peer}"] = warm["seconds"] / row[peer]["seconds"]
        rows.append(row)

    def column(system, field):
        return [r[system][field] for r in rows]

    summary = {
        "vibook": {
            "cold_seconds": interval(column("vibook", "cold_seconds")),
            "warm_seconds": interval(column("vibook", "warm_seconds")),
            "score": interval(column("vibook", "score")),
        },
        **{
            peer: {
                "seconds": interval(column(peer, "seconds")),
                "score": interval(column(peer, "score")),
            }
            for peer in ("sklearn", "gensim")
        },
        **{
            f"{when}_ratio_to_{peer}": interval([r[f"{when}_ratio_to_{peer}"] for r in rows])
            for when in ("cold", "warm")
            for peer in ("sklearn", "gensim")
        },
    }
    mean = lambda system, field: summary[system][field]["mean"]  # noqa: E731
    if name == "lee":
        targets = {
            "cold_at_most_2x_sklearn": mean("vibook", "cold_seconds")
            <= 2 * mean("sklearn", "seconds"),
            "warm_at_most_sklearn": mean("vibook", "warm_seconds") <= mean("sklearn", "seconds"),
            "npmi_at_least_best_peer": mean("vibook", "score")
            >= max(mean("sklearn", "score"), mean("gensim", "score")),
        }
    else:
        scores = column("vibook", "score")
        targets = {
            "recovery_at_least_0.90_every_seed": min(scores) >= 0.90,
            "recovery_at_least_0.93_on_average": float(np.mean(scores)) >= 0.93,
            "cold_at_most_gensim_time": mean("vibook", "cold_seconds") <= mean("gensim", "seconds"),
        }
    return {
        "corpus": name,
        "metric": "npmi" if name == "lee" else "recovery",
        "n_topics": k,
        "n_docs": corpus.n_docs,
        "n_vocab": corpus.n_vocab,
        "seeds": list(seeds),
        "vibook_settings": settings,
        "gensim_passes": gensim_passes,
        "rows": rows,
        "summary": summary,
        "targets": targets,
    }


def run(corpora=("lee", "synthetic"), seeds=(0, 1, 2, 3, 4), *, k=None, n_docs=20000,
        n_vocab=5000) -> dict:  # fmt: skip
    """Every corpus and seed; the benchmark's JSON object."""
    for name in corpora:
        if name not in ("lee", "synthetic"):
            raise ValueError(f"corpus must be 'lee' or 'synthetic'; got {name!r}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    results = [
        run_corpus(
            name, seeds, k=k or (10 if name == "lee" else 20), n_docs=n_docs, n_vocab=n_vocab
        )  # fmt: skip
        for name in corpora
    ]
    return {
        "benchmark": "lda",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "corpora": results,
        "targets_met": {
            f"{r['corpus']}:{t}": bool(v) for r in results for t, v in r["targets"].items()
        },
    }


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--corpus", choices=["lee", "synthetic", "both"], default="both")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--topics", type=int, default=None, help="K (10 on Lee, 20 synthetic)")
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--vocab", type=int, default=5000)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(*json.loads(args.worker))))
        return None
    corpora = ("lee", "synthetic") if args.corpus == "both" else (args.corpus,)
    out = run(corpora, args.seeds, k=args.topics, n_docs=args.docs, n_vocab=args.vocab)
    if args.json:
        print(json.dumps(out))
    else:
        for result in out["corpora"]:
            print(result["corpus"], json.dumps(result["summary"], indent=1))
        print(out["targets_met"])
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
