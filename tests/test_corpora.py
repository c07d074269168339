import numpy as np
import pytest
from scipy import sparse

from vibook.corpora import Corpus, corpus_from_counts, load_lee_corpus, make_lda_corpus


def test_corpus_from_counts_round_trips_dense_counts():
    dense = np.array([[2, 0, 1, 0], [0, 0, 0, 3], [1, 1, 1, 1]])
    corpus = corpus_from_counts(dense, vocab=["a", "b", "c", "d"])
    assert isinstance(corpus, Corpus)
    assert corpus.counts.shape == (3, 4)  # the longest document has 4 distinct words
    np.testing.assert_array_equal(corpus.to_csr().toarray(), dense)
    np.testing.assert_array_equal(corpus.doc_lengths, [3, 3, 4])
    assert corpus.to_bow()[0] == [(0, 2), (2, 1)]
    assert corpus.dictionary().token2id["c"] == 2


def test_sparse_input_gives_the_same_corpus():
    dense = np.array([[2, 0, 1], [0, 5, 0]])
    a = corpus_from_counts(dense)
    b = corpus_from_counts(sparse.csr_matrix(dense))
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.word_ids, b.word_ids)
    assert a.vocab == ("w0", "w1", "w2")


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        ([[1, -1], [2, 0]], ">= 0"),
        ([[1.5, 0.0], [2.0, 1.0]], "whole numbers"),
        ([[1, 0], [0, 0]], "empty"),
        (np.zeros((2, 0)), "vocabulary|empty"),
    ],
)
def test_bad_counts_raise_clear_errors(counts, match):
    with pytest.raises(ValueError, match=match):
        corpus_from_counts(counts)


def test_vocab_length_must_match():
    with pytest.raises(ValueError, match="vocab"):
        corpus_from_counts([[1, 2]], vocab=["only-one"])


def test_lee_corpus_is_the_filtered_gensim_corpus():
    corpus = load_lee_corpus()
    assert corpus.n_docs == 300  # every article keeps at least one word
    assert 500 < corpus.n_vocab < 3000
    assert len(corpus.texts) == corpus.n_docs
    assert "the" not in corpus.vocab  # stop words are gone
    # no_below=5: every kept word is in at least 5 articles
    doc_freq = np.bincount(corpus.word_ids[corpus.counts > 0], minlength=corpus.n_vocab)
    assert doc_freq.min() >= 5
    assert doc_freq.max() <= 0.5 * corpus.n_docs
    assert corpus.to_csr().sum() == corpus.doc_lengths.sum()


def test_lee_filter_that_keeps_nothing_is_an_error():
    with pytest.raises(ValueError, match="no word survives"):
        load_lee_corpus(no_below=301)


def test_synthetic_corpus_matches_its_generative_story():
    corpus = make_lda_corpus(2000, n_topics=4, n_vocab=50, doc_length=60, seed=1)
    assert corpus.topics.shape == (4, 50) and corpus.doc_topics.shape == (2000, 4)
    # Proportions ~ Dirichlet(1/4, ..., 1/4): each has mean 1/4 and sd sqrt(3/16 / 2) ~ 0.31,
    # so over 2000 documents the means' standard error is ~0.007; 0.03 is 4 of them.
    np.testing.assert_allclose(corpus.doc_topics.mean(0), 0.25, atol=0.03)
    np.testing.assert_array_equal(corpus.doc_lengths, 60)
    # Word frequencies over the corpus match the mixture: 120 000 tokens, so the largest
    # absolute error in a word frequency is a few times sqrt(p / n) ~ 0.001.
    freq = np.asarray(corpus.to_csr().sum(0)).ravel() / (2000 * 60)
    expected = corpus.doc_topics.mean(0) @ corpus.topics
    np.testing.assert_allclose(freq, expected, atol=0.005)
    again = make_lda_corpus(2000, n_topics=4, n_vocab=50, doc_length=60, seed=1)
    np.testing.assert_array_equal(corpus.counts, again.counts)


def test_subset_selects_documents_and_keeps_the_truth():
    corpus = make_lda_corpus(10, n_topics=2, n_vocab=15, doc_length=8, seed=0)
    part = corpus.subset(np.array([7, 2]))
    np.testing.assert_array_equal(part.counts, corpus.counts[[7, 2]])
    np.testing.assert_array_equal(part.word_ids, corpus.word_ids[[7, 2]])
    np.testing.assert_array_equal(part.doc_topics, corpus.doc_topics[[7, 2]])
    assert part.topics is corpus.topics and part.vocab == corpus.vocab
    lee = load_lee_corpus()
    assert lee.subset(np.array([3])).texts == (lee.texts[3],)
    with pytest.raises(ValueError, match="docs must index the 10 documents"):
        corpus.subset(np.array([10]))
    with pytest.raises(ValueError, match="docs"):
        corpus.subset(np.array([1.5]))
