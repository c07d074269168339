"""The checkers of notebook 06's exercises (vibook.exercises.mcmc_diagnostics).

Each checker is fed the stub, odd answers of every kind, each recognised mistake, and the right
answer computed a second way: NumPyro's ``split_gelman_rubin`` and ``gelman_rubin``, on normal
scores from SciPy's ``rankdata`` for the rank-normalised R-hat, and exact fractions worked out
by hand for the two short chains; never with the checker's own formulas (which use ArviZ).
"""

import numpy as np
import pytest
from exercise_answers import ODD_ANSWERS, ODD_FUNCTIONS, STUBS, says
from numpyro.diagnostics import gelman_rubin, split_gelman_rubin
from scipy import stats

from vibook.exercises import (
    check_rank_rhat,
    check_split_rhat,
    check_stuck_chain_prediction,
)

CHAINS = [[2.0, 1.0, 5.0, 4.0], [4.0, 2.0, 0.0, 1.0]]  # exercise 06.1's two chains
TAU = np.random.default_rng(7).gamma(1.5, 2.5, size=(4, 500))  # like NUTS draws of tau


def test_value_checkers_report_the_stub_and_never_raise():
    for check, kwargs in (
        (check_split_rhat, {"chains": CHAINS}),
        (check_stuck_chain_prediction, {"draws": TAU}),
    ):
        for stub in STUBS:
            says(check(stub, **kwargs), "not answered", "Not yet answered")
        for answer in ODD_ANSWERS:
            says(check(answer, **kwargs), "wrong")


def test_rank_rhat_reports_the_stub_and_never_raises():
    for stub in STUBS:
        says(check_rank_rhat(stub), "not answered", "Not yet answered")
        says(check_rank_rhat(lambda *a, stub=stub: stub), "not answered")
    for func in ODD_FUNCTIONS:
        says(check_rank_rhat(func), "wrong")
    says(check_rank_rhat(lambda *args: 1 / 0), "wrong", "raised ZeroDivisionError")
    says(check_rank_rhat(3), "wrong", "must be a function")


# ------------------------------------------------------------------------------ 06.1
def test_split_rhat_right_answer_from_numpyro_and_by_hand():
    numpyro_value = float(split_gelman_rubin(np.array(CHAINS)))
    # By hand: half-chain means (1.5, 4.5, 3, 0.5), variances (0.5, 0.5, 2, 0.5), W = 7/8,
    # B = 2 * 49/16, var+ = 7/16 + 49/16 = 7/2, R-hat = sqrt(4) = 2 exactly.
    assert numpyro_value == pytest.approx(2.0, rel=1e-12)
    says(check_split_rhat(numpyro_value, chains=CHAINS), "right", "2.000", "1.000")
    says(check_split_rhat(2.004, chains=CHAINS), "right")  # BY_HAND: 3.5 figures suffice
    odd = np.random.default_rng(1).normal(size=(3, 9))  # odd length: the middle draw goes
    says(check_split_rhat(float(split_gelman_rubin(odd)), chains=odd), "right")


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (float(gelman_rubin(np.array(CHAINS))), "not split"),  # 1 exactly: W = B = 25/8
        (float(split_gelman_rubin(np.array(CHAINS))) ** 2, "R-hat squared"),
        (np.sqrt(7.5), "within-chain variances s_m**2 are divided by n"),  # W = 7/16
        (np.sqrt(5.75), "np.var divides by the count"),  # W = 7/16, B = 147/32
        (1.5, "missing its factor n"),  # B = 49/16
        (np.sqrt(8.0), "The numerator is not W + B"),  # (7/8 + 49/8) / (7/8)
        (np.sqrt(4.25), "whole chains' length (4)"),  # 3/4 W + 49/16 over W
        (np.sqrt(2 / 3), "odd and even"),  # halves (2, 5), (1, 4), (4, 0), (2, 1)
        (3.3, "Not the split R-hat"),
        ([2.0, 1.0], "shape ()"),
    ],
)
def test_split_rhat_recognised_mistakes(answer, phrase):
    says(check_split_rhat(answer, chains=CHAINS), "wrong", phrase)


def test_split_rhat_refuses_chains_it_cannot_judge():
    with pytest.raises(ValueError, match="chains"):
        check_split_rhat(2.0, chains=[[1.0, 2.0, 3.0, 4.0]])
    with pytest.raises(ValueError, match="chains"):
        check_split_rhat(2.0, chains=[[1.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0]])


# ------------------------------------------------------------------------------ 06.2
def _scores(x, offset=3 / 8):
    """Normal scores of the ranks of all the values of ``x`` (Blom's offset by default)."""
    r = stats.rankdata(x.ravel()).reshape(x.shape)
    return stats.norm.ppf((r - offset) / (x.size + 1 - 2 * offset))


def _halves(x):
    h = x.shape[1] // 2
    return np.concatenate([x[:, :h], x[:, -h:]])


def _bulk(x):
    return float(split_gelman_rubin(_scores(x)))  # ranks over all draws, then split


def _folded(x):
    return _bulk(np.abs(x - np.median(x)))


def rank_rhat(x):
    """Vehtari et al. (2021): the larger of the bulk and the folded rank-normalised R-hat."""
    return max(_bulk(x), _folded(x))


def _ddof0(x):
    n = x.shape[1]
    w, b = x.var(axis=1).mean(), n * x.mean(axis=1).var(ddof=1)
    return np.sqrt(((n - 1) / n * w + b / n) / w)


def _per_chain(x):
    return np.vstack([_scores(row[None]) for row in x])


MISTAKES = [
    (lambda x: (_bulk(x), _folded(x)), "Two numbers came back"),
    (lambda x: float(split_gelman_rubin(x)), "split R-hat of the raw draws"),
    (_bulk, "bulk R-hat alone"),
    (_folded, "folded R-hat alone"),
    (
        lambda x: max(gelman_rubin(_scores(x)), gelman_rubin(_scores(np.abs(x - np.median(x))))),
        "not split",
    ),
    (
        lambda x: max(
            gelman_rubin(_per_chain(_halves(x))),
            gelman_rubin(_per_chain(np.abs(_halves(x) - np.median(x)))),
        ),
        "within each chain",
    ),
    (
        lambda x: max(
            gelman_rubin(stats.rankdata(_halves(x)).reshape(_halves(x).shape)),
            gelman_rubin(
                stats.rankdata(np.abs(_halves(x) - np.median(x))).reshape(_halves(x).shape)
            ),
        ),
        "ranks themselves",
    ),
    (
        lambda x: max(
            gelman_rubin(_halves(_scores(x, 0.5))),
            gelman_rubin(_halves(_scores(np.abs(x - np.median(x)), 0.5))),
        ),
        "(r - 1/2) / S",
    ),
    (
        lambda x: max(
            _ddof0(_halves(_scores(x))), _ddof0(_halves(_scores(np.abs(x - np.median(x)))))
        ),
        "ddof=1",
    ),
    (lambda x: max(_bulk(x), _bulk(np.abs(x - np.mean(x)))), "about their mean"),
    (lambda x: (_bulk(x) + _folded(x)) / 2, "mean of the bulk and the folded"),
    (lambda x: rank_rhat(x) + 0.1, "Not the rank-normalised R-hat"),
]


def test_rank_rhat_right_answer_from_numpyro_and_scipy():
    says(check_rank_rhat(rank_rhat), "right", "matches ArviZ")
    says(check_rank_rhat(rank_rhat, n_chains=2, n_draws=40, seed=5), "right")


@pytest.mark.parametrize(("func", "phrase"), MISTAKES)
def test_rank_rhat_recognised_mistakes(func, phrase):
    says(check_rank_rhat(func), "wrong", phrase)


def test_rank_rhat_refuses_an_odd_number_of_draws():
    with pytest.raises(ValueError, match="n_draws"):
        check_rank_rhat(rank_rhat, n_draws=101)


# ------------------------------------------------------------------------------ 06.3
def _truth(draws, quantile, chain=0, rhat_max=1.01):
    stuck = draws.copy()
    stuck[chain] = np.quantile(draws, quantile)
    with np.errstate(divide="ignore", invalid="ignore"):
        bulk, folded = _bulk(stuck) > rhat_max, _folded(stuck) > rhat_max
    return {(True, True): "both", (True, False): "bulk", (False, True): "folded"}.get(
        (bulk, folded), "neither"
    )


@pytest.mark.parametrize(("quantile", "expected"), [(0.5, "folded"), (0.05, "bulk")])
def test_stuck_chain_right_answer_from_numpyro_and_scipy(quantile, expected):
    truth = _truth(TAU, quantile)
    assert truth == expected  # stuck at the median: only the spread differs
    says(check_stuck_chain_prediction(f" {truth.upper()} ", draws=TAU, quantile=quantile), "right")
    for other in {"bulk", "folded", "both", "neither"} - {truth}:
        says(
            check_stuck_chain_prediction(other, draws=TAU, quantile=quantile),
            "wrong",
            f"It is {truth}" if quantile != 0.5 else "In numbers",
        )


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        ("bulk", "stuck at the centre"),
        ("both", "Only one of them"),
        ("neither", "compares spreads"),
        ("folded R-hat", "Answer one of"),
        (1.5, "Answer one of"),
    ],
)
def test_stuck_chain_recognised_mistakes(answer, phrase):
    says(check_stuck_chain_prediction(answer, draws=TAU), "wrong", phrase)


def test_stuck_chain_refuses_bad_inputs():
    for kwargs, name in (
        ({"chain": 4}, "chain"),
        ({"quantile": 1.5}, "quantile"),
        ({"rhat_max": 1.0}, "rhat_max"),
        ({"draws": np.ones((4, 10))}, "draws"),
    ):
        with pytest.raises(ValueError, match=name):
            check_stuck_chain_prediction("folded", **{"draws": TAU, **kwargs})
