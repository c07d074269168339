"""LDA by natural-gradient SVI (vibook.online_lda), against a NumPy coordinate-ascent sweep,
scikit-learn's online LDA and the true topics of synthetic corpora."""

import jax
import numpy as np
import pytest
from scipy.special import digamma
from sklearn.decomposition import LatentDirichletAllocation

from vibook.corpora import make_lda_corpus
from vibook.online_lda import NaturalLDAFit, fit_lda_natural
from vibook.topic_scores import topic_recovery
from vibook.topics import doc_topic_proportions, seed_topics, topic_word_distributions


@pytest.fixture(scope="module")
def corpus():
    return make_lda_corpus(400, n_topics=3, n_vocab=40, doc_length=60, seed=3)


def _dense(corpus):
    return np.asarray(corpus.to_csr().todense(), dtype=float)


def _numpy_sweep(x, lam, alpha, eta, n_iter):
    """One coordinate-ascent sweep of batch variational LDA, written densely (Blei et al. 2003):
    each document's E-step from gamma = alpha + N_d / K, then lambda = eta + sum_d n_dw phi_dwk."""
    e_beta = np.exp(digamma(lam) - digamma(lam.sum(1, keepdims=True)))  # (K, V)
    k = lam.shape[0]
    stats = np.zeros_like(lam)
    for row in x:
        gamma = alpha + np.full(k, row.sum() / k)
        for _ in range(n_iter):
            e_theta = np.exp(digamma(gamma))
            phinorm = e_theta @ e_beta  # (V,)
            gamma = alpha + e_theta * (e_beta @ (row / phinorm))
        e_theta = np.exp(digamma(gamma))
        phi = e_theta[:, None] * e_beta / (e_theta @ e_beta)[None, :]  # (K, V), sums to 1 over k
        stats += phi * row[None, :]
    return eta + stats


def test_one_full_batch_step_is_one_coordinate_ascent_sweep(corpus):
    # With tau0 = 1 the first step has rho = 1: lambda becomes the sweep's value exactly.
    start = seed_topics(corpus.counts, corpus.word_ids, n_topics=3, n_vocab=40, seed=0)
    fit = fit_lda_natural(
        jax.random.key(0), corpus.counts, corpus.word_ids, n_topics=3, n_vocab=40,
        num_steps=1, local_steps=4, init_topics=start,
    )  # fmt: skip
    alpha = eta = 1 / 3
    lam0 = eta + start / start.sum(1, keepdims=True) * corpus.counts.sum() / 3
    expected = _numpy_sweep(_dense(corpus), lam0, alpha, eta, n_iter=4)
    assert fit.step_sizes[0] == 1.0
    # float32 against float64 over ~24,000 tokens: relative error of a few 1e-6.
    np.testing.assert_allclose(fit.topic_concentrations, expected, rtol=1e-4)


def test_step_sizes_follow_the_robbins_monro_schedule(corpus):
    fit = fit_lda_natural(
        jax.random.key(1), corpus.counts, corpus.word_ids, n_topics=3, n_vocab=40,
        num_steps=12, subsample_size=100, tau0=4.0, kappa=0.6,
    )  # fmt: skip
    np.testing.assert_allclose(fit.step_sizes, (4.0 + np.arange(12)) ** -0.6, rtol=1e-6)


def test_full_batch_fit_converges_and_finds_the_topics(corpus):
    fit = fit_lda_natural(
        jax.random.key(2), corpus.counts, corpus.word_ids, n_topics=3, n_vocab=40, num_steps=60
    )
    assert isinstance(fit, NaturalLDAFit)
    # The topics' means stop moving: the last step changes a word's probability by 3e-5 on
    # average (measured), against 0.04 at the first step and 1 / 40 for a typical word.
    assert fit.change[-1] < 1e-4 < fit.change[0]
    # 24,000 tokens over 3 topics of 40 words: the fitted topics match the true ones closely
    # (measured 0.998); a fit that merged two topics would score about 0.8.
    assert topic_recovery(corpus.topics, topic_word_distributions(fit)) > 0.99


def test_recovery_matches_scikit_learn_on_a_larger_corpus():
    big = make_lda_corpus(3000, n_topics=8, n_vocab=300, doc_length=80, seed=7)
    ours, theirs = [], []
    for seed in range(3):
        fit = fit_lda_natural(
            jax.random.key(seed), big.counts, big.word_ids, n_topics=8, n_vocab=300,
            num_steps=60, subsample_size=500, restarts=3,
        )  # fmt: skip
        ours.append(topic_recovery(big.topics, topic_word_distributions(fit)))
        model = LatentDirichletAllocation(
            n_components=8, learning_method="online", random_state=seed
        )
        model.fit(big.to_csr())
        theirs.append(topic_recovery(big.topics, model.components_))
    # Same model and priors, the same algorithm family: no worse than scikit-learn's mean by
    # more than 0.02 (the spread of one system's recovery over these seeds is about that).
    assert np.mean(ours) >= np.mean(theirs) - 0.02, (ours, theirs)


def test_restarts_go_on_from_the_start_that_fitted_best():
    c = make_lda_corpus(4000, n_topics=12, n_vocab=400, doc_length=60, seed=12)
    kw = dict(n_topics=12, n_vocab=400, num_steps=40, subsample_size=400)
    many = fit_lda_natural(jax.random.key(0), c.counts, c.word_ids, restarts=4, **kw)
    scores = many.start_scores
    assert scores.shape == (4,) and np.isfinite(scores).all()
    assert len(set(scores.tolist())) == 4  # four different starts
    assert many.restart == int(np.argmax(scores))
    one = fit_lda_natural(jax.random.key(0), c.counts, c.word_ids, **kw)
    assert one.restart == 0 and np.isnan(one.start_scores).all()
    # Each start's score is a mean log-probability per token: between
    # log(1/400) (no better than uniform) and 0.
    assert (np.log(1 / 400) < scores).all() and (scores < 0).all()


def test_the_fit_reads_like_an_svi_fit(corpus):
    fit = fit_lda_natural(
        jax.random.key(3), corpus.counts, corpus.word_ids, n_topics=3, n_vocab=40, num_steps=20
    )
    topics = topic_word_distributions(fit)
    lam = fit.topic_concentrations
    np.testing.assert_allclose(topics, lam / lam.sum(1, keepdims=True), rtol=1e-5)  # float32
    props = doc_topic_proportions(fit, corpus.counts[:5], corpus.word_ids[:5])
    assert props.shape == (5, 3)
    np.testing.assert_allclose(props.sum(1), 1.0, rtol=1e-6)


def test_same_key_same_topics_other_key_other_start(corpus):
    kw = dict(n_topics=3, n_vocab=40, num_steps=5, subsample_size=50)
    a = fit_lda_natural(jax.random.key(4), corpus.counts, corpus.word_ids, **kw)
    b = fit_lda_natural(jax.random.key(4), corpus.counts, corpus.word_ids, **kw)
    c = fit_lda_natural(jax.random.key(5), corpus.counts, corpus.word_ids, **kw)
    np.testing.assert_array_equal(a.topic_concentrations, b.topic_concentrations)
    assert not np.allclose(a.topic_concentrations, c.topic_concentrations)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kappa": 0.5}, "kappa must be in"),
        ({"kappa": 1.5}, "kappa must be in"),
        ({"tau0": 0.5}, "tau0 must be >= 1"),
        ({"explore_steps": 50, "restarts": 2}, "explore_steps must be <= num_steps"),
        ({"init_topics": np.ones((3, 40)), "restarts": 2}, "use restarts=1"),
        ({"init_topics": np.ones((2, 40))}, "init_topics must have shape"),
        ({"init_topics": -np.ones((3, 40))}, "init_topics must be finite and non-negative"),
    ],
)
def test_bad_settings_are_refused(corpus, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_lda_natural(
            jax.random.key(0), corpus.counts, corpus.word_ids, n_topics=3, n_vocab=40,
            num_steps=10, **kwargs,
        )  # fmt: skip
