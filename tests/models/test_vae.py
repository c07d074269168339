"""The VAE model and its encoder guide: their log densities against the ones written out."""

import jax
import numpy as np
import numpyro
import pytest
import scipy.stats as st
from numpyro.infer.util import log_density

from vibook.models.vae import MIN_SCALE, encoder_normal, init_mlp, vae, vae_guide

RNG = np.random.default_rng(0)
X = RNG.uniform(size=(8, 5)).astype(np.float32)
Z = RNG.normal(size=(8, 2)).astype(np.float32)


def test_the_models_log_joint_is_prior_plus_normal_pixels():
    decoder = {"w0": RNG.normal(size=(2, 5)).astype(np.float32), "b0": np.zeros(5, np.float32)}
    log_sd = np.log(np.full(5, 0.2, np.float32))
    params = {"decoder": decoder, "log_sd": log_sd, "z": Z}
    value, _ = log_density(
        vae, (X,), {"latent_dim": 2, "hidden": (), "output": "identity", "noise": "pixel"}, params
    )
    mean = Z @ decoder["w0"]
    expected = st.norm.logpdf(Z).sum() + st.norm.logpdf(X, mean, 0.2 + MIN_SCALE).sum()
    np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_a_minibatch_is_scaled_to_the_whole_data_set():
    params = {
        "decoder": init_mlp(jax.random.key(0), 2, (4,), 5),
        "log_sd": np.zeros(1, np.float32),
        "z": Z[:4],
    }
    kwargs = {"latent_dim": 2, "hidden": (4,), "batch_size": 4}
    _, trace = log_density(numpyro.handlers.seed(vae, 0), (X,), kwargs, params)
    assert trace["x"]["value"].shape == (4, 5) and trace["x"]["scale"] == 2.0  # 8 images / 4


def test_the_guide_is_the_encoders_normal():
    encoder = init_mlp(jax.random.key(1), 5, (3,), 4, gain=2.0)
    loc, scale = encoder_normal(encoder, X, latent_dim=2)
    value, _ = log_density(
        vae_guide, (X,), {"latent_dim": 2, "hidden": (3,)}, {"encoder": encoder, "z": Z}
    )
    np.testing.assert_allclose(value, st.norm.logpdf(Z, loc, scale).sum(), rtol=1e-5)
    assert np.all(np.asarray(scale) > 0)


def test_init_mlp_draws_weights_of_sd_sqrt_gain_over_fan_in():
    w = init_mlp(jax.random.key(2), 400, (300,), 2, gain=2.0)
    assert w["w0"].shape == (400, 300) and w["b1"].shape == (2,)
    # 120,000 draws: the sd's relative s.e. is 0.2%
    assert abs(float(np.std(w["w0"])) / (2 / 400) ** 0.5 - 1) < 0.01
    assert np.all(w["b0"] == 0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="noise"):
        log_density(vae, (X,), {"noise": "loud"}, {"z": Z})
    with pytest.raises(ValueError, match="output"):
        log_density(vae_guide, (X,), {"output": "tanh"}, {"z": Z})
