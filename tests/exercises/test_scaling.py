"""The checkers of notebook 13's exercises (vibook.exercises.scaling).

Each checker is fed the stub, odd answers of every kind, each recognised mistake, and the right
answer computed a second way, never with the checker's own formulas: the scale factor and the
scaled log-likelihood by NumPyro's own subsampling ``plate``; the minibatch estimate with SciPy's
Bernoulli log-pmf, scikit-learn's log loss and the notebook's model under NumPyro's
``log_density`` (with the plate's minibatch set to the batch); the noise ratio by a Monte Carlo
over batches.
"""

import jax.numpy as jnp
import numpy as np
import numpyro
import pytest
from exercise_answers import ODD_ANSWERS, ODD_FUNCTIONS, STUBS, not_yet, says
from numpyro import handlers
from numpyro.infer.util import log_density
from scipy import stats
from scipy.special import expit
from sklearn.metrics import log_loss

from vibook.data import synthetic_logistic
from vibook.exercises import (
    check_minibatch_loglik,
    check_minibatch_noise_prediction,
    check_minibatch_scale,
)
from vibook.models import logistic_regression

# Like the notebook's data (five standard-Normal inputs, its true weights), fewer rows.
DATA = synthetic_logistic(20_000, n_features=5, seed=3)
LOGISTIC = {"x": DATA["x"], "y": DATA["y"], "w": DATA["w"], "b": DATA["b"]}
NOISE = {**LOGISTIC, "n_small": 5_000, "batch_size": 500}  # four times the rows, as in 13.3


def _scipy_loglik(xb, yb, w, b, n):
    """(n / B) times the batch's Bernoulli log-pmfs, SciPy's."""
    return n / len(yb) * stats.bernoulli.logpmf(yb, expit(xb @ w + b)).sum()


def _sklearn_loglik(xb, yb, w, b, n):
    """The same from scikit-learn's log loss (summed, not averaged, with its sign flipped)."""
    return -n / len(yb) * log_loss(yb, expit(xb @ w + b), normalize=False, labels=[0, 1])


# ------------------------------------------------------------------------------ 13.1
SCALE = {"n": 1_000_000, "batch_size": 500, "batch_sum": -293.1, "kl": 34.9}  # the exercise's


def _by_numpyro_plate(n, batch_size, batch_sum, kl):
    """(scale, estimate, ELBO): a factor of batch_sum in NumPyro's plate of n, B subsampled."""

    def model():
        with numpyro.plate("data", n, subsample_size=batch_size):
            numpyro.factor("ll", jnp.zeros(batch_size).at[0].set(batch_sum))  # sums to it

    log_joint, trace = log_density(handlers.seed(model, 0), (), {}, {})
    return float(trace["ll"]["scale"]), float(log_joint), float(log_joint) - kl


@pytest.mark.parametrize(
    "case", [SCALE, {"n": 20_000, "batch_size": 300, "batch_sum": -150.2, "kl": 12.0}]
)
def test_minibatch_scale_right_answer_from_numpyros_plate(case):
    # float32 in JAX: relative error ~1e-7, within the exercise's 1e-6
    says(check_minibatch_scale(_by_numpyro_plate(**case), **case), "right", "stands for")


def test_minibatch_scale_says_how_small_the_kl_is():
    says(
        check_minibatch_scale((2000, -586200.0, -586234.9), **SCALE), "right", "0.0060% of the ELBO"
    )


def test_minibatch_scale_reports_the_stub_and_never_raises():
    for stub in STUBS:
        not_yet(check_minibatch_scale(stub, **SCALE))
    for answer in ODD_ANSWERS:
        says(check_minibatch_scale(answer, **SCALE), "wrong")


S, KL = SCALE["batch_sum"], SCALE["kl"]


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        ((5e-4, S * 5e-4, S * 5e-4 - KL), "The scale is inverted"),
        ((2000, S, S - KL), "The scale is not applied"),
        ((1, S, S - KL), "The scale is left out"),
        ((1e6, 1e6 * S, 1e6 * S - KL), "That scales by n"),
        ((2000, S / 500, S / 500 - KL), "average log-likelihood per row"),
        ((2000, 2000 * S, 2000 * (S - KL)), "The KL is scaled too"),
        ((2000, 2000 * S, 2000 * S), "leaves out the KL"),
        ((2000, 2000 * S, 2000 * S + KL), "The KL is added"),
        ((2000, 2000 * S, KL - 2000 * S), "the negative ELBO"),
        ((2000, 2000 * S, -586300.0), "Of the 3 numbers, n / B and the log-likelihood"),
        ((2000, -586000, -586000 - KL), "six significant figures"),  # rounded: not exact
        ((2000, 2000 * S), "shape (3,)"),
        ("2000", "must be numbers"),
    ],
)
def test_minibatch_scale_recognised_mistakes(answer, phrase):
    says(check_minibatch_scale(answer, **SCALE), "wrong", phrase)


def test_minibatch_scale_refuses_impossible_inputs():
    for bad, name in [({"batch_sum": 1.0}, "batch_sum"), ({"kl": -1.0}, "kl")]:
        with pytest.raises(ValueError, match=name):
            check_minibatch_scale(None, **{**SCALE, **bad})
    with pytest.raises(ValueError, match="batch_size"):
        check_minibatch_scale(None, **{**SCALE, "batch_size": 2_000_000})


# ------------------------------------------------------------------------------ 13.2
def test_minibatch_loglik_right_answer_from_scipy_and_scikit_learn():
    full = -log_loss(DATA["y"], expit(DATA["x"] @ DATA["w"] + DATA["b"]), normalize=False)
    for func in (_scipy_loglik, _sklearn_loglik):
        says(check_minibatch_loglik(func, **LOGISTIC), "right", f"{full:,.1f}", "On every batch")
    says(check_minibatch_loglik(_scipy_loglik, **LOGISTIC, batch_size=7, seed=3), "right")


def test_minibatch_loglik_right_answer_from_the_notebooks_model():
    def by_model(xb, yb, w, b, n):  # the model's log joint on the batch, less its prior
        log_joint, _ = log_density(logistic_regression, (xb, yb), {}, {"w": w, "b": b})
        return n / len(yb) * (float(log_joint) - stats.norm.logpdf([*w, b]).sum())

    # the model computes in float32: its relative error is ~1e-7, within the checker's 1e-5
    says(check_minibatch_loglik(by_model, **LOGISTIC, num_batches=20), "right")


def test_the_estimate_is_what_the_models_minibatch_plate_computes():
    x, y, w, b = (LOGISTIC[k] for k in "xywb")
    rows = np.random.default_rng(5).integers(0, len(y), size=500)
    on_rows = handlers.substitute(logistic_regression, data={"data": jnp.asarray(rows)})
    log_joint, _ = log_density(on_rows, (x, y), {"subsample_size": 500}, {"w": w, "b": b})
    scaled = float(log_joint) - stats.norm.logpdf([*w, b]).sum()
    # float32 sums over 500 rows in the model: agreement to 1e-5 relative
    assert np.isclose(scaled, _scipy_loglik(x[rows], y[rows], w, b, len(y)), rtol=1e-5)


def test_minibatch_loglik_reports_the_stub_and_never_raises():
    for stub in STUBS:
        not_yet(check_minibatch_loglik(stub, **LOGISTIC))
        not_yet(check_minibatch_loglik(lambda *a, stub=stub: stub, **LOGISTIC))
    for func in ODD_FUNCTIONS:
        says(check_minibatch_loglik(func, **LOGISTIC), "wrong")
    says(check_minibatch_loglik(lambda *a: 1 / 0, **LOGISTIC), "wrong", "raised ZeroDivisionError")
    says(check_minibatch_loglik(3, **LOGISTIC), "wrong", "must be a function")
    says(check_minibatch_loglik(lambda *a: [[1.0], [1.0, 2.0]], **LOGISTIC), "wrong")


def _per_row(xb, yb, w, b):
    return stats.bernoulli.logpmf(yb, expit(xb @ w + b))


class _ChangesAfterFirstCall:
    """Right on the first call, then off: state kept between calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        return _scipy_loglik(*args) + (0.0 if self.calls == 1 else 1.0)


def _noisy(xb, yb, w, b, n):  # unbiased, but not the batch's estimate
    return _scipy_loglik(xb, yb, w, b, n) + np.random.default_rng(len(yb) + int(yb.sum())).normal()


@pytest.mark.parametrize(
    ("func", "phrase"),
    [
        (lambda xb, yb, w, b, n: _per_row(xb, yb, w, b).sum(), "The scale n / B is missing"),
        (lambda xb, yb, w, b, n: _per_row(xb, yb, w, b).mean(), "the average per row"),
        (lambda *a: -_scipy_loglik(*a), "The sign is flipped"),
        (
            lambda xb, yb, w, b, n: len(yb) / n * _per_row(xb, yb, w, b).sum(),
            "The scale is inverted",
        ),
        (lambda xb, yb, w, b, n: n * _per_row(xb, yb, w, b).sum(), "Scaled by n"),
        (lambda xb, yb, w, b, n: _scipy_loglik(xb, yb, w, 0.0, n), "The bias b is left out"),
        (lambda xb, yb, w, b, n: _scipy_loglik(xb, 1 - yb, w, b, n), "The labels are flipped"),
        (
            lambda xb, yb, w, b, n: _scipy_loglik(xb, np.ones_like(yb), w, b, n),
            "Every label is taken as 1",
        ),
        (
            lambda xb, yb, w, b, n: n / len(yb) * np.exp(_per_row(xb, yb, w, b)).sum(),
            "probabilities, not log-probabilities",
        ),
        (lambda xb, yb, w, b, n: _per_row(xb, yb, w, b), "One number per row"),
        (
            lambda xb, yb, w, b, n: n / 500 * _per_row(xb, yb, w, b).sum(),
            "The batch size is fixed at 500",
        ),
        (_ChangesAfterFirstCall(), "Right on the first batch but not on batch 2"),
        (lambda *a: 1.1 * _scipy_loglik(*a), "so it is biased"),
        (_noisy, "so on average it matches"),
    ],
)
def test_minibatch_loglik_recognised_mistakes(func, phrase):
    says(check_minibatch_loglik(func, **LOGISTIC), "wrong", phrase)


def test_minibatch_loglik_batches_come_from_the_seed_with_replacement():
    seen = []

    def spy(xb, yb, w, b, n):
        seen.append((xb.copy(), yb.copy(), n))
        return _scipy_loglik(xb, yb, w, b, n)

    small = {"x": DATA["x"][:50], "y": DATA["y"][:50], "w": DATA["w"], "b": DATA["b"]}
    for seed in (0, 0, 1):
        check_minibatch_loglik(spy, **small, batch_size=40, num_batches=30, seed=seed)
    runs = [seen[:31], seen[31:62], seen[62:]]  # 30 batches, then one of another size
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(runs[0], runs[1], strict=True))
    assert not np.array_equal(runs[0][0][0], runs[2][0][0])
    assert all(len(yb) == 40 and n == 50 for _, yb, n in runs[0][:30]) and len(runs[0][30][1]) == 8
    rows = {tuple(r) for xb, _, _ in runs[0][:30] for r in xb}
    assert any(len({tuple(r) for r in xb}) < 40 for xb, _, _ in runs[0][:30])  # repeats
    assert rows <= {tuple(r) for r in small["x"]}


def test_minibatch_loglik_refuses_bad_data():
    for bad, name in [
        ({"y": DATA["y"][:-1]}, "y"),
        ({"y": DATA["y"] * 2}, "y"),
        ({"w": DATA["w"][:-1]}, "w"),
        ({"batch_size": 30_000}, "batch_size"),
    ]:
        with pytest.raises(ValueError, match=name):
            check_minibatch_loglik(None, **{**LOGISTIC, **bad})


# ------------------------------------------------------------------------------ 13.3
def _monte_carlo_ratio(x, y, w, b, n_small, batch_size, num_batches=4000, seed=11):
    """sd of the estimate on all rows / on the first n_small, each over num_batches batches."""
    rng = np.random.default_rng(seed)
    ll = _per_row(x, y, w, b)
    sds = []
    for n in (len(y), n_small):
        batches = rng.integers(0, n, size=(num_batches, batch_size))
        sds.append((n / batch_size * ll[:n][batches].sum(axis=1)).std(ddof=1))
    return sds[0] / sds[1]


def test_noise_prediction_right_answer_by_monte_carlo():
    ratio = _monte_carlo_ratio(**NOISE)
    # 4000 batches each: the ratio of two sds has relative sd sqrt(2 / (2 * 4000)) = 1.6%,
    # so it sits well inside the 10% allowed; and it is about 4, four times the rows
    assert abs(ratio - 4) < 0.2
    says(check_minibatch_noise_prediction(ratio, **NOISE), "right", "within 10%")
    says(check_minibatch_noise_prediction(0.92 * ratio, **NOISE), "right")
    says(check_minibatch_noise_prediction(0.88 * ratio, **NOISE), "wrong")


def test_noise_prediction_reports_the_stub_and_never_raises():
    for stub in STUBS:
        not_yet(check_minibatch_noise_prediction(stub, **NOISE))
    for answer in ODD_ANSWERS:
        says(check_minibatch_noise_prediction(answer, **NOISE), "wrong")


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (1.0, "The batch is the same size"),
        (2.0, "how the sd of a sum over all the rows grows"),
        (0.25, "It does not shrink"),
        (0.5, "how the posterior sd shrinks"),
        (16.0, "ratio of the variances"),
        (10.0, "Not quite"),
        ("four", "must be numbers"),
    ],
)
def test_noise_prediction_recognised_mistakes(answer, phrase):
    says(check_minibatch_noise_prediction(answer, **NOISE), "wrong", phrase)


def test_noise_prediction_refuses_sizes_that_do_not_fit():
    with pytest.raises(ValueError, match="n_small"):
        check_minibatch_noise_prediction(None, **{**NOISE, "n_small": 20_000})
    with pytest.raises(ValueError, match="batch_size"):
        check_minibatch_noise_prediction(None, **{**NOISE, "batch_size": 6_000})
