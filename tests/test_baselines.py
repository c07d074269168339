import jax
import numpy as np
import pytest

from vibook.baselines import (
    class_probability_draws,
    fit_mlp,
    mlp_predict_proba,
    mlp_predict_regression,
    score_table,
)
from vibook.data import gap_regression, two_moons
from vibook.metrics import expected_calibration_error, nll, ood_auroc, predictive_entropy
from vibook.networks import fit_bnn, predict_proba


@pytest.fixture(scope="module")
def moons():
    return two_moons(120, noise=0.1, seed=0), two_moons(200, noise=0.1, seed=1)


@pytest.mark.parametrize(("method", "n_draws"), [("map", 1), ("dropout", 30), ("ensemble", 3)])
def test_classifiers_learn_moons_with_the_right_shapes(moons, method, n_draws):
    train, test = moons
    fit = fit_mlp(
        jax.random.key(0),
        train["x"],
        train["y"],
        method=method,
        n_classes=2,
        hidden=(16,),
        prior_scale=3.0,
        n_members=3,
        num_steps=800,
        batch_size=64,
    )
    probs = np.asarray(mlp_predict_proba(jax.random.key(1), fit, test["x"], num_draws=30))
    assert probs.shape == (n_draws, 200, 2)
    acc = np.mean(probs.mean(0).argmax(-1) == test["y"])
    assert acc > 0.9  # a linear classifier gets about 0.85 on these moons
    assert fit.losses.shape == (n_draws if method == "ensemble" else 1, 800)
    if method == "dropout":
        assert np.std(probs, axis=0).mean() > 1e-3  # masks differ between draws
    if method == "ensemble":
        assert not np.allclose(fit.weights["w0"][0], fit.weights["w0"][1])


def test_map_without_data_pull_is_the_prior_mode():
    # With a tiny prior scale the L2 penalty dominates and weights shrink towards 0.
    data = two_moons(40, seed=0)
    fit = fit_mlp(
        jax.random.key(0),
        data["x"],
        data["y"],
        n_classes=2,
        hidden=(8,),
        prior_scale=1e-3,
        num_steps=500,
        learning_rate=0.01,
    )
    assert np.abs(fit.weights["w0"]).max() < 0.01


def test_regression_learns_the_noise_sd():
    data = gap_regression(100, noise=0.1, seed=0)
    fit = fit_mlp(
        jax.random.key(0),
        data["x"],
        data["y"],
        hidden=(20,),
        activation="relu",
        prior_scale=1.5,
        num_steps=2000,
    )
    mean, sigma = mlp_predict_regression(jax.random.key(1), fit, data["x"])
    assert mean.shape == (1, 100) and sigma.shape == (1,)
    # 100 residuals pin a sd of 0.1 down to about +-10%; the fit may overfit a little.
    assert 0.06 < float(sigma[0]) < 0.14


def test_bad_input():
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="method"):
        fit_mlp(jax.random.key(0), x, [0, 1, 0, 1], method="bagging", n_classes=2)
    with pytest.raises(ValueError, match="dropout"):
        fit_mlp(jax.random.key(0), x, [0, 1, 0, 1], method="dropout", dropout=1.5, n_classes=2)
    with pytest.raises(TypeError, match="MLPFit"):
        mlp_predict_proba(jax.random.key(0), {"w0": 1}, x)


def test_class_probability_draws_dispatches_on_the_kind_of_fit(moons):
    train, test = moons
    small = {"n_classes": 2, "hidden": (4,), "num_steps": 30}
    bnn = fit_bnn(jax.random.key(0), train["x"], train["y"], **small)
    mlp = fit_mlp(jax.random.key(0), train["x"], train["y"], method="dropout", **small)
    key = jax.random.key(3)
    p_bnn = class_probability_draws(key, bnn, test["x"], num_draws=7)
    p_mlp = class_probability_draws(key, mlp, test["x"], num_draws=7)
    assert isinstance(p_bnn, np.ndarray) and p_bnn.shape == (7, 200, 2)
    np.testing.assert_array_equal(p_bnn, predict_proba(key, bnn, test["x"], num_draws=7))
    np.testing.assert_array_equal(p_mlp, mlp_predict_proba(key, mlp, test["x"], num_draws=7))
    with pytest.raises(TypeError, match="fit must be a BNNFit from fit_bnn or an MLPFit"):
        class_probability_draws(key, bnn.params, test["x"])


Y4 = np.array([0, 1, 1, 0])
P_ONE = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])  # one draw, as (n, k)
P_TWO = np.array(
    [
        [[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.2, 0.8]],
        [[0.7, 0.3], [0.3, 0.7], [0.8, 0.2], [0.4, 0.6]],
    ]
)  # mean [[.8, .2], [.2, .8], [.8, .2], [.3, .7]]


def test_score_table_scores_the_mean_over_draws():
    table = score_table({"one": P_ONE, "two": P_TWO}, Y4, n_bins=5)
    assert list(table.index) == ["one", "two"]
    assert list(table.columns) == ["accuracy", "nll", "ece", "mean confidence"]
    # argmax [0, 1, 0, 0] and [0, 1, 0, 1] against labels [0, 1, 1, 0]
    assert table.loc["one", "accuracy"] == 0.75 and table.loc["two", "accuracy"] == 0.5
    assert table.loc["one", "mean confidence"] == pytest.approx(0.75)
    assert table.loc["two", "mean confidence"] == pytest.approx(0.775)
    assert table.loc["two", "nll"] == pytest.approx(-np.mean(np.log([0.8, 0.8, 0.2, 0.3])))
    mean = P_TWO.mean(0)
    assert table.loc["two", "nll"] == nll(mean, Y4)
    assert table.loc["two", "ece"] == expected_calibration_error(mean, Y4, n_bins=5)


def test_score_table_ood_columns():
    uniform = np.full((3, 2), 0.5)
    disagree = np.array(
        [[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]]
    )
    table = score_table(
        {"one": P_ONE, "two": P_TWO, "absent": P_ONE},
        Y4,
        ood={"far": {"one": uniform, "two": disagree}},
    )
    assert list(table.columns)[4:] == ["far, entropy", "far, MI"]
    # every OOD point has entropy log 2, above every test point's
    assert table.loc["one", "far, entropy"] == 1.0 and table.loc["two", "far, entropy"] == 1.0
    assert table.loc["two", "far, entropy"] == ood_auroc(
        predictive_entropy(P_TWO), predictive_entropy(disagree)
    )
    # MI out [log 2, log 2, 0] against in [> 0, > 0, 0, > 0]: 8 wins and one tie of 12 pairs
    assert table.loc["two", "far, MI"] == pytest.approx(8.5 / 12)
    assert np.isnan(table.loc["one", "far, MI"])  # a single draw has no MI
    assert table.loc[["absent"], ["far, entropy", "far, MI"]].isna().all(axis=None)


def test_score_table_bad_input():
    with pytest.raises(TypeError, match="probs_by_method must be a non-empty dict"):
        score_table([P_ONE], Y4)
    with pytest.raises(TypeError, match="probs_by_method must be a non-empty dict"):
        score_table({}, Y4)
    with pytest.raises(ValueError, match=r"probs_by_method\['one'\] must have one row per label"):
        score_table({"one": P_ONE[:3]}, Y4)
    with pytest.raises(ValueError, match=r"probs_by_method\['two'\] must have 2 classes"):
        score_table({"one": P_ONE, "two": np.full((4, 4), 0.25)}, Y4)
    with pytest.raises(ValueError, match="sum to 1"):
        score_table({"one": 2 * P_ONE}, Y4)
    with pytest.raises(ValueError, match="names methods not in probs_by_method"):
        score_table({"one": P_ONE}, Y4, ood={"far": {"other": P_ONE}})
    with pytest.raises(TypeError, match=r"ood\['far'\] must be a dict"):
        score_table({"one": P_ONE}, Y4, ood={"far": P_ONE})


def test_a_standard_start_trains_under_a_broad_prior():
    # Under sd 30 / sqrt(fan_in) a prior draw saturates a ReLU net's logits (sd about 30): 100
    # Adam steps from it leave the digits far from fitted, while a He start reads them well.
    from vibook.data import load_digits_split

    d = load_digits_split()
    kw = dict(n_classes=10, hidden=(100,), activation="relu", prior_scale=30.0, num_steps=100)
    scores = {}
    for init in ("prior", "standard"):
        fit = fit_mlp(jax.random.key(0), d["x_train"], d["y_train"], init=init, **kw)
        probs = np.asarray(mlp_predict_proba(jax.random.key(1), fit, d["x_test"]))[0]
        scores[init] = float(np.mean(probs.argmax(1) == d["y_test"]))
        w0 = np.asarray(fit.weights["w0"])
        assert w0.shape == (1, 64, 100)
    assert scores["standard"] > 0.9 > 0.6 > scores["prior"], scores
    # One Adam step moves each weight by at most about the step size (0.01) from its start: the
    # biases start at 0 and the first layer's weights with He's sd sqrt(2 / 64) = 0.177.
    one = fit_mlp(
        jax.random.key(0), d["x_train"], d["y_train"], init="standard", **kw | {"num_steps": 1}
    )
    np.testing.assert_allclose(one.weights["b0"], 0.0, atol=0.011)
    assert abs(float(np.std(one.weights["w0"])) / (2 / 64) ** 0.5 - 1) < 0.05
    with pytest.raises(ValueError, match="init"):
        fit_mlp(jax.random.key(0), d["x_train"], d["y_train"], init="he", **kw)
