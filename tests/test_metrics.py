import jax
import numpy as np
import pytest
from scipy.stats import bootstrap, entropy, mannwhitneyu
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

from vibook.metrics import (
    accuracy,
    brier_score,
    calibration_bins,
    ece_if_calibrated,
    expected_aleatoric_entropy,
    expected_calibration_error,
    mutual_information,
    nll,
    ood_auroc,
    ood_auroc_interval,
    paired_bootstrap,
    predictive_entropy,
)

PROBS = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
Y = np.array([0, 1, 1, 1])


def test_accuracy_nll_brier_by_hand():
    assert accuracy(PROBS, Y) == pytest.approx(0.75)
    expected_nll = -(np.log(0.9) + np.log(0.8) + np.log(0.4) + np.log(0.7)) / 4
    assert nll(PROBS, Y) == pytest.approx(expected_nll, rel=1e-12)
    # (0.1^2 + 0.1^2), (0.2^2 * 2), (0.6^2 * 2), (0.3^2 * 2)
    expected_brier = (0.02 + 0.08 + 0.72 + 0.18) / 4
    assert brier_score(PROBS, Y) == pytest.approx(expected_brier, rel=1e-12)


def test_ece_by_hand():
    # Confidences 0.9, 0.8, 0.6, 0.7 with 2 bins (0, 0.5], (0.5, 1]: all in bin 2,
    # mean confidence 0.75, accuracy 0.75 -> ECE 0.
    assert expected_calibration_error(PROBS, Y, n_bins=2) == pytest.approx(0.0, abs=1e-12)
    # 10 bins: each point alone; |acc - conf| = 0.1, 0.2, 0.6, 0.3 -> mean 0.3.
    assert expected_calibration_error(PROBS, Y, n_bins=10) == pytest.approx(0.3, abs=1e-12)
    bins = calibration_bins(PROBS, Y, n_bins=10)
    assert bins["count"].sum() == 4
    assert np.isnan(bins["accuracy"][0])  # empty bin
    assert bins["accuracy"][5] == 0.0 and bins["confidence"][5] == pytest.approx(0.6)


def test_perfectly_confident_and_right_is_calibrated():
    p = np.eye(3)[[0, 1, 2, 1]]
    assert expected_calibration_error(p, [0, 1, 2, 1]) == 0.0
    assert nll(p, [0, 1, 2, 1]) == pytest.approx(0.0, abs=1e-9)


def test_entropy_and_mutual_information_by_hand():
    # Two confident draws that disagree: total entropy log 2, aleatoric H(0.9, 0.1),
    # epistemic the difference.
    draws = np.array([[[0.9, 0.1]], [[0.1, 0.9]]])
    h = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    assert predictive_entropy(draws)[0] == pytest.approx(np.log(2))
    assert expected_aleatoric_entropy(draws)[0] == pytest.approx(h)
    assert mutual_information(draws)[0] == pytest.approx(np.log(2) - h)
    # Draws that agree carry no epistemic uncertainty.
    same = np.array([[[0.5, 0.5]], [[0.5, 0.5]]])
    assert mutual_information(same)[0] == pytest.approx(0.0, abs=1e-12)
    assert predictive_entropy(same)[0] == pytest.approx(np.log(2))
    # A probability of exactly 0 contributes 0 (0 log 0 = 0).
    assert predictive_entropy(np.array([[1.0, 0.0]]))[0] == 0.0


def test_ood_auroc_by_hand_and_against_pairs():
    assert ood_auroc([0.0, 0.1], [0.5, 0.9]) == 1.0
    assert ood_auroc([0.5, 0.9], [0.0, 0.1]) == 0.0
    assert ood_auroc([1.0], [1.0]) == 0.5  # a tie counts one half
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 30).astype(float), rng.integers(2, 8, 20).astype(float)
    pairs = np.mean((b[None, :] > a[:, None]) + 0.5 * (b[None, :] == a[:, None]))
    assert ood_auroc(a, b) == pytest.approx(pairs, abs=1e-12)
    # The Mann-Whitney U statistic of the OOD scores over the in-distribution ones, divided by
    # n_in * n_out, is the same area (ties count one half in both); exact up to rounding.
    u = mannwhitneyu(b, a).statistic
    assert ood_auroc(a, b) == pytest.approx(u / (len(a) * len(b)), abs=1e-12)
    with pytest.raises(ValueError, match="scores_out"):
        ood_auroc(a, [])


def _random_probs(n=300, n_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(n_classes, 0.7), size=n)
    return probs, rng.integers(0, n_classes, n)


def test_accuracy_nll_brier_match_scikit_learn():
    # Same formulas in float64 on probabilities well away from 0 (Dirichlet draws have no
    # exact zeros; the smallest here is far above either clipping floor): agreement to
    # rounding, 1e-12 relative.
    probs, y = _random_probs()
    labels = np.arange(probs.shape[1])
    assert accuracy(probs, y) == pytest.approx(accuracy_score(y, probs.argmax(1)), rel=1e-12)
    assert nll(probs, y) == pytest.approx(log_loss(y, probs, labels=labels), rel=1e-12)
    # Summed over classes (range [0, 2]): scikit-learn's multiclass Brier without halving.
    want = brier_score_loss(y, probs, labels=labels, scale_by_half=False)
    assert brier_score(probs, y) == pytest.approx(want, rel=1e-12)


def test_entropies_match_scipy():
    # Natural-log entropies of the same float64 probabilities: agreement to rounding.
    rng = np.random.default_rng(1)
    draws = rng.dirichlet(np.full(3, 0.5), size=(20, 50))  # (n_draws, n, n_classes)
    np.testing.assert_allclose(
        predictive_entropy(draws), entropy(draws.mean(0), axis=-1), rtol=1e-12
    )
    aleatoric = entropy(draws, axis=-1).mean(0)
    np.testing.assert_allclose(expected_aleatoric_entropy(draws), aleatoric, rtol=1e-12)
    bald = entropy(draws.mean(0), axis=-1) - aleatoric
    np.testing.assert_allclose(mutual_information(draws), bald, rtol=1e-10, atol=1e-14)


def test_binary_calibration_bins_match_scikit_learn():
    # With the probability of class 1 at least 1/2, the confidence is p_1 and a prediction is
    # right exactly when y = 1: the bins are scikit-learn's uniform calibration curve (which
    # drops empty bins). Continuous draws fall on no bin edge, where the two conventions
    # ((lo, hi] here, [lo, hi) there) differ; agreement to rounding.
    rng = np.random.default_rng(2)
    p1 = rng.uniform(0.5, 1.0, 400)
    y = (rng.random(400) < p1**2).astype(int)  # overconfident on purpose
    bins = calibration_bins(np.stack([1 - p1, p1], axis=1), y, n_bins=10)
    frac_pos, mean_pred = calibration_curve(y, p1, n_bins=10, strategy="uniform")
    full = bins["count"] > 0
    np.testing.assert_allclose(bins["accuracy"][full], frac_pos, rtol=1e-12)
    np.testing.assert_allclose(bins["confidence"][full], mean_pred, rtol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="sum to 1"):
        accuracy([[0.5, 0.6]], [0])
    with pytest.raises(ValueError, match="labels below"):
        nll(PROBS, [0, 1, 2, 1])
    with pytest.raises(ValueError, match="one label per row"):
        nll(PROBS, [0, 1])
    with pytest.raises(ValueError, match="dimension"):
        mutual_information(PROBS)


# ------------------------------------------------------------------ paired bootstrap


def _two_classifiers(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)

    def probs(acc):
        right = rng.random(n) < acc
        label = np.where(right, y, (y + 1) % 3)
        p = np.full((n, 3), 0.1)
        p[np.arange(n), label] = 0.8
        return p

    return probs(0.9), probs(0.8), y


def test_paired_bootstrap_sd_of_an_accuracy_difference_is_the_analytic_one():
    a, b, y = _two_classifiers()
    out = paired_bootstrap(jax.random.key(0), accuracy, a, b, y, num_resamples=4000)
    d = (a.argmax(1) == y).astype(float) - (b.argmax(1) == y)
    assert out["estimate"] == pytest.approx(d.mean(), abs=1e-12)
    # The bootstrap sd of a mean of n paired differences is sd(d) / sqrt(n) (ddof 0); with
    # 4000 resamples its own relative error is about 1 / sqrt(2 * 4000) = 1.1%: allow 5%.
    assert out["sd"] == pytest.approx(d.std() / np.sqrt(len(d)), rel=0.05)
    # 90% percentile interval of a near-Normal statistic: estimate +- 1.645 sd, within 10%.
    assert out["high"] - out["low"] == pytest.approx(2 * 1.645 * out["sd"], rel=0.1)
    assert out["low"] < out["estimate"] < out["high"]
    assert out["frac_below"] < 0.01  # a is better on every resample but a few


def test_paired_bootstrap_interval_of_an_accuracy_difference_matches_a_plain_bootstrap():
    # An accuracy difference is the mean of the per-point differences d_i of being right, so
    # resampling the points is resampling d: scipy's percentile bootstrap of mean(d), on its
    # own generator, gives the same interval up to Monte Carlo noise. The 5% quantile of B
    # resamples has standard error sqrt(0.05 * 0.95 / B) / phi(1.645) * sd ~ 0.033 sd for
    # B = 4000, so two independent runs differ by ~0.047 sd: allow 4 of those, plus one
    # step 1/n of the lattice the differences live on.
    a, b, y = _two_classifiers()
    out = paired_bootstrap(jax.random.key(5), accuracy, a, b, y, num_resamples=4000)
    d = (a.argmax(1) == y).astype(float) - (b.argmax(1) == y)
    plain = bootstrap(
        (d,),
        np.mean,
        n_resamples=4000,
        confidence_level=0.9,
        method="percentile",
        rng=np.random.default_rng(123),
    )
    tol = 4 * 0.047 * out["sd"] + 1 / len(y)
    assert out["low"] == pytest.approx(plain.confidence_interval.low, abs=tol)
    assert out["high"] == pytest.approx(plain.confidence_interval.high, abs=tol)
    # Both sds estimate sd(d) / sqrt(n), each to ~1.1% with 4000 resamples: allow 5%.
    assert out["sd"] == pytest.approx(np.std(plain.bootstrap_distribution), rel=0.05)


def test_paired_bootstrap_accepts_a_raw_key_and_needs_two_points():
    a, b, y = _two_classifiers(n=30)
    raw = jax.random.PRNGKey(0)
    first = paired_bootstrap(raw, nll, a, b, y, num_resamples=30)
    assert paired_bootstrap(raw, nll, a, b, y, num_resamples=30) == first
    with pytest.raises(ValueError, match="at least 2 test points"):
        paired_bootstrap(raw, nll, a[:1], b[:1], y[:1])


def test_paired_bootstrap_identical_classifiers_and_ratio():
    a, b, y = _two_classifiers()
    same = paired_bootstrap(
        jax.random.key(1), expected_calibration_error, a, a, y, num_resamples=50
    )
    assert same["estimate"] == same["low"] == same["high"] == same["sd"] == 0.0
    r = paired_bootstrap(jax.random.key(1), nll, a, b, y, num_resamples=200, statistic="ratio")
    assert r["estimate"] == pytest.approx(nll(a, y) / nll(b, y), rel=1e-12)
    assert r["low"] < r["estimate"] < r["high"] < 1.0 and r["frac_below"] == 1.0
    again = paired_bootstrap(jax.random.key(1), nll, a, b, y, num_resamples=200, statistic="ratio")
    assert again == r  # same key, same numbers
    other = paired_bootstrap(jax.random.key(2), nll, a, b, y, num_resamples=200, statistic="ratio")
    assert other["low"] != r["low"]


def test_paired_bootstrap_refuses_mismatched_or_bad_arguments():
    a, b, y = _two_classifiers(n=20)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="probs_a and probs_b"):
        paired_bootstrap(key, nll, a, b[:10], y)
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap(key, nll, a, b, y, level=1.0)
    with pytest.raises(TypeError, match="metric"):
        paired_bootstrap(key, "nll", a, b, y)
    with pytest.raises(ValueError, match="statistic"):
        paired_bootstrap(key, nll, a, b, y, statistic="quotient")


# ------------------------------------------------------------------ ECE under perfect calibration


def test_ece_if_calibrated_matches_the_binomial_expectation_in_one_bin():
    import jax
    from scipy.stats import binom

    # Every point says [0.7, 0.3]: one bin, accuracy K / n with K ~ Binomial(n, 0.7) when the
    # labels follow the probabilities, so E[ECE] = sum_k P(K = k) |k / n - 0.7| exactly.
    n = 50
    probs = np.tile([0.7, 0.3], (n, 1))
    k = np.arange(n + 1)
    exact = np.sum(binom.pmf(k, n, 0.7) * np.abs(k / n - 0.7))
    out = ece_if_calibrated(jax.random.key(0), probs, num_draws=4000)
    # Monte Carlo standard error of the mean over 4000 draws: sd / sqrt(4000) ~ 0.0008.
    assert out["mean"] == pytest.approx(exact, abs=4 * out["sd"] / np.sqrt(4000))
    assert out["low"] <= out["mean"] <= out["high"] and out["draws"].shape == (4000,)


def test_ece_if_calibrated_is_zero_for_certain_predictions_and_reproducible():
    certain = np.eye(3)[np.arange(30) % 3]
    out = ece_if_calibrated(jax.random.key(0), certain, num_draws=20)
    assert out["mean"] == out["high"] == 0.0
    a, b, y = _two_classifiers()
    first = ece_if_calibrated(jax.random.key(3), a, num_draws=50)
    again = ece_if_calibrated(jax.random.key(3), a, num_draws=50)
    np.testing.assert_array_equal(first["draws"], again["draws"])
    other = ece_if_calibrated(jax.random.key(4), a, num_draws=50)
    assert not np.array_equal(first["draws"], other["draws"])
    with pytest.raises(ValueError, match="num_draws"):
        ece_if_calibrated(jax.random.key(0), a, num_draws=1)


def test_ood_auroc_interval_has_the_width_of_hanley_and_mcneil():
    # Scores N(0, 1) in and N(1, 1) out: AUROC = Phi(1 / sqrt 2) = 0.760. Hanley and McNeil (1982)
    # give its standard error; a 90% percentile interval is about +-1.645 of it. 20% tolerance:
    # their formula is an approximation and 4,000 resamples put about 2% noise on the width.
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=400), rng.normal(1.0, 1.0, size=300)
    out = ood_auroc_interval(jax.random.key(0), a, b, num_resamples=4000)
    auc = out["estimate"]
    assert auc == ood_auroc(a, b) and out["low"] < auc < out["high"]
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    n1, n2 = len(b), len(a)
    se = np.sqrt(
        (auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n2 - 1) * (q2 - auc**2)) / (n1 * n2)
    )
    assert (out["high"] - out["low"]) / 2 == pytest.approx(1.645 * se, rel=0.2)
    assert out["low"] < 0.760 < out["high"]  # the true AUROC, here inside the interval


def test_ood_auroc_interval_same_key_same_numbers_and_bad_input():
    a, b = [0.1, 0.4, 0.2, 0.3], [0.5, 0.35, 0.9]
    first = ood_auroc_interval(jax.random.key(1), a, b, num_resamples=50)
    assert ood_auroc_interval(jax.random.key(1), a, b, num_resamples=50) == first
    assert ood_auroc_interval(jax.random.key(2), a, b, num_resamples=50) != first
    with pytest.raises(ValueError, match="scores_out must hold at least 2"):
        ood_auroc_interval(jax.random.key(1), a, [0.5])
    with pytest.raises(ValueError, match="level"):
        ood_auroc_interval(jax.random.key(1), a, b, level=1.5)
