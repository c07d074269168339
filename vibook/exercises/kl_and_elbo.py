r"""Checkers for the exercises of notebook 03 (the KL divergence and the ELBO).

- 03.1 (by hand): the KL divergence between two Gaussians in closed form, both directions.
- 03.2 (implement): a Monte Carlo estimate of the ELBO from draws of q.
- 03.3 (predict, then run): the reverse-KL fit's own KL when a two-peaked target's peaks
  move apart.

For Gaussians,

.. math::
    \mathrm{KL}\big(\mathcal N(m_1, s_1^2) \,\|\, \mathcal N(m_2, s_2^2)\big)
    = \log\frac{s_2}{s_1} + \frac{s_1^2 + (m_1 - m_2)^2}{2 s_2^2} - \frac12 .
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from vibook._checks import check_array, check_positive, check_positive_int, check_real, check_seed
from vibook.exercises.feedback import (
    BY_HAND,
    Feedback,
    as_numbers,
    call_answer,
    close,
    fmt,
    is_stub,
    not_answered,
    right,
    wrong,
)
from vibook.panels import elbo_panel, fit_gaussian_kl, kl_panel

__all__ = ["check_gaussian_kl", "check_mc_elbo", "check_reverse_kl_prediction"]

COMPUTED = 1e-5  # relative tolerance of a function's output (float32 arithmetic passes)


def _kl(m1, s1, m2, s2):
    return np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


# Each recognised mistake: the formula it amounts to, and what to say.
_KL_MISTAKES = [
    (
        lambda m1, s1, m2, s2: -_kl(m1, s1, m2, s2),
        "the sign is flipped: a KL divergence is never negative (Gibbs' inequality)",
    ),
    (
        lambda m1, s1, m2, s2: 2 * _kl(m1, s1, m2, s2),
        "it is twice the KL: a factor 1/2 is missing (in the form 1/2 [log(s2**2 / s1**2) + "
        "...], it multiplies everything)",
    ),
    (lambda m1, s1, m2, s2: _kl(m1, s1, m2, s2) + 0.5, "the constant -1/2 is missing"),
    (
        lambda m1, s1, m2, s2: 0.5 * np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5,
        "the log term is halved: log(s2 / s1) is half of log(s2**2 / s1**2), so with the sds it "
        "carries no 1/2",
    ),
    (
        lambda m1, s1, m2, s2: np.log(s2 / s1) + (s1 + (m1 - m2) ** 2) / (2 * s2) - 0.5,
        "the sds are used where the variances go: square them in the second term",
    ),
]


def check_gaussian_kl(answer, *, q_loc, q_scale, p_loc, p_scale) -> Feedback:
    """Exercise 03.1: ``(KL(q || p), KL(p || q))`` for two Gaussians, in closed form, by hand.

    Parameters
    ----------
    answer : sequence of 2 numbers
        The reverse KL ``KL(q || p)`` then the forward KL ``KL(p || q)``, in nats; ``None``
        or ``...`` while unanswered.
    q_loc, q_scale, p_loc, p_scale : float
        Means and sds of ``q = N(q_loc, q_scale**2)`` and ``p = N(p_loc, p_scale**2)``.

    Returns
    -------
    Feedback
        Recognised mistakes: the two directions swapped, the same number twice (KL is not
        symmetric), the sign flipped, a missing 1/2 or -1/2, the log term halved, sds used
        as variances; each direction is judged on its own.
    """
    q = check_real(q_loc, "q_loc"), check_positive(q_scale, "q_scale")
    p = check_real(p_loc, "p_loc"), check_positive(p_scale, "p_scale")
    ex = "03.1"
    what = "the answer (KL(q || p), KL(p || q))"
    if is_stub(answer):
        return not_answered(ex, what)
    got = as_numbers(answer, ex, shape=(2,), what=what)
    if isinstance(got, Feedback):
        return got
    ref = np.array([_kl(*q, *p), _kl(*p, *q)])
    if close(got, ref, rtol=BY_HAND, atol=1e-4):
        return right(
            ex,
            f"KL(q || p) = {fmt(ref[0])} and KL(p || q) = {fmt(ref[1])} nats: "
            "the two directions differ.",
        )
    if close(got, ref[::-1], rtol=BY_HAND, atol=1e-4):
        return wrong(
            ex,
            "The two directions are swapped: KL(q || p), the reverse KL, averages "
            "log q - log p over q; it comes first.",
        )
    if np.isclose(got[0], got[1]) and not np.isclose(ref[0], ref[1]):
        return wrong(
            ex,
            "Both numbers are the same, but KL is not symmetric: swap the roles of "
            "q and p for the second.",
        )
    notes = []
    for i, (name, args) in enumerate((("KL(q || p)", (*q, *p)), ("KL(p || q)", (*p, *q)))):
        if close(got[i], ref[i], rtol=BY_HAND, atol=1e-4):
            notes.append(f"{name} is right")
            continue
        said = next(
            (m for f, m in _KL_MISTAKES if close(got[i], f(*args), rtol=BY_HAND, atol=1e-4)), None
        )
        notes.append(f"{name}: {said}" if said else f"{name} is not right")
    return wrong(
        ex,
        "; ".join(notes) + ". The closed form is log(s2 / s1) + (s1**2 + (m1 - "
        "m2)**2) / (2 s2**2) - 1/2 for KL(N(m1, s1**2) || N(m2, s2**2)).",
    )


def _log_terms(x, z):
    """Per draw: log p(x | z), log p(z) for the Normal-Normal model (prior N(0, 1), noise 1)."""
    log_lik = norm.logpdf(x[None, :], z[:, None], 1.0)  # (S, n)
    return log_lik, norm.logpdf(z, 0.0, 1.0)


def check_mc_elbo(func, *, x, q_loc, q_scale, num_draws=1000, seed=0) -> Feedback:
    """Exercise 03.2: ``func(x, m, s, z)``, a Monte Carlo estimate of the ELBO, implemented.

    The model is notebook 03's Normal-Normal (``mu ~ N(0, 1)``, ``x_i | mu ~ N(mu, 1)``) and
    ``q = N(m, s**2)``. Given draws ``z`` of ``q``, ``func`` must return the average over the
    draws of ``log p(x | z) + log p(z) - log q(z)``. The checker draws ``z`` itself, from a
    NumPy generator seeded with ``seed``, and compares with the same average on the same draws.

    Parameters
    ----------
    func : callable
        The student's function; ``None`` or ``...`` (or a function returning either) while
        unanswered.
    x : array of shape (n,)
        The data.
    q_loc, q_scale : float
        ``m`` and ``s`` of ``q``.
    num_draws : int
        Draws of ``q`` handed to ``func``.
    seed : int
        Seed of the draws.

    Returns
    -------
    Feedback
        Recognised mistakes: one number per draw instead of their average, the negative ELBO
        (the loss SVI minimises), the sum over the draws instead of the mean, ``log q`` left
        out or added, the prior left out, the log-likelihood averaged over the data points
        instead of summed. A right answer is told the exact ELBO and the estimate's standard
        error.
    """
    x = check_array(x, "x", ndim=1).astype(np.float64)
    m, s = check_real(q_loc, "q_loc"), check_positive(q_scale, "q_scale")
    num_draws = check_positive_int(num_draws, "num_draws", minimum=2)
    z = m + s * np.random.default_rng(check_seed(seed)).standard_normal(num_draws)
    ex = "03.2"
    value = call_answer(func, (x.copy(), m, s, z.copy()), ex, name="your function")
    if isinstance(value, Feedback):
        return value
    if is_stub(value):
        return not_answered(ex, "your function (it returns None)")
    log_lik, log_prior = _log_terms(x, z)
    log_q = norm.logpdf(z, m, s)
    per_draw = log_lik.sum(1) + log_prior - log_q
    ref = per_draw.mean()
    shape = np.shape(value) if not isinstance(value, str | bytes) else None
    if shape == (num_draws,):
        got = as_numbers(value, ex, shape=(num_draws,), what="your estimate")
        if not isinstance(got, Feedback) and close(got, per_draw, rtol=COMPUTED):
            return wrong(ex, "One number per draw: return their average, the estimate.")
        return wrong(ex, f"Return one number, the average over the draws; got shape {shape}.")
    got = as_numbers(value, ex, shape=(), what="your estimate")
    if isinstance(got, Feedback):
        return got
    got = float(got)
    exact = elbo_panel(x, m, s)["elbo"]
    se = per_draw.std(ddof=1) / np.sqrt(num_draws)
    if close(got, ref, rtol=COMPUTED):
        if se <= 1e-12 * max(1.0, abs(ref)):  # q is the posterior: every draw gives log p(x)
            away = "every draw gives the same value, log p(x), since q is the posterior"
        else:
            away = f"{abs(got - exact) / se:.1f} standard errors ({se:.2g}) away"
        return right(
            ex,
            f"{got:.4f} from {num_draws} draws; the exact ELBO of this q is {exact:.4f}, {away}.",
        )
    lik_mean = log_lik.mean(1) + log_prior - log_q
    mistakes = [
        (-ref, "That is the negative ELBO, the loss that SVI minimises: the ELBO is its negative."),
        (
            per_draw.sum(),
            f"Off by a factor of {num_draws}, the number of draws: average over "
            "the draws, do not sum.",
        ),
        (
            (log_lik.sum(1) + log_prior).mean(),
            "log q(z) is left out: the ELBO is E_q[log p(x, z) - log q(z)].",
        ),
        ((log_lik.sum(1) + log_prior + log_q).mean(), "log q(z) is added: it is subtracted."),
        (
            (log_lik.sum(1) - log_q).mean(),
            "The prior log p(z) is left out: log p(x, z) = log p(x | z) + log p(z).",
        ),
        (
            lik_mean.mean(),
            f"The log-likelihood is averaged over the {x.size} data points: "
            "log p(x | z) sums over them.",
        ),
    ]
    found = next((msg for v, msg in mistakes if close(got, v, rtol=COMPUTED)), None)
    return wrong(
        ex,
        found
        or f"Not the estimate: average log p(x | z) + log p(z) - log q(z) "
        f"over the {num_draws} draws, with log p(x | z) summed over the data.",
    )


def check_reverse_kl_prediction(answer, *, peak=4.0, scale=0.6) -> Feedback:
    """Exercise 03.3: predict the reverse-KL fit's ``KL(q || p)`` once the peaks move apart.

    The target ``p`` is the equal mixture of ``N(-peak, scale**2)`` and ``N(peak, scale**2)``;
    the reverse-KL fit is found as in the notebook (``fit_gaussian_kl``, started right of 0).

    Parameters
    ----------
    answer : float
        The predicted ``KL(q || p)`` in nats; right within 0.05. ``None`` or ``...`` while
        unanswered.
    peak, scale : float
        The target's peaks sit at ``-peak`` and ``peak``, each with sd ``scale``.

    Returns
    -------
    Feedback
        Right or not, with the value and why (``log 2``). Recognised mistakes: a negative
        number, zero, the forward fit's ``KL(q || p)``, a value that grows with the distance;
        a string or anything else that is not a number.
    """
    peak, scale = check_positive(peak, "peak"), check_positive(scale, "scale")
    ex = "03.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    got = as_numbers(answer, ex, shape=(), what="the prediction (a number of nats)")
    if isinstance(got, Feedback):
        return got
    got = float(got)
    target = {"weights": (0.5, 0.5), "locs": (-peak, peak), "scales": (scale, scale)}
    rev = fit_gaussian_kl("reverse", target=target, init=(1.0, 1.0))
    fwd = fit_gaussian_kl("forward", target=target)
    ref, ref_fwd = kl_panel(*rev, target=target)["kl_qp"], kl_panel(*fwd, target=target)["kl_qp"]
    why = (
        f"the reverse fit sits on one peak, N({rev[0]:.2f}, {rev[1]:.2f}**2), and where q has "
        f"its mass p is half a Gaussian of q's shape, so log q - log p is about log 2 = "
        f"{np.log(2):.3f} wherever q looks: KL(q || p) = {ref:.3f}, however far apart the "
        f"peaks are. The forward fit's KL(q || p) is what grows: {ref_fwd:.2f} here."
    )
    if abs(got - ref) <= 0.05:
        return right(ex, f"{got:.3g} is within 0.05 of {ref:.3f}: {why}")
    if got < 0:
        lead = "A KL divergence is never negative."
    elif abs(got) <= 0.05:
        lead = "Zero would mean q = p, but no Gaussian has two peaks."
    elif abs(got - ref_fwd) <= 0.1 * ref_fwd:
        lead = "That is the forward fit's KL(q || p), not the reverse fit's."
    elif got > ref:
        lead = "It does not grow with the distance between the peaks."
    else:
        lead = "Not quite."
    return wrong(ex, f"{lead} It is {ref:.3f}: {why}")
