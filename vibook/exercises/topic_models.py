r"""Checkers for the exercises of notebook 07 (topic models: LDA fitted by VI).

- 07.1 (by hand): one token's responsibilities over the topics (update 1 of LDA's CAVI).
- 07.2 (implement): the local E-step of one document, updates 1 and 2 iterated to their fixed
  point, from the document's tokens.
- 07.3 (predict, then run): what a ten times larger ``alpha`` does to the share of an article's
  two largest topics when its proportions are re-inferred with the topics held fixed.

With the topics' word probabilities :math:`\beta_{kw}` fixed and
:math:`q(\theta_d) = \mathrm{Dir}(\gamma_d)`, a token :math:`n` of word :math:`w_{dn}` and the
document's Dirichlet are updated in turn (Blei, Ng and Jordan 2003):

.. math::
    \phi_{dnk} \propto \exp\Big(\psi(\gamma_{dk}) - \psi\big(\textstyle\sum_j \gamma_{dj}\big)\Big)
    \,\beta_{k w_{dn}}, \qquad \gamma_{dk} = \alpha + \sum_n \phi_{dnk},

so :math:`\sum_k \gamma_{dk} = K\alpha + N_d`: the prior adds :math:`\alpha` pseudo-tokens to
every topic's expected count.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from vibook._checks import check_array, check_positive, check_positive_int, check_seed
from vibook.exercises.feedback import (
    BY_HAND,
    Feedback,
    as_numbers,
    call_answer,
    close,
    first_match,
    fmt,
    is_stub,
    not_answered,
    right,
    wrong,
)
from vibook.models.lda import check_corpus
from vibook.topics import doc_topic_proportions

__all__ = ["check_local_e_step", "check_token_responsibilities", "check_topic_share_prediction"]

FIXED_POINT = 1e-4  # relative tolerance of a fixed point reached by iterating (float32 passes)
SHARE_TOLERANCE = 0.1  # a prediction of the median two-topic share within this counts as right
_MAX_SWEEPS = 10_000


def _check_topics(topics):
    """Topic-word probabilities: an array of shape (K, V), rows probability vectors."""
    topics = check_array(topics, "topics", ndim=2, nonnegative=True).astype(np.float64)
    sums = topics.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-4):
        raise ValueError(
            "topics must hold one probability vector over the words per row (rows summing to "
            f"1); got row sums {fmt(sums[:3])}"
        )
    return topics


def _normalised(weights, axis=0):
    with np.errstate(divide="ignore", invalid="ignore"):
        return weights / weights.sum(axis=axis, keepdims=True)


def _sums_to_one(got, what) -> str | None:
    """The message for responsibilities that do not sum to one, or None when they do."""
    total = got.sum()
    if np.isclose(total, 1.0, atol=1e-3):
        return None
    shown = fmt(total)
    return (
        f"{what} are a probability vector over the topics, so they sum to one; yours sum "
        f"to {shown}."
    )


# ------------------------------------------------------------------------------ 07.1
def check_token_responsibilities(
    answer, *, gamma=(6.0, 2.5, 0.5), topic_probs=(0.002, 0.010, 0.030)
) -> Feedback:
    """Exercise 07.1: one token's responsibilities ``phi`` over the topics, by hand.

    Parameters
    ----------
    answer : sequence of K numbers
        ``(phi_1, ..., phi_K)``; ``None`` or ``...`` while unanswered.
    gamma : array of shape (K,)
        The document's Dirichlet parameters ``gamma_d`` (> 0).
    topic_probs : array of shape (K,)
        The token's word's probability under each topic, ``beta_kw`` (in [0, 1], not all 0).

    Returns
    -------
    Feedback
        Recognised mistakes: the wrong count of numbers, numbers that do not sum to one, the
        unnormalised products (with or without ``psi(sum gamma)``), the mean ``gamma_k / sum
        gamma`` (or ``gamma_k``) in place of ``exp(E[log theta_k])``, ``beta_kw`` left out,
        ``E[log theta]`` left out, normalised before exponentiating, log responsibilities,
        the topics in reverse order.
    """
    gamma = check_array(gamma, "gamma", ndim=1).astype(np.float64)
    if np.any(gamma <= 0):
        raise ValueError(f"gamma must be > 0 (Dirichlet parameters); got {gamma}")
    k = gamma.shape[0]
    probs = check_array(topic_probs, "topic_probs", shape=(k,), nonnegative=True)
    probs = probs.astype(np.float64)
    if np.any(probs > 1) or not np.any(probs > 0):
        raise ValueError(
            f"topic_probs must be probabilities in [0, 1], not all zero; got {fmt(probs)}"
        )
    ex = "07.1"
    what = f"the {k} responsibilities"
    if is_stub(answer):
        return not_answered(ex, "the answer")
    got = as_numbers(answer, ex, shape=(k,), what=what)
    if isinstance(got, Feedback):
        return got
    e_log = digamma(gamma) - digamma(gamma.sum())  # E[log theta_k] under Dir(gamma)
    weights = np.exp(e_log) * probs
    phi = weights / weights.sum()
    by_mean = _normalised(gamma * probs)
    if close(got, phi, rtol=BY_HAND, atol=1e-4):
        low = int(np.argmin(gamma))
        return right(
            ex,
            f"phi = {fmt(phi)}. With the mean gamma_k / sum(gamma) in place of exp(E[log "
            f"theta_k]) topic {low + 1} would get {fmt(by_mean[low])}: exp(psi(gamma_k)) = "
            f"{fmt(np.exp(digamma(gamma[low])))} is well below gamma_k = {fmt(gamma[low])}, so the "
            "update discounts a topic the document barely uses.",
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(phi)
        in_logs = _normalised(e_log + np.log(probs))
    mistakes = [
        (
            by_mean,
            "The mean gamma_k / sum(gamma) of theta_k (or gamma_k itself) is used where update 1 "
            "has exp(E[log theta_k]) = exp(psi(gamma_k) - psi(sum gamma)): take the digamma.",
        ),
        (
            weights,
            "These are exp(E[log theta_k]) beta_kw, not yet normalised: divide by their sum "
            "over the topics.",
        ),
        (
            np.exp(digamma(gamma)) * probs,
            "These are exp(psi(gamma_k)) beta_kw, not yet normalised: divide by their sum over "
            "the topics (psi(sum gamma) is the same for every k, so it cancels then).",
        ),
        (
            _normalised(np.exp(e_log)),
            "The word's probabilities beta_kw are left out: without them every word of the "
            "document would get the same responsibilities.",
        ),
        (
            _normalised(probs),
            "E[log theta_k] is left out: without the document's proportions the word would get "
            "the same responsibilities in every document.",
        ),
        (
            in_logs,
            "The logs E[log theta_k] + log beta_kw are normalised as they are: exponentiate "
            "them first, then divide by the sum.",
        ),
        (logs, "These are log responsibilities: exponentiate them."),
        (phi[::-1], "The topics are in reverse order."),
    ]
    found = first_match(got, mistakes, rtol=BY_HAND, atol=1e-4)
    found = found or _sums_to_one(got, "A token's responsibilities")
    return wrong(
        ex,
        found
        or "Not the responsibilities: multiply exp(psi(gamma_k) - psi(sum gamma)) by beta_kw "
        "for each topic, then divide each product by their sum.",
    )


# ------------------------------------------------------------------------------ 07.2
def _fixed_point(counts, beta_w, alpha, *, point=False, prior=True, sweeps=None):
    """The fixed point of updates 1-2 over distinct words; the keywords give the mistakes."""
    k = beta_w.shape[0]
    gamma = alpha + np.full(k, counts.sum() / k)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(sweeps or _MAX_SWEEPS):
            weights = gamma if point else np.exp(digamma(gamma))
            new = (alpha if prior else 0.0) + _normalised(weights[:, None] * beta_w) @ counts
            done = not np.max(np.abs(new - gamma)) > 1e-12 * (1.0 + new.max())
            gamma = new
            if done:
                break
    return gamma


def _phi(gamma, beta_w):
    return _normalised(np.exp(digamma(gamma))[:, None] * beta_w)


def check_local_e_step(func, *, counts, word_ids, topics, alpha=None) -> Feedback:
    """Exercise 07.2: ``func(tokens, topics, alpha)``, one document's local E-step, implemented.

    ``tokens`` holds the document's ``N_d`` word ids, one per token, built from ``counts`` and
    ``word_ids`` (slots with count 0 are dropped). Started from ``gamma_k = alpha + N_d / K``,
    updates 1 and 2 are iterated until ``gamma`` stops changing; ``func`` must return ``(gamma,
    phi)`` of shapes (K,) and (K, N_d), column ``n`` of ``phi`` the responsibilities of token
    ``n``. Both are compared with the fixed point to a relative ``FIXED_POINT``.

    Parameters
    ----------
    func : callable
        The student's function; ``None`` or ``...`` (or a function returning either) while
        unanswered.
    counts, word_ids : array of shape (n_slots,)
        One document in the notebook's padded sparse form: how often each slot's word occurs,
        and its vocabulary index.
    topics : array of shape (K, V)
        Topic-word probabilities, held fixed.
    alpha : float, optional
        The Dirichlet prior's concentration; ``1 / K`` by default.

    Returns
    -------
    Feedback
        ``gamma`` and ``phi`` judged each on its own. Recognised mistakes: not two parts, a
        part of the wrong shape (the transpose, or one column of ``phi`` per distinct word);
        for ``gamma``: ``E_q[theta]`` returned instead, ``alpha`` left out of update 2, the
        mean of ``theta`` used in update 1 in place of ``exp(E[log theta])``, each distinct
        word counted once, ``phi`` normalised over the tokens, one sweep only, or close but
        not yet at the fixed point; for ``phi``: not normalised, log responsibilities,
        normalised over the tokens.
    """
    counts = check_array(counts, "counts", ndim=1, integer=True, nonnegative=True)
    shape = counts.shape
    word_ids = check_array(word_ids, "word_ids", shape=shape, integer=True, nonnegative=True)
    topics = _check_topics(topics)
    k, n_vocab = topics.shape
    if word_ids.max() >= n_vocab:
        raise ValueError(f"word_ids must be < the {n_vocab} words of topics; got {word_ids.max()}")
    keep = counts > 0
    if not keep.any():
        raise ValueError("counts must hold at least one token; got only zeros")
    counts, word_ids = counts[keep].astype(np.float64), word_ids[keep].astype(np.int64)
    beta_w = topics[:, word_ids]
    if np.any(beta_w.sum(axis=0) <= 0):
        raise ValueError("topics must give each of the document's words a positive probability")
    alpha = 1.0 / k if alpha is None else check_positive(alpha, "alpha")
    slot = np.repeat(np.arange(word_ids.size), counts.astype(np.int64))
    tokens = word_ids[slot]
    n_tokens, n_words = tokens.size, word_ids.size
    ex = "07.2"
    value = call_answer(func, (tokens.copy(), topics.copy(), alpha), ex, name="your function")
    if isinstance(value, Feedback):
        return value
    if is_stub(value):
        return not_answered(ex, "your function (it returns None)")
    if isinstance(value, str | bytes | dict) or not hasattr(value, "__len__") or len(value) != 2:
        return wrong(ex, "Return two things, (gamma, phi).")
    gamma = _fixed_point(counts, beta_w, alpha)
    phi = _phi(gamma, beta_w)[:, slot]
    ones = np.ones_like(counts)
    gamma_mistakes = [
        (gamma / gamma.sum(), "this is E_q[theta] = gamma / sum(gamma): return gamma itself"),
        (
            _fixed_point(counts, beta_w, alpha, prior=False),
            "alpha is left out of update 2: gamma_k = alpha + sum_n phi_nk",
        ),
        (
            _fixed_point(counts, beta_w, alpha, point=True),
            "update 1 uses gamma_k (or the mean gamma_k / sum gamma) where it has exp(E[log "
            "theta_k]) = exp(psi(gamma_k) - psi(sum gamma)): take the digamma",
        ),
        (
            _fixed_point(ones, beta_w, alpha),
            f"each distinct word is counted once: sum phi over all {n_tokens} tokens, repeats "
            f"included, not over the {n_words} distinct words",
        ),
        (
            np.full(k, alpha + 1.0),
            "phi is normalised over the tokens, which gives every topic exactly one token: "
            "normalise each token's column over the topics",
        ),
        (
            _fixed_point(counts, beta_w, alpha, sweeps=1),
            "this is one sweep of updates 1 and 2: repeat them until gamma stops changing",
        ),
    ]
    with np.errstate(divide="ignore"):
        log_phi = np.log(phi)
    weights = np.exp(digamma(gamma))[:, None] * topics[:, tokens]
    phi_mistakes = [
        (weights, "not yet normalised: divide each column by its sum over the topics"),
        (
            weights * np.exp(-digamma(gamma.sum())),
            "not yet normalised: divide each column by its sum over the topics",
        ),
        (log_phi, "these are log responsibilities: exponentiate them"),
        (_normalised(weights, axis=1), "normalised over the tokens: each column must sum to one"),
    ]
    notes, all_right = [], True
    parts = (("gamma", (k,), gamma, gamma_mistakes), ("phi", (k, n_tokens), phi, phi_mistakes))
    for (name, want, ref, mistakes), given in zip(parts, value, strict=True):
        if name == "phi" and np.shape(given) == (k, n_words) and n_words != n_tokens:
            notes.append(
                f"phi has one column per distinct word ({n_words}); give one per token "
                f"({n_tokens}), in the order of tokens"
            )
            all_right = False
            continue
        got = as_numbers(given, ex, shape=want, what=f"the returned {name}")
        if isinstance(got, Feedback):
            said = got.message.rstrip(".")
            notes.append(said[:1].lower() + said[1:])
            all_right = False
        elif close(got, ref, rtol=FIXED_POINT, atol=1e-6):
            notes.append(f"{name} right")
        else:
            all_right = False
            said = first_match(got, mistakes, rtol=FIXED_POINT, atol=1e-6)
            if not said and name == "gamma" and close(got, ref, rtol=0.02):
                said = (
                    "close, but not yet at the fixed point: iterate until no entry of gamma "
                    "changes by more than 1e-8 from one sweep to the next"
                )
            notes.append(f"{name}: {said}" if said else f"{name} not right")
    if all_right:
        return right(
            ex,
            f"gamma = {fmt(gamma)}, so E_q[theta] = {fmt(gamma / gamma.sum())}. The {n_tokens} "
            f"tokens are only {n_words} distinct words, and tokens of the same word get the "
            "same column of phi: that is why the notebook's count form computes one per word.",
        )
    return wrong(ex, "Of your (gamma, phi): " + "; ".join(notes) + ".")


# ------------------------------------------------------------------------------ 07.3
def _median_top2(theta) -> float:
    return float(np.median(np.sort(theta, axis=1)[:, -2:].sum(axis=1)))


def check_topic_share_prediction(
    answer,
    *,
    topics,
    counts,
    word_ids,
    alpha=1.0,
    base_alpha=None,
    local_steps=50,
    seed=0,
) -> Feedback:
    """Exercise 07.3: predict the median two-topic share once ``alpha`` changes, topics fixed.

    Each document's proportions ``E_q[theta_d]`` are re-inferred with the topics held fixed
    (:func:`vibook.topics.doc_topic_proportions`, ``local_steps`` E-step sweeps) at ``alpha``;
    the share of a document is the sum of its two largest proportions, and the prediction is
    their median over the documents.

    Parameters
    ----------
    answer : float
        The predicted median share at ``alpha``; right within ``SHARE_TOLERANCE`` (0.1).
        ``None`` or ``...`` while unanswered.
    topics : array of shape (K, V)
        Topic-word probabilities (K >= 2), held fixed.
    counts, word_ids : array of shape (n_docs, n_slots)
        The documents, in padded sparse form.
    alpha : float
        The new Dirichlet concentration.
    base_alpha : float, optional
        The concentration the share is compared with; ``1 / K`` by default.
    local_steps : int
        E-step sweeps.
    seed : int
        Seed of the draws from the Dirichlet prior that give the prior's own median share.

    Returns
    -------
    Feedback
        Right or not, with the share at both concentrations and why: the pseudo-count
        estimate, the ``K alpha`` pseudo-tokens added to the expected counts found at
        ``base_alpha``, and ``phi``'s part. Recognised mistakes: a number outside [0, 1] or
        below ``2 / K``, a change in the wrong direction, no change, ``2 / K`` (proportions
        spread evenly), the prior's own median share (the data ignored).
    """
    topics = _check_topics(topics)
    k, n_vocab = topics.shape
    if k < 2:
        raise ValueError(f"topics must have at least 2 topics (rows); got {k}")
    counts, word_ids = check_corpus(counts, word_ids, n_vocab)
    alpha = check_positive(alpha, "alpha")
    base_alpha = 1.0 / k if base_alpha is None else check_positive(base_alpha, "base_alpha")
    local_steps = check_positive_int(local_steps, "local_steps")
    rng = np.random.default_rng(check_seed(seed))
    ex = "07.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    got = as_numbers(answer, ex, shape=(), what="the prediction (a share between 0 and 1)")
    if isinstance(got, Feedback):
        return got
    got = float(got)
    params = {"topic_loc": np.log(np.maximum(topics, np.finfo(np.float32).tiny))}

    def theta_at(a):
        return doc_topic_proportions(
            params, counts, word_ids, doc_topic_prior=a, local_steps=local_steps
        )

    base_theta = theta_at(base_alpha)
    share, base = _median_top2(theta_at(alpha)), _median_top2(base_theta)
    n_tokens = counts.sum(axis=1).astype(np.float64)
    pseudo = base_theta * (n_tokens + k * base_alpha)[:, None] - base_alpha + alpha
    by_pseudo = _median_top2(pseudo / pseudo.sum(axis=1, keepdims=True))
    prior = _median_top2(rng.dirichlet(np.full(k, alpha), size=20_000))
    why = (
        f"the median share is {share:.3f} at alpha = {alpha:g}, {base:.3f} at {base_alpha:g}. "
        f"gamma_dk = alpha + the expected number of the document's tokens in topic k, so the "
        f"prior adds K alpha = {k * alpha:g} pseudo-tokens spread evenly over the {k} topics, "
        f"against the median document's {np.median(n_tokens):.0f} tokens: adding them to the "
        f"expected counts found at alpha = {base_alpha:g} gives {by_pseudo:.3f}. Update 1 does "
        f"the rest, to {share:.3f}: a topic a document barely uses has gamma_k near alpha, and "
        f"exp(psi(alpha)) goes from {fmt(np.exp(digamma(base_alpha)))} at {base_alpha:g} to "
        f"{fmt(np.exp(digamma(alpha)))} at {alpha:g}, and with it the part of each word such a "
        "topic takes."
    )
    if not 0.0 <= got <= 1.0:
        return wrong(ex, f"A share of a document is between 0 and 1. It is {share:.3f}: {why}")
    if abs(got - share) <= SHARE_TOLERANCE:
        return right(ex, f"{got:.3g} is within {SHARE_TOLERANCE:g} of {share:.3f}: {why}")
    larger = alpha > base_alpha
    if got < 2.0 / k - 1e-9:
        lead = f"The two largest of {k} proportions hold at least 2/K = {2 / k:.2f}."
    elif alpha != base_alpha and ((got > base + 0.01) if larger else (got < base - 0.01)):
        lead = (
            f"A {'larger' if larger else 'smaller'} alpha {'spreads' if larger else 'concentrates'}"
            f" each document's proportions: the share {'falls' if larger else 'rises'}."
        )
    elif abs(got - base) <= 0.02:
        lead = f"That is about the share at alpha = {base_alpha:g}, as if alpha did not matter."
    elif abs(got - 2.0 / k) <= 0.05:
        lead = (
            f"That is 2/K, proportions spread evenly; the documents' words still outweigh "
            f"{k * alpha:g} pseudo-tokens."
        )
    elif abs(got - prior) <= 0.05:
        lead = (
            f"That is the prior's own median share, {prior:.3f}, from Dirichlet(alpha) draws "
            "with no data: each document's words still count."
        )
    else:
        lead = "Not quite."
    return wrong(ex, f"{lead} It is {share:.3f}: {why}")
