"""The VAE's fit and bounds, against a linear-Gaussian VAE whose log p(x) and posterior are exact.

With a linear decoder ``x = z W + b + N(0, sigma^2 I)`` and ``z ~ N(0, I)`` (probabilistic PCA),
``p(x) = N(b, W^T W + sigma^2 I)`` and ``p(z | x)`` is Normal with precision
``I + W W^T / sigma^2``; rows of ``W`` orthogonal make it diagonal, so a mean-field ``q`` can be
exact. Under the exact posterior every importance weight equals ``p(x)``.
"""

import jax
import numpy as np
import pytest
import scipy.stats as st
from sklearn.decomposition import PCA

from vibook.autoencoders import (
    VAEFit,
    decode,
    elbo_per_image,
    encode,
    fit_local_q,
    fit_vae,
    iwae_bounds,
)
from vibook.models.vae import MIN_SCALE

D, L, SIGMA = 6, 2, 0.5
W = np.array([[1, 1, 0, 0, 0, 0], [0, 0, 1, -1, 0, 0]], np.float32)  # orthogonal rows
B = np.linspace(-1, 1, D).astype(np.float32)


@pytest.fixture(scope="module")
def linear():
    params = {
        "decoder": {"w0": W, "b0": B},
        "log_sd": np.array([np.log(SIGMA - MIN_SCALE)], np.float32),
        "encoder": {"w0": np.zeros((D, 2 * L), np.float32), "b0": np.zeros(2 * L, np.float32)},
    }
    config = {
        "latent_dim": L,
        "hidden": (),
        "activation": "relu",
        "output": "identity",
        "noise": "shared",
    }
    fit = VAEFit(params=params, losses=np.zeros(1), config=config)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(20, L)) @ W + B + SIGMA * rng.normal(size=(20, D))).astype(np.float32)
    log_p = st.multivariate_normal(B, W.T @ W + SIGMA**2 * np.eye(D)).logpdf(x)
    precision = np.eye(L) + W @ W.T / SIGMA**2
    loc = (x - B) @ W.T / SIGMA**2 @ np.linalg.inv(precision)
    scale = np.broadcast_to(np.diag(precision) ** -0.5, loc.shape)
    return fit, x, log_p, loc, scale


def test_under_the_exact_posterior_every_bound_is_log_p(linear):
    fit, x, log_p, loc, scale = linear
    bounds = iwae_bounds(jax.random.key(0), fit, x, [1, 10], loc=loc, scale=scale)
    np.testing.assert_allclose(bounds, np.stack([log_p, log_p]), atol=1e-4)  # float32 rounding
    elbo = elbo_per_image(jax.random.key(1), fit, x, loc=loc, scale=scale, num_draws=20000)
    # the reconstruction term is a Monte Carlo mean of terms with sd ~1: s.e. ~0.007
    np.testing.assert_allclose(elbo, log_p, atol=0.05)


def test_iwae_bounds_rise_towards_log_p_from_a_poor_proposal(linear):
    fit, x, log_p, _, _ = linear
    bounds = iwae_bounds(jax.random.key(0), fit, x, [1, 10, 100, 5000])  # encoder's q: N(0, 0.7)
    gap = (log_p - bounds).mean(1)
    assert gap[0] > 3 * gap[1] > 0 and gap[1] > gap[2]
    assert abs(gap[3]) < 0.1  # K = 5000 draws in two dimensions: within 0.1 nats on average


def test_elbo_is_below_log_p_and_the_kl_is_the_exact_one(linear):
    fit, x, log_p, loc, scale = linear
    elbo = elbo_per_image(jax.random.key(2), fit, x, num_draws=20000)
    q_loc, q_scale = encode(fit, x)
    assert np.allclose(q_loc, 0) and np.allclose(q_scale, np.log(2) + MIN_SCALE)
    # ELBO = log p(x) - KL(q || posterior), a KL between two Normals known in closed form
    var_ratio = (q_scale / scale) ** 2
    kl_post = 0.5 * (var_ratio + (loc - q_loc) ** 2 / scale**2 - 1 - np.log(var_ratio)).sum(1)
    # Monte Carlo: under this poor q the terms' sd reaches ~10, an s.e. of ~0.07 in 20,000 draws
    np.testing.assert_allclose(elbo, log_p - kl_post, atol=0.3)
    assert np.all(elbo < log_p)


def test_fit_local_q_finds_the_exact_posterior(linear):
    fit, x, _, loc, scale = linear
    q_loc, q_scale, losses = fit_local_q(
        jax.random.key(3), fit, x, num_steps=3000, learning_rate=0.01, num_draws=32
    )
    # Adam with step 0.01 on a noisy gradient jitters by a few steps' size around the optimum
    np.testing.assert_allclose(q_loc, loc, atol=0.08)
    np.testing.assert_allclose(q_scale, scale, atol=0.08)
    assert losses[-100:].mean() < losses[0]


def test_decode_is_the_decoder(linear):
    fit = linear[0]
    z = np.array([[0.5, -1.0], [2.0, 0.0]], np.float32)
    np.testing.assert_allclose(decode(fit, z), z @ W + B, rtol=1e-6)
    assert decode(fit, np.zeros((3, 4, L))).shape == (3, 4, D)


def test_fit_vae_with_a_linear_decoder_reaches_the_ppca_maximum_likelihood():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 1)) @ rng.normal(size=(1, 5)) + 0.3 * rng.normal(size=(400, 5))
    x = x.astype(np.float32)
    linear_vae = {"latent_dim": 1, "hidden": (), "output": "identity", "num_steps": 2000}
    fit = fit_vae(jax.random.key(3), x, **linear_vae, batch_size=100, learning_rate=0.01)
    log_lik = iwae_bounds(jax.random.key(4), fit, x, [500])[0].mean()
    # scikit-learn's PCA.score is the exact PPCA maximum (about -5 nats a point here), which is
    # also the linear VAE's ELBO maximum (Lucas et al. 2019); 2,000 noisy Adam steps stop
    # 0.04-0.07 nats short of it (keys 3 and 5), so 0.15 allows for that and no more
    assert abs(log_lik - PCA(n_components=1).fit(x).score(x)) < 0.15
    again = fit_vae(jax.random.key(3), x, **linear_vae, batch_size=100, learning_rate=0.01)
    assert np.array_equal(fit.losses, again.losses)


def test_bad_input_is_named(linear):
    fit, x, _, loc, scale = linear
    with pytest.raises(ValueError, match="ks"):
        iwae_bounds(jax.random.key(0), fit, x, [0, 5])
    with pytest.raises(ValueError, match="both loc and scale"):
        elbo_per_image(jax.random.key(0), fit, x, loc=loc)
    with pytest.raises(ValueError, match="6 pixels"):
        encode(fit, x[:, :4])
    with pytest.raises(ValueError, match="latent size"):
        decode(fit, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="scale must be positive"):
        elbo_per_image(jax.random.key(0), fit, x, loc=loc, scale=-scale)
    with pytest.raises(TypeError, match="VAEFit"):
        encode({"params": {}}, x)
    with pytest.raises(ValueError, match="batch_size"):
        fit_vae(jax.random.key(0), x, batch_size=50)
