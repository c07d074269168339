"""Checkers for the exercises of notebook 02 (latent variables: Gaussian mixtures and EM).

- 02.1 (by hand): one point's responsibilities under a 1-D mixture.
- 02.2 (implement): the E-step, responsibilities of every point under a full-covariance mixture.
- 02.3 (predict, then run): how many mirror-image copies of each mode label switching makes.

The responsibility of cluster ``k`` for point ``i`` is
``r_ik = w_k N(x_i | mu_k, Sigma_k) / sum_j w_j N(x_i | mu_j, Sigma_j)``: each row of ``r``
is a probability vector over the clusters.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

from vibook._checks import check_array, check_mixture, check_positive_int, check_real
from vibook.exercises.feedback import (
    BY_HAND,
    COMPUTED,
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

__all__ = ["check_e_step", "check_label_copies", "check_point_responsibilities"]


def _responsibility_mistakes(log_lik, log_w):
    """(result, message) of each recognised mistake, for log-likelihoods of shape (n, K)."""
    log_joint = log_lik + log_w
    resp = np.exp(log_joint - logsumexp(log_joint, axis=-1, keepdims=True))
    out = [
        (
            np.exp(log_joint),
            "These are w_k N(x | mu_k, sigma_k), not yet normalised: divide by "
            "their sum over the clusters.",
        ),
        (
            np.exp(log_lik - logsumexp(log_lik, axis=-1, keepdims=True)),
            "The weights w_k are left out: each cluster's density is multiplied by its weight "
            "before normalising.",
        ),
    ]
    with np.errstate(divide="ignore"):
        out.append((np.log(resp), "These are log responsibilities: exponentiate them."))
    if resp.ndim == 2 and resp.shape[0] > 1:
        by_column = np.exp(log_joint - logsumexp(log_joint, axis=0, keepdims=True))
        out.append(
            (
                by_column,
                "Normalised over the wrong axis: each column (cluster) sums to "
                "one; each row (point) must, as a point's probabilities over the clusters.",
            )
        )
        out.append(
            (
                np.eye(resp.shape[1])[resp.argmax(-1)],
                "Hard assignments (0 or 1): the E-step keeps the soft probabilities.",
            )
        )
    else:
        out.append((resp[..., ::-1], "The clusters are in reverse order."))
    return resp, out


def _sums_to_one(got) -> str | None:
    """The message for rows that are not probability vectors, or None when they are."""
    total = got.sum(axis=-1)
    if np.allclose(total, 1.0, atol=1e-3):
        return None
    shown = fmt(total.ravel()[:3]) + (" ..." if total.size > 3 else "")
    return (
        "A point's responsibilities are a probability vector over the clusters, so they sum "
        f"to one; yours sum to {shown}."
    )


def check_point_responsibilities(answer, *, x, weights, locs, scales) -> Feedback:
    """Exercise 02.1: one point's responsibilities under a 1-D Gaussian mixture, by hand.

    Parameters
    ----------
    answer : sequence of K numbers
        ``(r_1, ..., r_K)``, the probability that each cluster made ``x``; ``None`` or ``...``
        while unanswered.
    x : float
        The point.
    weights, locs, scales : arrays of shape (K,)
        The mixture's weights (>= 0, summing to 1), means and sds (> 0).

    Returns
    -------
    Feedback
        Recognised mistakes: one number (or the wrong count), numbers that do not sum to one,
        the unnormalised products ``w_k N(x | mu_k, sigma_k)``, the weights left out, log
        responsibilities, the clusters in reverse order, variances used as sds.
    """
    x = check_real(x, "x")
    weights = check_array(weights, "weights", ndim=1, nonnegative=True).astype(np.float64)
    if not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"weights must sum to 1; got {weights.sum()}")
    k = weights.shape[0]
    locs = check_array(locs, "locs", shape=(k,)).astype(np.float64)
    scales = check_array(scales, "scales", shape=(k,)).astype(np.float64)
    if np.any(scales <= 0):
        raise ValueError(f"scales must be > 0; got {scales}")
    ex = "02.1"
    if is_stub(answer):
        return not_answered(ex, "the answer")
    got = as_numbers(answer, ex, shape=(k,), what=f"the {k} responsibilities")
    if isinstance(got, Feedback):
        return got
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    resp, mistakes = _responsibility_mistakes(norm.logpdf(x, locs, scales), log_w)
    if close(got, resp, rtol=BY_HAND, atol=1e-4):
        return right(ex, f"r = {fmt(resp)}, a probability vector over the {k} clusters.")
    variances = norm.logpdf(x, locs, scales**2) + log_w
    mistakes.append(
        (
            np.exp(variances - logsumexp(variances)),
            "The variances are used as sds: "
            "N(x | mu, sigma) takes the sd sigma, here the scales themselves.",
        )
    )
    found = first_match(got, mistakes, rtol=BY_HAND, atol=1e-4) or _sums_to_one(got)
    return wrong(
        ex,
        found
        or "Not the responsibilities: compute w_k N(x | mu_k, sigma_k) for "
        "each cluster, then divide each by their sum.",
    )


def check_e_step(func, *, x, weights, means, covariances) -> Feedback:
    """Exercise 02.2: ``func(x, weights, means, covariances)``, the E-step, implemented.

    ``func`` must return the responsibilities, an array of shape (n, K) whose row ``i`` is
    point ``i``'s probabilities over the clusters.

    Parameters
    ----------
    func : callable
        The student's function; ``None`` or ``...`` (or a function returning either) while
        unanswered.
    x : array of shape (n, d)
        The points.
    weights, means, covariances : arrays of shape (K,), (K, d), (K, d, d)
        The mixture's parameters.

    Returns
    -------
    Feedback
        Recognised mistakes: the wrong shape (the transpose too), rows that do not sum to one,
        normalised over the points instead of the clusters, unnormalised, the weights left
        out, log responsibilities, hard 0/1 assignments.
    """
    x = check_array(x, "x", ndim=2).astype(np.float64)
    weights, means, covariances, _ = check_mixture(weights, means, covariances, x.shape[1])
    ex = "02.2"
    args = (x.copy(), weights.copy(), means.copy(), covariances.copy())
    value = call_answer(func, args, ex, name="your function")
    if isinstance(value, Feedback):
        return value
    if is_stub(value):
        return not_answered(ex, "your function (it returns None)")
    n, k = x.shape[0], weights.shape[0]
    got = as_numbers(value, ex, shape=(n, k), what="the responsibilities")
    if isinstance(got, Feedback):
        return got
    components = zip(means, covariances, strict=True)
    log_lik = np.column_stack(
        [multivariate_normal(m, c).logpdf(x).reshape(n) for m, c in components]
    )
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    resp, mistakes = _responsibility_mistakes(log_lik, log_w)
    if close(got, resp, rtol=COMPUTED, atol=1e-9):
        return right(ex, f"The responsibilities of all {n} points; each row sums to one.")
    found = first_match(got, mistakes, rtol=COMPUTED, atol=1e-9) or _sums_to_one(got)
    return wrong(
        ex,
        found
        or "Not the responsibilities: for each point and cluster compute "
        "log w_k + log N(x_i | mu_k, Sigma_k), then normalise each row (logsumexp "
        "keeps it from underflowing).",
    )


def check_label_copies(answer, *, n_components) -> Feedback:
    """Exercise 02.3: predict how many copies of each mode a K-component mixture posterior has.

    Relabelling the clusters leaves the likelihood unchanged, so every ordering of the K
    labels gives a copy of each mode: K! of them (for clusters whose parameters differ).

    Parameters
    ----------
    answer : int
        The prediction; ``None`` or ``...`` while unanswered.
    n_components : int
        K, the number of clusters (>= 2).

    Returns
    -------
    Feedback
        Recognised mistakes: K itself, two (the case K = 2 generalised wrongly), 2**K, K**2,
        the pairs K (K - 1) / 2; a number that is not a whole number, a string.
    """
    k = check_positive_int(n_components, "n_components", minimum=2)
    ex = "02.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    got = as_numbers(answer, ex, shape=(), what="the prediction (a whole number)")
    if isinstance(got, Feedback):
        return got
    answer = float(got)
    if answer != round(answer):
        return wrong(ex, f"A number of copies is a whole number; got {answer}.")
    copies = math.factorial(k)
    why = (
        f"each of the {copies} orderings of {k} labels gives the same likelihood, so each mode "
        f"has {copies} mirror images ({' x '.join(map(str, range(k, 0, -1)))})."
    )
    if int(answer) == copies:
        return right(ex, f"{copies}: {why}")
    mistakes = [
        (k, f"{k} is the number of clusters, but a copy is an ordering of their labels"),
        (2, "two is the case K = 2 (swap the pair); with more clusters there are more orderings"),
        (2**k, f"2**{k} counts subsets of the clusters, not orderings"),
        (k**2, f"{k}**2 counts (cluster, label) pairs, not orderings"),
        (k * (k - 1) // 2, "that counts the swaps of two labels; chains of swaps give more"),
    ]
    hint = next((m for v, m in mistakes if v == int(answer)), None)
    lead = f"{hint}: " if hint else "Count the ways to hand out the labels: "
    return wrong(ex, f"{lead[0].upper()}{lead[1:]}{why}")
