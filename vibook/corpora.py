"""Text corpora as padded sparse rows: gensim's Lee corpus and synthetic LDA corpora.

Nothing here touches the network: the Lee corpus ships in gensim's test data, and a synthetic corpus
is drawn from LDA itself, its true topics kept for scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vibook._checks import check_array, check_positive, check_positive_int, check_seed

__all__ = ["Corpus", "corpus_from_counts", "load_lee_corpus", "make_lda_corpus"]


@dataclass(frozen=True, eq=False)
class Corpus:
    """A bag-of-words corpus as padded sparse rows, ready for :func:`vibook.models.lda`.

    Document ``d`` holds ``counts[d, j]`` copies of word ``word_ids[d, j]``; each row lists its
    distinct words, padded with zero counts (word id 0) to the longest document's number of distinct
    words, so a minibatch is a dense (batch, slots) block, never (n_docs, n_vocab).

    Attributes
    ----------
    counts, word_ids : ndarray of shape (n_docs, n_slots)
        Word counts, zero in padding slots, and the vocabulary index of each slot (both int32).
    vocab : tuple of str
        The words, by index.
    texts : tuple of tuple of str, optional
        The tokenised documents (stop words removed), for coherence scores.
    topics, doc_topics : ndarrays of shape (n_topics, n_vocab) and (n_docs, n_topics), optional
        A synthetic corpus's true topic-word distributions and documents' topic proportions.
    """

    counts: np.ndarray
    word_ids: np.ndarray
    vocab: tuple
    texts: tuple | None = None
    topics: np.ndarray | None = None
    doc_topics: np.ndarray | None = None

    @property
    def n_docs(self) -> int:
        """Number of documents."""
        return self.counts.shape[0]

    @property
    def n_vocab(self) -> int:
        """Number of words in the vocabulary."""
        return len(self.vocab)

    @property
    def doc_lengths(self) -> np.ndarray:
        """Number of tokens in each document, array of shape (n_docs,)."""
        return self.counts.sum(axis=1)

    def subset(self, docs) -> Corpus:
        """The documents at the indices ``docs`` (a train/test split), as a new :class:`Corpus`.

        Keeps the vocabulary and the true topics; selects the texts and true proportions.
        """
        docs = check_array(docs, "docs", ndim=1, integer=True, nonnegative=True)
        if docs.size and docs.max() >= self.n_docs:
            raise ValueError(f"docs must index the {self.n_docs} documents; got {docs.max()}")
        return Corpus(
            counts=self.counts[docs],
            word_ids=self.word_ids[docs],
            vocab=self.vocab,
            texts=None if self.texts is None else tuple(self.texts[i] for i in docs),
            topics=self.topics,
            doc_topics=None if self.doc_topics is None else self.doc_topics[docs],
        )

    def to_csr(self):
        """The document-word count matrix as a ``scipy.sparse`` CSR matrix (n_docs, n_vocab)."""
        from scipy import sparse

        rows = np.repeat(np.arange(self.n_docs), self.counts.shape[1])
        keep = self.counts.ravel() > 0
        return sparse.csr_matrix(
            (self.counts.ravel()[keep], (rows[keep], self.word_ids.ravel()[keep])),
            shape=(self.n_docs, self.n_vocab),
        )

    def to_bow(self) -> list[list[tuple[int, int]]]:
        """The corpus in gensim's format: per document, a list of ``(word_id, count)``."""
        return [
            [(int(w), int(c)) for w, c in zip(wd, cd, strict=True) if c > 0]
            for wd, cd in zip(self.word_ids, self.counts, strict=True)
        ]

    def dictionary(self):
        """A ``gensim.corpora.Dictionary`` whose ids are this corpus's word indices."""
        from gensim.corpora import Dictionary

        d = Dictionary()
        d.token2id = {w: i for i, w in enumerate(self.vocab)}
        d.id2token = dict(enumerate(self.vocab))
        return d


def corpus_from_counts(counts, vocab=None, **extra) -> Corpus:
    """Build a :class:`Corpus` from a dense or ``scipy.sparse`` document-word count matrix.

    Parameters
    ----------
    counts : array_like or scipy.sparse matrix of shape (n_docs, n_vocab)
        Non-negative whole-number counts; every document must have at least one word.
    vocab : sequence of str, optional
        The words; ``w0, w1, ...`` by default.
    **extra
        Further :class:`Corpus` fields (``texts``, ``topics``, ``doc_topics``).

    Raises
    ------
    ValueError
        For negative or non-integer counts, an empty document or an empty vocabulary.
    """
    from scipy import sparse

    if sparse.issparse(counts):
        mat = sparse.csr_matrix(counts)
        if mat.shape[1] == 0:
            raise ValueError("counts must have at least one vocabulary column; got 0")
        mat.sum_duplicates()
        check_array(mat.data, "counts", integer=True, nonnegative=True, allow_empty=True)
        mat.eliminate_zeros()
    else:
        arr = check_array(counts, "counts", ndim=2, integer=True, nonnegative=True)
        if arr.shape[1] == 0:
            raise ValueError("counts must have at least one vocabulary column; got 0")
        mat = sparse.csr_matrix(arr)
    n_docs, n_vocab = mat.shape
    if vocab is None:
        vocab = tuple(f"w{i}" for i in range(n_vocab))
    vocab = tuple(str(w) for w in vocab)
    if len(vocab) != n_vocab:
        raise ValueError(f"vocab must have {n_vocab} words (one per column); got {len(vocab)}")
    nnz = np.diff(mat.indptr)
    if np.any(nnz == 0):
        raise ValueError(
            f"every document must contain at least one word; document(s) "
            f"{np.flatnonzero(nnz == 0)[:5].tolist()} are empty"
        )
    slots = int(nnz.max())
    word_ids = np.zeros((n_docs, slots), np.int32)
    padded = np.zeros((n_docs, slots), np.int32)
    cols = np.arange(mat.nnz) - np.repeat(mat.indptr[:-1], nnz)
    rows = np.repeat(np.arange(n_docs), nnz)
    word_ids[rows, cols] = mat.indices
    padded[rows, cols] = mat.data.astype(np.int64)
    return Corpus(counts=padded, word_ids=word_ids, vocab=vocab, **extra)


def load_lee_corpus(*, no_below: int = 5, no_above: float = 0.5) -> Corpus:
    """The Lee background corpus: 300 Australian news articles that ship with gensim.

    Articles are lower-cased and tokenised by gensim's ``simple_preprocess``, English stop words
    (``gensim.parsing.preprocessing.STOPWORDS``) dropped, and rare and common words removed by
    ``Dictionary.filter_extremes``. The file is gensim's test data
    (``gensim.test.utils.datapath("lee_background.cor")``, LGPL like gensim); nothing is downloaded.

    Parameters
    ----------
    no_below : int
        Keep words that occur in at least this many articles.
    no_above : float
        Keep words that occur in at most this fraction of the articles, in (0, 1].

    Returns
    -------
    Corpus
        With ``texts``, the tokenised articles (stop words removed, before the frequency filter).

    References
    ----------
    Lee, Pincombe and Welsh (2005), "An empirical evaluation of models of text document
    similarity", *Proceedings of the Cognitive Science Society* 27.
    """
    from gensim.corpora import Dictionary
    from gensim.parsing.preprocessing import STOPWORDS
    from gensim.test.utils import datapath
    from gensim.utils import simple_preprocess

    no_below = check_positive_int(no_below, "no_below")
    no_above = check_positive(no_above, "no_above")
    if no_above > 1:
        raise ValueError(f"no_above must be a fraction in (0, 1]; got {no_above}")
    with open(datapath("lee_background.cor"), encoding="utf-8") as fh:
        texts = [tuple(t for t in simple_preprocess(line) if t not in STOPWORDS) for line in fh]
    dictionary = Dictionary(texts)
    dictionary.filter_extremes(no_below=no_below, no_above=no_above, keep_n=None)
    vocab = tuple(dictionary[i] for i in range(len(dictionary)))
    if not vocab:
        raise ValueError(
            f"no word survives no_below={no_below}, no_above={no_above}; loosen the filter"
        )
    from scipy import sparse

    rows, cols, vals = [], [], []
    for d, text in enumerate(texts):
        for w, c in dictionary.doc2bow(text):
            rows.append(d)
            cols.append(w)
            vals.append(c)
    mat = sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(vocab)))
    keep = np.diff(mat.indptr) > 0
    return corpus_from_counts(
        mat[keep], vocab, texts=tuple(t for t, k in zip(texts, keep, strict=True) if k)
    )


def make_lda_corpus(
    n_docs: int,
    *,
    n_topics: int = 10,
    n_vocab: int = 1000,
    doc_length: int = 100,
    doc_topic_prior: float | None = None,
    topic_word_prior: float = 0.01,
    seed: int = 0,
) -> Corpus:
    """Draw a corpus from the LDA generative story, keeping the true topics.

    Topics are ``Dirichlet(topic_word_prior)`` over the vocabulary, each document's proportions
    ``Dirichlet(doc_topic_prior)`` over the topics; each of its ``doc_length`` tokens picks a topic
    from them, then a word from that topic (Blei, Ng and Jordan 2003).

    Parameters
    ----------
    n_docs, n_topics, n_vocab, doc_length : int
        Documents, topics ``K``, vocabulary size ``V`` and tokens per document.
    doc_topic_prior : float, optional
        Dirichlet concentration of the proportions; ``1 / n_topics`` by default.
    topic_word_prior : float
        Dirichlet concentration of the topics (small values give peaked topics).
    seed : int
        Seed of the NumPy generator.

    Returns
    -------
    Corpus
        With ``topics`` (n_topics, n_vocab) and ``doc_topics`` (n_docs, n_topics), the truth.
    """
    n_docs = check_positive_int(n_docs, "n_docs")
    k = check_positive_int(n_topics, "n_topics")
    v = check_positive_int(n_vocab, "n_vocab")
    n = check_positive_int(doc_length, "doc_length")
    alpha = (
        1.0 / k if doc_topic_prior is None else check_positive(doc_topic_prior, "doc_topic_prior")
    )
    eta = check_positive(topic_word_prior, "topic_word_prior")
    rng = np.random.default_rng(check_seed(seed))
    topics = rng.dirichlet(np.full(v, eta), size=k)
    doc_topics = rng.dirichlet(np.full(k, alpha), size=n_docs)
    # Each token: a topic, then a word, by inverse-CDF sampling (no dense (n_docs, n_vocab) matrix).
    u = rng.random((n_docs, n))
    z = (u[..., None] > np.cumsum(doc_topics, axis=1)[:, None, :]).sum(-1)
    z = np.minimum(z, k - 1)
    words = np.empty((n_docs, n), np.int64)
    cdf = np.cumsum(topics, axis=1)
    for t in range(k):
        mask = z == t
        words[mask] = np.minimum(np.searchsorted(cdf[t], rng.random(mask.sum())), v - 1)
    from scipy import sparse

    rows = np.repeat(np.arange(n_docs), n)
    mat = sparse.csr_matrix((np.ones(rows.size, np.int64), (rows, words.ravel())), (n_docs, v))
    return corpus_from_counts(mat, topics=topics, doc_topics=doc_topics)
