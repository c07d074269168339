r"""Checkers for the exercises of notebook 04 (coordinate-ascent VI, and EM as coordinate ascent).

- 04.1 (by hand): one CAVI sweep for the Normal with unknown mean and precision.
- 04.2 (implement): the M-step of EM for a Gaussian mixture.
- 04.3 (predict, then run): whether CAVI's fixed point on that model depends on its start.

One sweep from :math:`E[\tau]`, in Bishop's notation (section 10.1.3):

.. math::
    m = \frac{\lambda_0 \mu_0 + N \bar x}{\lambda_0 + N}, \quad
    \lambda = (\lambda_0 + N) E[\tau], \quad
    a = a_0 + \frac{N + 1}{2}, \quad
    b = b_0 + \frac12 \Big[\sum_i (x_i - m)^2 + \frac{N}{\lambda}
        + \lambda_0 \Big((m - \mu_0)^2 + \frac1\lambda\Big)\Big]
"""

from __future__ import annotations

import numpy as np

from vibook._checks import check_array, check_positive, check_positive_int
from vibook.cavi import cavi_normal_gamma
from vibook.exercises.feedback import (
    BY_HAND,
    COMPUTED,
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
from vibook.models.normal_gamma import NormalGamma, check_normal_gamma, normal_gamma_posterior

__all__ = ["check_cavi_start_prediction", "check_cavi_update", "check_m_step"]


def check_cavi_update(answer, *, x, prior: NormalGamma, e_tau) -> Feedback:
    """Exercise 04.1: one CAVI sweep, ``q(mu)`` then ``q(tau)``, from ``E[tau] = e_tau``, by hand.

    Parameters
    ----------
    answer : sequence of 4 numbers
        ``(m, lam, a, b)``: the mean and precision of ``q(mu)``, then the shape and rate of
        ``q(tau)``; ``None`` or ``...`` while unanswered.
    x : array of shape (N,)
        The data.
    prior : NormalGamma
        The prior's ``(mu_0, lambda_0, a_0, b_0)``.
    e_tau : float
        ``E[tau]`` under the ``q(tau)`` the sweep starts from (> 0).

    Returns
    -------
    Feedback
        Recognised mistakes: the exact posterior instead of one sweep, ``lam`` without
        ``E[tau]``, ``a`` without the extra 1/2 from the prior on ``mu``, ``b`` without the
        variance of ``q(mu)`` (the ``1 / lam`` terms) or without the prior's term, the scale
        ``1 / b`` for the rate, the variance ``1 / lam`` for the precision; otherwise which of
        the four numbers are right.
    """
    x = check_array(x, "x", ndim=1).astype(np.float64)
    prior = check_normal_gamma(prior)
    e_tau = check_positive(e_tau, "e_tau")
    ex = "04.1"
    what = "the answer (m, lam, a, b)"
    if is_stub(answer):
        return not_answered(ex, what)
    got = as_numbers(answer, ex, shape=(4,), what=what)
    if isinstance(got, Feedback):
        return got
    sweep = cavi_normal_gamma(x, prior, n_iter=1, init_tau=e_tau)
    m, lam, a, b = ref = np.array([sweep[k][0] for k in ("m", "lam", "a", "b")])
    if close(got, ref, rtol=BY_HAND):
        return right(
            ex,
            f"q(mu) = N({fmt(m)}, 1/{fmt(lam)}), q(tau) = Gamma({fmt(a)}, "
            f"{fmt(b)}), so the next E[tau] is {fmt(a / b)}.",
        )
    mu0, lam0, a0, b0 = prior
    n = x.shape[0]
    sq = np.sum((x - m) ** 2)

    def b_of(lam_used, with_var=True, with_prior=True):
        var = 1 / lam_used if with_var else 0.0
        prior_term = lam0 * ((m - mu0) ** 2 + var) if with_prior else 0.0
        return b0 + 0.5 * (sq + n * var + prior_term)

    post = normal_gamma_posterior(x, prior)
    lam_no_tau = lam0 + n
    mistakes = [
        (
            [post.mu, post.lam, post.a, post.b],
            "That is the exact posterior (Normal-Gamma), not one CAVI sweep.",
        ),
        (
            [m, lam_no_tau, a, b_of(lam_no_tau)],
            "lam is missing E[tau]: q(mu)'s precision is (lambda_0 + N) E[tau].",
        ),
        (
            [m, lam, a0 + n / 2, b],
            "a = a_0 + N/2 is the exact posterior's; in q(tau) the prior "
            "on mu, whose precision lambda_0 tau involves tau, adds another 1/2: a_0 + (N + 1)/2.",
        ),
        (
            [m, lam, a, b_of(lam, with_var=False)],
            "b leaves out the variance of q(mu): E[(x_i - "
            "mu)**2] = (x_i - m)**2 + 1/lam, and likewise for (mu - mu_0)**2.",
        ),
        (
            [m, lam, a, b_of(lam, with_prior=False)],
            "b leaves out the prior's term lambda_0 E[(mu - mu_0)**2].",
        ),
        (
            [m, lam, a, 1 / b],
            "The last number is the scale 1/b; the update gives the rate b "
            "(the mean of Gamma(a, b) is a / b).",
        ),
        (
            [m, 1 / lam, a, b],
            "The second number is q(mu)'s variance 1/lam; give its precision lam.",
        ),
        ([m, 1 / np.sqrt(lam), a, b], "The second number is q(mu)'s sd; give its precision lam."),
    ]
    found = explain(got, ref, mistakes, rtol=BY_HAND)
    if found:
        return wrong(ex, found)
    flags = [close(g, r, rtol=BY_HAND) for g, r in zip(got, ref, strict=True)]
    return wrong(
        ex,
        f"{which_right(('m', 'lam', 'a', 'b'), flags)}: update q(mu) first, with E[tau] = "
        f"{fmt(e_tau)}, then q(tau) with that q(mu).",
    )


def _m_step(x, resp):
    nk = resp.sum(0)
    means = resp.T @ x / nk[:, None]
    diff = x[None] - means[:, None]
    return nk, means, np.einsum("nk,kni,knj->kij", resp, diff, diff)


def check_m_step(func, *, x, resp) -> Feedback:
    """Exercise 04.2: ``func(x, resp)``, the M-step of EM for a Gaussian mixture, implemented.

    ``func`` must return ``(weights, means, covariances)`` of shapes (K,), (K, d), (K, d, d):
    ``N_k = sum_n r_nk``, ``w_k = N_k / n``, ``mu_k = sum_n r_nk x_n / N_k`` and
    ``Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k``.

    Parameters
    ----------
    func : callable
        The student's function; ``None`` or ``...`` (or a function returning either) while
        unanswered.
    x : array of shape (n, d)
        The points.
    resp : array of shape (n, K)
        Responsibilities: each row a probability vector over the clusters.

    Returns
    -------
    Feedback
        Each of the three parts judged on its own. Recognised mistakes: not three parts, a
        part of the wrong shape; the counts ``N_k`` as weights; weighted sums as means, or
        the plain mean of all points; covariances divided by ``N_k - 1`` or not divided,
        not centred, centred on the mean of all points, or not weighted.
    """
    x = check_array(x, "x", ndim=2).astype(np.float64)
    resp = check_array(resp, "resp", ndim=2, nonnegative=True).astype(np.float64)
    if resp.shape[0] != x.shape[0]:
        raise ValueError(
            f"resp must have one row per point of x ({x.shape[0]}); got {resp.shape[0]}"
        )
    if not np.allclose(resp.sum(axis=1), 1.0):
        raise ValueError("resp must hold one probability vector over the clusters per row")
    if np.any(resp.sum(axis=0) <= 0):
        raise ValueError("resp must give every cluster some responsibility")
    ex = "04.2"
    value = call_answer(func, (x.copy(), resp.copy()), ex, name="your function")
    if isinstance(value, Feedback):
        return value
    if is_stub(value):
        return not_answered(ex, "your function (it returns None)")
    if isinstance(value, str | bytes | dict) or not hasattr(value, "__len__") or len(value) != 3:
        return wrong(ex, "Return three things, (weights, means, covariances).")
    (n, d), k = x.shape, resp.shape[1]
    nk, means, scatter = _m_step(x, resp)
    parts = (
        ("weights", (k,), nk / n),
        ("means", (k, d), means),
        ("covariances", (k, d, d), scatter / nk[:, None, None]),
    )
    centred_all = x - x.mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        unbiased = scatter / (nk - 1)[:, None, None]
    moments = np.einsum("nk,ni,nj->kij", resp, x, x) / nk[:, None, None]
    mistakes = {
        "weights": [(nk, "these are the expected counts N_k: divide by n")],
        "means": [
            (resp.T @ x, "these are weighted sums: divide each by N_k"),
            (
                np.broadcast_to(x.mean(0), (k, d)),
                "every cluster got the mean of all "
                "the points: weight each point by its responsibility",
            ),
        ],
        "covariances": [
            (
                unbiased,
                "divided by N_k - 1: the M-step's maximum-likelihood covariance divides by N_k",
            ),
            (scatter, "not divided by N_k"),
            (moments, "not centred: subtract the cluster's new mean from each point"),
            (
                np.einsum("nk,ni,nj->kij", resp, centred_all, centred_all) / nk[:, None, None],
                "centred on the mean of all the points, not on each cluster's mean",
            ),
            (
                np.broadcast_to(np.cov(x.T, bias=True).reshape(d, d), (k, d, d)),
                "the same covariance of all the points for every cluster: weight by the "
                "responsibilities",
            ),
        ],
    }
    notes, all_right = [], True
    for (name, shape, ref), given in zip(parts, value, strict=True):
        got = as_numbers(given, ex, shape=shape, what=name)
        if isinstance(got, Feedback):
            notes.append(got.message.rstrip("."))
            all_right = False
        elif close(got, ref, rtol=COMPUTED, atol=1e-9):
            notes.append(f"{name} right")
        else:
            all_right = False
            said = first_match(got, mistakes[name], rtol=COMPUTED, atol=1e-9)
            notes.append(f"{name}: {said}" if said else f"{name} not right")
    if all_right:
        return right(ex, f"The weights, means and covariances of the {k} clusters.")
    text = "; ".join(notes) + "."
    return wrong(ex, text[0].upper() + text[1:])


def check_cavi_start_prediction(
    answer, *, x, prior: NormalGamma, first_start=50.0, second_start=0.01, n_iter=50
) -> Feedback:
    """Exercise 04.3: predict whether CAVI from two starts ends at the ``"same"`` q or not.

    Parameters
    ----------
    answer : {"same", "different"}
        The prediction; ``None`` or ``...`` while unanswered.
    x : array of shape (N,)
        The data.
    prior : NormalGamma
        The prior.
    first_start, second_start : float
        The two starting values of ``E[tau]`` (> 0).
    n_iter : int
        Sweeps from each start.

    Returns
    -------
    Feedback
        Right or not, with both ends and why: ``m`` and ``a`` never change, and ``b`` follows
        ``b -> B + b / (2a)``, which shrinks any difference by ``2a`` a sweep. A string that is
        neither choice, or a number, is told the two choices.
    """
    x = check_array(x, "x", ndim=1).astype(np.float64)
    prior = check_normal_gamma(prior)
    starts = (
        check_positive(first_start, "first_start"),
        check_positive(second_start, "second_start"),
    )
    n_iter = check_positive_int(n_iter, "n_iter")
    ex = "04.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    if not isinstance(answer, str) or answer.strip().lower() not in ("same", "different"):
        return wrong(ex, f"Answer 'same' or 'different' (a string); got {answer!r}.")
    ends = [cavi_normal_gamma(x, prior, n_iter=n_iter, init_tau=t) for t in starts]
    final = [np.array([f[k][-1] for k in ("m", "lam", "a", "b")]) for f in ends]
    same = close(final[0], final[1], rtol=1e-6)
    truth = "same" if same else "different"
    a = final[0][2]
    shown = " and ".join(
        f"from E[tau] = {fmt(t)}: q(mu) = N({fmt(v[0])}, 1/{fmt(v[1])}), q(tau) = "
        f"Gamma({fmt(v[2])}, {fmt(v[3])})"
        for t, v in zip(starts, final, strict=True)
    )
    if same:
        why = (
            f"after {n_iter} sweeps, {shown}. m and a never depend on the start, and each "
            f"sweep sets b to B + b / (2a) with a = {fmt(a)}: a difference in b shrinks "
            f"{fmt(2 * a)}-fold a sweep, so there is one fixed point. EM on the Old Faithful "
            "mixture is different: its likelihood has several optima and saddles."
        )
    else:
        why = (
            f"after {n_iter} sweeps, {shown}: not enough sweeps for the two to meet yet, "
            f"though a difference in b shrinks {fmt(2 * a)}-fold a sweep."
        )
    ending = "the same q" if same else "different qs"
    if answer.strip().lower() == truth:
        return right(ex, f"They end at {ending}: {why}")
    return wrong(ex, f"They end at {ending}: {why}")
