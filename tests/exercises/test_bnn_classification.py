"""The checkers of notebook 10's exercises: the stub, odd answers, each recognised mistake, and
the right answer computed a second way (vibook.metrics' own uncertainty functions, NumPyro's
entropy, scikit-learn's calibration curve, log loss and accuracy).
"""

import numpy as np
import numpyro.distributions as dist
import pytest
from exercise_answers import ODD_ANSWERS, ODD_FUNCTIONS, STUBS, not_yet, says
from scipy.special import softmax
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, log_loss

from vibook.exercises import (
    check_ece,
    check_temperature_prediction,
    check_uncertainty_split,
)
from vibook.metrics import (
    expected_aleatoric_entropy,
    expected_calibration_error,
    mutual_information,
    predictive_entropy,
)


def _underconfident(n=300, n_classes=5, seed=1):
    """Labels drawn from softmax(z), probabilities softmax(z / 2): too unsure, like the BNN."""
    rng = np.random.default_rng(seed)
    z = 3.0 * rng.standard_normal((n, n_classes))
    y = (softmax(z, axis=1).cumsum(1) > rng.random((n, 1))).argmax(1)
    return softmax(z / 2, axis=1), y


# Three draws' class probabilities for one image: a made-up case with three classes, and the
# notebook's own case (the far point below two moons, seed-0 BNN, as printed there).
DRAWS = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6]])
FAR = np.array([[9.99998e-01, 2.0e-06], [4.0e-06, 9.99996e-01], [6.32710e-02, 9.36729e-01]])
PROBS, LABELS = _underconfident()
VALUE_CHECKERS = {
    "split": lambda ans: check_uncertainty_split(ans, probs=DRAWS),
    "temperature": lambda ans: check_temperature_prediction(ans, probs=PROBS, y=LABELS),
}


@pytest.mark.parametrize("name", sorted(VALUE_CHECKERS))
def test_value_checkers_report_the_stub_and_never_raise(name):
    check = VALUE_CHECKERS[name]
    for stub in STUBS:
        not_yet(check(stub))
    for answer in ODD_ANSWERS:
        says(check(answer), "wrong")


def test_ece_reports_the_stub_and_never_raises():
    for stub in STUBS:
        not_yet(check_ece(stub))
        not_yet(check_ece(lambda *args, stub=stub: stub))  # a function whose body is the stub
    for func in ODD_FUNCTIONS:
        says(check_ece(func), "wrong")
    says(check_ece(lambda *args: 1 / 0), "wrong", "raised ZeroDivisionError")
    says(check_ece(3), "wrong", "must be a function")


# ------------------------------------------------------------------------------ 10.1
def _by_vibook(p):
    draws = p[:, None, :]  # (S draws, 1 input, n_classes)
    return (
        predictive_entropy(draws)[0],
        expected_aleatoric_entropy(draws)[0],
        mutual_information(draws)[0],
    )


@pytest.mark.parametrize("p", [DRAWS, FAR])
def test_uncertainty_split_right_answer_from_vibook_and_numpyro(p):
    says(check_uncertainty_split(_by_vibook(p), probs=p), "right", "epistemic")
    h = float(dist.Categorical(probs=p.mean(0)).entropy())
    e = float(dist.Categorical(probs=p).entropy().mean())
    says(check_uncertainty_split((h, e, h - e), probs=p), "right")
    # three figures are enough: BY_HAND's 5e-3 relative
    rounded = [float(f"{v:.3g}") for v in (h, e, h - e)]
    says(check_uncertainty_split(rounded, probs=p), "right")


def test_uncertainty_split_says_the_share_that_is_epistemic():
    h, e, i = _by_vibook(FAR)
    says(check_uncertainty_split((h, e, i), probs=FAR), "right", f"{i / h:.0%} of the total")


@pytest.mark.parametrize(
    ("mistake", "phrase"),
    [
        (lambda h, e, i: (h / np.log(2), e / np.log(2), i / np.log(2)), "bits"),
        (lambda h, e, i: (e, h, i), "first two numbers are swapped"),
        (lambda h, e, i: (e, h, -i), "first two numbers are swapped"),
        (lambda h, e, i: (h, e, -i), "sign is flipped"),
        (lambda h, e, i: (e, e, 0.0), "not the average of the draws' entropies"),
        (lambda h, e, i: (h, h, 0.0), "averages each draw's own entropy"),
        (lambda h, e, i: (-h, -e, -i), "with the minus sign"),
        (lambda h, e, i: (h, 3 * e, h - 3 * e), "summed: average them over the 3 draws"),
        (lambda h, e, i: (h, e, i + 0.1), "the mutual information is not"),
        (lambda h, e, i: (h, e), "shape (3,)"),
        (lambda h, e, i: "0.9, 0.7, 0.2", "must be numbers"),
        (lambda h, e, i: (h, np.nan, i), "NaN"),
    ],
)
def test_uncertainty_split_recognised_mistakes(mistake, phrase):
    answer = mistake(*_by_vibook(DRAWS))
    says(check_uncertainty_split(answer, probs=DRAWS), "wrong", phrase)


def test_uncertainty_split_refuses_probs_that_are_not_probabilities():
    with pytest.raises(ValueError, match="probs"):
        check_uncertainty_split(None, probs=DRAWS * 2)
    with pytest.raises(ValueError, match="probs"):
        check_uncertainty_split(None, probs=np.ones((3, 1)))


# ------------------------------------------------------------------------------ 10.2
def _sklearn_ece(probs, y, n_bins):
    """The ECE from scikit-learn's calibration curve of the top-label confidence."""
    conf = probs.max(1)
    correct = (probs.argmax(1) == y).astype(int)
    acc, mean_conf = calibration_curve(correct, conf, n_bins=n_bins, strategy="uniform")
    counts = np.histogram(conf, bins=n_bins, range=(0.0, 1.0))[0]
    counts = counts[counts > 0]  # calibration_curve leaves the empty bins out
    return float(np.sum(counts * np.abs(acc - mean_conf)) / len(y))


@pytest.mark.parametrize(
    "case",
    [{}, {"n_points": 1000, "n_classes": 3, "n_bins": 10, "seed": 4}, {"n_bins": 1}],
)
def test_ece_right_answer_from_scikit_learn(case):
    says(check_ece(_sklearn_ece, **case), "right", "calibrated")
    says(check_ece(lambda p, y, b: expected_calibration_error(p, y, n_bins=b), **case), "right")


def _histogram(probs, y, n_bins, *, weighted=True, signed=False, reduce=np.sum, span=(0, 1)):
    """Per-bin (count, accuracy, confidence) with np.histogram, then combined as told."""
    conf = probs.max(1)
    correct = (probs.argmax(1) == y).astype(float)
    span = (conf.min(), conf.max()) if span is None else span
    count = np.histogram(conf, bins=n_bins, range=span)[0]
    hits = np.histogram(conf, bins=n_bins, range=span, weights=correct)[0]
    total = np.histogram(conf, bins=n_bins, range=span, weights=conf)[0]
    full = count > 0
    gap = hits[full] / count[full] - total[full] / count[full]
    gap = gap if signed else np.abs(gap)
    if not weighted:
        return float(reduce(gap) / (full.sum() if reduce is np.sum else 1))
    return float(reduce(count[full] * gap) / len(y))


def _true_class_confidence(probs, y, n_bins):
    conf = probs[np.arange(len(y)), y]
    correct = (probs.argmax(1) == y).astype(float)
    hits = np.histogram(conf, bins=n_bins, range=(0, 1), weights=correct)[0]
    total = np.histogram(conf, bins=n_bins, range=(0, 1), weights=conf)[0]
    return float(np.abs(hits - total).sum() / len(y))


@pytest.mark.parametrize(
    ("func", "phrase"),
    [
        (lambda p, y, b: _histogram(p, y, b, weighted=False), "averaged with equal weights"),
        (lambda p, y, b: _histogram(p, y, b, signed=True), "accuracy minus mean confidence"),
        (lambda p, y, b: -_histogram(p, y, b, signed=True), "signs are kept"),
        (lambda p, y, b: _histogram(p, y, b, weighted=False, reduce=np.max), "maximum calib"),
        (lambda p, y, b: _histogram(p, y, len(y) * 1000), "Each point is its own bin"),
        (lambda p, y, b: len(y) * _sklearn_ece(p, y, b), "Not divided by n = 400"),
        (lambda p, y, b: 100 * _sklearn_ece(p, y, b), "percentage"),
        (lambda p, y, b: _histogram(p, y, b, span=None), "np.histogram's default"),
        (_true_class_confidence, "not the probability of the true class"),
        (lambda p, y, b: _sklearn_ece(p, y, 15), "n_bins is ignored"),
        (lambda p, y, b: _sklearn_ece(p, y, 15 if b == 15 else 7), "but not with 30"),
        (lambda p, y, b: np.array([_sklearn_ece(p, y, b)]), "shape ()"),
        (lambda p, y, b: _sklearn_ece(p, y, b) + 0.01, "Not the ECE"),
    ],
)
def test_ece_recognised_mistakes(func, phrase):
    says(check_ece(func), "wrong", phrase)


def test_ece_inputs_come_from_the_seed_not_global_state():
    seen = []
    for seed in (0, 0, 1):
        check_ece(lambda p, y, b: seen.append((p.copy(), y.copy())), seed=seed)
    assert np.array_equal(seen[0][0], seen[1][0]) and np.array_equal(seen[0][1], seen[1][1])
    assert not np.array_equal(seen[0][0], seen[2][0])
    p, y = seen[0]
    assert p.shape == (400, 5) and np.allclose(p.sum(1), 1) and set(y) <= set(range(5))


# ------------------------------------------------------------------------------ 10.3
def _truth(probs, y, temperature):
    """(accuracy, ECE, NLL) directions from p ** (1 / T), normalised, and scikit-learn's scores."""
    tempered = probs ** (1 / temperature)  # exp(log p / T), in float64
    tempered /= tempered.sum(1, keepdims=True)

    def scores(p):
        return (
            accuracy_score(y, p.argmax(1)),
            _sklearn_ece(p, y, 15),
            log_loss(y, p, labels=range(p.shape[1])),
        )

    out = []
    for after, before in zip(scores(tempered), scores(probs), strict=True):
        if np.isclose(after, before, rtol=1e-9, atol=1e-12):  # the checker's own "same"
            out.append("same")
        else:
            out.append("lower" if after < before else "higher")
    return tuple(out)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0, 2.0])
def test_temperature_prediction_right_answer_from_scikit_learn(temperature):
    truth = _truth(PROBS, LABELS, temperature)
    assert truth[0] == "same"  # a temperature keeps the order of the classes
    args = {"probs": PROBS, "y": LABELS, "temperature": temperature}
    says(check_temperature_prediction(truth, **args), "right", "The accuracy is unchanged")
    shouted = [f" {t.upper()} " for t in truth]  # case and spaces do not matter
    says(check_temperature_prediction(shouted, **args), "right")


def test_temperature_prediction_underconfident_case_sharpened():
    # these probabilities are too unsure: T = 0.5 sharpens them towards their labels
    assert _truth(PROBS, LABELS, 0.5)[1:] == ("lower", "lower")
    assert _truth(PROBS, LABELS, 2.0)[1:] == ("higher", "higher")


def _flip(choice):
    return "higher" if choice == "lower" else "lower"


@pytest.mark.parametrize(
    ("mistake", "phrase"),
    [
        (lambda t: ("lower", *t[1:]), "the accuracy is unchanged, not lower: dividing every"),
        (lambda t: (t[0], _flip(t[1]), t[2]), "the ECE is "),
        (lambda t: (*t[:2], _flip(t[2])), "images it gets wrong"),
        (lambda t: (t[0], "same", t[2]), "2 of the 3 right; the ECE is"),
        (lambda t: t[0], "Answer three strings"),
        (lambda t: (*t[:2], "maybe"), "Answer three strings"),
        (lambda t: (*t[:2], 1.0), "Answer three strings"),
    ],
)
def test_temperature_prediction_recognised_mistakes(mistake, phrase):
    answer = mistake(_truth(PROBS, LABELS, 0.5))
    says(
        check_temperature_prediction(answer, probs=PROBS, y=LABELS, temperature=0.5),
        "wrong",
        phrase,
    )


def test_temperature_prediction_refuses_bad_inputs():
    with pytest.raises(ValueError, match="y"):
        check_temperature_prediction(None, probs=PROBS, y=LABELS[:-1])
    with pytest.raises(ValueError, match="temperature"):
        check_temperature_prediction(None, probs=PROBS, y=LABELS, temperature=0.0)
