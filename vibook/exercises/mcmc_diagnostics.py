r"""Checkers for the exercises of notebook 06 (VI vs MCMC: diagnostics and model checks).

- 06.1 (by hand): the classic split R-hat of two short chains.
- 06.2 (implement): the rank-normalised split R-hat that ArviZ and ``nuts_diagnostics`` report.
- 06.3 (predict, then run): which half of it, bulk or folded, flags a chain stuck at the
  median of ``tau``.

Split each of the :math:`M` chains in half, giving :math:`2M` chains of :math:`n` draws, with
means :math:`\bar x_m` and variances :math:`s_m^2` (divisor :math:`n - 1`). Then (Gelman et
al., BDA3, section 11.4)

.. math::
    W = \frac{1}{2M} \sum_m s_m^2, \quad
    B = \frac{n}{2M - 1} \sum_m (\bar x_m - \bar x)^2, \quad
    \hat R = \sqrt{\Big(\frac{n - 1}{n} W + \frac{B}{n}\Big) \Big/ W} .

The rank-normalised version (Vehtari et al. 2021) computes :math:`\hat R` of the normal
scores :math:`z = \Phi^{-1}\big((r - 3/8) / (S + 1/4)\big)` of the ranks :math:`r` of all
:math:`S` split draws (the *bulk* R-hat), and of the draws folded as :math:`|x -
\mathrm{median}(x)|` (the *folded* R-hat), and reports the larger.
"""

from __future__ import annotations

import arviz_stats as azs
import numpy as np
from scipy.stats import norm, rankdata

from vibook._checks import check_array, check_positive, check_positive_int, check_real, check_seed
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

__all__ = ["check_rank_rhat", "check_split_rhat", "check_stuck_chain_prediction"]

_CHOICES = ("bulk", "folded", "both", "neither")


def _chains(value, name: str):
    """``value`` checked as an array of shape (chains, draws): 2+ chains, 4+ draws, not constant."""
    arr = check_array(value, name, ndim=2).astype(np.float64)
    if arr.shape[0] < 2 or arr.shape[1] < 4:
        raise ValueError(
            f"{name} must have shape (chains, draws) with at least 2 chains and 4 draws; "
            f"got {arr.shape}"
        )
    if np.ptp(arr) == 0:
        raise ValueError(f"{name} must vary: all its values are {arr.flat[0]}")
    return arr


def _rhat(x, *, ddof=1, ddof_b=1, b_factor=True, weights=True, n=None, root=True):
    """Classic R-hat of the rows of ``x``, and the variants a hand computation may slip into."""
    n_draws = x.shape[1]
    n = n_draws if n is None else n
    w = x.var(axis=1, ddof=ddof).mean()
    b = (n if b_factor else 1) * x.mean(axis=1).var(ddof=ddof_b)
    var_plus = (n - 1) / n * w + b / n if weights else w + b
    return np.sqrt(var_plus / w) if root else var_plus / w


def _split(x):
    half = x.shape[1] // 2
    return np.vstack([x[:, :half], x[:, -half:]])


def check_split_rhat(answer, *, chains) -> Feedback:
    """Exercise 06.1: the classic split R-hat of a few short chains, by hand.

    Parameters
    ----------
    answer : float
        The split R-hat; ``None`` or ``...`` while unanswered.
    chains : array of shape (n_chains, n_draws)
        The draws, one row per chain (at least 2 chains of at least 4 draws; an odd middle
        draw is dropped, as ArviZ does).

    Returns
    -------
    Feedback
        Right or not, against ArviZ's ``rhat(chains, method="split")``. Recognised mistakes:
        the chains not split (ArviZ's ``method="identity"``), the square root left out, the
        variances divided by ``n`` instead of ``n - 1`` (within the chains only, or
        everywhere), ``B`` without its factor ``n``, ``W + B`` without the weights
        ``(n - 1)/n`` and ``1/n``, ``n`` taken as the whole chains' length, the draws split
        into odd and even ones instead of first and second halves.
    """
    chains = _chains(chains, "chains")
    halves = _split(chains)
    if np.any(np.ptp(halves, axis=1) == 0):
        raise ValueError("chains must vary within each half of each chain, or W is 0")
    ex = "06.1"
    if is_stub(answer):
        return not_answered(ex, "the split R-hat")
    got = as_numbers(answer, ex, shape=(), what="the split R-hat (one number)")
    if isinstance(got, Feedback):
        return got
    ref = float(azs.rhat(chains, method="split"))
    whole = float(azs.rhat(chains, method="identity"))
    if close(got, ref, rtol=BY_HAND):
        return right(
            ex,
            f"Split R-hat = {ref:.3f}; the whole chains, not split, give {whole:.3f}. "
            "Splitting compares each chain's first half with its second, so a chain that "
            "drifts is caught even when the whole chains happen to agree.",
        )
    n_whole = chains.shape[1]
    even = chains[:, : 2 * halves.shape[1]]
    interleaved = np.vstack([even[:, 0::2], even[:, 1::2]])
    mistakes = [
        (
            whole,
            "The chains are not split: cut each chain into its first and second half and "
            "treat the halves as 2M chains.",
        ),
        (
            _rhat(halves, root=False),
            "That is R-hat squared: take the square root of the numerator over W.",
        ),
        (
            _rhat(halves, ddof=0),
            "The within-chain variances s_m**2 are divided by n; the "
            "sample variance divides by n - 1.",
        ),
        (
            _rhat(halves, ddof=0, ddof_b=0),
            "The variances are divided by n (and by 2M for the "
            "means): np.var divides by the count unless told ddof=1.",
        ),
        (
            _rhat(halves, b_factor=False),
            "B is missing its factor n: it is n times the variance of the half-chain means.",
        ),
        (
            _rhat(halves, weights=False),
            "The numerator is not W + B: weight them, (n - 1)/n W + B/n.",
        ),
        (
            _rhat(halves, n=n_whole),
            f"n is the whole chains' length ({n_whole}); after "
            f"splitting each half-chain has n = {halves.shape[1]} draws.",
        ),
        (
            _rhat(interleaved),
            "The draws are split into odd and even ones: split each chain "
            "into its first and second half, so that a drift shows.",
        ),
    ]
    found = first_match(
        got, [(v, m) for v, m in mistakes if not close(v, ref, rtol=BY_HAND)], rtol=BY_HAND
    )
    return wrong(
        ex,
        found
        or f"Not the split R-hat ({fmt(got)}). Split the chains, then W is the mean of "
        "the half-chains' variances, B is n times the variance of their means, and R-hat "
        "is sqrt(((n - 1)/n W + B/n) / W).",
    )


def _z(x, *, offset=3 / 8, pooled=True):
    """Normal scores of the ranks of ``x``: over all its values, or within each row."""
    if not pooled:
        return np.vstack([_z(row[None], offset=offset) for row in x])
    ranks = rankdata(x, method="average").reshape(x.shape)
    return norm.ppf((ranks - offset) / (x.size - 2 * offset + 1))


def _rank_variant(
    x, *, split=True, pooled=True, scores=True, offset=3 / 8, ddof=1, centre=np.median, combine=max
):
    """Rank-normalised R-hat with one step changed: the mistakes of exercise 06.2."""
    x = _split(x) if split else x
    folded = np.abs(x - centre(x))
    if scores:
        bulk, tail = _z(x, offset=offset, pooled=pooled), _z(folded, offset=offset, pooled=pooled)
    else:
        bulk, tail = (rankdata(v).reshape(v.shape) for v in (x, folded))
    return combine(_rhat(bulk, ddof=ddof), _rhat(tail, ddof=ddof))


def _cases(n_chains, n_draws, seed):
    """The checker's chains: mixed, one chain shifted, one chain wider, heavy-tailed."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n_chains, n_draws))
    shifted, wider = base.copy(), base.copy()
    shifted[0] += 1.0
    wider[0] *= 3.0
    cauchy = rng.standard_cauchy((n_chains, n_draws))
    cauchy[0] += 3.0
    return {
        "mixed chains": base,
        "one chain shifted": shifted,
        "one chain wider": wider,
        "heavy-tailed chains": cauchy,
    }


def _shape(value):
    try:
        return np.shape(value)
    except (ValueError, TypeError):
        return None


def check_rank_rhat(func, *, n_chains=4, n_draws=100, seed=0) -> Feedback:
    """Exercise 06.2: ``func(chains)``, the rank-normalised split R-hat, implemented.

    The checker makes four arrays of shape (n_chains, n_draws) from a NumPy generator seeded
    with ``seed`` (well-mixed chains; one chain shifted; one chain three times wider;
    heavy-tailed Cauchy chains, one shifted by 3) and compares ``func`` on each with ArviZ's
    ``rhat(chains, method="rank")``.

    Parameters
    ----------
    func : callable
        The student's function, returning one number; ``None`` or ``...`` (or a function
        returning either) while unanswered.
    n_chains : int
        Chains per array (>= 2).
    n_draws : int
        Draws per chain (even, >= 4).
    seed : int
        Seed of the arrays.

    Returns
    -------
    Feedback
        Recognised mistakes: two numbers (bulk and folded) instead of their maximum; the
        split R-hat of the raw draws (no rank normalisation); the bulk R-hat alone, or the
        folded one alone; the chains not split; ranks within each chain instead of over all
        draws; R-hat of the ranks without the normal scores; the offset (r - 1/2) / S instead
        of (r - 3/8) / (S + 1/4); variances divided by n; the draws folded about their mean;
        the mean of bulk and folded instead of the larger.
    """
    n_chains = check_positive_int(n_chains, "n_chains", minimum=2)
    n_draws = check_positive_int(n_draws, "n_draws", minimum=4)
    if n_draws % 2:
        raise ValueError(f"n_draws must be even, so that each chain splits in half; got {n_draws}")
    cases = _cases(n_chains, n_draws, check_seed(seed))
    ex = "06.2"
    got = []
    for label, x in cases.items():
        value = call_answer(func, (x.copy(),), ex, name="your function")
        if isinstance(value, Feedback):
            return value
        if is_stub(value):
            return not_answered(ex, "your function (it returns None)")
        if _shape(value) == (2,) and not isinstance(value, str | bytes):
            return wrong(
                ex,
                "Two numbers came back: return one, the larger of the bulk and the folded R-hat.",
            )
        number = as_numbers(value, ex, shape=(), what=f"your R-hat of the {label}")
        if isinstance(number, Feedback):
            return number
        got.append(float(number))
    got = np.array(got)
    arrays = list(cases.values())
    ref = np.array([float(azs.rhat(x, method="rank")) for x in arrays])
    if close(got, ref, rtol=COMPUTED):
        shown = ", ".join(f"{k} {v:.3f}" for k, v in zip(cases, ref, strict=True))
        split = float(azs.rhat(arrays[3], method="split"))
        return right(
            ex,
            f"It matches ArviZ on all four arrays ({shown}). On the heavy-tailed chains, one "
            f"shifted by 3, the split R-hat of the raw draws is {split:.3f} against "
            f"{ref[3]:.3f}: a few huge draws swamp means and variances, ranks are immune.",
        )

    def each(**kw):
        return np.array([_rank_variant(x, **kw) for x in arrays])

    def arviz(method):
        return np.array([float(azs.rhat(x, method=method)) for x in arrays])

    mistakes = [
        (
            arviz("split"),
            "That is the split R-hat of the raw draws: replace each draw by the "
            "normal score of its rank first.",
        ),
        (
            arviz("z_scale"),
            "That is the bulk R-hat alone: also compute it for the folded "
            "draws |x - median| and return the larger.",
        ),
        (
            arviz("folded"),
            "That is the folded R-hat alone: also compute the bulk R-hat of the "
            "draws themselves and return the larger.",
        ),
        (each(split=False), "The chains are not split: cut each in half before ranking."),
        (
            each(pooled=False),
            "The ranks are taken within each chain: rank all the draws "
            "together, so that a chain sitting high gets high ranks.",
        ),
        (
            each(scores=False),
            "That is R-hat of the ranks themselves: turn them into normal "
            "scores, norm.ppf((r - 3/8) / (S + 1/4)).",
        ),
        (
            each(offset=0.5),
            "The scores use (r - 1/2) / S: the rank-normalised R-hat uses "
            "Blom's (r - 3/8) / (S + 1/4).",
        ),
        (each(ddof=0), "The variances are divided by n: use the sample variance, ddof=1."),
        (
            each(centre=np.mean),
            "The draws are folded about their mean: fold about the median, |x - median(x)|.",
        ),
        (
            each(combine=lambda a, b: (a + b) / 2),
            "That is the mean of the bulk and the folded R-hat: return the larger.",
        ),
    ]
    found = first_match(got, mistakes, rtol=COMPUTED)
    if found:
        return wrong(ex, found)
    which = [k for k, g, r in zip(cases, got, ref, strict=True) if not close(g, r, rtol=COMPUTED)]
    return wrong(
        ex,
        f"Not the rank-normalised R-hat for the {', '.join(which)} (ArviZ gives "
        f"{fmt(ref)}; yours {fmt(got)}). Split, rank all draws, take normal scores, compute "
        "R-hat; the same for |x - median|; return the larger.",
    )


def check_stuck_chain_prediction(
    answer, *, draws, chain=0, quantile=0.5, rhat_max=1.01
) -> Feedback:
    """Exercise 06.3: predict which R-hat flags a chain that repeats one value.

    Chain ``chain`` of ``draws`` is replaced by the ``quantile`` of all the draws, repeated;
    the bulk R-hat (ArviZ's ``method="z_scale"``) and the folded R-hat (``method="folded"``)
    of the result are compared with ``rhat_max``.

    Parameters
    ----------
    answer : {"bulk", "folded", "both", "neither"}
        Which of the two exceed ``rhat_max``; ``None`` or ``...`` while unanswered.
    draws : array of shape (n_chains, n_draws)
        The draws of one variable, one row per chain (the notebook's ``tau``).
    chain : int
        The chain that gets stuck (0-based).
    quantile : float
        Where it gets stuck, as a quantile of all the draws, in [0, 1].
    rhat_max : float
        The threshold (> 1).

    Returns
    -------
    Feedback
        Right or not, with both values and why. Recognised mistakes, for a chain stuck at
        the median: "bulk" (the bulk R-hat compares centres, and the chain sits at the
        centre), "both" (only the folded one sees it), "neither" (a chain that never moves
        has no spread); a string that is not a choice, or a number.
    """
    draws = _chains(draws, "draws")
    chain = check_positive_int(chain, "chain", minimum=0)
    if chain >= draws.shape[0]:
        raise ValueError(
            f"chain must be below the number of chains ({draws.shape[0]}); got {chain}"
        )
    quantile = check_real(quantile, "quantile")
    if not 0 <= quantile <= 1:
        raise ValueError(f"quantile must be in [0, 1]; got {quantile}")
    rhat_max = check_positive(rhat_max, "rhat_max")
    if rhat_max <= 1:
        raise ValueError(f"rhat_max must be above 1; got {rhat_max}")
    ex = "06.3"
    if is_stub(answer):
        return not_answered(ex, "the prediction")
    options = ", ".join(repr(c) for c in _CHOICES)
    if not isinstance(answer, str) or answer.strip().lower() not in _CHOICES:
        return wrong(ex, f"Answer one of {options} (a string); got {answer!r}.")
    said = answer.strip().lower()
    stuck = draws.copy()
    value = np.quantile(draws, quantile)
    stuck[chain] = value
    with np.errstate(divide="ignore", invalid="ignore"):  # other chains constant too: NaN
        bulk = float(azs.rhat(stuck, method="z_scale"))
        folded = float(azs.rhat(stuck, method="folded"))
    flags = (bulk > rhat_max, folded > rhat_max)
    truth = {(True, True): "both", (True, False): "bulk", (False, True): "folded"}.get(
        flags, "neither"
    )
    facts = (
        f"with chain {chain} repeating {fmt(value)}, the bulk R-hat is {bulk:.4f} and the "
        f"folded R-hat {folded:.4f}, against {rhat_max:g}"
    )
    if truth == "folded":
        why = (
            "The bulk R-hat compares where the chains sit, in ranks: a chain stuck at the "
            "centre sits where the others do. Folding, |x - median|, turns spread into "
            "position: the stuck chain's folded draws are all near 0, below everyone "
            "else's, and the folded R-hat sees it. That is why ArviZ reports the larger."
        )
    elif truth == "both":
        why = "A chain stuck away from the centre sits apart (bulk) and has no spread (folded)."
    elif truth == "bulk":
        why = (
            "Stuck away from the centre, the chain sits apart from the others, which the bulk "
            "R-hat sees; its folded draws, all one distance from the median, sit among the "
            "others' folded draws, so the folded R-hat does not."
        )
    else:
        why = "The stuck chain differs too little from the others, in place or in spread."
    if said == truth:
        return right(ex, f"It is {truth}: {facts}. {why}")
    leads = {
        ("bulk", "folded"): "Not the bulk R-hat: it compares the chains' centres, and this "
        "chain is stuck at the centre.",
        ("both", "folded"): "Only one of them.",
        ("neither", "folded"): "A chain that never moves is caught, by the one that compares "
        "spreads.",
    }
    lead = leads.get((said, truth), f"It is {truth}, not {said}.")
    return wrong(ex, f"{lead} In numbers: {facts}. {why}")
