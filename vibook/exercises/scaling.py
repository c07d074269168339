r"""Checkers for the exercises of notebook 13 (scaling up: minibatches).

- 13.1 (by hand): the minibatch scale factor ``n / B``, and with it the estimates of the
  full-data log-likelihood and of the ELBO from one batch.
- 13.2 (implement): the minibatch estimate of the logistic regression's full-data
  log-likelihood at given weights, from a batch the checker draws.
- 13.3 (predict, then run): how the sd of that estimate changes when the data grow four-fold
  and the batch stays at ``B`` rows.

A batch of ``B`` row indices :math:`I_1, \dots, I_B` drawn uniformly with replacement from
``n`` rows (as the notebook's minibatches are) gives the unbiased estimate

.. math::
    \widehat{L} = \frac{n}{B} \sum_{j=1}^{B} \ell_{I_j}, \qquad
    E[\widehat L] = \frac nB \, B \, \frac1n \sum_{i=1}^n \ell_i = \sum_{i=1}^n \ell_i, \qquad
    \mathrm{sd}(\widehat L) = \frac{n\,\sigma_\ell}{\sqrt B},

where :math:`\ell_i = \log p(y_i \mid x_i, w, b) = -\log(1 + e^{-s_i (x_i^\top w + b)})`,
:math:`s_i = 2 y_i - 1`, and :math:`\sigma_\ell` is the sd of the :math:`\ell_i` over the
``n`` rows. In the ELBO only the likelihood term is scaled:
:math:`\widehat{\mathrm{ELBO}} = \widehat L - \mathrm{KL}(q \,\|\, p)`, for a draw of ``q``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit

from vibook._checks import (
    check_array,
    check_positive_int,
    check_real,
    check_seed,
    check_subsample,
)
from vibook.exercises.feedback import (
    Feedback,
    as_numbers,
    call_answer,
    close,
    explain,
    first_match,
    fmt,
    is_stub,
    not_answered,
    right,
    which_right,
    wrong,
)

__all__ = ["check_minibatch_loglik", "check_minibatch_noise_prediction", "check_minibatch_scale"]

EXACT = 1e-6  # relative tolerance of 13.1: Python as a calculator, so nothing is rounded
COMPUTED = 1e-5  # relative tolerance of a function's output (float32 arithmetic passes)
PREDICTED = 0.1  # relative tolerance of the prediction in 13.3


def _check_batch(batch_size, n: int) -> int:
    """A batch size: an integer in 1..n (None, the full batch, is not one)."""
    return check_subsample(check_positive_int(batch_size, "batch_size"), n, "batch_size")


def check_minibatch_scale(
    answer, *, n=1_000_000, batch_size=500, batch_sum=-293.1, kl=34.9
) -> Feedback:
    """Exercise 13.1: ``(n / B, the estimate of the log-likelihood, of the ELBO)``, by hand.

    Parameters
    ----------
    answer : sequence of 3 numbers
        The scale factor ``n / B``, the minibatch estimate ``(n / B) * batch_sum`` of the
        full-data log-likelihood, and the estimate of the ELBO, that minus ``kl``; ``None`` or
        ``...`` while unanswered.
    n : int
        Rows of data.
    batch_size : int
        ``B``, rows in the batch (at most ``n``).
    batch_sum : float
        The sum of the batch's per-row log-likelihoods (<= 0: log-probabilities of labels).
    kl : float
        ``KL(q || p)`` of the guide from the prior, in nats (>= 0).

    Returns
    -------
    Feedback
        Recognised mistakes: the scale inverted (``B / n``), the scale left out (the batch's
        own sum), ``n`` for ``n / B``, the average per row for the full-data sum, the KL
        scaled by ``n / B`` along with the likelihood, the KL left out or added, the negative
        ELBO (the loss); otherwise which of the three numbers are right.
    """
    n = check_positive_int(n, "n")
    b = _check_batch(batch_size, n)
    s = check_real(batch_sum, "batch_sum")
    if s > 0:
        raise ValueError(f"batch_sum must be <= 0 (a sum of log-probabilities); got {s}")
    kl = check_real(kl, "kl")
    if kl < 0:
        raise ValueError(f"kl must be >= 0 (a KL divergence); got {kl}")
    ex = "13.1"
    what = "the answer (n / B, log-likelihood estimate, ELBO estimate)"
    if is_stub(answer):
        return not_answered(ex, what)
    got = as_numbers(answer, ex, shape=(3,), what=what)
    if isinstance(got, Feedback):
        return got
    scale = n / b
    est = scale * s
    ref = np.array([scale, est, est - kl])
    if close(got, ref, rtol=EXACT, atol=1e-9):
        return right(
            ex,
            f"Each of the {b} rows stands for {fmt(scale)} of the {n:,}: the estimate is "
            f"{est:,.1f} and the ELBO {est - kl:,.1f}. The KL, {fmt(kl)} nats, is "
            f"{kl / abs(est - kl):.4%} of the ELBO's magnitude; scaled by n / B by mistake it "
            f"would be {scale * kl:,.1f}.",
        )
    mistakes = [
        (
            [b / n, s * b / n, s * b / n - kl],
            "The scale is inverted: the batch is B / n of the data, so each of its rows "
            "stands for n / B rows; multiply by n / B.",
        ),
        (
            [scale, s, s - kl],
            "The scale is not applied: the batch's own sum is the log-likelihood of B rows; "
            "times n / B it estimates the sum over all n.",
        ),
        ([1.0, s, s - kl], "The scale is left out: it is n / B, not 1."),
        (
            [n, n * s, n * s - kl],
            "That scales by n: the batch already sums B rows, so the factor is n / B.",
        ),
        (
            [scale, s / b, s / b - kl],
            "That is the average log-likelihood per row of the batch; the full-data "
            "log-likelihood is a sum over the n rows: n times the average, (n / B) times the sum.",
        ),
        (
            [scale, est, scale * (s - kl)],
            "The KL is scaled too: it is one term for the whole data set, not a sum over the "
            "rows, so only the likelihood term gets n / B.",
        ),
        ([scale, est, est], "The ELBO leaves out the KL: ELBO = E_q[log p(y | w)] - KL(q || p)."),
        ([scale, est, est + kl], "The KL is added: the ELBO subtracts it."),
        ([scale, est, kl - est], "That is the negative ELBO, the loss SVI minimises."),
    ]
    found = explain(got, ref, mistakes, rtol=EXACT, atol=1e-9)
    if found:
        return wrong(ex, found)
    flags = [close(g, r, rtol=EXACT, atol=1e-9) for g, r in zip(got, ref, strict=True)]
    return wrong(
        ex,
        f"{which_right(('n / B', 'the log-likelihood estimate', 'the ELBO'), flags)}: "
        "the estimate is (n / B) times the batch's sum, the ELBO that minus the KL "
        "(compute them in Python: the check wants six significant figures).",
    )


def _check_logistic(x, y, w, b):
    """Checked ``x`` (n, d), labels ``y`` (n,), weights ``w`` (d,) and bias ``b``."""
    x = check_array(x, "x", ndim=2)
    y = check_array(y, "y", ndim=1, integer=True, nonnegative=True)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y must have one label per row of x ({x.shape[0]}); got {y.shape}")
    if y.max() > 1:
        raise ValueError(f"y must hold labels 0 or 1; got maximum {y.max()}")
    w = check_array(w, "w", ndim=1).astype(np.float64)
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"w must have one weight per column of x ({x.shape[1]}); got {w.shape}")
    return x, y, w, check_real(b, "b")


def _per_row(x, y, w, b):
    """Each row's log p(y_i | x_i, w, b), in float64."""
    eta = np.asarray(x, np.float64) @ w + b
    return log_expit((2.0 * np.asarray(y, np.float64) - 1.0) * eta)


def _batch_mistakes(xb, yb, w, b, n):
    """What each recognised mistake gives on one batch, and what to say."""
    ll = _per_row(xb, yb, w, b)
    k = len(yb)
    scale = n / k
    eta = np.asarray(xb, np.float64) @ w + b
    return [
        (
            ll.sum(),
            "The scale n / B is missing: that is the batch's own log-likelihood, B rows' "
            "worth; times n / B it estimates the sum over all n rows.",
        ),
        (
            ll.mean(),
            "That is the average per row of the batch: the full-data log-likelihood is a sum "
            "over n rows, n times that average.",
        ),
        (
            -scale * ll.sum(),
            "The sign is flipped: that is the negative log-likelihood, a loss.",
        ),
        (ll.sum() / scale, "The scale is inverted: multiply by n / B, not B / n."),
        (n * ll.sum(), "Scaled by n: the batch already sums B rows, so scale by n / B."),
        (
            scale * _per_row(xb, yb, w, 0.0).sum(),
            "The bias b is left out of the log-odds x_i w + b.",
        ),
        (
            scale * _per_row(xb, 1 - yb, w, b).sum(),
            "The labels are flipped: log p(y_i = 1) = log sigmoid(eta_i) belongs to the rows "
            "with y_i = 1.",
        ),
        (
            scale * log_expit(eta).sum(),
            "Every label is taken as 1: use log sigmoid(-eta_i) where y_i = 0.",
        ),
        (
            scale * np.exp(ll).sum(),
            "Those are probabilities, not log-probabilities: sum the logs.",
        ),
    ]


def check_minibatch_loglik(
    func, *, x, y, w, b, batch_size=500, num_batches=200, seed=0
) -> Feedback:
    """Exercise 13.2: ``func(x_batch, y_batch, w, b, n)``, the minibatch log-likelihood estimate.

    ``func`` must return ``(n / B) * sum_j log p(y_j | x_j, w, b)`` over the ``B`` rows of the
    batch it is given, one number. The checker draws ``num_batches`` batches of
    ``batch_size`` rows, uniformly with replacement, from a NumPy generator seeded with
    ``seed``, compares ``func``'s value on each with the same formula on the same batch, then
    the average of its values with the full-data sum, and tries one batch of another size.

    Parameters
    ----------
    func : callable
        The student's function; ``None`` or ``...`` (or a function returning either) while
        unanswered.
    x : array of shape (n, d)
        The inputs.
    y : array of shape (n,)
        The labels, 0 or 1.
    w : array of shape (d,)
        The weights.
    b : float
        The bias.
    batch_size : int
        ``B``, rows per batch (at most ``n``).
    num_batches : int
        Batches drawn.
    seed : int
        Seed of the batches.

    Returns
    -------
    Feedback
        Recognised mistakes: one number per row instead of their scaled sum, the scale
        ``n / B`` left out, the average per row, the sign flipped (the loss), the scale
        inverted, ``n`` for ``n / B``, the bias left out, the labels flipped or all taken as
        1, probabilities for log-probabilities, the batch size fixed instead of read from
        the batch, a value that changes from call to call. Any other wrong answer is told
        whether its average over the batches is within 4 standard errors of the full-data
        sum. A right answer is told how far that average is, and one batch's sd.
    """
    x, y, w, b = _check_logistic(x, y, w, b)
    n = x.shape[0]
    k = _check_batch(batch_size, n)
    num_batches = check_positive_int(num_batches, "num_batches", minimum=2)
    rng = np.random.default_rng(check_seed(seed))
    idx = rng.integers(0, n, size=(num_batches, k))
    ex = "13.2"
    ll = _per_row(x, y, w, b)
    full = ll.sum()
    refs = n / k * ll[idx].sum(axis=1)

    def value_on(rows):
        args = (x[rows].copy(), y[rows].copy(), w.copy(), b, n)
        out = call_answer(func, args, ex, name="your function")
        if isinstance(out, Feedback) or is_stub(out):
            return out
        try:
            shape = None if isinstance(out, str | bytes) else np.shape(out)
        except ValueError:  # a ragged list
            shape = None
        if shape == (len(rows),):
            return wrong(ex, "One number per row: sum them, and scale the sum by n / B.")
        got = as_numbers(out, ex, shape=(), what="your estimate (one number)")
        return got if isinstance(got, Feedback) else float(got)

    first = value_on(idx[0])
    if is_stub(first):
        return not_answered(ex, "your function (it returns None)")
    if isinstance(first, Feedback):
        return first
    if not close(first, refs[0], rtol=COMPUTED):
        found = first_match(first, _batch_mistakes(x[idx[0]], y[idx[0]], w, b, n), rtol=COMPUTED)
        if found:
            return wrong(ex, found)
        said = (
            f"On the first batch (n / B) times the sum of log p(y_j | x_j, w, b) is "
            f"{refs[0]:,.1f}; yours is {first:,.1f}."
        )
        values = [first] + [value_on(r) for r in idx[1:]]
        if any(isinstance(v, Feedback) or is_stub(v) for v in values):
            return wrong(ex, said)
        values = np.array(values)
        gap, se = abs(values.mean() - full), values.std(ddof=1) / np.sqrt(num_batches)
        unbiased = gap <= 4 * se
        verdict = (
            "so on average it matches, but it is not (n / B) times each batch's sum"
            if unbiased
            else "so it is biased"
        )
        apart = f"{gap / se:.1f} standard errors apart" if se > 0 else "with no spread at all"
        return wrong(
            ex,
            f"{said} Averaged over the {num_batches} batches yours give {values.mean():,.1f}, "
            f"the full-data sum is {full:,.1f}: {apart}, {verdict}.",
        )
    values = [first]
    for j, rows in enumerate(idx[1:], start=2):
        value = value_on(rows)
        if is_stub(value) or isinstance(value, Feedback):
            said = getattr(value, "message", "it returns None")
            return wrong(ex, f"Right on the first batch, but on batch {j}: {said}")
        if not close(value, refs[j - 1], rtol=COMPUTED):
            return wrong(
                ex,
                f"Right on the first batch but not on batch {j} ({value:,.1f} for "
                f"{refs[j - 1]:,.1f}): compute from the batch you are given, nothing else.",
            )
        values.append(value)
    other = k // 5 if k >= 5 else k + 1  # a batch of another size: is B read from it?
    rows = rng.integers(0, n, size=other)
    value = value_on(rows)
    ref_other = n / other * ll[rows].sum()
    if isinstance(value, Feedback):
        return wrong(ex, f"Right on batches of {k} rows, but on one of {other}: {value.message}")
    if is_stub(value) or not close(value, ref_other, rtol=COMPUTED):
        if not is_stub(value) and close(value, n / k * ll[rows].sum(), rtol=COMPUTED):
            lead = (
                f"The batch size is fixed at {k}: on a batch of {other} rows n / B is n / {other}"
            )
        else:
            lead = f"Right on batches of {k} rows, but on one of {other} it should give " + fmt(
                ref_other
            )
        return wrong(ex, f"{lead}: read B from the batch, len(y_batch).")
    values = np.array(values)
    gap, se = abs(values.mean() - full), values.std(ddof=1) / np.sqrt(num_batches)
    apart = f"{gap / se:.1f} standard errors apart" if se > 0 else "with no spread: every row alike"
    sd = n * ll.std() / np.sqrt(k)
    return right(
        ex,
        f"On every batch. Averaged over the {num_batches} batches your estimates give "
        f"{values.mean():,.1f}, the full-data sum is {full:,.1f}: {apart} (an unbiased "
        f"estimate's average is within 2 for about 95% of seeds). One batch's estimate has "
        f"sd {sd:,.0f} over batches, {sd / abs(full):.1%} of the sum: that is the noise in "
        "each minibatch step's estimate.",
    )


def check_minibatch_noise_prediction(
    answer, *, x, y, w, b, n_small=250_000, batch_size=500
) -> Feedback:
    """Exercise 13.3: predict ``sd(estimate on all n rows) / sd(estimate on the first n_small)``.

    Both estimates are 13.2's, from a batch of ``batch_size`` rows drawn with replacement, at
    the same weights; the checker computes the exact ratio, ``(n / n_small)`` times the ratio
    of the two sets' per-row sds of the log-likelihood.

    Parameters
    ----------
    answer : float
        The predicted ratio; right within 10%. ``None`` or ``...`` while unanswered.
    x, y, w, b
        The data (``n`` rows), the weights and the bias, as for
        :func:`check_minibatch_loglik`.
    n_small : int
        Rows of the smaller data set, the first ``n_small`` of ``x`` (fewer than ``n``).
    batch_size : int
        ``B``, rows per batch (at most ``n_small``).

    Returns
    -------
    Feedback
        Right or not, with the ratio and why. Recognised mistakes: 1 (the batch has as many
        rows as before, but each stands for more), the square root of the growth (how an sd
        of a sum of more rows grows), its inverse or its inverse square root (how the
        posterior sd shrinks), the square (the ratio of the variances); a string or anything
        that is not a number.
    """
    x, y, w, b = _check_logistic(x, y, w, b)
    n = x.shape[0]
    n_small = check_positive_int(n_small, "n_small")
    if n_small >= n:
        raise ValueError(f"n_small must be fewer than the rows of x ({n}); got {n_small}")
    k = _check_batch(batch_size, n_small)
    ex = "13.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    got = as_numbers(answer, ex, shape=(), what="the prediction (a ratio of sds)")
    if isinstance(got, Feedback):
        return got
    got = float(got)
    ll = _per_row(x, y, w, b)
    sd_big, sd_small = n * ll.std() / np.sqrt(k), n_small * ll[:n_small].std() / np.sqrt(k)
    ref, growth = sd_big / sd_small, n / n_small
    why = (
        f"one batch's estimate has sd n s / sqrt(B), with s the sd of the per-row "
        f"log-likelihoods: {sd_small:,.0f} on {n_small:,} rows, "
        f"{sd_big:,.0f} on {n:,}. The batch still has {k} rows, but each now stands for "
        f"{fmt(growth)} times as many, while the per-row sd changes by a factor "
        f"{ll.std() / ll[:n_small].std():.3f}. As a share of the full-data sum, which grows "
        "as n too, the noise stays the same."
    )
    if abs(got - ref) <= PREDICTED * ref:
        return right(ex, f"{fmt(got)} is within 10% of {fmt(ref)}: {why}")
    mistakes = [
        (1.0, "The batch is the same size, but its sum is scaled by n / B, which grew."),
        (np.sqrt(growth), "That is how the sd of a sum over all the rows grows, sqrt(n)."),
        (1 / growth, "It does not shrink: the posterior sd does, the estimate's noise grows."),
        (1 / np.sqrt(growth), "That is how the posterior sd shrinks, not the estimate's noise."),
        (growth**2, "That is the ratio of the variances; the sd is its square root."),
    ]
    lead = next((m for v, m in mistakes if abs(got - v) <= PREDICTED * v), "Not quite.")
    return wrong(ex, f"{lead} The ratio is {fmt(ref)}: {why}")
