r"""Checkers for the exercises of notebook 11 (priors as inductive bias).

- 11.1 (by hand): the prior sd of a one-hidden-layer ReLU network's output at given inputs.
- 11.2 (implement): prior predictive function draws from the network's prior.
- 11.3 (predict, then run): what a larger prior scale does to the excess kurtosis of
  ``f(x)`` at a fixed width.

The network is notebook 11's 1-H-1 :func:`~vibook.models.bnn.bnn` with ReLU units,
:math:`f(x) = c + \sum_{j=1}^H v_j\,\mathrm{relu}(w_j x + b_j)` with
:math:`w_j, b_j, c \sim \mathcal N(0, s^2)` and :math:`v_j \sim \mathcal N(0, s^2 / H)`. Given
:math:`u = w x + b \sim \mathcal N(0, \sigma_x^2)`, :math:`\sigma_x^2 = s^2 (1 + x^2)`, the
function's prior covariance is the arc-cosine kernel (Cho and Saul 2009):

.. math::
    \mathrm{Cov}(f(x), f(x')) = s^2 + s^2\,\frac{\sigma_x \sigma_{x'}}{2\pi}
    \big(\sin\theta + (\pi - \theta)\cos\theta\big),
    \quad \cos\theta = \frac{s^2 (1 + x x')}{\sigma_x \sigma_{x'}},
    \qquad \mathrm{Var}\,f(x) = s^2 + \frac{s^4 (1 + x^2)}{2},

the same at every width. The hidden units' terms are independent, so fourth cumulants add, and
with :math:`E[\mathrm{relu}(u)^4] = 3\sigma^4/2` the excess kurtosis of :math:`f(x)` is

.. math::
    \kappa(x) = \frac{15}{H}\Big(1 - \frac{s^2}{\mathrm{Var}\,f(x)}\Big)^2 ,

``15 / H`` times the square of the hidden units' share of the variance: it falls like ``1/H``
(Neal's limit), and the Gaussian output bias ``c`` dilutes it less as ``s`` grows.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from vibook._checks import check_array, check_positive, check_positive_int, check_real, check_seed
from vibook.exercises.feedback import (
    BY_HAND,
    Feedback,
    as_numbers,
    call_answer,
    explain,
    fmt,
    is_stub,
    not_answered,
    right,
    which_right,
    wrong,
)

__all__ = ["check_kurtosis_prediction", "check_prior_draws", "check_prior_sd"]

Z_MAX = 5.0  # draws agree with a covariance when every entry is within 5 standard errors


def _var(x, s):
    """Var f(x) for the ReLU network with prior scale s."""
    return s**2 + s**4 * (1 + np.asarray(x, float) ** 2) / 2


def check_prior_sd(answer, *, x=(0.0, 2.0), prior_scale=3.0, width=50) -> Feedback:
    """Exercise 11.1: the prior sd of ``f`` at each input ``x``, for ReLU units, by hand.

    Parameters
    ----------
    answer : sequence of numbers, one per input
        The prior sd of ``f(x)`` at each ``x``; ``None`` or ``...`` while unanswered.
    x : array of shape (n,)
        The inputs.
    prior_scale : float
        ``s``: weights and biases of the first layer and the output bias are ``N(0, s**2)``,
        the output weights ``N(0, s**2 / width)``.
    width : int
        ``H``, the hidden units (the sd does not depend on it).

    Returns
    -------
    Feedback
        Recognised mistakes: the variance for the sd; the output bias left out; the input
        bias left out of ``Var(u)``; ``E[relu(u)**2] = Var(u)`` (the 1/2 missing);
        ``Var(relu(u))`` for ``E[relu(u)**2]``; the output weights' variance not divided by
        the width; the sd ``s`` used as the variance; each input judged on its own, and
        otherwise which of the numbers are right.
    """
    x = check_array(x, "x", ndim=1).astype(np.float64)
    s = check_positive(prior_scale, "prior_scale")
    h = check_positive_int(width, "width")
    ex = "11.1"
    what = f"the answer (the prior sd of f at each of the {x.size} inputs)"
    if is_stub(answer):
        return not_answered(ex, what)
    got = as_numbers(answer, ex, shape=x.shape, what=what)
    if isinstance(got, Feedback):
        return got
    ref = np.sqrt(_var(x, s))
    hidden = s**2 * (1 + x**2) / 2  # E[relu(u)**2] = Var(u) / 2
    mistakes = [
        (ref**2, "These are variances: the sd is their square root."),
        (
            np.sqrt(s**2 * hidden),
            "The output bias c is left out: it adds its variance s**2 to Var f(x).",
        ),
        (
            np.sqrt(s**2 + s**4 * x**2 / 2),
            "Var(u) leaves out the input bias: u = w x + b has variance s**2 x**2 + s**2.",
        ),
        (
            np.sqrt(s**2 + s**2 * 2 * hidden),
            "E[relu(u)**2] is taken as Var(u): relu keeps only the half of u above 0, so it "
            "is Var(u) / 2.",
        ),
        (
            np.sqrt(s**2 + s**2 * 2 * hidden * (0.5 - 1 / (2 * np.pi))),
            "That uses Var(relu(u)) where E[relu(u)**2] goes: v_j has mean 0, so Var(v_j "
            "relu(u_j)) = E[v_j**2] E[relu(u_j)**2], the second moment, not the variance.",
        ),
        (
            np.sqrt(s**2 + h * s**2 * hidden),
            f"The output weights' variance is not divided by the width: v_j ~ N(0, s**2 / H), "
            f"so the H = {h} units together add s**2 E[relu(u)**2], whatever H is.",
        ),
        (
            np.sqrt(s + s * (1 + x**2) / 2),
            "s is used as the variance of the weights and biases: it is their sd, so their "
            "variance is s**2.",
        ),
    ]
    flags = [bool(np.isclose(g, r, rtol=BY_HAND)) for g, r in zip(got, ref, strict=True)]
    found = None if all(flags) else explain(got, ref, mistakes, rtol=BY_HAND)
    if found:
        return wrong(ex, found)
    if all(flags):
        far = s**2 / np.sqrt(2)
        return right(
            ex,
            f"The prior sd of f is {fmt(ref)} at x = {fmt(x)}: Var f(x) = s**2 + s**4 (1 + "
            f"x**2) / 2, so far from 0 the sd grows like s**2 |x| / sqrt(2) = {fmt(far)} |x|, "
            "linearly, as the ReLU draws do; and H cancels, so it is the same at every width.",
        )
    names = tuple(f"sd f({v:g})" for v in x)
    return wrong(
        ex,
        f"{which_right(names, flags)}: Var f(x) is Var(c) plus H times Var(v_j relu(u_j)), "
        "with u = w x + b.",
    )


def _relu_moments(x, w_var, b_var):
    """E[relu(u) relu(u')] for u = w x + b, w ~ N(0, w_var), b ~ N(0, b_var): (n, n)."""
    cov = w_var * np.outer(x, x) + b_var
    sd = np.sqrt(np.diag(cov))
    norms = np.outer(sd, sd)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(norms > 0, cov / norms, 1.0)
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    return norms / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * np.cos(theta))


def _quadrature_moments(x, w_var, b_var, act, n_nodes=60):
    """E[act(u) act(u')] for u = w x + b, by Gauss-Hermite quadrature over (w, b)."""
    z, weights = hermegauss(n_nodes)
    weights = weights / weights.sum()
    u = np.sqrt(w_var) * x[:, None, None] * z[None, :, None] + np.sqrt(b_var) * z[None, None, :]
    phi = act(u)
    return np.einsum("iab,jab,a,b->ij", phi, phi, weights, weights)


def _kernel(x, *, w_var, b_var, out_var, c_var, act="relu"):
    """E[f(x) f(x')] when H output weights of variance out_var / H meet the hidden units."""
    if act == "relu":
        moments = _relu_moments(x, w_var, b_var)
    elif act == "linear":
        moments = w_var * np.outer(x, x) + b_var
    else:
        moments = _quadrature_moments(x, w_var, b_var, np.tanh)
    return c_var + out_var * moments


def _max_z(moments, se, kernel):
    return float(np.max(np.abs(moments - kernel) / se))


def check_prior_draws(
    func,
    *,
    x=(-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0),
    num_draws=4000,
    width=50,
    prior_scale=2.0,
    seed=0,
) -> Feedback:
    """Exercise 11.2: ``func(rng, x, num_draws, width, prior_scale)``, prior function draws.

    ``func`` must return an array of shape ``(num_draws, n)``: row ``i`` is the ``i``-th
    function drawn from the prior of the 1-``width``-1 ReLU network, at every input of ``x``.
    The checker hands it a NumPy generator seeded with ``seed`` and compares the draws'
    second moments ``mean_i f_i(x) f_i(x')`` with the exact ``E[f(x) f(x')]`` (the arc-cosine
    kernel), and their means with 0, each within 5 standard errors estimated from the draws.

    Parameters
    ----------
    func : callable
        The student's function; ``None`` or ``...`` (or a function returning either) while
        unanswered.
    x : array of shape (n,)
        The inputs.
    num_draws : int
        Functions to draw (>= 2).
    width : int
        Hidden units.
    prior_scale : float
        ``s``, as in :func:`vibook.models.bnn.bnn`.
    seed : int
        Seed of the generator handed to ``func``.

    Returns
    -------
    Feedback
        Recognised mistakes: the wrong shape or its transpose; every draw the same function
        (one network for all draws); new weights for every input, so the draws are not
        functions; the output weights' sd not divided by ``sqrt(width)``, or divided by
        ``width``; the input bias or the output bias left out; ``s**2`` passed as the sd; no
        activation; tanh units for ReLU; draws that do not average 0. Otherwise the input
        where the draws' variance is furthest from the prior's.
    """
    x = check_array(x, "x", ndim=1).astype(np.float64)
    num_draws = check_positive_int(num_draws, "num_draws", minimum=2)
    h = check_positive_int(width, "width")
    s = check_positive(prior_scale, "prior_scale")
    rng = np.random.default_rng(check_seed(seed))
    ex = "11.2"
    value = call_answer(func, (rng, x.copy(), num_draws, h, s), ex, name="your function")
    if isinstance(value, Feedback):
        return value
    if is_stub(value):
        return not_answered(ex, "your function (it returns None)")
    draws = as_numbers(value, ex, shape=(num_draws, x.size), what="your draws")
    if isinstance(draws, Feedback):
        return draws
    spread = draws.std(axis=0)
    if np.all(spread <= 1e-9 * (1.0 + np.abs(draws).max())):
        return wrong(
            ex,
            "Every draw is the same function: draw a new set of weights for each of the "
            f"{num_draws} draws, w and b of shape (num_draws, width).",
        )
    products = draws[:, :, None] * draws[:, None, :]  # f_i(x) f_i(x') per draw
    moments = products.mean(axis=0)
    se = products.std(axis=0, ddof=1) / np.sqrt(num_draws)
    se = np.maximum(se, 1e-12 * (1.0 + np.abs(moments)))
    mean_z = np.abs(draws.mean(axis=0)) / np.maximum(spread / np.sqrt(num_draws), 1e-300)
    v = s**2
    ref = _kernel(x, w_var=v, b_var=v, out_var=v, c_var=v)
    if _max_z(moments, se, ref) <= Z_MAX and np.all(mean_z <= Z_MAX):
        corr = ref[0, 1] / np.sqrt(ref[0, 0] * ref[1, 1]) if x.size > 1 else 1.0
        return right(
            ex,
            f"{num_draws} functions whose second moments match the prior's within "
            f"{Z_MAX:g} standard errors at all {x.size} inputs. The exact variances are "
            f"{fmt(np.diag(ref))}; neighbouring values are correlated (f({x[0]:g}) and "
            f"f({x[1] if x.size > 1 else x[0]:g}) at {corr:.2f}), which is what makes each "
            "draw a function and not noise.",
        )
    mistakes = [
        (
            np.diag(np.diag(ref)),
            "Each input got its own weights: the variances are right but f(x) and f(x') are "
            "uncorrelated, so a row is noise, not a function. Draw the weights once per draw "
            "and compute the network at every x with them.",
        ),
        (
            _kernel(x, w_var=v, b_var=v, out_var=h * v, c_var=v),
            "The output weights' sd is s: it is s / sqrt(width), so that the sum of the "
            "width units keeps the same variance at every width.",
        ),
        (
            _kernel(x, w_var=v, b_var=v, out_var=v / h, c_var=v),
            "The output weights' sd is s / width: it is s / sqrt(width) (the variance is "
            "divided by the fan-in, the sd by its square root).",
        ),
        (
            _kernel(x, w_var=v, b_var=0.0, out_var=v, c_var=v),
            "The hidden units' bias b is left out: u = w x + b.",
        ),
        (
            _kernel(x, w_var=v, b_var=v, out_var=v, c_var=0.0),
            "The output bias c is left out: f(x) = c + sum_j v_j relu(w_j x + b_j).",
        ),
        (
            _kernel(x, w_var=v**2, b_var=v**2, out_var=v**2, c_var=v**2),
            "s**2 is used as the sd: rng.normal takes the sd, s (and s / sqrt(width) for the "
            "output weights).",
        ),
        (
            _kernel(x, w_var=v, b_var=v, out_var=v, c_var=v, act="linear"),
            "There is no activation: apply relu, np.maximum(u, 0), to u = w x + b.",
        ),
        (
            _kernel(x, w_var=v, b_var=v, out_var=v, c_var=v, act="tanh"),
            "These are tanh units: this exercise's network uses ReLU, np.maximum(u, 0).",
        ),
    ]
    fits = [(_max_z(moments, se, k), msg) for k, msg in mistakes]
    best = min(fits, key=lambda t: t[0])
    if best[0] <= Z_MAX:
        return wrong(ex, best[1])
    if np.any(mean_z > Z_MAX):
        i = int(np.argmax(mean_z))
        return wrong(
            ex,
            f"The draws do not average 0 (at x = {x[i]:g} their mean is "
            f"{draws[:, i].mean():.3g}): every weight and bias has prior mean 0; "
            "rng.normal(0.0, sd, size=shape) draws them.",
        )
    z_var = np.abs(np.diag(moments) - np.diag(ref)) / np.diag(se)
    i = int(np.argmax(z_var))
    return wrong(
        ex,
        f"Not the prior's draws: at x = {x[i]:g} their mean square is "
        f"{moments[i, i]:.4g}, the prior's variance is {ref[i, i]:.4g}. Draw w, b, v and c "
        "(v with sd s / sqrt(width)), then f = c + sum over the units of v relu(w x + b).",
    )


def _kurtosis(x, s, h):
    """Excess kurtosis of f(x) under the ReLU network's prior."""
    return 15 / h * (1 - s**2 / _var(x, s)) ** 2


def check_kurtosis_prediction(
    answer, *, x=1.0, width=10, prior_scale=1.0, new_scale=3.0
) -> Feedback:
    """Exercise 11.3: predict whether the excess kurtosis of ``f(x)`` gets larger with ``s``.

    The network is the ReLU one of exercises 11.1 and 11.2, ``width`` units wide; the
    prediction compares the excess kurtosis of ``f(x)`` at ``new_scale`` with that at
    ``prior_scale``, from the formula ``15 / width * (1 - s**2 / Var f(x))**2``.

    Parameters
    ----------
    answer : {"larger", "smaller", "same"}
        The prediction for ``new_scale``; ``None`` or ``...`` while unanswered.
    x : float
        The input.
    width : int
        Hidden units.
    prior_scale, new_scale : float
        The prior scale ``s`` before and after the change.

    Returns
    -------
    Feedback
        Right or not, with both kurtoses and why (the Gaussian output bias's share of the
        variance). Recognised mistakes: "same" (the shape taken as independent of the
        scale, true of the hidden units' sum alone), the opposite direction (a larger
        variance taken for a more Gaussian one), the kurtosis given as a number instead of a
        word, any other string or non-string.
    """
    x = check_real(x, "x")
    h = check_positive_int(width, "width")
    s1 = check_positive(prior_scale, "prior_scale")
    s2 = check_positive(new_scale, "new_scale")
    ex = "11.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    k1, k2 = _kurtosis(x, s1, h), _kurtosis(x, s2, h)
    share1, share2 = s1**2 / _var(x, s1), s2**2 / _var(x, s2)
    truth = "same" if np.isclose(k1, k2, rtol=0.01) else ("larger" if k2 > k1 else "smaller")
    why = (
        f"f({x:g}) is the output bias c, Gaussian at every width, plus the hidden units' sum, "
        f"whose excess kurtosis is 15 / width = {15 / h:.3g} at every s (ReLU is "
        "homogeneous, so s rescales that sum without changing its shape). c's share of "
        f"Var f({x:g}) goes from {share1:.2f} at s = {s1:g} to {share2:.2f} at s = {s2:g}, "
        f"so the excess kurtosis, 15 / width times the square of the hidden share, goes "
        f"from {k1:.3f} to {k2:.3f}."
    )
    if not isinstance(answer, str):
        number = as_numbers(answer, ex, shape=(), what="the prediction")
        if not isinstance(number, Feedback) and np.isclose(float(number), k2, rtol=0.1):
            return wrong(
                ex,
                f"That is about the excess kurtosis at s = {s2:g}; answer the comparison "
                "in words: 'larger', 'smaller' or 'same'.",
            )
        return wrong(ex, f"Answer 'larger', 'smaller' or 'same' (a string); got {answer!r}.")
    said = answer.strip().lower()
    if said not in ("larger", "smaller", "same"):
        return wrong(ex, f"Answer 'larger', 'smaller' or 'same'; got {answer!r}.")
    verdict = "It is the same" if truth == "same" else f"It is {truth}"
    if said == truth:
        limit = f" As s grows without bound it tends to 15 / width = {15 / h:.3g}"
        return right(ex, f"{verdict}: {why}{limit}; only the width takes it to 0.")
    if said == "same":
        lead = "The hidden units' sum keeps its shape, but f is not that sum alone."
    elif truth == "same":
        lead = "The two scales give the hidden units the same share of the variance."
    elif said == "smaller":
        lead = (
            "A larger variance is not a more Gaussian one: the central limit theorem counts "
            "terms (the width), and s adds none."
        )
    else:
        lead = "The Gaussian output bias gains share here, so the kurtosis falls."
    return wrong(ex, f"{verdict}. {lead} {why}")
