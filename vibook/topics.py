"""Topic models in practice: fitting LDA and reading its topics.

The model and guide are :func:`vibook.models.lda` and :func:`vibook.models.lda_guide`. Here:
k-means++ starting topics (:func:`seed_topics`), the fit (:func:`fit_lda`), and a fit's topic-word
and document-topic distributions and top words. Scoring topics is in :mod:`vibook.topic_scores`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy import sparse

from vibook._checks import (
    check_array,
    check_key,
    check_positive,
    check_positive_int,
    check_seed,
    check_subsample,
)
from vibook.infer import run_svi
from vibook.models.lda import (
    check_corpus,
    check_sizes,
    doc_concentrations,
    lda,
    lda_guide,
    lda_priors,
)

__all__ = [
    "doc_topic_proportions",
    "fit_lda",
    "seed_topics",
    "top_words",
    "topic_word_distributions",
]


def seed_topics(counts, word_ids, *, n_topics: int, n_vocab: int, seed: int = 0, sample=4000):
    """Starting topics from the data: k-means++ seeding of documents, then one k-means step.

    Documents are compared by the cosine of their count vectors. The first seed is a random
    document, each next one is drawn with probability proportional to its squared distance (one
    minus the cosine) to the nearest seed so far (Arthur and Vassilvitskii 2007). Each sampled
    document joins its nearest seed, and a topic starts as its group's smoothed word frequencies,
    which spares SVI the slow escape from merged or split topics.

    Parameters
    ----------
    counts, word_ids : array of shape (n_docs, n_slots)
        Padded sparse counts.
    n_topics, n_vocab : int
    seed : int
        Seed of the NumPy generator that picks the documents.
    sample : int
        At most this many randomly chosen documents are used.

    Returns
    -------
    ndarray of shape (n_topics, n_vocab)
        Rows are probability vectors with no zero entry.
    """
    n_topics, n_vocab = check_sizes(n_topics, n_vocab)
    counts, word_ids = check_corpus(counts, word_ids, n_vocab)
    sample = check_positive_int(sample, "sample")
    rng = np.random.default_rng(check_seed(seed))
    n_docs = counts.shape[0]
    rows = rng.choice(n_docs, size=min(sample, n_docs), replace=False)
    c, w = counts[rows], word_ids[rows]
    r = np.repeat(np.arange(len(rows)), c.shape[1])
    x = sparse.csr_matrix((c.ravel().astype(float), (r, w.ravel())), shape=(len(rows), n_vocab))
    x.sum_duplicates()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(1)).ravel())
    xn = sparse.diags(1.0 / norms) @ x
    chosen = [int(rng.integers(len(rows)))]
    best = np.asarray((xn @ xn[chosen[0]].T).todense()).ravel()
    for _ in range(1, n_topics):
        weights = np.maximum(1.0 - best, 0.0) ** 2
        total = weights.sum()
        nxt = (
            int(rng.choice(len(rows), p=weights / total))
            if total > 0
            else int(rng.integers(len(rows)))
        )
        chosen.append(nxt)
        best = np.maximum(best, np.asarray((xn @ xn[nxt].T).todense()).ravel())
    sims = np.asarray((xn @ xn[chosen].T).todense())  # (sample, n_topics)
    group = sims.argmax(1)
    topics = np.zeros((n_topics, n_vocab))
    for k in range(n_topics):
        topics[k] = np.asarray(x[group == k].sum(0)).ravel()
    topics += 1.0 / n_topics  # the Dirichlet prior's pseudo-count keeps every word possible
    return topics / topics.sum(1, keepdims=True)


def fit_lda(
    rng_key,
    counts,
    word_ids,
    *,
    n_topics: int,
    n_vocab: int,
    num_steps: int = 1000,
    subsample_size: int | None = None,
    learning_rate: float = 0.05,
    doc_topic_prior: float | None = None,
    topic_word_prior: float | None = None,
    init_scale: float = 0.1,
    local_steps: int = 20,
    init: str = "kmeans++",
    num_draws: int = 10,
    init_state=None,
    progress_bar: bool | None = None,
):
    """Fit :func:`lda` with :func:`lda_guide` by SVI (:func:`vibook.run_svi`, Adam).

    Settings that work on the corpora in :mod:`vibook.data`: one-particle ELBO and few posterior
    draws (a draw of the topics is a (n_topics, n_vocab) array). Read the returned
    :class:`vibook.SVIFit` with :func:`topic_word_distributions` and :func:`doc_topic_proportions`.

    Parameters
    ----------
    rng_key : jax.random key
        Drives the initial topics, the minibatches and the Monte Carlo ELBO.
    counts, word_ids : array of shape (n_docs, n_slots)
        Padded sparse counts and their word ids (``corpus.counts``, ``corpus.word_ids``).
    n_topics, n_vocab : int
    num_steps : int
        SVI steps, each over ``subsample_size`` documents (all of them by default).
    subsample_size : int, optional
        Documents per minibatch.
    learning_rate : float
        Adam step size.
    doc_topic_prior, topic_word_prior : float, optional
        Dirichlet concentrations ``alpha`` and ``eta`` (``1 / n_topics`` by default).
    init_scale : float
        Initial sd of the Normals of the topics in the guide.
    local_steps : int
        E-step iterations that set each document's Dirichlet in the guide.
    init : {"kmeans++", "random"}
        Start the topics from :func:`seed_topics` (seeded from ``rng_key``), or at random.
    num_draws : int
        Posterior draws kept in ``fit.posterior``; with ``subsample_size`` the draws of
        ``doc_logits`` cover one random minibatch of documents.
    init_state : SVIState, optional
        ``fit.state`` of an earlier fit on the same corpus and settings, to continue from.
    progress_bar : bool, optional
        As in :func:`vibook.run_svi`.
    """
    rng_key = check_key(rng_key)
    n_topics, n_vocab = check_sizes(n_topics, n_vocab)
    counts, word_ids = check_corpus(counts, word_ids, n_vocab)
    init_scale = check_positive(init_scale, "init_scale")
    learning_rate = check_positive(learning_rate, "learning_rate")
    subsample_size = check_subsample(subsample_size, counts.shape[0])

    local_steps = check_positive_int(local_steps, "local_steps")
    if init not in ("kmeans++", "random"):
        raise ValueError(f"init must be 'kmeans++' or 'random'; got {init!r}")
    init_topics = None
    if init == "kmeans++" and init_state is None:
        seed = int(jax.random.randint(rng_key, (), 0, 2**31 - 1))
        init_topics = seed_topics(counts, word_ids, n_topics=n_topics, n_vocab=n_vocab, seed=seed)

    def guide(*args, **kwargs):
        return lda_guide(
            *args,
            init_scale=init_scale,
            local_steps=local_steps,
            init_topics=init_topics,
            **kwargs,
        )

    return run_svi(
        rng_key,
        lda,
        jnp.asarray(counts),
        guide=guide,
        word_ids=jnp.asarray(word_ids),
        n_topics=n_topics,
        n_vocab=n_vocab,
        doc_topic_prior=doc_topic_prior,
        topic_word_prior=topic_word_prior,
        subsample_size=subsample_size,
        num_steps=num_steps,
        learning_rate=learning_rate,
        num_draws=num_draws,
        psis_draws=None,  # k-hat over every document's proportions says little
        init_state=init_state,
        progress_bar=progress_bar,
    )


def _params(fit):
    params = getattr(fit, "params", fit)
    if not isinstance(params, dict) or "topic_loc" not in params:
        raise TypeError(
            "expected a fit of lda with lda_guide (an SVIFit or its params dict); "
            f"got {type(fit).__name__}"
        )
    return params


def topic_word_distributions(fit) -> np.ndarray:
    """Each topic's distribution over words at the guide's median, ``softmax(topic_loc)``.

    Parameters
    ----------
    fit : SVIFit or dict
        A fit of :func:`lda` with :func:`lda_guide`, or its ``params``.

    Returns
    -------
    ndarray of shape (n_topics, n_vocab)
    """
    return np.asarray(jax.nn.softmax(_params(fit)["topic_loc"], axis=-1), dtype=np.float64)


def doc_topic_proportions(
    fit, counts, word_ids, *, doc_topic_prior: float | None = None, local_steps: int = 50
) -> np.ndarray:
    """Each document's topic proportions: the mean of its Dirichlet in :func:`lda_guide`.

    Parameters
    ----------
    fit : SVIFit or dict
        As in :func:`topic_word_distributions`.
    counts, word_ids : array of shape (n_docs, n_slots)
        The documents (those of the fit, or new ones).
    doc_topic_prior : float, optional
        ``alpha`` of the fit; ``1 / n_topics`` by default.
    local_steps : int
        E-step iterations.

    Returns
    -------
    ndarray of shape (n_docs, n_topics)
    """
    log_topics = jax.nn.log_softmax(_params(fit)["topic_loc"], axis=-1)
    counts, word_ids = check_corpus(counts, word_ids, log_topics.shape[1])
    alpha, _ = lda_priors(log_topics.shape[0], doc_topic_prior, None)
    local_steps = check_positive_int(local_steps, "local_steps")
    gamma = doc_concentrations(
        jnp.asarray(counts), jnp.asarray(word_ids), log_topics, alpha, local_steps
    )
    gamma = np.asarray(gamma, dtype=np.float64)
    return gamma / gamma.sum(axis=1, keepdims=True)


def top_words(topics, vocab, n: int = 10) -> list[list[str]]:
    """The ``n`` most probable words of each topic, most probable first.

    Parameters
    ----------
    topics : array of shape (n_topics, n_vocab)
        Topic-word weights (probabilities or any increasing function of them).
    vocab : sequence of str
        The words, by index.
    n : int
        Words per topic.
    """
    topics = check_array(topics, "topics", ndim=2)
    n = check_positive_int(n, "n")
    if isinstance(vocab, str | bytes) or not hasattr(vocab, "__len__"):
        raise TypeError(f"vocab must be a sequence of words; got {type(vocab).__name__}")
    if len(vocab) != topics.shape[1]:
        raise ValueError(f"vocab must have {topics.shape[1]} words; got {len(vocab)}")
    order = np.argsort(-topics, axis=1, kind="stable")[:, :n]
    return [[vocab[i] for i in row] for row in order]
