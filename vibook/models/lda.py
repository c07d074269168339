r"""Latent Dirichlet Allocation (LDA): the model, its distributions and its guide.

A document is a bag of words drawn from a mixture of topics, each a distribution over the
vocabulary, in the document's own proportions (Blei, Ng and Jordan 2003). Token-level topic
assignments are summed out: a document's counts are multinomial in ``theta_d @ beta``.

Two choices make the fit fast and stable:

* A Dirichlet is a normalised vector of independent Gamma variables, so the model samples their
  *logarithms* (:class:`LogGamma`) and takes a softmax: exactly LDA, with every density in log
  space, where a topic's many near-zero word probabilities cannot underflow.
* Counts are padded sparse rows (:class:`vibook.corpora.Corpus`): the likelihood gathers only the
  columns of ``beta`` at each document's words, never a dense (n_docs, n_vocab) matrix;
  ``subsample_size`` fits on minibatches of documents (Hoffman et al. 2013).

References
----------
Blei, Ng and Jordan (2003), "Latent Dirichlet allocation", *JMLR* 3, 993-1022.
Hoffman, Blei and Bach (2010), "Online learning for latent Dirichlet allocation", *NeurIPS*.
Hoffman, Blei, Wang and Paisley (2013), "Stochastic variational inference", *JMLR* 14.
Srivastava and Sutton (2017), "Autoencoding variational inference for topic models", *ICLR*.

Fitting, held-out inference and scores (``fit_lda``, ``perplexity``, ``topic_recovery``, ...)
live in :mod:`vibook.topics` and :mod:`vibook.topic_scores`.
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
    check_positive,
    check_positive_int,
    check_subsample,
    is_tracer,
)

__all__ = [
    "LogGamma",
    "check_corpus",
    "check_sizes",
    "doc_concentrations",
    "lda",
    "lda_guide",
    "lda_priors",
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


def check_corpus(counts, word_ids, n_vocab):
    """Validate padded sparse counts and word ids; return them as NumPy int32 arrays."""
    n_vocab = check_positive_int(n_vocab, "n_vocab")
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


def check_sizes(n_topics, n_vocab):
    """Check the number of topics and the vocabulary size (both integers >= 1)."""
    n_topics = check_positive_int(n_topics, "n_topics")
    if isinstance(n_vocab, int) and not isinstance(n_vocab, bool) and n_vocab == 0:
        raise ValueError("n_vocab must be >= 1: the vocabulary is empty")
    n_vocab = check_positive_int(n_vocab, "n_vocab")
    return n_topics, n_vocab


def _check_observed(counts, word_ids, n_vocab):
    """Observed padded counts and word ids, checked unless traced."""
    if word_ids is None:
        raise ValueError("word_ids is required with counts (see vibook.corpora.Corpus)")
    if not (is_tracer(counts) or is_tracer(word_ids)):
        counts, word_ids = check_corpus(counts, word_ids, n_vocab)
    return counts, word_ids


def lda_priors(n_topics, doc_topic_prior, topic_word_prior):
    """The Dirichlet concentrations ``(alpha, eta)``, ``1 / n_topics`` where not given."""
    n_topics = check_positive_int(n_topics, "n_topics")
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

    .. math::
        \beta_k \sim \mathrm{Dirichlet}(\eta \mathbf{1}_V), \quad
        \theta_d \sim \mathrm{Dirichlet}(\alpha \mathbf{1}_K), \quad
        n_{d\cdot} \mid \theta_d, \beta \sim \mathrm{Multinomial}(N_d, \theta_d^\top \beta)

    The Dirichlets are softmaxes of :class:`LogGamma` sites ``topic_logits`` (n_topics, n_vocab) and
    ``doc_logits`` (n_docs, n_topics); ``topics`` and ``doc_topics`` record ``beta``, ``theta``.

    Parameters
    ----------
    counts : array of shape (n_docs, n_slots), optional
        Padded sparse counts (:class:`vibook.corpora.Corpus`); ``None`` draws whole documents from
        the prior predictive, as dense counts of shape (n_docs, n_vocab).
    word_ids : array of shape (n_docs, n_slots)
        Vocabulary index of each slot; required with ``counts``.
    n_topics, n_vocab : int
        Number of topics ``K`` and vocabulary size ``V``.
    doc_lengths : array of shape (n_docs,), optional
        Tokens per document, required when ``counts`` is None.
    doc_topic_prior, topic_word_prior : float, optional
        ``alpha`` and ``eta``; ``1 / n_topics`` by default, as in scikit-learn and gensim.
    subsample_size : int, optional
        Documents per minibatch; the likelihood is scaled by ``n_docs / subsample_size``.
    """
    n_topics, n_vocab = check_sizes(n_topics, n_vocab)
    alpha, eta = lda_priors(n_topics, doc_topic_prior, topic_word_prior)
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
def doc_concentrations(counts, word_ids, log_topics, alpha, n_iter, gamma0=None):
    """Dirichlet parameters of documents' proportions by the LDA E-step, topics held fixed.

    ``n_iter`` coordinate-ascent iterations from ``gamma0`` (each document's tokens spread evenly
    over the topics by default, or an earlier E-step's result).
    """
    # The barrier keeps XLA from fusing the computation of the topics into the gather, which would
    # redo it (a digamma, when they are E[log beta]) for every slot of every document.
    topics_t = jax.lax.optimization_barrier(jnp.exp(log_topics).T)
    beta_at_words = topics_t[word_ids]  # (docs, slots, K)
    counts = counts.astype(beta_at_words.dtype)
    n_topics = log_topics.shape[0]
    if gamma0 is None:
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

    Each topic's log-Gamma variables get independent Normals (``topic_loc``, ``topic_scale``, shape
    (n_topics, n_vocab)): each topic is logistic-normal. Each document's proportions get a Dirichlet
    whose parameters are computed, not stored: ``local_steps`` iterations of LDA's coordinate-ascent
    E-step for the minibatch's documents, topics at the guide's median (Blei et al. 2003; the local
    step of Hoffman et al. 2013), good after one visit, not many gradient steps.

    .. math::
        q(\beta, \theta) = \prod_{k,w} \mathcal{N}(y_{kw} \mid m_{kw}, s_{kw}^2)
        \prod_d \mathrm{Dirichlet}(\theta_d \mid \gamma_d),
        \quad \beta_k = \mathrm{softmax}(y_k),
        \quad \gamma_{dk} = \alpha + \sum_w n_{dw} \phi_{dwk},
        \ \phi_{dwk} \propto e^{\psi(\gamma_{dk})} \mathrm{softmax}(m_k)_w

    Takes the arguments of :func:`lda`. No gradient flows through ``gamma``: the ELBO's gradient
    moves only the topic parameters. Topic locations start at standard Normal draws (breaking the
    symmetry) or at ``log(init_topics)`` (positive, shape (n_topics, n_vocab); see
    :func:`seed_topics`); scales at ``init_scale``, kept below 3 so ``exp`` of a draw stays finite.
    """
    if counts is None:
        raise ValueError("lda_guide needs the observed counts (it fits the posterior of data)")
    n_topics, n_vocab = check_sizes(n_topics, n_vocab)
    alpha, _ = lda_priors(n_topics, doc_topic_prior, topic_word_prior)
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
        gamma = doc_concentrations(
            jnp.asarray(counts)[idx], jnp.asarray(word_ids)[idx], log_topics, alpha, local_steps
        )
        numpyro.sample("doc_logits", LogGamma(jax.lax.stop_gradient(gamma)).to_event(1))
