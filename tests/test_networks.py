"""fit_bnn and the predictions of a BNN fit: two moons, the gap regression, the MAP start,
the step-size schedule, one compiled program per configuration, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer.util import log_density

from vibook.data import gap_regression, two_moons
from vibook.infer import run_svi
from vibook.models import bnn
from vibook.models.bnn import bnn_guide
from vibook.networks import (
    _freeze,
    _map_program,
    _program,
    _step_size,
    fit_bnn,
    predict_proba,
    predict_regression,
    sd_over_prior,
)


def test_fit_bnn_learns_two_moons_and_compiles_once(key):
    data = two_moons(120, noise=0.1, seed=0)
    test = two_moons(200, noise=0.1, seed=1)
    kw = {"n_classes": 2, "hidden": (16,), "prior_scale": 3.0, "num_steps": 600}
    fit = fit_bnn(key, data["x"], data["y"], **kw)
    probs = predict_proba(jax.random.key(1), fit, test["x"], num_draws=50)
    assert probs.shape == (50, 200, 2)
    acc = np.mean(np.asarray(probs).mean(0).argmax(-1) == test["y"])
    assert acc > 0.9  # moons with noise 0.1 are nearly separable; a linear model gets ~0.85
    assert fit.losses[-50:].mean() < fit.losses[:50].mean()
    # A warm start with a new mask on data of the same shape reuses the compiled program.
    before = _program.cache_info().currsize
    mask = np.arange(120) < 60
    fit2 = fit_bnn(jax.random.key(2), data["x"], data["y"], mask=mask, init_params=fit.params, **kw)
    assert _program.cache_info().currsize == before
    _, run = _program(_freeze(fit.config), 600, 0.01, 1, 1e-3, None, "constant", False)
    assert run._cache_size() == 1  # one compilation for both fits
    assert set(fit2.params) == set(fit.params)


def test_regression_is_unsure_beyond_the_data(key):
    data = gap_regression(40, noise=0.1, seed=0)
    fit = fit_bnn(
        key,
        data["x"],
        data["y"],
        hidden=(20,),
        activation="relu",
        prior_scale=1.5,
        noise_scale=0.3,
        num_steps=1500,
    )
    grid = np.array([[-3.5], [-1.5], [1.5], [3.5]], np.float32)
    mean, sigma = predict_regression(jax.random.key(1), fit, grid, num_draws=200)
    sd = np.asarray(mean).std(0)
    assert mean.shape == (200, 4) and sigma.shape == (200,)
    # Measured ratio about 3 with this seed; 1.5 leaves room for other platforms' rounding.
    assert min(sd[0], sd[3]) > 1.5 * max(sd[1], sd[2])
    assert 0.01 < float(np.median(sigma)) < 0.3  # true noise sd 0.1; mean-field shrinks it


def test_run_svi_with_bnn_guide_and_predict_from_svifit(key):
    data = two_moons(40, seed=0)
    fit = run_svi(
        key,
        bnn,
        data["x"],
        data["y"],
        guide=bnn_guide,
        n_classes=2,
        hidden=(8,),
        num_steps=20,
        num_draws=30,
    )
    probs = predict_proba(jax.random.key(1), fit, data["x"], num_draws=10)
    assert probs.shape == (10, 40, 2)
    assert fit.posterior.posterior["w0"].shape == (1, 30, 2, 8)


def test_bad_input(key):
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="labels in 0..1"):
        fit_bnn(key, x, [0, 1, 2, 0], n_classes=2, num_steps=2)
    with pytest.raises(ValueError, match="mask"):
        fit_bnn(key, x, [0, 1, 1, 0], n_classes=2, mask=[1, 1, 0, 0], num_steps=2)
    with pytest.raises(ValueError, match="activation"):
        fit_bnn(key, x, [0, 1, 1, 0], n_classes=2, activation="swish", num_steps=2)
    with pytest.raises(ValueError, match="posterior must hold draws of"):
        predict_proba(key, {"a": 1}, x)  # a dict, but not of weight draws
    with pytest.raises(TypeError, match="posterior"):
        predict_proba(key, [1.0], x)


def test_cosine_schedule_decays_to_one_percent():
    schedule = _step_size(0.1, 100, "cosine")
    assert float(schedule(0)) == pytest.approx(0.1)
    assert float(schedule(50)) == pytest.approx(0.1 * (0.01 + 0.99 * 0.5))
    assert float(schedule(100)) == pytest.approx(0.001)
    assert float(schedule(300)) == pytest.approx(0.001)  # stays at the floor after the end


def test_map_start_is_a_mode_and_seeds_the_means(key):
    data = two_moons(100, noise=0.1, seed=0)
    config = {"n_classes": 2, "hidden": (8,), "activation": "relu", "prior_scale": 3.0}
    x, y = np.asarray(data["x"], np.float32), np.asarray(data["y"], np.int32)
    full = {**config, "noise_scale": 1.0, "learn_prior_scale": False}
    _, losses = _map_program(_freeze(full), 3000, 0.01, "cosine")(key, x, y, np.ones(100, bool))
    assert losses[-1] < losses[0]
    # One SVI step of size 1e-9 leaves the means where the MAP fit put them.
    fit = fit_bnn(
        key, x, y, init_loc="map", map_steps=3000, num_steps=1, learning_rate=1e-9, **config
    )
    locs = {k[: -len("_loc")]: v for k, v in fit.params.items() if k.endswith("_loc")}
    for name in locs:
        np.testing.assert_allclose(fit.params[f"{name}_scale"], 1e-3, rtol=1e-3)

    def neg_log_joint(v):
        return -log_density(bnn, (x, y), config, v)[0]

    # At a mode the gradient of the log joint vanishes. Adam with a decayed step size gets
    # its norm from ~600 at a random network (a prior draw) to ~1: under 1% of the start.
    start = {k: jnp.asarray(v) for k, v in _prior_draw(key, config).items()}
    norm = lambda g: np.sqrt(sum(float(jnp.sum(v**2)) for v in g.values()))  # noqa: E731
    assert norm(jax.grad(neg_log_joint)(locs)) < 0.01 * norm(jax.grad(neg_log_joint)(start))


def _prior_draw(key, config):
    from numpyro.infer import Predictive

    draw = Predictive(bnn, num_samples=1)(key, np.zeros((1, 2), np.float32), **config)
    return {k: v[0] for k, v in draw.items() if k != "y"}


def test_map_start_and_local_reparam_fit_moons_and_regression(key):
    data = two_moons(120, noise=0.1, seed=0)
    test = two_moons(200, noise=0.1, seed=1)
    kw = {"init_loc": "map", "local_reparam": True, "lr_schedule": "cosine"}
    fit = fit_bnn(
        key,
        data["x"],
        data["y"],
        n_classes=2,
        hidden=(16,),
        activation="relu",
        prior_scale=3.0,
        num_steps=300,
        map_steps=500,
        batch_size=64,
        **kw,
    )
    acc = np.mean(np.asarray(predict_proba(key, fit, test["x"])).mean(0).argmax(-1) == test["y"])
    assert acc > 0.9  # as for the default fit above: a linear model gets ~0.85
    reg = gap_regression(40, noise=0.1, seed=0)
    fit = fit_bnn(
        key,
        reg["x"],
        reg["y"],
        hidden=(20,),
        activation="relu",
        noise_scale=0.3,
        num_steps=1000,
        map_steps=1000,
        **kw,
    )
    mean, sigma = predict_regression(key, fit, reg["x"])
    # noise sd 0.1: the fitted function is within a few noise sds of the data on average
    assert np.sqrt(np.mean((np.asarray(mean).mean(0) - reg["y"]) ** 2)) < 0.3
    assert np.all(np.isfinite(np.asarray(sigma)))


def test_bad_fit_options(key):
    x, y = np.zeros((4, 2), np.float32), [0, 1, 1, 0]
    with pytest.raises(ValueError, match="init_loc"):
        fit_bnn(key, x, y, n_classes=2, init_loc="mle", num_steps=2)
    with pytest.raises(ValueError, match="lr_schedule"):
        fit_bnn(key, x, y, n_classes=2, lr_schedule="step", num_steps=2)
    with pytest.raises(TypeError, match="local_reparam"):
        fit_bnn(key, x, y, n_classes=2, local_reparam="yes", num_steps=2)
    with pytest.raises(ValueError, match="map_steps"):
        fit_bnn(key, x, y, n_classes=2, init_loc="map", map_steps=0, num_steps=2)
    with pytest.raises(ValueError, match="map_learning_rate"):
        fit_bnn(key, x, y, n_classes=2, init_loc="map", map_learning_rate=-1.0, num_steps=2)


def test_sd_over_prior_is_each_weights_sd_in_units_of_its_prior_sd(key):
    data = two_moons(40, noise=0.1, seed=0)
    x, y = np.asarray(data["x"], np.float32), np.asarray(data["y"], np.int32)
    # One step of size 1e-9 leaves every sd at init_scale, 1e-3; the prior sds are
    # prior_scale / sqrt(fan_in) for weights (fan_in 2, then 8) and prior_scale for biases.
    fit = fit_bnn(
        key, x, y, n_classes=2, hidden=(8,), prior_scale=3.0, num_steps=1, learning_rate=1e-9
    )
    ratio = sd_over_prior(fit)
    expected = {"w0": 3 / np.sqrt(2), "b0": 3.0, "w1": 3 / np.sqrt(8), "b1": 3.0}
    assert sorted(ratio) == sorted(expected)
    for name, prior_sd in expected.items():
        assert ratio[name].shape == fit.params[f"{name}_scale"].shape
        np.testing.assert_allclose(ratio[name], 1e-3 / prior_sd, rtol=1e-4)
    # With the prior scale learned, the learned value is the unit: doubling it halves the ratio.
    learned = fit_bnn(
        key,
        x,
        y,
        n_classes=2,
        hidden=(8,),
        prior_scale=(3.0, 3.0),
        learn_prior_scale=True,
        num_steps=1,
        learning_rate=1e-9,
    )
    params = dict(learned.params, prior_scale_0=2 * learned.params["prior_scale_0"])
    halved = sd_over_prior(learned._replace(params=params))
    np.testing.assert_allclose(halved["w0"], 0.5 * sd_over_prior(learned)["w0"], rtol=1e-5)
    np.testing.assert_allclose(halved["w1"], sd_over_prior(learned)["w1"], rtol=1e-6)
    with pytest.raises(TypeError, match="fit must be a BNNFit"):
        sd_over_prior(learned.params)
