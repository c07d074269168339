"""Scoring topics: document proportions with the topics held fixed, topic recovery and
topic similarity, against known proportions and hand-computed values."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from vibook.topic_scores import (
    completion_perplexity,
    infer_doc_topics,
    npmi_coherence,
    perplexity,
    topic_recovery,
    topic_similarity,
)
from vibook.topics import top_words


def test_infer_doc_topics_finds_known_proportions(corpora):
    train, _ = corpora
    theta = infer_doc_topics(train.counts, train.word_ids, train.topics)
    # With the true topics, 50 tokens per document pin the proportions to ~0.05.
    assert np.abs(theta - train.doc_topics).mean() < 0.06


def test_top_words_and_recovery_helpers():
    topics = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    assert top_words(topics, ["a", "b", "c"], n=2) == [["b", "c"], ["a", "c"]]
    # Recovery does not depend on the order of the estimated topics.
    score, match = topic_recovery(topics, topics[::-1], return_matching=True)
    assert score == pytest.approx(1.0)
    np.testing.assert_array_equal(match, [1, 0])


def test_topic_similarity_hand_computed():
    a = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]])
    b = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [6.0, 8.0, 0.0]])
    # |a0| = 5, |b1| = sqrt(2): a0.b1 / (5 sqrt 2) = 4 / (5 sqrt 2); a1.b1 / (2 sqrt 2) = 1 / sqrt 2
    expected = [[0.6, 0.8 / np.sqrt(2), 1.0], [0.0, 1 / np.sqrt(2), 0.0]]
    np.testing.assert_allclose(topic_similarity(a, b), expected, rtol=1e-12)
    np.testing.assert_allclose(topic_similarity(b, a), np.transpose(expected), rtol=1e-12)
    rng = np.random.default_rng(0)
    x, y = rng.dirichlet(np.ones(20), size=4), rng.dirichlet(np.ones(20), size=6)
    np.testing.assert_allclose(topic_similarity(x, y), cosine_similarity(x, y), rtol=1e-10)
    # topic_recovery is the mean of this matrix along the best matching
    score, match = topic_recovery(x, y, return_matching=True)
    assert score == pytest.approx(topic_similarity(x, y)[np.arange(4), match].mean())
    with pytest.raises(ValueError, match="topics_b must have 3 words per topic"):
        topic_similarity(a, b[:, :2])
    with pytest.raises(ValueError, match="topics_a must have no all-zero topic"):
        topic_similarity(np.zeros((1, 3)), b)
    with pytest.raises(ValueError, match="topics must have no all-zero topic"):
        topic_recovery(a, np.vstack([b, np.zeros(3)]))
    with pytest.raises(ValueError, match="topics_b must be >= 0"):
        topic_similarity(a, -b)
    with pytest.raises(TypeError, match="return_matching must be True or False"):
        topic_recovery(a, b, return_matching="yes")


# ------------------------------------------------------------------ NPMI coherence


# Four short documents (each shorter than gensim's 10-token window, so one window each):
# "a" and "b" always appear together, "a" and "c" never, "a" and "d" independently
# (p(a) = p(d) = 1/2, p(a, d) = 1/4).
TEXTS = [["a", "b", "d"], ["a", "b", "x"], ["c", "d", "y"], ["c", "z", "y"]]


def test_npmi_matches_hand_computed_values():
    scores = npmi_coherence([["a", "b"], ["a", "c"], ["a", "d"]], TEXTS, topn=2, per_topic=True)
    # Always together: log(p / p^2) / -log(p) = 1.
    assert scores[0] == pytest.approx(1.0, abs=1e-6)
    # Never together: gensim adds eps = 1e-12 to p(a, c), so the score is
    # log(eps / (1/2 * 1/2)) / -log(eps) = -0.9498..., close to the limit -1.
    expected = np.log(1e-12 / 0.25) / -np.log(1e-12)
    assert scores[1] == pytest.approx(expected, abs=1e-3)
    # Independent: PMI = log(1/4 / (1/2 * 1/2)) = 0.
    assert scores[2] == pytest.approx(0.0, abs=1e-6)
    mean = npmi_coherence([["a", "b"], ["a", "c"], ["a", "d"]], TEXTS, topn=2)
    assert mean == pytest.approx(scores.mean())


def test_bad_topics_raise():
    with pytest.raises(ValueError, match="missing from texts"):
        npmi_coherence([["a", "nope"]], TEXTS, topn=2)
    with pytest.raises(ValueError, match="lists of >= 3 words"):
        npmi_coherence([["a", "b"]], TEXTS, topn=3)
    with pytest.raises(TypeError):
        npmi_coherence([["a", "b"]], TEXTS, topn=2.5)


def test_completion_perplexity_scores_the_unseen_part(corpora):
    _, test = corpora
    counts, ids = test.counts[:300], test.word_ids[:300]
    got = completion_perplexity(counts, ids, test.topics, seed=3)
    # The same split by hand: each token observed with probability 1/2, theta from that part.
    observed = np.random.default_rng(3).binomial(counts, 0.5)
    theta = infer_doc_topics(observed, ids, test.topics)
    assert got == perplexity(counts - observed, ids, test.topics, doc_topics=theta)
    assert completion_perplexity(counts, ids, test.topics, seed=3) == got  # same seed, same split
    assert completion_perplexity(counts, ids, test.topics, seed=4) != got
    # Uniform topics give every token probability 1 / V whatever theta is: perplexity V exactly
    # (float32 proportions: rtol 1e-5).
    uniform = np.full_like(test.topics, 1.0 / test.topics.shape[1])
    assert completion_perplexity(counts, ids, uniform) == pytest.approx(uniform.shape[1], rel=1e-5)
    # The true topics predict unseen words far better than knowing nothing, and worse than
    # the in-sample score of proportions fitted on the very words scored.
    assert got < 0.5 * uniform.shape[1]
    assert got > perplexity(counts, ids, test.topics)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_completion_perplexity_needs_a_fraction_inside_0_1(corpora, fraction):
    _, test = corpora
    with pytest.raises(ValueError, match="observed_fraction"):
        completion_perplexity(test.counts, test.word_ids, test.topics, observed_fraction=fraction)
