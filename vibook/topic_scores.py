"""Scoring topics: new documents' proportions, perplexity, coherence, similarity, recovery.

Every function takes topics as word distributions (``(n_topics, n_vocab)``, rows summing to 1) from
a vibook fit (:func:`vibook.topics.topic_word_distributions`), a peer library, or the truth of a
synthetic corpus, so any two sets of topics can be compared; NPMI coherence takes each topic's top
words instead (:func:`vibook.topics.top_words`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from vibook._checks import check_array, check_bool, check_positive, check_positive_int, check_seed
from vibook.models.lda import check_corpus, lda_priors

__all__ = [
    "completion_perplexity",
    "infer_doc_topics",
    "npmi_coherence",
    "perplexity",
    "topic_recovery",
    "topic_similarity",
]


@jax.jit
def _fit_doc_topics(counts, word_ids, topics, alpha, n_iter):
    beta_at_words = topics.T[word_ids]  # (docs, slots, K)
    theta0 = jnp.full((counts.shape[0], topics.shape[0]), 1.0 / topics.shape[0])

    def step(_, theta):
        probs = jnp.einsum("djk,dk->dj", beta_at_words, theta)
        resp = counts[..., None] * beta_at_words * theta[:, None, :] / probs[..., None]
        weights = alpha + resp.sum(axis=1)
        return weights / weights.sum(axis=1, keepdims=True)

    return jax.lax.fori_loop(0, n_iter, step, theta0)


def _check_topics(topics) -> np.ndarray:
    """Topic-word distributions: (n_topics, n_vocab), each row >= 0 and summing to 1."""
    topics = check_array(topics, "topics", ndim=2, nonnegative=True)
    sums = topics.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-3):
        raise ValueError(f"topics' rows must be word distributions summing to 1; got sums {sums}")
    return topics


def infer_doc_topics(
    counts, word_ids, topics, *, doc_topic_prior: float | None = None, n_iter: int = 100
) -> np.ndarray:
    """Topic proportions of (new) documents with the topics held fixed.

    Runs the mean-field fixed point for each document's proportions (the E-step of Blei et al. 2003
    with the given topic probabilities in place of expectations): each word's responsibilities over
    topics, summed with the prior pseudo-count ``alpha``, normalised.

    Parameters
    ----------
    counts, word_ids : array of shape (n_docs, n_slots)
        Padded sparse counts of the documents.
    topics : array of shape (n_topics, n_vocab)
        Topic-word probabilities.
    doc_topic_prior : float, optional
        ``alpha``; ``1 / n_topics`` by default.
    n_iter : int
        Fixed-point iterations.

    Returns
    -------
    ndarray of shape (n_docs, n_topics)
    """
    topics = _check_topics(topics)
    counts, word_ids = check_corpus(counts, word_ids, topics.shape[1])
    alpha, _ = lda_priors(topics.shape[0], doc_topic_prior, None)
    n_iter = check_positive_int(n_iter, "n_iter")
    topics = np.maximum(topics, np.finfo(np.float32).tiny)
    theta = _fit_doc_topics(
        jnp.asarray(counts, jnp.float32),
        jnp.asarray(word_ids),
        jnp.asarray(topics, jnp.float32),
        alpha,
        n_iter,
    )
    return np.asarray(theta, dtype=np.float64)


def perplexity(counts, word_ids, topics, doc_topics=None, **kwargs) -> float:
    r"""Per-word perplexity of documents under given topics, ``exp(-log p(words) / N)``.

    Lower is better; a model that knew nothing would score the vocabulary size. Without
    ``doc_topics`` (held-out documents) the proportions are first fitted by :func:`infer_doc_topics`
    with the topics fixed, as in scikit-learn's ``LatentDirichletAllocation.perplexity``, so it
    measures how well the topics explain new text.

    .. math::
        \mathrm{perplexity} = \exp\Big(-\frac{\sum_{d,w} n_{dw}
        \log \sum_k \theta_{dk}\beta_{kw}}{\sum_{d,w} n_{dw}}\Big)

    Parameters
    ----------
    counts, word_ids, topics
        As in :func:`infer_doc_topics`.
    doc_topics : array of shape (n_docs, n_topics), optional
        Topic proportions of the documents.
    **kwargs
        Passed to :func:`infer_doc_topics` when ``doc_topics`` is None.
    """
    topics = _check_topics(topics)
    counts, word_ids = check_corpus(counts, word_ids, topics.shape[1])
    if doc_topics is None:
        doc_topics = infer_doc_topics(counts, word_ids, topics, **kwargs)
    doc_topics = check_array(doc_topics, "doc_topics", ndim=2, nonnegative=True)
    if doc_topics.shape != (counts.shape[0], topics.shape[0]):
        raise ValueError(
            f"doc_topics must have shape {(counts.shape[0], topics.shape[0])}; "
            f"got {doc_topics.shape}"
        )
    probs = np.einsum("djk,dk->dj", topics.T[word_ids], doc_topics)
    mask = counts > 0
    log_lik = np.sum(counts[mask] * np.log(np.maximum(probs[mask], 1e-300)))
    return float(np.exp(-log_lik / counts.sum()))


def completion_perplexity(
    counts,
    word_ids,
    topics,
    *,
    observed_fraction: float = 0.5,
    seed: int = 0,
    doc_topic_prior: float | None = None,
    n_iter: int = 100,
) -> float:
    r"""Held-out perplexity by document completion: proportions from one part, scored on the rest.

    Fitting a new document's proportions on its own words and then scoring those same words
    flatters the topics (the proportions have seen the answer). Document completion (Wallach et
    al. 2009) splits each document's tokens at random: each of the ``n`` copies of a word goes to
    the observed part with probability ``observed_fraction``. The proportions are inferred from
    the observed part (:func:`infer_doc_topics`, topics fixed) and the perplexity is that of the
    other part, which they have not seen.

    Parameters
    ----------
    counts, word_ids, topics
        As in :func:`infer_doc_topics`: the held-out documents and the topics to score.
    observed_fraction : float
        Expected share of each document's tokens used to infer its proportions, in (0, 1).
    seed : int
        Seed of the random split (NumPy); the same seed gives the same split.
    doc_topic_prior, n_iter
        Passed to :func:`infer_doc_topics`.

    Returns
    -------
    float
        Perplexity of the unobserved tokens.

    References
    ----------
    Wallach, Murray, Salakhutdinov & Mimno (2009), "Evaluation methods for topic models", ICML.
    """
    topics = _check_topics(topics)
    counts, word_ids = check_corpus(counts, word_ids, topics.shape[1])
    observed_fraction = check_positive(observed_fraction, "observed_fraction")
    if not observed_fraction < 1:
        raise ValueError(f"observed_fraction must be in (0, 1); got {observed_fraction}")
    rng = np.random.default_rng(check_seed(seed))
    observed = rng.binomial(counts, observed_fraction).astype(counts.dtype)
    unseen = counts - observed
    if unseen.sum() == 0:
        raise ValueError("the split left no unobserved tokens to score; lower observed_fraction")
    doc_topics = infer_doc_topics(
        observed, word_ids, topics, doc_topic_prior=doc_topic_prior, n_iter=n_iter
    )
    return perplexity(unseen, word_ids, topics, doc_topics=doc_topics)


def topic_similarity(topics_a, topics_b) -> np.ndarray:
    """Cosine similarity of every topic of ``topics_a`` with every topic of ``topics_b``.

    Parameters
    ----------
    topics_a, topics_b : array of shape (n_a, n_vocab) and (n_b, n_vocab)
        Topics as rows over the same vocabulary: probabilities, or any nonnegative word weights.

    Returns
    -------
    ndarray of shape (n_a, n_b)
        Entry ``[i, j]`` is the cosine between ``topics_a[i]`` and ``topics_b[j]``: 1 for the same
        distribution, 0 for topics sharing no word.
    """
    return _cosine(topics_a, topics_b, ("topics_a", "topics_b"))


def _cosine(topics_a, topics_b, names):
    """:func:`topic_similarity`, its errors naming the caller's arguments ``names``."""
    a = check_array(topics_a, names[0], ndim=2, nonnegative=True)
    b = check_array(topics_b, names[1], ndim=2, nonnegative=True)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{names[1]} must have {a.shape[1]} words per topic, as {names[0]}; got {b.shape}"
        )
    for name, t in zip(names, (a, b), strict=True):
        if np.any(np.linalg.norm(t, axis=1) == 0):
            raise ValueError(f"{name} must have no all-zero topic (its cosine is undefined)")
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def topic_recovery(true_topics, topics, *, return_matching: bool = False):
    """Mean cosine similarity between true and estimated topics after the best matching.

    Topics come out in an arbitrary order (label switching), so each true topic is paired with one
    estimated topic by the assignment maximising the total cosine similarity (Hungarian algorithm);
    1 means every topic was found exactly.

    Parameters
    ----------
    true_topics : array of shape (n_topics, n_vocab)
        The known topics.
    topics : array of shape (n_estimated, n_vocab)
        Estimated topics, ``n_estimated >= n_topics``.
    return_matching : bool
        Also return, for each true topic, the index of its estimated topic.

    Returns
    -------
    float, or (float, ndarray of shape (n_topics,))
    """
    a = check_array(true_topics, "true_topics", ndim=2)
    b = check_array(topics, "topics", ndim=2)
    if a.shape[1] != b.shape[1] or b.shape[0] < a.shape[0]:
        raise ValueError(
            f"topics must have shape (>= {a.shape[0]}, {a.shape[1]}) to match true_topics; "
            f"got {b.shape}"
        )
    return_matching = check_bool(return_matching, "return_matching")
    cos = _cosine(a, b, ("true_topics", "topics"))
    rows, cols = linear_sum_assignment(-cos)
    score = float(cos[rows, cols].mean())
    return (score, cols) if return_matching else score


def npmi_coherence(topics, texts, *, topn: int = 10, per_topic: bool = False):
    """Topic coherence: mean normalised pointwise mutual information of each topic's top words.

    NPMI scores each pair of a topic's top words from -1 (never together) through 0 (independent) to
    1 (always together) in sliding windows of 10 tokens (Bouma 2009; Röder, Both and Hinneburg
    2015), with gensim's ``CoherenceModel(coherence="c_npmi")``.

    Parameters
    ----------
    topics : list of list of str
        Each topic's words, most probable first (for instance from :func:`vibook.topics.top_words`);
        only the first ``topn`` are used.
    texts : sequence of sequence of str
        The tokenised reference documents.
    topn : int
        Words per topic.
    per_topic : bool
        Return one score per topic instead of their mean.

    Returns
    -------
    float, or ndarray of shape (n_topics,)
    """
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    topn = check_positive_int(topn, "topn", minimum=2)
    per_topic = check_bool(per_topic, "per_topic")
    if not isinstance(topics, list | tuple) or not all(isinstance(t, list | tuple) for t in topics):
        raise TypeError("topics must be a list of lists of words (str)")
    topics = [list(t) for t in topics]
    if not all(isinstance(w, str) for t in topics for w in t):
        raise TypeError("topics must hold words (str)")
    if not topics or any(len(t) < topn for t in topics):
        raise ValueError(f"topics must be a non-empty list of lists of >= {topn} words")
    if isinstance(texts, str | bytes) or not hasattr(texts, "__iter__"):
        raise TypeError(f"texts must be a list of tokenised documents; got {type(texts).__name__}")
    texts = list(texts)
    if not texts or any(isinstance(t, str | bytes) or not hasattr(t, "__iter__") for t in texts):
        raise TypeError("texts must be a non-empty list of documents, each a list of str tokens")
    texts = [list(t) for t in texts]
    if not all(isinstance(w, str) for t in texts for w in t):
        raise TypeError("texts must hold str tokens; got another type in a document")
    dictionary = Dictionary(texts)
    missing = sorted({w for t in topics for w in t[:topn]} - set(dictionary.token2id))
    if missing:
        raise ValueError(f"topic words missing from texts: {missing[:5]}")
    model = CoherenceModel(
        topics=[t[:topn] for t in topics],
        texts=texts,
        dictionary=dictionary,
        coherence="c_npmi",
        topn=topn,
        processes=1,
    )
    if per_topic:
        return np.asarray(model.get_coherence_per_topic())
    return float(model.get_coherence())
