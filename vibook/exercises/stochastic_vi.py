r"""Checkers for the exercises of notebook 05 (stochastic VI: Monte Carlo gradients of the ELBO).

- 05.1 (by hand): one reparameterised draw and the pathwise gradients of ``f`` through it.
- 05.2 (implement): the score-function (REINFORCE) estimate of the gradient in ``m`` from
  draws of ``q``.
- 05.3 (predict, then run): how many particles the score-function estimator must average to
  be as steady as one reparameterised draw.

All three use the notebook's Normal-Normal model (:math:`\mu \sim \mathcal N(0, 1)`,
:math:`x_i \mid \mu \sim \mathcal N(\mu, 1)`), :math:`f(\mu) = \log p(x, \mu)` and
:math:`q = \mathcal N(m, s^2)`. A draw is :math:`z = m + s\varepsilon` with
:math:`\varepsilon \sim \mathcal N(0, 1)`, so by the chain rule

.. math::
    \frac{\partial f(z)}{\partial m} = f'(z), \qquad
    \frac{\partial f(z)}{\partial s} = f'(z)\,\varepsilon, \qquad
    f'(z) = \sum_i (x_i - z) - z,

while the score function estimates the same gradient in :math:`m` from values of :math:`f`:

.. math::
    \nabla_m E_q[f] \approx \frac1S \sum_{j=1}^S f(z_j)\,\frac{z_j - m}{s^2}.

Since :math:`f` is quadratic, :math:`f(m + s\varepsilon) = A + B\varepsilon + C\varepsilon^2`
with :math:`A = f(m)`, :math:`B = s f'(m)`, :math:`C = -(n + 1) s^2 / 2`, and one draw of
each estimator has variance

.. math::
    V_\text{score} = \frac{A^2 + 2B^2 + 15C^2 + 6AC}{s^2}, \qquad
    V_\text{reparam} = (n + 1)^2 s^2;

a mean of :math:`K` independent draws has variance :math:`V / K`.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.stats import norm

from vibook._checks import check_array, check_positive, check_positive_int, check_real, check_seed
from vibook.exercises.feedback import (
    BY_HAND,
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

__all__ = ["check_particles_prediction", "check_pathwise_gradient", "check_score_gradient"]

# Relative tolerance of a function's output: float32 means of 1000 terms of either sign pass.
COMPUTED = 1e-4
PREDICTED = 0.2  # relative tolerance of the number of particles predicted in 05.3


def _log_joint(x):
    """``f(mu) = log p(x, mu)`` for an array of ``mu`` of any shape: prior N(0, 1), noise 1."""

    def f(mu):
        mu = np.asarray(mu, dtype=np.float64)
        return norm.logpdf(x, mu[..., None], 1.0).sum(-1) + norm.logpdf(mu, 0.0, 1.0)

    return f


def _f_prime(x, mu):
    """``f'(mu) = sum_i (x_i - mu) - mu``, the gradient of ``log p(x, mu)``."""
    mu = np.asarray(mu, dtype=np.float64)
    return (x - mu[..., None]).sum(-1) - mu


def _inputs(x, q_loc, q_scale):
    x = check_array(x, "x", ndim=1).astype(np.float64)
    return x, check_real(q_loc, "q_loc"), check_positive(q_scale, "q_scale")


def check_pathwise_gradient(answer, *, x, q_loc=0.5, q_scale=0.3, eps=-1.2) -> Feedback:
    """Exercise 05.1: ``(z, df_dm, df_ds)`` for one reparameterised draw, by hand.

    Parameters
    ----------
    answer : sequence of 3 numbers
        The draw ``z = m + s * eps``, then the pathwise gradients of ``f(z) = log p(x, z)`` in
        ``m`` and in ``s``; ``None`` or ``...`` while unanswered.
    x : array of shape (n,)
        The data.
    q_loc, q_scale : float
        ``m`` and ``s`` of ``q = N(m, s**2)``.
    eps : float
        The noise draw.

    Returns
    -------
    Feedback
        Recognised mistakes: the variance ``s**2`` where the sd goes in ``z``; the gradient in
        ``s`` without the factor ``eps``; ``dz/dm`` and ``dz/ds`` without ``f'(z)``; the
        gradient in ``log s`` for the one in ``s``; ``f'`` evaluated at ``m`` instead of at the
        draw; the signs flipped (the loss's gradient); the prior's term left out of ``f'``;
        the score-function values instead of the pathwise ones; otherwise which of the three
        numbers are right.
    """
    x, m, s = _inputs(x, q_loc, q_scale)
    eps = check_real(eps, "eps")
    ex = "05.1"
    what = "the answer (z, df_dm, df_ds)"
    if is_stub(answer):
        return not_answered(ex, what)
    got = as_numbers(answer, ex, shape=(3,), what=what)
    if isinstance(got, Feedback):
        return got
    z = m + s * eps
    g = _f_prime(x, z)
    ref = np.array([z, g, g * eps])
    if close(got, ref, rtol=BY_HAND, atol=1e-3):
        return right(
            ex,
            f"z = {fmt(z)}, f'(z) = {fmt(g)}: df/dm = {fmt(g)} and df/ds = f'(z) eps = "
            f"{fmt(g * eps)}. Averaged over many eps, the two are unbiased estimates of the "
            "gradients of E_q[f] in m and s; autodiff through dist.Normal(m, s).rsample "
            "computes exactly this.",
        )
    z_var = m + s**2 * eps
    g_m, g_lik = _f_prime(x, m), (x - z).sum()
    f_z = _log_joint(x)(z)
    mistakes = [
        (
            [z_var, _f_prime(x, z_var), _f_prime(x, z_var) * eps],
            "z uses the variance s**2 where the sd goes: the draw is z = m + s eps.",
        ),
        (
            [z, g, g],
            "df/ds is missing the factor dz/ds = eps: by the chain rule df(z)/ds = f'(z) eps.",
        ),
        (
            [z, 1.0, eps],
            "These are dz/dm = 1 and dz/ds = eps alone: by the chain rule, multiply each by f'(z).",
        ),
        (
            [z, g, g * eps * s],
            "The third number is the gradient in log s, f'(z) eps s (what an optimiser of "
            "log s uses); the exercise asks for the gradient in s itself, f'(z) eps.",
        ),
        (
            [z, g_m, g_m * eps],
            "f' is evaluated at the mean m: evaluate it at the draw z, through which the "
            "gradient flows.",
        ),
        ([z, -g, -g * eps], "The signs are flipped: that is the gradient of the loss -f(z)."),
        (
            [z, g_lik, g_lik * eps],
            "f'(z) leaves out the prior's term -z: f = log p(x | z) + log p(z), and the "
            "derivative of log N(z | 0, 1) is -z.",
        ),
        (
            [z, f_z * eps / s, f_z * (eps**2 - 1) / s],
            "Those are score-function values, f(z) d log q / dm and f(z) d log q / ds: the "
            "exercise asks for the pathwise ones, through the draw, which use f'(z).",
        ),
    ]
    found = explain(got, ref, mistakes, rtol=BY_HAND, atol=1e-3)
    if found:
        return wrong(ex, found)
    flags = [close(a, b, rtol=BY_HAND, atol=1e-3) for a, b in zip(got, ref, strict=True)]
    return wrong(
        ex,
        f"{which_right(('z', 'df_dm', 'df_ds'), flags)}: z = m + s eps, so dz/dm = 1 and "
        "dz/ds = eps, each multiplied by f'(z) = sum(x - z) - z.",
    )


def check_score_gradient(func, *, x, q_loc=0.5, q_scale=0.3, num_draws=1000, seed=0) -> Feedback:
    """Exercise 05.2: ``func(f, z, m, s)``, the score-function estimate of ``d/dm E_q[f]``.

    ``func`` is given the checker's ``f`` (``log p(x, mu)`` of the Normal-Normal model, for an
    array of ``mu``), ``num_draws`` draws ``z`` of ``q = N(m, s**2)`` made by a NumPy generator
    seeded with ``seed``, and ``m``, ``s``; it must return the average of
    ``f(z) * (z - m) / s**2`` over the draws, with no baseline.

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
        Recognised mistakes: one number per draw instead of their average, the sum for the
        mean, the sign of the score flipped, ``(z - m)`` divided by ``s`` or not divided,
        ``f`` left out (the mean of the score alone), a baseline subtracted (``f(m)`` or the
        mean of ``f(z)``), the score-function gradient in ``s`` instead of ``m``, the
        reparameterised estimate (the mean of ``f'(z)``). A right answer is told the exact
        gradient and the standard errors of both estimators on the same draws.
    """
    x, m, s = _inputs(x, q_loc, q_scale)
    num_draws = check_positive_int(num_draws, "num_draws", minimum=2)
    z = m + s * np.random.default_rng(check_seed(seed)).standard_normal(num_draws)
    f = _log_joint(x)
    ex = "05.2"
    value = call_answer(func, (f, z.copy(), m, s), ex, name="your function")
    if isinstance(value, Feedback):
        return value
    if is_stub(value):
        return not_answered(ex, "your function (it returns None)")
    fz = f(z)
    per_draw = fz * (z - m) / s**2
    ref = per_draw.mean()
    if not isinstance(value, str | bytes) and np.shape(value) == (num_draws,):
        got = as_numbers(value, ex, shape=(num_draws,), what="your estimate")
        if not isinstance(got, Feedback) and close(got, per_draw, rtol=COMPUTED):
            return wrong(ex, "One number per draw: return their average, the estimate.")
        return wrong(
            ex, f"Return one number, the average over the draws; got shape {(num_draws,)}."
        )
    got = as_numbers(value, ex, shape=(), what="your estimate")
    if isinstance(got, Feedback):
        return got
    got = float(got)
    grad = _f_prime(x, z)
    if close(got, ref, rtol=COMPUTED):
        exact = float(_f_prime(x, m))  # E_q[f'(z)] = f'(m): f' is linear
        se, se_r = (v.std(ddof=1) / np.sqrt(num_draws) for v in (per_draw, grad))
        return right(
            ex,
            f"{got:.4g} from {num_draws} draws; the exact gradient f'(m) = {exact:.4g} is "
            f"{abs(got - exact) / se:.1f} standard errors ({se:.2g}) away. The reparameterised "
            f"estimate on the same draws, the mean of f'(z) = {grad.mean():.4g}, has standard "
            f"error {se_r:.2g}, {se / se_r:.0f} times smaller.",
        )
    score = (z - m) / s**2
    plain = "the plain estimator, the mean of f(z) (z - m) / s**2, with no baseline"
    mistakes = [
        (
            per_draw.sum(),
            f"Off by a factor of {num_draws}, the number of draws: average, do not sum.",
        ),
        (-ref, "The sign is flipped: d log q(z) / dm = (z - m) / s**2, not (m - z) / s**2."),
        (
            (fz * (z - m) / s).mean(),
            "(z - m) is divided by s, not by s**2: d log N(z | m, s**2) / dm = (z - m) / s**2.",
        ),
        ((fz * (z - m)).mean(), "(z - m) is not divided by s**2: the score is (z - m) / s**2."),
        (
            score.mean(),
            "f(z) is left out: that is the mean of the score alone, whose expectation is 0.",
        ),
        (
            ((fz - f(m)) * score).mean(),
            f"The baseline f(m) is subtracted: still unbiased, and steadier, as the notebook "
            f"showed, but this exercise asks for {plain}.",
        ),
        (
            ((fz - fz.mean()) * score).mean(),
            f"The mean of f(z) is subtracted as a baseline: this exercise asks for {plain}.",
        ),
        (
            (fz * ((z - m) ** 2 / s**3 - 1 / s)).mean(),
            "That is the score-function gradient in s, with d log q / ds = (z - m)**2 / s**3 - "
            "1 / s; the exercise asks for the one in m.",
        ),
    ]
    found = first_match(got, mistakes, rtol=COMPUTED)
    if found is None and close(got, grad.mean(), rtol=1e-3):  # f' by differences of f
        found = (
            "That is the reparameterised estimate, the mean of f'(z): the score-function one "
            "uses the values f(z) only, weighted by the score (z - m) / s**2."
        )
    return wrong(
        ex,
        found or f"Not the estimate: average f(z) (z - m) / s**2 over the {num_draws} draws.",
    )


def _one_draw_variances(x, m, s):
    """Variances of one score-function and one reparameterised draw of the gradient in m.

    Gauss-Hermite quadrature in eps with 8 nodes: exact, as both integrands are polynomials
    in eps of degree at most 6 (f is quadratic in mu).
    """
    nodes, weights = hermegauss(8)
    weights = weights / weights.sum()  # the N(0, 1) expectation
    z = m + s * nodes
    score, reparam = _log_joint(x)(z) * nodes / s, _f_prime(x, z)
    mean = float(_f_prime(x, m))
    return (
        float(weights @ (score - mean) ** 2),
        float(weights @ (reparam - mean) ** 2),
        float(weights @ ((_log_joint(x)(z) - _log_joint(x)(m)) * nodes / s - mean) ** 2),
    )


def check_particles_prediction(answer, *, x, q_loc=0.5, q_scale=0.3) -> Feedback:
    """Exercise 05.3: predict the particles ``K`` that make the score function as steady.

    ``K`` is the number of draws the score-function estimator of the gradient in ``m`` must
    average for its sd to equal the sd of the reparameterised estimator from one draw:
    ``K = V_score / V_reparam``, the ratio of their one-draw variances.

    Parameters
    ----------
    answer : float
        The predicted ``K``; right within 20%. ``None`` or ``...`` while unanswered.
    x : array of shape (n,)
        The data.
    q_loc, q_scale : float
        ``m`` and ``s`` of ``q = N(m, s**2)``.

    Returns
    -------
    Feedback
        Right or not, with the two variances and why. Recognised mistakes: zero or a negative
        number; one (the two equally steady), or fewer; the ratio of the sds (as if sds fell
        like 1/K); the ratio of the variances squared; the ratio for the score function with
        the baseline ``f(m)``; otherwise whether it is too low or too high. A string or
        anything else that is not a number is told so.
    """
    x, m, s = _inputs(x, q_loc, q_scale)
    ex = "05.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    got = as_numbers(answer, ex, shape=(), what="the prediction (a number of particles)")
    if isinstance(got, Feedback):
        return got
    got = float(got)
    v_score, v_reparam, v_baseline = _one_draw_variances(x, m, s)
    ratio = v_score / v_reparam
    k = int(np.ceil(ratio))
    why = (
        f"one score-function draw has variance {fmt(v_score)}, one reparameterised draw "
        f"{fmt(v_reparam)}, and a mean of K independent draws has variance V / K, so K = "
        f"{fmt(v_score)} / {fmt(v_reparam)} = {fmt(ratio)}: {k} evaluations of f to be as "
        f"steady as one evaluation of f'. The ratio of their sds is only "
        f"{fmt(np.sqrt(ratio))}, because an sd falls like 1 / sqrt(K)."
    )
    if abs(got - ratio) <= PREDICTED * ratio:
        return right(ex, f"{got:.4g} is within 20% of {fmt(ratio)}: {why}")

    def near(value):
        return abs(got - value) <= PREDICTED * value

    if got <= 0:
        lead = "A number of particles is positive."
    elif got <= 1:
        lead = "One draw of each is not equally steady: the score function's spread is larger."
    elif near(np.sqrt(ratio)):
        lead = (
            "That is the ratio of the sds, as if an sd fell like 1 / K: it falls like "
            "1 / sqrt(K), so K must be the ratio of the variances."
        )
    elif near(ratio**2):
        lead = "That is the ratio of the variances squared: the variance of a mean is V / K."
    elif near(v_baseline / v_reparam):
        lead = (
            f"That is the number for the score function with the baseline f(m), "
            f"{fmt(v_baseline / v_reparam)}: the plain one needs many more."
        )
    else:
        lead = "Too few." if got < ratio else "Too many."
    return wrong(ex, f"{lead} It is {fmt(ratio)}: {why}")
