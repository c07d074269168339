r"""LDA by stochastic variational inference with natural-gradient steps (Hoffman et al. 2013).

LDA is conditionally conjugate: given each document's topic proportions, a topic's posterior is a
Dirichlet. So the guide here gives each topic a Dirichlet, ``q(beta_k) = Dirichlet(lambda_k)``, and
each document a Dirichlet, ``q(theta_d) = Dirichlet(gamma_d)``, and the ELBO's *natural* gradient
in ``lambda`` (its ordinary gradient premultiplied by the inverse Fisher information of ``q``)
comes out in closed form: the difference between ``lambda`` and the value coordinate ascent
would give it on the minibatch, the data scaled up to the whole corpus,

.. math::
    \hat\lambda_{kw} = \eta + \frac{D}{|B|} \sum_{d \in B} n_{dw}\, \phi_{dwk}, \qquad
    \lambda \leftarrow (1 - \rho_t)\, \lambda + \rho_t\, \hat\lambda, \qquad
    \rho_t = (\tau_0 + t)^{-\kappa},

with ``phi_dwk`` proportional to ``exp(E[log theta_dk] + E[log beta_kw])`` from the local E-step
(:func:`vibook.models.lda.doc_concentrations`). A step of size one on the whole corpus is a full
coordinate-ascent sweep, so the method needs tens of steps where Adam on the same ELBO
(:func:`vibook.topics.fit_lda`) needs hundreds: it is the algorithm of scikit-learn's
``LatentDirichletAllocation`` and gensim's ``LdaModel`` (Hoffman, Blei and Bach 2010), compiled
here as one XLA program.

References
----------
Hoffman, Blei and Bach (2010), "Online learning for latent Dirichlet allocation", *NeurIPS*.
Hoffman, Blei, Wang and Paisley (2013), "Stochastic variational inference", *JMLR* 14.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma

from vibook._checks import check_key, check_positive, check_positive_int, check_subsample
from vibook.models.lda import check_corpus, check_sizes, doc_concentrations, lda_priors

__all__ = ["NaturalLDAFit", "fit_lda_natural"]


@dataclass(frozen=True)
class NaturalLDAFit:
    """The result of :func:`fit_lda_natural`.

    Attributes
    ----------
    topic_concentrations : ndarray of shape (n_topics, n_vocab)
        ``lambda``: topic ``k`` is ``Dirichlet(lambda_k)`` under the fitted guide.
    params : dict
        ``{"topic_loc": log(lambda_k / sum_w lambda_kw)}``, the log of each topic's posterior mean,
        so that :func:`vibook.topics.topic_word_distributions` and
        :func:`vibook.topics.doc_topic_proportions` read this fit as they read an SVI fit.
    step_sizes : ndarray of shape (num_steps,)
        ``rho_t`` of each step.
    change : ndarray of shape (num_steps,)
        Mean absolute change of the topics' posterior means at each step (0 once converged).
    token_loglik : ndarray of shape (num_steps,)
        Each step's minibatch: mean log-probability per token at the posterior means, before
        the step (of the chosen restart).
    restart : int
        Which of the random starts went on (0 with one).
    start_scores : ndarray of shape (restarts,)
        Each start's mean log-probability per token over the last quarter pass before the
        comparison (NaN with one start): ``restart`` is the argmax.
    """

    topic_concentrations: np.ndarray
    params: dict
    step_sizes: np.ndarray
    change: np.ndarray
    token_loglik: np.ndarray
    restart: int
    start_scores: np.ndarray


def _expected_log_topics(topic_concentrations):
    r"""``E_q[log beta_kw] = psi(lambda_kw) - psi(sum_w lambda_kw)`` under Dirichlet topics."""
    lam = jnp.asarray(topic_concentrations)
    return digamma(lam) - digamma(lam.sum(-1, keepdims=True))


def _sufficient_stats(counts, word_ids, log_topics, gamma, n_vocab):
    """``sum_d n_dw phi_dwk`` of a batch, scattered into a dense (n_topics, n_vocab) array."""
    beta_at_words = jax.lax.optimization_barrier(jnp.exp(log_topics).T)[
        word_ids
    ]  # (docs, slots, K)
    weights = jnp.exp(digamma(gamma))  # exp E[log theta], up to a per-document constant
    probs = jnp.einsum("djk,dk->dj", beta_at_words, weights)
    ratio = counts / jnp.maximum(probs, jnp.finfo(probs.dtype).tiny)
    per_slot = beta_at_words * weights[:, None, :] * ratio[..., None]  # n_dw phi_dwk
    flat = per_slot.reshape(-1, per_slot.shape[-1])  # one row per (document, slot)
    return jax.ops.segment_sum(flat, word_ids.ravel(), num_segments=n_vocab).T


def _mean(x):
    return x / x.sum(-1, keepdims=True)


def _token_loglik(counts, word_ids, lam, gamma):
    """Mean log-probability per token of a batch at the posterior means of topics and mixes."""
    topics_t = jax.lax.optimization_barrier(_mean(lam).T)  # computed once, then gathered
    probs = jnp.einsum("djk,dk->dj", topics_t[word_ids], _mean(gamma))
    logs = jnp.log(jnp.maximum(probs, jnp.finfo(probs.dtype).tiny))
    return jnp.sum(counts * logs) / jnp.sum(counts)


@partial(
    jax.jit,
    static_argnames=(
        "n_topics", "n_vocab", "batch", "num_steps", "explore", "local_steps", "tau0", "kappa",
        "restarts",
    ),
)  # fmt: skip
def _fit(key, counts, word_ids, lam0, alpha, eta, *, n_topics, n_vocab, batch, num_steps,
         explore, local_steps, tau0, kappa, restarts):  # fmt: skip
    """The whole fit as one compiled program: ``num_steps`` steps, each on ``batch`` documents.

    ``lam0`` (1, n_topics, n_vocab), or None for ``restarts`` random starts: each entry 1 plus
    Normal noise of sd 0.1 (the mean and sd of scikit-learn's Gamma(100, 1/100) start). All
    starts take the first ``explore`` steps in turn, on the same minibatches, and the one
    whose last minibatches fitted best goes on.
    """
    init_key, key = jax.random.split(key)
    if lam0 is None:
        noise = jax.random.normal(init_key, (restarts, n_topics, n_vocab))
        lam0 = jnp.maximum(1.0 + 0.1 * noise, 0.01)
    n_docs = counts.shape[0]
    per_pass = n_docs // batch
    counts = counts.astype(lam0.dtype)
    # Each document's gamma is kept between visits and the E-step starts from it: a few
    # iterations then suffice where a cold start needs tens.
    gamma0 = alpha + jnp.broadcast_to(counts.sum(-1, keepdims=True) / n_topics,
                                      (n_docs, n_topics))  # fmt: skip

    def step(state, inputs):
        lam, gamma_all = state
        t, rows = inputs
        full = rows is None  # every document, in order: no gathers or scatters
        c, w = (counts, word_ids) if full else (counts[rows], word_ids[rows])
        log_topics = _expected_log_topics(lam)
        start = gamma_all if full else gamma_all[rows]
        gamma = doc_concentrations(c, w, log_topics, alpha, local_steps, start)
        stats = _sufficient_stats(c, w, log_topics, gamma, n_vocab)
        rho = (tau0 + t) ** (-kappa)
        new = (1.0 - rho) * lam + rho * (eta + (n_docs / batch) * stats)
        gamma_all = gamma if full else gamma_all.at[rows].set(gamma)
        change = jnp.mean(jnp.abs(_mean(new) - _mean(lam)))
        return (new, gamma_all), (rho, change, _token_loglik(c, w, lam, gamma))

    steps = jnp.arange(num_steps, dtype=lam0.dtype)
    if batch == n_docs:
        rows = None
    else:
        passes = -(-num_steps // per_pass)
        keys = jax.random.split(key, passes)
        order = jax.vmap(lambda k: jax.random.permutation(k, n_docs))(keys)
        rows = order[:, : per_pass * batch].reshape(passes * per_pass, batch)[:num_steps]
    if restarts == 1:  # one program loop, nothing to compare
        state, history = jax.lax.scan(step, (lam0[0], gamma0), (steps, rows))
        return state[0], history, jnp.zeros((), jnp.int32), jnp.full((1,), jnp.nan)
    first = jax.tree.map(lambda x: x[:explore], (steps, rows))
    rest = jax.tree.map(lambda x: x[explore:], (steps, rows))

    def explore_one(lam):
        return jax.lax.scan(step, (lam, gamma0), first)

    states, history = jax.lax.map(explore_one, lam0)  # one start after another
    last = max(1, min(explore, per_pass) // 4)  # the last quarter pass (one step at least)
    scores = history[2][:, -last:].mean(-1)
    best = jnp.argmax(scores)
    state, history = jax.tree.map(lambda x: x[best], (states, history))
    if num_steps > explore:
        state, more = jax.lax.scan(step, state, rest)
        history = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), history, more)
    return state[0], history, best, scores


def fit_lda_natural(
    rng_key,
    counts,
    word_ids,
    *,
    n_topics: int,
    n_vocab: int,
    num_steps: int = 50,
    subsample_size: int | None = None,
    doc_topic_prior: float | None = None,
    topic_word_prior: float | None = None,
    local_steps: int = 20,
    tau0: float = 1.0,
    kappa: float = 0.7,
    init_topics=None,
    restarts: int = 1,
    explore_steps: int | None = None,
):
    r"""Fit LDA by SVI with natural-gradient steps on Dirichlet topics (module docstring).

    Parameters
    ----------
    rng_key : jax.random key
        Drives the starting topics (when ``init_topics`` is None) and the minibatches.
    counts, word_ids : array of shape (n_docs, n_slots)
        Padded sparse counts and their word ids (``corpus.counts``, ``corpus.word_ids``).
    n_topics, n_vocab : int
    num_steps : int
        Natural-gradient steps, each on ``subsample_size`` documents (all of them by default);
        the documents are visited in a new random order each pass.
    subsample_size : int, optional
        Documents per minibatch.
    doc_topic_prior, topic_word_prior : float, optional
        Dirichlet concentrations ``alpha`` and ``eta`` (``1 / n_topics`` by default).
    local_steps : int
        E-step iterations per document per step.
    tau0, kappa : float
        Step sizes ``rho_t = (tau0 + t)^-kappa``; ``kappa`` in (0.5, 1] meets the Robbins-Monro
        conditions under which the steps converge. With ``tau0 = 1`` the first step is a full
        coordinate-ascent update (``rho_0 = 1``).
    init_topics : array of shape (n_topics, n_vocab), optional
        Starting topic-word probabilities (e.g. :func:`vibook.topics.seed_topics`); ``lambda``
        starts at ``eta`` plus these times the corpus's tokens per topic. By default
        ``lambda`` starts at 1 plus Normal noise of sd 0.1 (the mean and sd of scikit-learn's
        Gamma(100, 1/100) start).

    Returns
    -------
    NaturalLDAFit
    """
    rng_key = check_key(rng_key)
    n_topics, n_vocab = check_sizes(n_topics, n_vocab)
    counts, word_ids = check_corpus(counts, word_ids, n_vocab)
    num_steps = check_positive_int(num_steps, "num_steps")
    local_steps = check_positive_int(local_steps, "local_steps")
    n_docs = counts.shape[0]
    batch = check_subsample(subsample_size, n_docs) or n_docs
    tau0 = check_positive(tau0, "tau0")
    kappa = check_positive(kappa, "kappa")
    if not 0.5 < kappa <= 1.0:
        raise ValueError(f"kappa must be in (0.5, 1] for the steps to converge; got {kappa}")
    if tau0 < 1.0:
        raise ValueError(f"tau0 must be >= 1 so that no step is larger than one; got {tau0}")
    alpha, eta = lda_priors(n_topics, doc_topic_prior, topic_word_prior)
    restarts = check_positive_int(restarts, "restarts")
    per_pass = n_docs // batch
    if explore_steps is None:
        explore_steps = min(per_pass, num_steps)
    explore_steps = check_positive_int(explore_steps, "explore_steps")
    if explore_steps > num_steps:
        raise ValueError(f"explore_steps must be <= num_steps ({num_steps}); got {explore_steps}")
    if init_topics is None:
        lam0 = None  # drawn inside the compiled fit
    else:
        if restarts != 1:
            raise ValueError("init_topics gives one start: use restarts=1 with it")
        init_topics = np.asarray(init_topics, dtype=float)
        if init_topics.shape != (n_topics, n_vocab):
            raise ValueError(
                f"init_topics must have shape {(n_topics, n_vocab)}; got {init_topics.shape}"
            )
        if not (np.isfinite(init_topics).all() and (init_topics >= 0).all()):
            raise ValueError("init_topics must be finite and non-negative")
        rows = init_topics / init_topics.sum(1, keepdims=True)
        lam0 = jnp.asarray(eta + rows * counts.sum() / n_topics, dtype=jnp.float32)[None]
    lam, (rho, change, loglik), best, scores = _fit(
        rng_key, jnp.asarray(counts), jnp.asarray(word_ids), lam0, alpha, eta, n_topics=n_topics,
        n_vocab=n_vocab, batch=batch, num_steps=num_steps,
        explore=explore_steps if restarts > 1 else num_steps,
        local_steps=local_steps, tau0=tau0, kappa=kappa, restarts=restarts,
    )  # fmt: skip
    lam = np.asarray(lam, dtype=np.float64)
    return NaturalLDAFit(
        topic_concentrations=lam,
        params={"topic_loc": np.log(lam / lam.sum(1, keepdims=True))},
        step_sizes=np.asarray(rho),
        change=np.asarray(change),
        token_loglik=np.asarray(loglik),
        restart=int(best),
        start_scores=np.asarray(scores, dtype=np.float64),
    )
