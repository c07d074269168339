"""The checkers of notebook 09's exercises (vibook.exercises.bnn_regression).

Each checker is fed the stub, odd answers of every kind, each recognised mistake, and the right
answer computed a second way, never with the checker's own formulas: the split of the
predictive variance and the predictive mean and sd by SciPy's quadrature of the predictive
mixture's density; the predictive sd after one more point by the Normal-Normal update in
closed form, for draws of a Normal posterior with one noise sd.
"""

import numpy as np
import pytest
from exercise_answers import ODD_ANSWERS, ODD_FUNCTIONS, STUBS, not_yet, says
from scipy import integrate, stats

from vibook.exercises import (
    check_gap_point_prediction,
    check_predictive_mean_sd,
    check_variance_split,
)


def _mixture_moments(f, sigma):
    """Mean, variance and mean within-draw variance of (1/S) sum_s N(f_s, sigma_s**2), by quad."""
    lo, hi = np.min(f - 12 * sigma), np.max(f + 12 * sigma)

    def density(y):
        return np.mean(stats.norm.pdf(y, f, sigma))

    def moment(g):
        return integrate.quad(
            lambda y: g(y) * density(y), lo, hi, epsabs=0, epsrel=1e-12, limit=200, points=list(f)
        )[0]

    mean = moment(lambda y: y)
    var = moment(lambda y: (y - mean) ** 2)
    within = np.mean(  # each draw's own variance, by quadrature of its Normal
        [
            integrate.quad(
                lambda y, m=m, s=s: (y - m) ** 2 * stats.norm.pdf(y, m, s),
                m - 12 * s,
                m + 12 * s,
                epsabs=0,
                epsrel=1e-12,
            )[0]
            for m, s in zip(f, sigma, strict=True)
        ]
    )
    return mean, var, within


# ------------------------------------------------------------------------------ 09.1
F0 = (0.31, -0.12, 0.05, 0.42)  # the exercise's four draws at x = 0
SIGMA0 = (0.09, 0.13, 0.11, 0.15)
SPLIT = {"f_draws": F0, "sigma_draws": SIGMA0}


def _split_by_quadrature():
    _, var, within = _mixture_moments(np.array(F0), np.array(SIGMA0))
    return np.array([within, var - within, np.sqrt(var)])  # aleatoric, epistemic, total sd


def test_variance_split_reports_the_stub_and_never_raises():
    for stub in STUBS:
        not_yet(check_variance_split(stub, **SPLIT))
    for answer in ODD_ANSWERS:
        says(check_variance_split(answer, **SPLIT), "wrong")


def test_variance_split_right_answer_by_quadrature():
    answer = _split_by_quadrature()
    says(check_variance_split(answer, **SPLIT), "right", "75% of the variance is epistemic")
    says(check_variance_split(np.round(answer, 4), **SPLIT), "right")  # three figures suffice
    assert check_variance_split(answer).ok  # the notebook's draws are the defaults


def _split_mistake(kind):
    f, s = np.array(F0), np.array(SIGMA0)
    ale, epi, tot = _split_by_quadrature()
    return {
        "swapped": [epi, ale, tot],
        "mean_sd_squared": [s.mean() ** 2, epi, np.sqrt(epi + s.mean() ** 2)],
        "mean_sd_squared_total_right": [s.mean() ** 2, epi, tot],
        "mean_sd": [s.mean(), epi, tot],
        "n_minus_1": [ale, epi * 4 / 3, np.sqrt(ale + epi * 4 / 3)],
        "epi_sd": [ale, np.sqrt(epi), tot],
        "not_centred": [ale, np.mean(f**2), np.sqrt(ale + np.mean(f**2))],
        "variance": [ale, epi, tot**2],
        "sds_added": [ale, epi, np.sqrt(ale) + np.sqrt(epi)],
        "mean_sd_added": [ale, epi, s.mean() + np.sqrt(epi)],
        "no_noise": [ale, epi, np.sqrt(epi)],
        "no_epistemic": [ale, epi, np.sqrt(ale)],
        "off": [ale, epi + 0.01, tot],
        "short": [ale, epi],
    }[kind]


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("swapped", "swapped"),
        ("mean_sd_squared", "not the square of the mean sd"),
        ("mean_sd_squared_total_right", "not the square of the mean sd"),
        ("mean_sd", "a variance: the mean of sigma_s**2, not of sigma_s"),
        ("n_minus_1", "divided by S - 1"),
        ("epi_sd", "given as an sd"),
        ("not_centred", "not centred"),
        ("variance", "the predictive variance: take its root"),
        ("sds_added", "sds do not add"),
        ("mean_sd_added", "adds the mean noise sd"),
        ("no_noise", "leaves out the noise"),
        ("no_epistemic", "leaves out the epistemic part"),
        ("off", "Of the 3 numbers, aleatoric and total_sd are right, epistemic is not"),
        ("short", "shape (3,)"),
    ],
)
def test_variance_split_recognised_mistakes(kind, phrase):
    says(check_variance_split(_split_mistake(kind), **SPLIT), "wrong", phrase)


@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        ({"f_draws": (0.1, 0.2), "sigma_draws": (0.1,)}, "sigma_draws"),
        ({"f_draws": (0.1,), "sigma_draws": (0.1,)}, "at least 2 draws"),
        ({"f_draws": (0.1, 0.2), "sigma_draws": (0.1, 0.0)}, "sigma_draws must be > 0"),
    ],
)
def test_draws_are_checked(inputs, error):
    with pytest.raises(ValueError, match=error):
        check_variance_split(None, **inputs)


# ------------------------------------------------------------------------------ 09.2
RNG = np.random.default_rng(3)
F_SMALL = RNG.normal(size=(5, 3)) * np.array([0.05, 0.3, 1.0])  # 5 draws at 3 inputs
SIGMA_SMALL = RNG.uniform(0.05, 0.2, size=5)
DRAWS = {"f_draws": F_SMALL, "sigma_draws": SIGMA_SMALL}


def _by_quadrature(f, sigma):
    """The student's function, done by quadrature of each input's predictive density."""
    moments = [_mixture_moments(f[:, i], sigma) for i in range(f.shape[1])]
    return np.array([m for m, _, _ in moments]), np.sqrt([v for _, v, _ in moments])


def test_predictive_mean_sd_reports_the_stub_and_never_raises():
    for stub in STUBS:
        not_yet(check_predictive_mean_sd(stub, **DRAWS))
        not_yet(check_predictive_mean_sd(lambda *args, stub=stub: stub, **DRAWS))
    for func in ODD_FUNCTIONS:
        says(check_predictive_mean_sd(func, **DRAWS), "wrong")
    says(check_predictive_mean_sd(lambda *a: 1 / 0, **DRAWS), "wrong", "raised ZeroDivisionError")
    says(check_predictive_mean_sd(3, **DRAWS), "wrong", "must be a function")


def test_predictive_mean_sd_right_answer_by_quadrature():
    # quad's relative error (1e-12 asked) is far inside the checker's 1e-6
    says(check_predictive_mean_sd(_by_quadrature, **DRAWS), "right", "at all 3 inputs")


def _sd_mistake(kind):
    def student(f, sigma):
        mean, sd = _by_quadrature(f, sigma)
        epi, ale = f.var(0), np.mean(sigma**2)
        return {
            "median": (np.median(f, 0), sd),
            "epistemic_only": (mean, np.sqrt(epi)),
            "aleatoric_only": (mean, np.full(f.shape[1], np.sqrt(ale))),
            "mean_sd_squared": (mean, np.sqrt(epi + sigma.mean() ** 2)),
            "sds_added": (mean, np.sqrt(epi) + np.sqrt(ale)),
            "mean_sd_added": (mean, np.sqrt(epi) + sigma.mean()),
            "variance": (mean, sd**2),
            "n_minus_1": (mean, np.sqrt(ale + f.var(0, ddof=1))),
            "not_squared": (mean, np.sqrt(epi + sigma.mean())),
            "wrong_axis": (f.mean(1), sd),
            "three": (mean, sd, sd),
            "off": (mean, sd + 0.1),
        }[kind]

    return student


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("median", "Mean: the median"),
        ("epistemic_only", "sd: only the epistemic part"),
        ("aleatoric_only", "sd: only the aleatoric part"),
        ("mean_sd_squared", "the square of the mean noise sd"),
        ("sds_added", "the sds are added"),
        ("mean_sd_added", "the sds are added"),
        ("variance", "that is the predictive variance"),
        ("n_minus_1", "divides by S - 1"),
        ("not_squared", "sigma holds sds"),
        ("wrong_axis", "Mean: one number per draw"),
        ("three", "Return two things"),
        ("off", "Mean right; sd not right"),
    ],
)
def test_predictive_mean_sd_recognised_mistakes(kind, phrase):
    says(check_predictive_mean_sd(_sd_mistake(kind), **DRAWS), "wrong", phrase)


# ------------------------------------------------------------------------------ 09.3
TAU, NOISE, PRIOR_MEAN = 0.23, 0.12, -0.1  # like NUTS's f(0) and noise sd in the gap
F_NORMAL = np.random.default_rng(0).normal(PRIOR_MEAN, TAU, size=200_000)
GAP = {"f_draws": F_NORMAL, "sigma_draws": np.full(F_NORMAL.size, NOISE), "y_new": 0.0}


def _conjugate_sd():
    """The predictive sd after y = 0 for f ~ N(m, TAU**2), noise NOISE: Normal-Normal update."""
    post_var = 1 / (1 / TAU**2 + 1 / NOISE**2)
    return np.sqrt(post_var + NOISE**2)


def test_gap_point_prediction_reports_the_stub_and_never_raises():
    for stub in STUBS:
        not_yet(check_gap_point_prediction(stub, **GAP))
    for answer in ODD_ANSWERS:
        says(check_gap_point_prediction(answer, **GAP), "wrong")


def test_gap_point_prediction_right_answer_by_the_normal_update():
    # The checker reweights 200,000 draws (effective sample size > 100,000): its estimate's
    # Monte Carlo error is far below 1e-3, so the exact value is within the 0.01 tolerance.
    says(check_gap_point_prediction(_conjugate_sd(), **GAP), "right", "effective sample size")
    says(check_gap_point_prediction(_conjugate_sd() + 0.008, **GAP), "right")


def _gap_mistake(kind):
    ale, epi_after = NOISE**2, 1 / (1 / TAU**2 + 1 / NOISE**2)
    return {
        "before": np.hypot(TAU, NOISE),
        "noise_only": NOISE,
        "epistemic_only": np.sqrt(epi_after),
        "variance": epi_after + ale,
        "sds_for_precisions": np.hypot(1 / (1 / TAU + 1 / NOISE), NOISE),
        "zero": 0.0,
        "off": 0.2,
        "string": "0.16",
    }[kind]


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("before", "the predictive sd before the point"),
        ("noise_only", "the noise sd alone"),
        ("epistemic_only", "the epistemic sd alone"),
        ("variance", "That is the predictive variance"),
        ("sds_for_precisions", "where the precisions (1 / variance) add"),
        ("zero", "An sd is positive"),
        ("off", "Not quite"),
        ("string", "must be numbers"),
    ],
)
def test_gap_point_prediction_recognised_mistakes(kind, phrase):
    says(check_gap_point_prediction(_gap_mistake(kind), **GAP), "wrong", phrase)


def test_gap_point_prediction_checks_its_inputs():
    with pytest.raises(ValueError, match="y_new"):
        check_gap_point_prediction(None, **{**GAP, "y_new": np.nan})
    with pytest.raises(ValueError, match="sigma_draws"):
        check_gap_point_prediction(None, f_draws=F0, sigma_draws=SIGMA0[:3])
