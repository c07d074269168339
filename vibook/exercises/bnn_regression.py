r"""Checkers for the exercises of notebook 09 (Bayesian neural networks for regression).

- 09.1 (by hand): the predictive variance at one input split into its aleatoric and epistemic
  parts, from four posterior draws of the network's output and noise sd.
- 09.2 (implement): the predictive mean and sd at every input, from posterior draws.
- 09.3 (predict, then run): the predictive sd in the middle of the gap once one more
  observation is added there.

With posterior draws :math:`(f_s(x), \sigma_s)`, :math:`s = 1, \dots, S`, the predictive
distribution at :math:`x` is the mixture :math:`\frac1S \sum_s \mathcal N(f_s(x), \sigma_s^2)`,
and the law of total variance splits its variance in two:

.. math::
    \operatorname{Var}[y \mid x]
    = \underbrace{\frac1S \sum_s \sigma_s^2}_{\text{aleatoric}}
    + \underbrace{\frac1S \sum_s \big(f_s(x) - \bar f(x)\big)^2}_{\text{epistemic}},
    \qquad \bar f(x) = \frac1S \sum_s f_s(x) .

One more observation :math:`y^*` at :math:`x^*` turns the posterior given the data into the
posterior given the data and :math:`y^*`, which the old draws represent once reweighted by the
new point's likelihood (importance sampling, as PSIS-LOO reweights draws to leave a point out):

.. math::
    w_s \propto \mathcal N(y^* \mid f_s(x^*), \sigma_s^2), \qquad \sum_s w_s = 1,

and the predictive variance at :math:`x^*` becomes
:math:`\sum_s w_s \sigma_s^2 + \sum_s w_s (f_s(x^*) - \sum_r w_r f_r(x^*))^2`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from scipy.stats import norm

from vibook._checks import check_array, check_real
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

__all__ = ["check_gap_point_prediction", "check_predictive_mean_sd", "check_variance_split"]

PREDICTION_TOL = 0.01  # absolute tolerance of the predicted sd in 09.3


def _draws(f_draws, sigma_draws, ndim: int):
    """The draws as float arrays, checked: ``S >= 2`` draws, one positive noise sd each."""
    f = check_array(f_draws, "f_draws", ndim=ndim).astype(np.float64)
    sigma = check_array(sigma_draws, "sigma_draws", ndim=1).astype(np.float64)
    if sigma.shape[0] != f.shape[0]:
        raise ValueError(
            f"sigma_draws must hold one noise sd per draw of f_draws ({f.shape[0]}); "
            f"got {sigma.shape[0]}"
        )
    if f.shape[0] < 2:
        raise ValueError(f"f_draws must hold at least 2 draws; got {f.shape[0]}")
    if np.any(sigma <= 0):
        raise ValueError(f"sigma_draws must be > 0 (noise sds); got minimum {sigma.min()}")
    return f, sigma


def check_variance_split(
    answer,
    *,
    f_draws=(0.31, -0.12, 0.05, 0.42),
    sigma_draws=(0.09, 0.13, 0.11, 0.15),
) -> Feedback:
    """Exercise 09.1: the aleatoric and epistemic parts of the predictive variance, by hand.

    Parameters
    ----------
    answer : sequence of 3 numbers
        ``(aleatoric, epistemic, total_sd)``: the mean of the noise variances, the variance of
        the draws' outputs (dividing by ``S``), and the predictive sd; ``None`` or ``...``
        while unanswered.
    f_draws : array of shape (S,)
        The network's output at one input under each posterior draw.
    sigma_draws : array of shape (S,)
        The noise sd of each draw (> 0).

    Returns
    -------
    Feedback
        Recognised mistakes: the two parts swapped; the aleatoric part as the square of the
        mean sd, or as the mean sd; the epistemic part divided by ``S - 1``, as an sd, or not
        centred; the total given as a variance, as a sum of sds, or without the noise;
        otherwise which of the three numbers are right.
    """
    f, sigma = _draws(f_draws, sigma_draws, ndim=1)
    ex = "09.1"
    what = "the answer (aleatoric, epistemic, total_sd)"
    if is_stub(answer):
        return not_answered(ex, what)
    got = as_numbers(answer, ex, shape=(3,), what=what)
    if isinstance(got, Feedback):
        return got
    ale, epi = np.mean(sigma**2), np.var(f)
    tot = np.sqrt(ale + epi)
    ref = np.array([ale, epi, tot])
    if close(got, ref, rtol=BY_HAND):
        return right(
            ex,
            f"Aleatoric {fmt(ale)} plus epistemic {fmt(epi)} is the predictive variance, so "
            f"the predictive sd is {fmt(tot)}; {epi / (ale + epi):.0%} of the variance is "
            "epistemic: more data at this input would shrink that part, never the noise.",
        )
    m_sigma, epi_1, sd_f = np.mean(sigma), np.var(f, ddof=1), np.std(f)
    sds_added = "sds do not add, variances do: the predictive sd is sqrt(aleatoric + epistemic)."
    mistakes = [
        ([epi, ale, tot], "The two parts are swapped: the aleatoric part is the noise's."),
        (
            [m_sigma**2, epi, np.sqrt(epi + m_sigma**2)],
            "The aleatoric part is the mean of the noise variances sigma_s**2, not the square "
            "of the mean sd: the two differ whenever the draws' sigma_s differ.",
        ),
        (
            [m_sigma, epi, np.sqrt(epi + m_sigma)],
            "The aleatoric part is a variance: the mean of sigma_s**2, not of sigma_s.",
        ),
        (
            [ale, epi_1, np.sqrt(ale + epi_1)],
            "The epistemic part is divided by S - 1: the predictive distribution is the mixture "
            "that gives each draw weight 1/S, so its variance divides by S (np.var's default).",
        ),
        (
            [ale, sd_f, tot],
            "The epistemic part is given as an sd: give the variance of the draws' outputs.",
        ),
        (
            [ale, np.mean(f**2), np.sqrt(ale + np.mean(f**2))],
            "The epistemic part is not centred: subtract the predictive mean, the mean of the "
            "f_s, before squaring.",
        ),
        ([ale, epi, ale + epi], "The third number is the predictive variance: take its root."),
        ([ale, epi, np.sqrt(ale) + sd_f], "The total adds the two sds: " + sds_added),
        ([ale, epi, m_sigma + sd_f], "The total adds the mean noise sd to f's sd: " + sds_added),
        ([ale, epi, sd_f], "The total leaves out the noise: add the aleatoric part."),
        ([ale, epi, np.sqrt(ale)], "The total leaves out the epistemic part: add it."),
    ]
    found = explain(got, ref, mistakes, rtol=BY_HAND)
    if found:
        return wrong(ex, found)
    flags = [close(g, r, rtol=BY_HAND) for g, r in zip(got, ref, strict=True)]
    return wrong(
        ex,
        f"{which_right(('aleatoric', 'epistemic', 'total_sd'), flags)}: the aleatoric part is "
        "the mean of sigma_s**2, the epistemic part the mean of (f_s - mean of f)**2, and the "
        "total sd the square root of their sum.",
    )


def check_predictive_mean_sd(func, *, f_draws, sigma_draws) -> Feedback:
    """Exercise 09.2: ``func(f, sigma)``, the predictive mean and sd from draws, implemented.

    ``func`` must return ``(mean, sd)``, each of shape (n,): the mean over the draws of
    ``f[s, i]``, and the square root of the mean of ``sigma[s]**2`` plus the variance over
    the draws of ``f[s, i]`` (dividing by ``S``).

    Parameters
    ----------
    func : callable
        The student's function; ``None`` or ``...`` (or a function returning either) while
        unanswered.
    f_draws : array of shape (S, n)
        The network's output at ``n`` inputs under each of ``S`` posterior draws.
    sigma_draws : array of shape (S,)
        The noise sd of each draw (> 0).

    Returns
    -------
    Feedback
        Each of the two parts judged on its own. Recognised mistakes: not two parts, a part
        of the wrong shape (one number per draw: averaged over the inputs); the median for
        the mean; for the sd, the epistemic or the aleatoric part alone, the square of the
        mean noise sd for the mean of the squares, the sds added, the variance instead of the
        sd, the draws' variance divided by ``S - 1``, the noise sds not squared.
    """
    f, sigma = _draws(f_draws, sigma_draws, ndim=2)
    ex = "09.2"
    value = call_answer(func, (f.copy(), sigma.copy()), ex, name="your function")
    if isinstance(value, Feedback):
        return value
    if is_stub(value):
        return not_answered(ex, "your function (it returns None)")
    if isinstance(value, str | bytes | dict) or not hasattr(value, "__len__") or len(value) != 2:
        return wrong(ex, "Return two things, (mean, sd).")
    (n_draws, n), ale = f.shape, np.mean(sigma**2)
    epi = f.var(axis=0)
    ref = {"mean": f.mean(axis=0), "sd": np.sqrt(ale + epi)}
    sd_f, ones = np.sqrt(epi), np.ones(n)
    mistakes = {
        "mean": [(np.median(f, axis=0), "the median of the draws; give their mean")],
        "sd": [
            (sd_f, "only the epistemic part: add the mean of sigma**2 under the square root"),
            (np.sqrt(ale) * ones, "only the aleatoric part: add the variance of the draws of f"),
            (
                np.sqrt(epi + np.mean(sigma) ** 2),
                "the square of the mean noise sd is not the mean of sigma**2 (they differ "
                "whenever the draws' sigma differ)",
            ),
            (sd_f + np.sqrt(ale), "the sds are added: variances add, so take sqrt of the sum"),
            (sd_f + np.mean(sigma), "the sds are added: variances add, so take sqrt of the sum"),
            (ale + epi, "that is the predictive variance: take its square root"),
            (
                np.sqrt(ale + f.var(axis=0, ddof=1)),
                "the variance of the draws divides by S - 1: the mixture gives each draw "
                "weight 1/S, so divide by S (np.var's default)",
            ),
            (np.sqrt(epi + np.mean(sigma)), "sigma holds sds: square them before averaging"),
        ],
    }
    notes, all_right = [], True
    for name, given in zip(("mean", "sd"), value, strict=True):
        if np.shape(given) == (n_draws,) and n_draws != n:
            notes.append(
                f"{name}: one number per draw, so it was averaged over the inputs (axis 1); "
                "average over the draws, axis 0"
            )
            all_right = False
            continue
        got = as_numbers(given, ex, shape=(n,), what=name)
        if isinstance(got, Feedback):
            notes.append(got.message.rstrip("."))
            all_right = False
        elif close(got, ref[name], rtol=COMPUTED, atol=1e-9):
            notes.append(f"{name} right")
        else:
            all_right = False
            said = first_match(got, mistakes[name], rtol=COMPUTED, atol=1e-9)
            notes.append(f"{name}: {said}" if said else f"{name} not right")
    if all_right:
        share = epi / (ale + epi)
        return right(
            ex,
            f"The predictive mean and sd at all {n} inputs; mean +- 2 sd is the lighter band "
            f"('+-2 sd, with noise') of plot_regression_uncertainty. Over these inputs the "
            f"epistemic part is {share.min():.0%} to {share.max():.0%} of the predictive "
            "variance.",
        )
    text = "; ".join(notes) + "."
    return wrong(ex, text[0].upper() + text[1:])


def check_gap_point_prediction(answer, *, f_draws, sigma_draws, y_new=0.0) -> Feedback:
    """Exercise 09.3: predict the predictive sd at ``x*`` once an observation ``y_new`` is added.

    The right value reweights the posterior draws by the new point's likelihood,
    ``w_s`` proportional to ``N(y_new | f_s(x*), sigma_s**2)``: the predictive sd at ``x*``
    under the posterior given the old data and the new point.

    Parameters
    ----------
    answer : float
        The predicted predictive sd at ``x*``; right within 0.01. ``None`` or ``...`` while
        unanswered.
    f_draws : array of shape (S,)
        The network's output at ``x*`` under each posterior draw.
    sigma_draws : array of shape (S,)
        The noise sd of each draw (> 0).
    y_new : float
        The new observation at ``x*``.

    Returns
    -------
    Feedback
        Right or not, with the value, the effective sample size of the reweighting and why.
        Recognised mistakes: a number <= 0; the sd before the point; the noise sd alone (the
        point pins ``f(x*)`` down exactly); the epistemic sd alone; the variance instead of the
        sd; the Normal update with sds where precisions go; a string or anything else that is
        not a number.
    """
    f, sigma = _draws(f_draws, sigma_draws, ndim=1)
    y_new = check_real(y_new, "y_new")
    ex = "09.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    got = as_numbers(answer, ex, shape=(), what="the prediction (an sd)")
    if isinstance(got, Feedback):
        return got
    got = float(got)
    w = softmax(norm.logpdf(y_new, f, sigma))
    ess = 1.0 / np.sum(w**2)
    ale_after = w @ sigma**2
    epi_after = w @ (f - w @ f) ** 2
    ref = np.sqrt(ale_after + epi_after)
    ale, epi = np.mean(sigma**2), np.var(f)
    before = np.sqrt(ale + epi)
    why = (
        f"reweighting the {f.size} draws by the new point's likelihood (an effective sample "
        f"size of {ess:.0f}) takes the epistemic sd at this input from {fmt(np.sqrt(epi))} to "
        f"{fmt(np.sqrt(epi_after))}, while the noise part stays near {fmt(np.sqrt(ale_after))}: "
        f"the predictive sd goes from {fmt(before)} to {fmt(ref)}. The closed form for a Normal "
        "mean, where precisions add (1 / epistemic variance + 1 / noise variance), gives "
        f"{fmt(np.sqrt(1 / (1 / epi + 1 / ale) + ale))}. The point shrinks the "
        "epistemic part; no point removes the noise."
    )
    if abs(got - ref) <= PREDICTION_TOL:
        return right(ex, f"{got:.3g} is within {PREDICTION_TOL} of {ref:.3f}: {why}")
    sd_precision = 1 / (1 / np.sqrt(epi) + 1 / np.sqrt(ale))
    leads = [
        (before, "That is the predictive sd before the point: one point in the gap changes it."),
        (
            np.sqrt(ale),
            "That is the noise sd alone, as if the point fixed f there exactly; its own noise "
            "leaves some epistemic variance.",
        ),
        (np.sqrt(epi_after), "That is the epistemic sd alone: add the noise's variance."),
        (ref**2, "That is the predictive variance; the sd is its square root."),
        (
            np.sqrt(sd_precision**2 + ale),
            "The sds were combined where the precisions (1 / variance) add.",
        ),
    ]
    lead = next((m for v, m in leads if abs(got - v) <= PREDICTION_TOL / 2), None)
    if got <= 0:
        lead = "An sd is positive, and the noise alone keeps it above zero."
    return wrong(ex, f"{lead or 'Not quite.'} It is {ref:.3f}: {why}")
