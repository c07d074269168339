r"""Checkers for the exercises of notebook 08 (amortised inference: the variational autoencoder).

- 08.1 (by hand): the KL term of one image's ELBO, from the encoder's ``q`` to the prior
  ``N(0, I)``, summed over the latent dimensions.
- 08.2 (implement): the importance-weighted bound from a (K, n) array of log-weights, stably.
- 08.3 (predict, then run): where the bound lands at ``K = 1000`` with the prior ``N(0, I)``
  as the proposal, against the encoder's ELBO and its own bound.

For :math:`q = \mathcal N(\mu, \mathrm{diag}\, s^2)` in :math:`L` dimensions and log-weights
:math:`\ell_k = \log p(x, z_k) - \log q(z_k)`,

.. math::
    \mathrm{KL}\big(q \,\|\, \mathcal N(0, I)\big)
    = \tfrac12 \sum_{l=1}^{L} \big(\mu_l^2 + s_l^2 - 1 - \log s_l^2\big), \qquad
    \hat{\mathcal L}_K = \log \frac1K \sum_{k=1}^K e^{\ell_k}
    = \operatorname{logsumexp}_k \ell_k - \log K .
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
from scipy.special import logsumexp

from vibook._checks import check_array, check_positive_int, check_seed
from vibook.autoencoders import encode, iwae_bounds
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

__all__ = ["check_encoder_kl", "check_iwae_estimator", "check_prior_proposal_prediction"]


def _floats(value):
    """``value`` as a float array when it is real numbers (of any shape), else None."""
    if isinstance(value, str | bytes):
        return None
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        return None
    return arr.astype(np.float64) if arr.dtype.kind in "iuf" else None


def _kl_terms(m, s):
    """Per dimension: 1/2 (m**2 + s**2 - 1 - log s**2), the KL of N(m, s**2) to N(0, 1)."""
    return 0.5 * (m**2 + s**2 - 1 - np.log(s**2))


def check_encoder_kl(answer, *, loc, scale) -> Feedback:
    """Exercise 08.1: ``KL(q || N(0, I))`` for one image's encoder output, by hand.

    Parameters
    ----------
    answer : float
        The KL in nats, summed over the latent dimensions; ``None`` or ``...`` while unanswered.
    loc, scale : array of shape (L,)
        The encoder's location ``mu`` and sd ``s`` for the image (``s > 0``).

    Returns
    -------
    Feedback
        Recognised mistakes: one number per dimension (not summed), one dimension's term
        only, the mean over the dimensions, a missing 1/2, the sign flipped, ``log s`` for
        ``log s**2``, the sd for the variance, the ``-1`` left out, the ``mu**2`` term left
        out, the forward KL ``KL(N(0, I) || q)``.
    """
    m = check_array(loc, "loc", ndim=1).astype(np.float64)
    s = check_array(scale, "scale", ndim=1).astype(np.float64)
    if s.shape != m.shape:
        raise ValueError(f"scale must have the shape of loc {m.shape}; got {s.shape}")
    if np.any(s <= 0):
        raise ValueError(f"scale must be > 0 (an sd); got minimum {s.min()}")
    ex, dims = "08.1", m.size
    what = "the KL (one number of nats)"
    if is_stub(answer):
        return not_answered(ex, what)
    per_dim = _kl_terms(m, s)
    ref = per_dim.sum()
    arr = _floats(answer)
    if arr is not None and arr.shape == (dims,) and dims > 1:
        if np.all(np.isfinite(arr)) and close(arr, per_dim, rtol=BY_HAND, atol=1e-4):
            return wrong(
                ex,
                f"One number per dimension: q's factors are independent, so the KL is their "
                f"sum over the {dims} dimensions, {fmt(ref)} nats.",
            )
    got = as_numbers(answer, ex, shape=(), what=what)
    if isinstance(got, Feedback):
        return got
    log_term = -0.5 * np.log(s**2).sum()
    if close(got, ref, rtol=BY_HAND, atol=1e-4):
        return right(
            ex,
            f"KL = {fmt(ref)} nats, summed over the {dims} dimensions. With sds {fmt(s)} the "
            f"-log s**2 terms, halved, give {fmt(log_term)}: each half is log(1/s), so "
            "pinning a code down to an sd e times narrower than the prior's 1 costs one nat "
            "per dimension. The ELBO subtracts this from the reconstruction term.",
        )
    forward = 0.5 * ((1 + m**2) / s**2 - 1 + np.log(s**2)).sum()
    mistakes = [
        *(
            (v, f"That is dimension {i + 1}'s term only: sum over all {dims}.")
            for i, v in enumerate(per_dim)
        ),
        (
            ref / dims,
            f"That is the mean over the {dims} dimensions: the KL of independent "
            "factors is the sum of theirs.",
        ),
        (2 * ref, "It is twice the KL: the factor 1/2 in front is missing."),
        (-ref, "The sign is flipped: a KL divergence is never negative."),
        (
            (0.5 * (m**2 + s**2 - 1 - np.log(s))).sum(),
            "log s is used where log s**2 goes (log s**2 = 2 log s).",
        ),
        (
            (0.5 * (m**2 + s - 1 - np.log(s**2))).sum(),
            "The sd s is used where the variance s**2 goes.",
        ),
        (ref + dims / 2, "The -1 of each dimension is left out."),
        (
            (0.5 * (s**2 - 1 - np.log(s**2))).sum(),
            "The mu**2 term is left out: a code mean away from 0 costs mu**2 / 2 nats.",
        ),
        (
            forward,
            "That is the forward KL, KL(N(0, I) || q): the ELBO's term is KL(q || p), "
            "the expectation under q.",
        ),
    ]
    found = first_match(got, mistakes, rtol=BY_HAND, atol=1e-4)
    return wrong(
        ex,
        found
        or f"Not the KL: add up 1/2 (mu**2 + s**2 - 1 - log s**2) over the {dims} dimensions.",
    )


def _log_weights(num_draws, n_images, seed):
    """Log-weights of the size images give (hundreds of nats from 0, both signs): (K, n)."""
    rng = np.random.default_rng(seed)
    sign = np.where(np.arange(n_images) % 2 == 0, 1.0, -1.0)
    offset = sign * rng.uniform(700.0, 1000.0, size=n_images)
    spread = rng.uniform(0.5, 4.0, size=n_images)  # sd of the log-weights, image by image
    return offset + spread * rng.standard_normal((num_draws, n_images))


def check_iwae_estimator(func, *, num_draws=50, n_images=8, seed=0) -> Feedback:
    """Exercise 08.2: ``func(log_w)``, the importance-weighted bound per image, implemented.

    ``log_w`` holds ``log p(x_i, z_k) - log q(z_k | x_i)`` for ``K = num_draws`` draws (rows)
    of ``n = n_images`` images (columns); ``func`` must return ``log (1/K) sum_k exp(log_w)``
    per image, shape (n,). The checker makes ``log_w`` itself (seeded by ``seed``), hundreds of
    nats from 0 on both sides, where ``exp`` overflows or underflows in float64.

    Parameters
    ----------
    func : callable
        The student's function; ``None`` or ``...`` (or a function returning either) while
        unanswered.
    num_draws : int
        ``K``, at least 2.
    n_images : int
        ``n``, at least 2 and other than ``num_draws`` (so the two axes cannot be confused).
    seed : int
        Seed of the log-weights.

    Returns
    -------
    Feedback
        Recognised mistakes: an infinity or NaN (``exp`` overflowed or underflowed: no
        logsumexp), the reduction over the images (axis 1), the mean of the log-weights (the
        ELBO's estimate), the log of the sum (``- log K`` missing), the log divided by ``K``,
        the largest log-weight (with or without ``- log K``), the largest log-weight
        subtracted and not added back.
    """
    k = check_positive_int(num_draws, "num_draws", minimum=2)
    n = check_positive_int(n_images, "n_images", minimum=2)
    if n == k:
        raise ValueError(f"n_images must differ from num_draws ({k}), so that the axes differ")
    log_w = _log_weights(k, n, check_seed(seed))
    ex = "08.2"
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # overflow in a naive exp is reported below instead
        value = call_answer(func, (log_w.copy(),), ex, name="your function")
    if isinstance(value, Feedback):
        return value
    if is_stub(value):
        return not_answered(ex, "your function (it returns None)")
    ref = logsumexp(log_w, axis=0) - np.log(k)
    arr = _floats(value)
    if arr is not None and arr.shape == (n,) and not np.all(np.isfinite(arr)):
        return wrong(
            ex,
            f"Your bound holds {fmt(arr)}: in float64 exp(log_w) overflows to inf above about 709 "
            "nats and underflows to 0 below about -745 (in float32, JAX's default, above about "
            "88.7 and below about -103). Subtract each image's largest log-weight "
            "before exp and add it back after the log (that is logsumexp: "
            "scipy.special.logsumexp(log_w, axis=0)).",
        )
    if arr is not None and arr.shape == (k,):
        across = logsumexp(log_w, axis=1) - np.log(n)
        if close(arr, across, rtol=COMPUTED, atol=1e-6):
            return wrong(
                ex,
                "That reduces over the images (axis 1): the draws are the rows, "
                "so reduce over axis 0, one bound per image.",
            )
    got = as_numbers(value, ex, shape=(n,), what="your bound (one number per image)")
    if isinstance(got, Feedback):
        return got
    if close(got, ref, rtol=COMPUTED, atol=1e-6):
        elbo = log_w.mean(axis=0)
        return right(
            ex,
            f"On these {n} images the bound is {fmt((ref - elbo).mean())} nats above the mean "
            f"log-weight (the ELBO's estimate) and {fmt((log_w.max(0) - ref).mean())} below the "
            f"largest log-weight, on average: with logsumexp it is exact even where "
            "exp(log_w) itself is out of float64's range.",
        )
    top = log_w.max(axis=0)
    mistakes = [
        (
            log_w.mean(axis=0),
            "That is the mean of the log-weights, the ELBO's estimate: the "
            "bound takes the mean of the weights, then the log.",
        ),
        (ref + np.log(k), "That is the log of the sum: subtract log K to make it the mean."),
        (
            logsumexp(log_w, axis=0) / k,
            "The log is divided by K: the 1/K goes inside the log, so subtract log K.",
        ),
        (
            top,
            "That is the largest log-weight: logsumexp starts from it, then adds "
            "log sum_k exp(log_w - max), and the mean subtracts log K.",
        ),
        (
            top - np.log(k),
            "That is the largest log-weight minus log K: the other weights add "
            "log sum_k exp(log_w - max) to it.",
        ),
        (
            ref - top,
            "The largest log-weight was subtracted before exp but not added back after the log.",
        ),
    ]
    found = first_match(got, mistakes, rtol=COMPUTED, atol=1e-6)
    return wrong(ex, found or "Not the bound: log (1/K) sum_k exp(log_w), over the draws (axis 0).")


_CHOICES = {
    "below": "below the encoder's ELBO (its L_1)",
    "between": "between the encoder's ELBO and its L_K",
    "above": "above the encoder's L_K",
}


def check_prior_proposal_prediction(answer, *, fit, x, num_draws=1000, seed=5) -> Feedback:
    """Exercise 08.3: predict where the bound ``L_K`` with the prior as proposal lands.

    The proposal is ``N(0, I)`` for every image (so the weights are ``p(x | z_k)``); ``L_K``
    with ``K = num_draws``, averaged over the images, is compared with the encoder's ``L_1``
    (its ELBO) and ``L_K``, all from :func:`vibook.autoencoders.iwae_bounds` with the key
    ``jax.random.key(seed)``.

    Parameters
    ----------
    answer : {"below", "between", "above"}
        Below the encoder's ELBO, between its ELBO and its ``L_K``, or above its ``L_K``;
        ``None`` or ``...`` while unanswered.
    fit : VAEFit
        The fitted VAE.
    x : array of shape (n, D)
        The images.
    num_draws : int
        ``K``, at least 2.
    seed : int
        Seed of the draws' key.

    Returns
    -------
    Feedback
        Right or not, with the three numbers and why: ``L_K`` averages the weights before
        the log, so a few draws near the code are enough, and the prior's draws cover the
        plane while the encoder's narrow ``q`` can miss. A string that is none of the three
        choices, or anything else, is told the choices.
    """
    loc, scale = encode(fit, x)  # checks fit and x
    k = check_positive_int(num_draws, "num_draws", minimum=2)
    key = jax.random.key(check_seed(seed))
    ex = "08.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    said = answer.strip().lower() if isinstance(answer, str) else None
    if said not in _CHOICES:
        return wrong(ex, f"Answer 'below', 'between' or 'above' (a string); got {answer!r}.")
    enc = iwae_bounds(key, fit, x, [1, k]).mean(axis=1)
    pri = iwae_bounds(key, fit, x, [1, k], loc=np.zeros_like(loc), scale=np.ones_like(scale))
    pri = pri.mean(axis=1)
    truth = "below" if pri[1] < enc[0] else "between" if pri[1] < enc[1] else "above"
    numbers = (
        f"With the prior as proposal L_1 = {pri[0]:.1f} and L_{k} = {pri[1]:.1f} nats per image "
        f"(mean over the {len(x)} images); the encoder's ELBO is {enc[0]:.1f} and its L_{k} "
        f"{enc[1]:.1f}. So it lands {_CHOICES[truth].replace('L_K', f'L_{k}')}."
    )
    if truth == "between":
        why = (
            "Averaging the weights before the log lets a few prior draws near each code carry "
            "the bound past the encoder's ELBO, but the encoder's draws, all near the code, "
            f"still do better at K = {k}."
        )
    elif truth == "below":
        why = (
            f"Too few of the {k} codes drawn from the prior decode to anything like each image: "
            "the prior spreads its draws where the posterior has almost no mass."
        )
    else:
        why = (
            "L_K averages the weights before taking the log, so the many prior draws that "
            "decode to another digit cost only about the log of the fraction that land near the "
            "image's code, and in two dimensions enough of the prior's draws do. The encoder's q "
            f"is narrow (median sd {np.median(scale):.2g}) and, as the amortisation gap showed, "
            "not always in the right place, so its draws can all miss where the posterior's mass "
            "is. The ELBO rewards a q that sits narrowly on one spot; importance weighting "
            "rewards a proposal that covers the posterior, however loosely."
        )
    if said == truth:
        return right(ex, f"{numbers} {why}")
    return wrong(ex, f"Not {said}. {numbers} {why}")
