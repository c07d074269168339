"""The BNN model: fan-in prior scales, the likelihood mask, bnn_apply, and the
local-reparameterisation ELBO against NumPyro's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer.util import log_density

from vibook.models import bnn
from vibook.models.bnn import LocalReparamELBO, bnn_apply, bnn_guide, bnn_layer_shapes
from vibook.networks import _freeze, _program


def test_prior_weight_scales_follow_fan_in(key):
    from numpyro.infer import Predictive

    x = np.zeros((3, 16), np.float32)
    draws = Predictive(bnn, num_samples=400)(key, x, n_classes=4, hidden=(25,), prior_scale=2.0)
    # sd of w0 is 2 / sqrt(16) = 0.5 and of w1 is 2 / sqrt(25) = 0.4; 400 * 400 or 400 * 100
    # draws pin a sd down to well under 1%, so 2% is a safe tolerance.
    assert draws["w0"].shape == (400, 16, 25)
    assert np.std(draws["w0"]) == pytest.approx(0.5, rel=0.02)
    assert np.std(draws["w1"]) == pytest.approx(0.4, rel=0.02)
    assert np.std(draws["b0"]) == pytest.approx(2.0, rel=0.05)
    assert draws["y"].shape == (400, 3) and draws["y"].max() < 4


def test_mask_drops_points_from_the_likelihood(key):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    mask = np.array([True, True, True, False, False, False])
    from numpyro.infer import Predictive

    w = {k: v[0] for k, v in Predictive(bnn, num_samples=1)(key, x, n_classes=3).items()}
    w.pop("y")
    kw = {"n_classes": 3, "hidden": (50,)}
    full_on_subset, _ = log_density(bnn, (x[:3], y[:3]), kw, w)
    masked, _ = log_density(bnn, (x, y), {**kw, "mask": mask}, w)
    assert float(masked) == pytest.approx(float(full_on_subset), rel=1e-5)


def test_bnn_apply_broadcasts_over_draws():
    w = {
        "w0": np.ones((3, 2, 4)),
        "b0": np.zeros((3, 4)),
        "w1": np.ones((3, 4, 1)),
        "b1": np.zeros((3, 1)),
    }
    out = bnn_apply(w, np.array([[1.0, 0.0]]), activation="relu")
    np.testing.assert_allclose(out, 4.0)
    assert out.shape == (3, 1, 1)


def _elbo_draws(elbo, key, params, x, y, config, n_draws):
    from functools import partial

    model, guide = partial(bnn, **config), partial(bnn_guide, **config)
    keys = jax.random.split(key, n_draws)
    return np.asarray(jax.vmap(lambda k: elbo.loss(k, params, model, guide, x, y))(keys))


@pytest.mark.parametrize("n_classes", [3, None])
def test_local_reparam_estimates_the_same_elbo_with_less_noise(key, n_classes):
    from numpyro.infer import TraceMeanField_ELBO

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = rng.integers(0, 3, 40) if n_classes else rng.normal(size=40).astype(np.float32)
    y = np.asarray(y, np.int32 if n_classes else np.float32)
    config = {
        "n_classes": n_classes,
        "hidden": (6,),
        "activation": "tanh",
        "prior_scale": 1.0,
        "noise_scale": 1.0,
        "learn_prior_scale": False,
    }
    init, _ = _program(_freeze(config), 1, 0.01, 1, 0.3, None)
    params = init(key, x)  # sds of 0.3: the weight noise matters to the likelihood
    k1, k2 = jax.random.split(jax.random.key(1))
    lrt = _elbo_draws(LocalReparamELBO(config), k1, params, x, y, config, 4000)
    ref = _elbo_draws(TraceMeanField_ELBO(), k2, params, x, y, config, 4000)
    # Both are unbiased for the same negative ELBO: their means agree within 4 standard
    # errors of the difference (4000 draws each).
    se = np.sqrt(lrt.var() / lrt.size + ref.var() / ref.size)
    assert abs(lrt.mean() - ref.mean()) < 4 * se
    # One weight draw per data point instead of one for all: the spread drops by far more
    # than the 4000-draw uncertainty of either variance (a few percent).
    assert lrt.var() < 0.5 * ref.var()


def test_local_reparam_with_tiny_sds_is_the_log_joint_at_the_means(key):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 2)).astype(np.float32)
    y = rng.integers(0, 2, 20).astype(np.int32)
    config = {
        "n_classes": 2,
        "hidden": (4,),
        "activation": "relu",
        "prior_scale": 2.0,
        "noise_scale": 1.0,
        "learn_prior_scale": False,
    }
    init, _ = _program(_freeze(config), 1, 0.01, 1, 1e-6, None)
    params = init(key, x)
    loss = float(LocalReparamELBO(config).loss(key, params, None, None, x, y))
    locs = {k[: -len("_loc")]: v for k, v in params.items() if k.endswith("_loc")}
    logits = bnn_apply(locs, x, activation="relu")
    loglik = float(jnp.sum(jax.nn.log_softmax(logits)[np.arange(20), y]))
    import numpyro.distributions as dist

    kl = 0.0
    for i, (fan_in, _) in enumerate(bnn_layer_shapes(2, (4,), 2)):
        for name, sd in ((f"w{i}", 2.0 / fan_in**0.5), (f"b{i}", 2.0)):
            q = dist.Normal(params[f"{name}_loc"], params[f"{name}_scale"])
            kl += float(jnp.sum(dist.kl_divergence(q, dist.Normal(0.0, sd))))
    # sds of 1e-6 move each logit by ~1e-6; float32 sums of ~100 terms of size ~10 agree to 1e-4.
    assert loss == pytest.approx(kl - loglik, rel=1e-4)


def test_imports_in_any_order_after_numpyro_autoguide():
    # arviz_stats, then numpyro.infer.autoguide, leaves numpyro.infer without its elbo attribute
    # until the import finishes; vibook.models must name what it subclasses by its module.
    import subprocess
    import sys

    code = (
        "import arviz_stats\n"
        "from numpyro.infer.autoguide import AutoNormal\n"
        "from vibook.models.bnn import LocalReparamELBO\n"
        "from numpyro.infer.elbo import ELBO\n"
        "assert issubclass(LocalReparamELBO, ELBO)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
