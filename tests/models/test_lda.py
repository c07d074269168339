import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from numpyro.infer import Predictive
from sklearn.metrics.pairwise import cosine_similarity

from vibook.corpora import make_lda_corpus
from vibook.models.lda import LogGamma, _SparseMultinomial, lda
from vibook.topics import (
    doc_topic_proportions,
    fit_lda,
    infer_doc_topics,
    perplexity,
    seed_topics,
    top_words,
    topic_recovery,
    topic_similarity,
    topic_word_distributions,
)

K, V = 4, 60


@pytest.fixture(scope="module")
def corpora():
    train = make_lda_corpus(600, n_topics=K, n_vocab=V, doc_length=50, seed=1)
    # Held-out documents from the same topics: same seed for the topics, new documents.
    test = make_lda_corpus(1200, n_topics=K, n_vocab=V, doc_length=50, seed=1)
    np.testing.assert_allclose(train.topics, test.topics)
    return train, test


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


def test_prior_predictive_draws_whole_documents(key):
    lengths = np.array([5, 12, 30])
    draws = Predictive(lda, num_samples=7)(key, doc_lengths=lengths, n_topics=3, n_vocab=20)
    assert draws["counts"].shape == (7, 3, 20)
    np.testing.assert_array_equal(draws["counts"].sum(-1), np.broadcast_to(lengths, (7, 3)))


def test_log_gamma_is_the_log_of_a_gamma(key):
    a = jnp.array([0.05, 0.5, 3.0])
    y = jnp.array([-20.0, -1.0, 1.2])
    expected = dist.Gamma(a).log_prob(jnp.exp(y)) + y  # change of variables x = e^y
    np.testing.assert_allclose(LogGamma(a).log_prob(y), expected, rtol=1e-4)
    # softmax of LogGamma draws is Dirichlet: the mean is a / sum(a). 20 000 draws: the
    # standard error of each mean is below 0.003.
    draws = LogGamma(a).sample(key, (20000,))
    assert np.all(np.isfinite(draws))
    np.testing.assert_allclose(jax.nn.softmax(draws, -1).mean(0), a / a.sum(), atol=0.01)


def test_sparse_multinomial_matches_the_dense_one():
    probs = jnp.array([0.1, 0.2, 0.3, 0.4])
    dense = jnp.array([2, 0, 1, 3])
    slots = jnp.array([0, 2, 3, 0])  # the document's words, one padding slot
    counts = jnp.array([2, 1, 3, 0])
    sparse = _SparseMultinomial(jnp.log(probs[slots]))
    np.testing.assert_allclose(
        sparse.log_prob(counts), dist.Multinomial(6, probs).log_prob(dense), rtol=1e-5
    )


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
