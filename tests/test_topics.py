"""fit_lda on a synthetic corpus: known topics recovered, held-out perplexity falling as the
fit resumes, k-means++ starting topics, and bad input. The ``corpora`` fixture is in
tests/conftest.py (test_topic_scores.py uses it too)."""

import jax
import numpy as np
import pytest

from vibook.topic_scores import perplexity, topic_recovery
from vibook.topics import (
    doc_topic_proportions,
    fit_lda,
    seed_topics,
    topic_word_distributions,
)

K, V = 4, 60  # the sizes of the corpora fixture (tests/conftest.py)


@pytest.fixture(scope="module")
def fits(corpora):
    """Three stretches of one run (20, +20, +160 steps), resumed from each other's state."""
    train, _ = corpora
    kw = {
        "n_topics": K,
        "n_vocab": V,
        "subsample_size": 200,
        "learning_rate": 0.1,
        "progress_bar": False,
    }
    key = jax.random.key(0)
    first = fit_lda(key, train.counts, train.word_ids, num_steps=20, **kw)
    second = fit_lda(key, train.counts, train.word_ids, num_steps=20, init_state=first.state, **kw)
    third = fit_lda(key, train.counts, train.word_ids, num_steps=160, init_state=second.state, **kw)
    return first, second, third


def test_recovers_known_topics(corpora, fits):
    train, _ = corpora
    # 600 documents x 50 tokens from 4 peaked topics: a correct fit finds each topic to a
    # cosine of about 0.99 (limited by the ~7 500 tokens per topic); 0.95 leaves room.
    assert topic_recovery(train.topics, topic_word_distributions(fits[-1])) > 0.95
    proportions = doc_topic_proportions(fits[-1], train.counts, train.word_ids)
    _, match = topic_recovery(
        train.topics, topic_word_distributions(fits[-1]), return_matching=True
    )
    # Mean absolute error of the proportions (each doc's 50 tokens bound it to ~0.05).
    assert np.abs(proportions[:, match] - train.doc_topics).mean() < 0.08


def test_held_out_perplexity_is_finite_and_decreases(corpora, fits):
    _, test = corpora
    held_out = slice(600, 1200)  # documents the fit never saw
    counts, ids = test.counts[held_out], test.word_ids[held_out]
    ppl = [perplexity(counts, ids, topic_word_distributions(f)) for f in fits]
    assert all(np.isfinite(ppl))
    assert ppl[0] > ppl[1] > ppl[2]
    truth = perplexity(counts, ids, test.topics, test.doc_topics[held_out])
    # Fitting the proportions to the same words is slightly optimistic, so the fitted topics
    # may score a little below the truth; they must not be far above it.
    assert ppl[2] < 1.1 * truth
    assert ppl[2] < V  # far better than knowing nothing


def test_elbo_improves_and_posterior_has_topic_draws(fits):
    first, _, third = fits
    assert np.mean(third.losses[-20:]) < np.mean(first.losses[:5])
    assert third.posterior.posterior["topic_logits"].shape[-2:] == (K, V)


@pytest.mark.parametrize(
    ("counts", "word_ids", "n_vocab", "err", "match"),
    [
        ([[1, -2]], [[0, 1]], 3, ValueError, ">= 0"),
        ([[1.5, 2.0]], [[0, 1]], 3, ValueError, "whole numbers"),
        ([[1, 1], [0, 0]], [[0, 1], [0, 0]], 3, ValueError, "empty"),
        ([[1, 1]], [[0, 1]], 0, ValueError, "vocabulary is empty"),
        ([[1, 1]], [[0, 5]], 3, ValueError, "n_vocab"),
        ([[1, 1]], [[0, 1, 2]], 3, ValueError, "shape"),
        ("abc", [[0]], 3, TypeError, "counts"),
    ],
)
def test_bad_input_raises(key, counts, word_ids, n_vocab, err, match):
    with pytest.raises(err, match=match):
        fit_lda(key, counts, word_ids, n_topics=2, n_vocab=n_vocab, num_steps=1)


def test_bad_settings_raise(key, corpora):
    train, _ = corpora
    with pytest.raises(ValueError, match="subsample_size"):
        fit_lda(key, train.counts, train.word_ids, n_topics=2, n_vocab=V, subsample_size=10_000)
    with pytest.raises(ValueError, match="doc_topic_prior"):
        fit_lda(key, train.counts, train.word_ids, n_topics=2, n_vocab=V, doc_topic_prior=-1.0)
    with pytest.raises(TypeError, match="fit of lda"):
        topic_word_distributions({"loc": 1})


def test_seed_topics_starts_near_the_truth(corpora):
    train, _ = corpora
    start = seed_topics(train.counts, train.word_ids, n_topics=K, n_vocab=V, seed=0)
    assert np.all(start > 0)
    # Documents are mostly about one topic (alpha = 1/4), so grouping them around spread-out
    # seeds already finds the topics roughly; SVI then sharpens them.
    assert topic_recovery(train.topics, start) > 0.8


def test_random_init_is_available_and_bad_init_is_refused(key, corpora):
    train, _ = corpora
    fit = fit_lda(
        key, train.counts, train.word_ids, n_topics=K, n_vocab=V, num_steps=5, init="random"
    )
    assert np.isfinite(fit.losses).all()
    with pytest.raises(ValueError, match="init"):
        fit_lda(key, train.counts, train.word_ids, n_topics=K, n_vocab=V, init="best")
