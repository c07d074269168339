r"""Latent Dirichlet Allocation (LDA) fitted by stochastic variational inference.

A document is a bag of words drawn from a mixture of topics: each topic is a distribution over
the vocabulary, each document has its own topic proportions (Blei, Ng and Jordan 2003). The
token-level topic assignments are summed out, so a document's word counts are multinomial with
probabilities ``theta_d @ beta`` and only the document-topic and topic-word variables remain.

Two choices make the fit fast and stable:

* A Dirichlet is a normalised vector of independent Gamma variables, so the model samples the
  *logarithms* of those Gamma variables (:class:`LogGamma`) and takes a softmax. The marginal
  model is exactly LDA, and every density is evaluated in log space, where a topic's many
  near-zero word probabilities cannot underflow. A mean-field Normal guide on these log-Gamma
  variables makes each topic and each document's proportions logistic-normal.
* Counts are kept as padded sparse rows (:class:`vibook.data.Corpus`): per document, its
  distinct words and their counts. The likelihood gathers only those columns of ``beta``,
  never a dense (n_docs, n_vocab) matrix, and ``subsample_size`` fits on minibatches of
  documents with the likelihood scaled up to the whole corpus (Hoffman et al. 2013).

References
----------
Blei, Ng and Jordan (2003), "Latent Dirichlet allocation", *JMLR* 3, 993-1022.
Hoffman, Blei and Bach (2010), "Online learning for latent Dirichlet allocation", *NeurIPS*.
Hoffman, Blei, Wang and Paisley (2013), "Stochastic variational inference", *JMLR* 14.
Srivastava and Sutton (2017), "Autoencoding variational inference for topic models", *ICLR*.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import digamma, gammaln
from numpyro.distributions import constraints

from vibook._checks import (
    check_array,
    check_key,
    check_positive,
    check_positive_int,
    check_seed,
    check_subsample,
    is_tracer,
)

__all__ = [
    "LogGamma",
    "doc_topic_proportions",
    "fit_lda",
    "infer_doc_topics",
    "lda",
    "lda_guide",
    "perplexity",
    "seed_topics",
    "top_words",
    "topic_recovery",
    "topic_word_distributions",
]


class LogGamma(dist.Distribution):
    r"""The logarithm of a ``Gamma(concentration, 1)`` variable.

    If ``y_k ~ LogGamma(a_k)`` independently then ``softmax(y) ~ Dirichlet(a)``, which lets a
    model put a Dirichlet prior on a simplex while working only with log-probabilities.

    .. math::
        \log p(y) = a y - e^{y} - \log\Gamma(a)
    """

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.real
    reparametrized_params = []

    def __init__(self, concentration, *, validate_args=None):
        self.concentration = concentration
        super().__init__(jnp.shape(concentration), validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        """Draw ``log Gamma(concentration)`` values, accurately even for tiny concentrations."""
        shape = sample_shape + self.batch_shape + self.event_shape
        return jax.random.loggamma(key, jnp.broadcast_to(self.concentration, shape), shape)

    def log_prob(self, value):
        """Log density at ``value`` (any real number)."""
        a = self.concentration
        return a * value - jnp.exp(value) - gammaln(a)


class _SparseMultinomial(dist.Distribution):
    """Multinomial counts listed sparsely: ``probs[..., j]`` is the probability of slot ``j``.

    Only ``log_prob`` is needed (the slots are the document's own words, so the counts in them
    add up to the document length); draws of whole documents use a dense ``Multinomial``.
    """

    arg_constraints = {"log_probs": constraints.real}
    support = constraints.independent(constraints.nonnegative_integer, 1)

    def __init__(self, log_probs, *, validate_args=None):
        self.log_probs = log_probs
        super().__init__(
            jnp.shape(log_probs)[:-1], jnp.shape(log_probs)[-1:], validate_args=validate_args
        )

    def sample(self, key, sample_shape=()):
        raise NotImplementedError(
            "lda draws whole documents only when counts is None (give doc_lengths)"
        )

    def log_prob(self, value):
        total = jnp.sum(value, -1)
        log_norm = gammaln(total + 1) - jnp.sum(gammaln(value + 1), -1)
        return log_norm + jnp.sum(jnp.where(value > 0, value * self.log_probs, 0.0), -1)


def _check_corpus(counts, word_ids, n_vocab):
    """Validate padded sparse counts and word ids; return them as NumPy int32 arrays."""
    counts = check_array(counts, "counts", ndim=2, integer=True, nonnegative=True)
    word_ids = check_array(word_ids, "word_ids", ndim=2, integer=True, nonnegative=True)
    if word_ids.shape != counts.shape:
        raise ValueError(
            f"word_ids must have the shape of counts {counts.shape}; got {word_ids.shape}"
        )
    if word_ids.max() >= n_vocab:
        raise ValueError(
            f"word_ids must be < n_vocab ({n_vocab}); got maximum {int(word_ids.max())}"
        )
    empty = np.flatnonzero(counts.sum(axis=1) == 0)
    if empty.size:
        raise ValueError(
            f"every document must contain at least one word; document(s) "
            f"{empty[:5].tolist()} are empty"
        )
    return counts.astype(np.int32), word_ids.astype(np.int32)


def _check_sizes(n_topics, n_vocab):
    n_topics = check_positive_int(n_topics, "n_topics")
    if isinstance(n_vocab, int) and not isinstance(n_vocab, bool) and n_vocab == 0:
        raise ValueError("n_vocab must be >= 1: the vocabulary is empty")
    n_vocab = check_positive_int(n_vocab, "n_vocab")
    return n_topics, n_vocab


def _check_observed(counts, word_ids, n_vocab):
    """Observed padded counts and word ids, checked unless traced."""
    if word_ids is None:
        raise ValueError("word_ids is required with counts (see vibook.data.Corpus)")
    if not (is_tracer(counts) or is_tracer(word_ids)):
        counts, word_ids = _check_corpus(counts, word_ids, n_vocab)
    return counts, word_ids


def _priors(n_topics, doc_topic_prior, topic_word_prior):
    alpha = 1.0 / n_topics if doc_topic_prior is None else doc_topic_prior
    eta = 1.0 / n_topics if topic_word_prior is None else topic_word_prior
    if not is_tracer(alpha):
        alpha = check_positive(alpha, "doc_topic_prior")
    if not is_tracer(eta):
        eta = check_positive(eta, "topic_word_prior")
    return alpha, eta


def lda(
    counts=None,
    *,
    word_ids=None,
    n_topics: int,
    n_vocab: int,
    doc_lengths=None,
    doc_topic_prior: float | None = None,
    topic_word_prior: float | None = None,
    subsample_size: int | None = None,
):
    r"""Latent Dirichlet Allocation with the topic of each token summed out.

    Each topic is a distribution over words and each document mixes topics in its own
    proportions; a document's counts are then multinomial in the mixed word probabilities.

    .. math::
        \beta_k \sim \mathrm{Dirichlet}(\eta \mathbf{1}_V), \quad
        \theta_d \sim \mathrm{Dirichlet}(\alpha \mathbf{1}_K), \quad
        n_{d\cdot} \mid \theta_d, \beta \sim \mathrm{Multinomial}(N_d, \theta_d^\top \beta)

    The Dirichlet draws are made as softmaxes of :class:`LogGamma` variables, sites
    ``topic_logits`` (n_topics, n_vocab) and ``doc_logits`` (n_docs, n_topics); ``topics``
    and ``doc_topics`` record ``beta`` and ``theta``.

    Parameters
    ----------
    counts : array of shape (n_docs, n_slots), optional
        Padded sparse counts (:class:`vibook.data.Corpus`): ``counts[d, j]`` copies of word
        ``word_ids[d, j]``, zero in padding slots. ``None`` draws whole documents from the
        prior predictive, as dense counts of shape (n_docs, n_vocab).
    word_ids : array of shape (n_docs, n_slots)
        Vocabulary index of each slot; required with ``counts``.
    n_topics : int
        Number of topics ``K``.
    n_vocab : int
        Vocabulary size ``V``.
    doc_lengths : array of shape (n_docs,), optional
        Tokens per document, required when ``counts`` is None.
    doc_topic_prior, topic_word_prior : float, optional
        ``alpha`` and ``eta``; ``1 / n_topics`` by default, as in scikit-learn and gensim.
    subsample_size : int, optional
        Documents per minibatch; the likelihood is scaled by ``n_docs / subsample_size``.
    """
    n_topics, n_vocab = _check_sizes(n_topics, n_vocab)
    alpha, eta = _priors(n_topics, doc_topic_prior, topic_word_prior)
    if counts is None:
        if doc_lengths is None:
            raise ValueError("give doc_lengths to draw documents when counts is None")
        if not is_tracer(doc_lengths):
            doc_lengths = check_array(
                doc_lengths, "doc_lengths", ndim=1, integer=True, nonnegative=True
            )
        n_docs = jnp.shape(doc_lengths)[0]
    else:
        counts, word_ids = _check_observed(counts, word_ids, n_vocab)
        n_docs = jnp.shape(counts)[0]
    subsample_size = check_subsample(subsample_size, n_docs)

    topic_logits = numpyro.sample(
        "topic_logits", LogGamma(jnp.full((n_topics, n_vocab), eta)).to_event(2)
    )
    log_beta = jax.nn.log_softmax(topic_logits, axis=-1)
    beta = numpyro.deterministic("topics", jnp.exp(log_beta))
    with numpyro.plate("doc", n_docs, subsample_size=subsample_size) as idx:
        doc_logits = numpyro.sample("doc_logits", LogGamma(jnp.full(n_topics, alpha)).to_event(1))
        theta = numpyro.deterministic("doc_topics", jax.nn.softmax(doc_logits, axis=-1))
        if counts is None:
            most = None if is_tracer(doc_lengths) else int(np.max(doc_lengths))
            numpyro.sample(
                "counts",
                dist.Multinomial(jnp.asarray(doc_lengths)[idx], theta @ beta, total_count_max=most),
            )
            return
        # p(word) = sum_k theta_dk beta_kw, gathered only at each document's own words.
        beta_at_words = beta.T[jnp.asarray(word_ids)[idx]]  # (batch, slots, n_topics)
        probs = jnp.einsum("bjk,bk->bj", beta_at_words, theta)
        log_probs = jnp.log(jnp.maximum(probs, jnp.finfo(probs.dtype).tiny))
        numpyro.sample("counts", _SparseMultinomial(log_probs), obs=jnp.asarray(counts)[idx])


@jax.jit
def _doc_concentrations(counts, word_ids, log_topics, alpha, n_iter):
    """Dirichlet parameters of documents' proportions by the LDA E-step, topics held fixed."""
    beta_at_words = jnp.exp(log_topics).T[word_ids]  # (docs, slots, K)
    counts = counts.astype(beta_at_words.dtype)
    n_topics = log_topics.shape[0]
    gamma0 = alpha + jnp.broadcast_to(
        counts.sum(-1, keepdims=True) / n_topics, (counts.shape[0], n_topics)
    )

    def step(_, gamma):
        # phi_dwk is proportional to exp(E[log theta_dk]) beta_kw; gamma = alpha + sum_w n_dw phi_dw
        weights = jnp.exp(digamma(gamma))
        probs = jnp.einsum("djk,dk->dj", beta_at_words, weights)
        ratio = counts / jnp.maximum(probs, jnp.finfo(probs.dtype).tiny)
        return alpha + weights * jnp.einsum("djk,dj->dk", beta_at_words, ratio)

    return jax.lax.fori_loop(0, n_iter, step, gamma0)


def lda_guide(
    counts=None,
    *,
    word_ids=None,
    n_topics: int,
    n_vocab: int,
    doc_lengths=None,
    doc_topic_prior: float | None = None,
    topic_word_prior: float | None = None,
    subsample_size: int | None = None,
    init_scale: float = 0.1,
    local_steps: int = 20,
    init_topics=None,
):
    r"""Mean-field guide for :func:`lda`: logistic-normal topics, Dirichlet proportions.

    Each topic's log-Gamma variables get independent Normals, so each topic is
    logistic-normal (a softmax of Gaussians) with parameters ``topic_loc`` and
    ``topic_scale`` of shape (n_topics, n_vocab). Each document's proportions get a Dirichlet
    whose parameters are not stored but computed, for the documents of the minibatch, by
    ``local_steps`` iterations of LDA's coordinate-ascent E-step with the topics at the guide's
    median (Blei et al. 2003; the local step of Hoffman et al. 2013's stochastic VI). A
    document's proportions are then good after one visit, instead of after many gradient
    steps on per-document parameters.

    .. math::
        q(\beta, \theta) = \prod_{k,w} \mathcal{N}(y_{kw} \mid m_{kw}, s_{kw}^2)
        \prod_d \mathrm{Dirichlet}(\theta_d \mid \gamma_d),
        \quad \beta_k = \mathrm{softmax}(y_k),
        \quad \gamma_{dk} = \alpha + \sum_w n_{dw} \phi_{dwk},
        \ \phi_{dwk} \propto e^{\psi(\gamma_{dk})} \mathrm{softmax}(m_k)_w

    ``gamma`` is held fixed (no gradient flows through it), so the ELBO's gradient moves only
    the topic parameters. The topic locations start at independent standard Normal draws
    (which breaks the symmetry between topics) and the scales at ``init_scale``; a scale is
    kept below 3, enough for any posterior and small enough that ``exp`` of a draw stays
    finite. With ``init_topics`` (array of shape (n_topics, n_vocab), positive) the topic
    locations start at its logarithm instead (see :func:`seed_topics`). Takes the arguments
    of :func:`lda`.
    """
    if counts is None:
        raise ValueError("lda_guide needs the observed counts (it fits the posterior of data)")
    n_topics, n_vocab = _check_sizes(n_topics, n_vocab)
    alpha, _ = _priors(n_topics, doc_topic_prior, topic_word_prior)
    counts, word_ids = _check_observed(counts, word_ids, n_vocab)
    n_docs = jnp.shape(counts)[0]
    subsample_size = check_subsample(subsample_size, n_docs)
    if not is_tracer(init_scale):
        init_scale = check_positive(init_scale, "init_scale")
    if not is_tracer(local_steps):
        local_steps = check_positive_int(local_steps, "local_steps")
    if init_topics is None:
        topic_loc = numpyro.param(
            "topic_loc", lambda key: jax.random.normal(key, (n_topics, n_vocab))
        )
    else:
        topic_loc = numpyro.param("topic_loc", jnp.log(jnp.asarray(init_topics)))
    topic_scale = numpyro.param(
        "topic_scale",
        jnp.full((n_topics, n_vocab), init_scale),
        constraint=constraints.interval(0.0, 3.0),
    )
    numpyro.sample("topic_logits", dist.Normal(topic_loc, topic_scale).to_event(2))
    log_topics = jax.lax.stop_gradient(jax.nn.log_softmax(topic_loc, axis=-1))
    with numpyro.plate("doc", n_docs, subsample_size=subsample_size) as idx:
        gamma = _doc_concentrations(
            jnp.asarray(counts)[idx], jnp.asarray(word_ids)[idx], log_topics, alpha, local_steps
        )
        numpyro.sample("doc_logits", LogGamma(jax.lax.stop_gradient(gamma)).to_event(1))


def seed_topics(counts, word_ids, *, n_topics: int, n_vocab: int, seed: int = 0, sample=4000):
    """Starting topics from the data: k-means++ seeding of documents, then one k-means step.

    Documents are compared by the cosine of their count vectors. The first seed is a random
    document, each next one is drawn with probability proportional to its squared distance
    (one minus the cosine) to the nearest seed so far (Arthur and Vassilvitskii 2007), which
    spreads the seeds over distinct themes. Every sampled document then joins its nearest
    seed, and a topic starts as the smoothed word frequencies of its group. Starting there
    instead of at random topics spares SVI the slow escape from merged or split topics.

    Parameters
    ----------
    counts, word_ids : array of shape (n_docs, n_slots)
        Padded sparse counts.
    n_topics, n_vocab : int
        Number of topics and vocabulary size.
    seed : int
        Seed of the NumPy generator that picks the documents.
    sample : int
        At most this many randomly chosen documents are used.

    Returns
    -------
    ndarray of shape (n_topics, n_vocab)
        Rows are probability vectors with no zero entry.
    """
    from scipy import sparse

    n_topics, n_vocab = _check_sizes(n_topics, n_vocab)
    counts, word_ids = _check_corpus(counts, word_ids, n_vocab)
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
    num_samples: int = 10,
    init_state=None,
    progress_bar: bool | None = None,
):
    """Fit :func:`lda` with :func:`lda_guide` by SVI (:func:`vibook.run_svi`, Adam).

    A thin call of ``run_svi`` with LDA's guide and settings that work on the corpora in
    :mod:`vibook.data`: one-particle ELBO, Adam, and few posterior draws (a draw of the topics
    is a (n_topics, n_vocab) array). Read the fit with :func:`topic_word_distributions` and
    :func:`doc_topic_proportions`.

    Parameters
    ----------
    rng_key : jax.random key
        Drives the initial topics, the minibatches and the Monte Carlo ELBO.
    counts, word_ids : array of shape (n_docs, n_slots)
        Padded sparse counts and their word ids (``corpus.counts``, ``corpus.word_ids``).
    n_topics, n_vocab : int
        Number of topics and vocabulary size.
    num_steps : int
        SVI steps. Each visits ``subsample_size`` documents (all of them by default).
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
        Start the topics from :func:`seed_topics` (the seed is drawn from ``rng_key``), or at
        random.
    num_samples : int
        Posterior draws kept in ``fit.posterior``; with ``subsample_size`` the draws of
        ``doc_logits`` cover one random minibatch of documents.
    init_state : SVIState, optional
        ``fit.state`` of an earlier fit on the same corpus with the same settings: the run
        continues from it.
    progress_bar : bool, optional
        As in :func:`vibook.run_svi`.

    Returns
    -------
    vibook.SVIFit
    """
    from vibook.infer import run_svi

    rng_key = check_key(rng_key)
    n_topics, n_vocab = _check_sizes(n_topics, n_vocab)
    counts, word_ids = _check_corpus(counts, word_ids, n_vocab)
    init_scale = check_positive(init_scale, "init_scale")
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
        num_samples=num_samples,
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
    """Each topic's distribution over words, at the guide's median: ``softmax(topic_loc)``.

    Parameters
    ----------
    fit : SVIFit or dict
        A fit of :func:`lda` with :func:`lda_guide`, or its ``params``.

    Returns
    -------
    ndarray of shape (n_topics, n_vocab)
        Rows sum to one.
    """
    return np.asarray(jax.nn.softmax(_params(fit)["topic_loc"], axis=-1), dtype=np.float64)


def doc_topic_proportions(
    fit, counts, word_ids, *, doc_topic_prior: float | None = None, local_steps: int = 50
) -> np.ndarray:
    """Each document's topic proportions: the mean of its Dirichlet in :func:`lda_guide`.

    Parameters
    ----------
    fit : SVIFit or dict
        A fit of :func:`lda` with :func:`lda_guide`, or its ``params``.
    counts, word_ids : array of shape (n_docs, n_slots)
        The documents (those of the fit, or new ones).
    doc_topic_prior : float, optional
        ``alpha`` of the fit; ``1 / n_topics`` by default.
    local_steps : int
        E-step iterations.

    Returns
    -------
    ndarray of shape (n_docs, n_topics)
        Rows sum to one.
    """
    log_topics = jax.nn.log_softmax(_params(fit)["topic_loc"], axis=-1)
    counts, word_ids = _check_corpus(counts, word_ids, log_topics.shape[1])
    alpha, _ = _priors(log_topics.shape[0], doc_topic_prior, None)
    local_steps = check_positive_int(local_steps, "local_steps")
    gamma = _doc_concentrations(
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
    if len(vocab) != topics.shape[1]:
        raise ValueError(f"vocab must have {topics.shape[1]} words; got {len(vocab)}")
    order = np.argsort(-topics, axis=1, kind="stable")[:, :n]
    return [[vocab[i] for i in row] for row in order]


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


def infer_doc_topics(
    counts, word_ids, topics, *, doc_topic_prior: float | None = None, n_iter: int = 100
) -> np.ndarray:
    """Topic proportions of (new) documents with the topics held fixed.

    Runs the mean-field fixed point for one document's proportions (the E-step of Blei et
    al. 2003, with expectations replaced by the given topic probabilities): each word's
    responsibility over topics, summed with the prior pseudo-count ``alpha``, normalised.

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
    topics = check_array(topics, "topics", ndim=2, nonnegative=True)
    counts, word_ids = _check_corpus(counts, word_ids, topics.shape[1])
    alpha, _ = _priors(topics.shape[0], doc_topic_prior, None)
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

    Lower is better; a model that knew nothing would score the vocabulary size. With
    ``doc_topics`` missing (held-out documents) the proportions are first fitted to each
    document by :func:`infer_doc_topics` with the topics fixed, as scikit-learn's
    ``LatentDirichletAllocation.perplexity`` does, so it measures how well the topics can
    explain new text.

    .. math::
        \mathrm{perplexity} = \exp\Big(-\frac{\sum_{d,w} n_{dw}
        \log \sum_k \theta_{dk}\beta_{kw}}{\sum_{d,w} n_{dw}}\Big)

    Parameters
    ----------
    counts, word_ids : array of shape (n_docs, n_slots)
        Padded sparse counts.
    topics : array of shape (n_topics, n_vocab)
        Topic-word probabilities.
    doc_topics : array of shape (n_docs, n_topics), optional
        Topic proportions of the documents.
    **kwargs
        Passed to :func:`infer_doc_topics` when ``doc_topics`` is None.
    """
    topics = check_array(topics, "topics", ndim=2, nonnegative=True)
    counts, word_ids = _check_corpus(counts, word_ids, topics.shape[1])
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


def topic_recovery(true_topics, topics, *, return_matching: bool = False):
    """Mean cosine similarity between true and estimated topics after the best matching.

    Topics come out in an arbitrary order (label switching), so each true topic is paired
    with one estimated topic by the assignment that maximises the total cosine similarity
    (Hungarian algorithm); 1 means every topic was found exactly.

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
    from scipy.optimize import linear_sum_assignment

    a = check_array(true_topics, "true_topics", ndim=2)
    b = check_array(topics, "topics", ndim=2)
    if a.shape[1] != b.shape[1] or b.shape[0] < a.shape[0]:
        raise ValueError(
            f"topics must have shape (>= {a.shape[0]}, {a.shape[1]}) to match true_topics; "
            f"got {b.shape}"
        )
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    cos = a @ b.T
    rows, cols = linear_sum_assignment(-cos)
    score = float(cos[rows, cols].mean())
    return (score, cols) if return_matching else score
