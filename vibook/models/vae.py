r"""The variational autoencoder: a latent-variable model whose guide is a network.

Each image :math:`x_i` has its own latent code :math:`z_i`. A *decoder* network maps a code to the
mean of the image's pixels; an *encoder* network maps an image to the Normal :math:`q(z_i \mid x_i)`
over its code. One encoder serves every image, so the guide's parameters do not grow with the
data: inference is *amortised* (Kingma and Welling 2014; Rezende et al. 2014).

.. math::

    z_i \sim \mathcal N(0, I_L),\quad
    x_{ij} \mid z_i \sim \mathcal N\big(g_\theta(z_i)_j,\ \sigma^2\big),\qquad
    q_\phi(z_i \mid x_i) = \mathcal N\big(\mu_\phi(x_i), \mathrm{diag}\,s_\phi(x_i)^2\big)

:func:`vae` is the model (decoder ``g``, noise sd ``sigma``, or one per pixel) and
:func:`vae_guide` the encoder; both are NumPyro functions with their networks as
``numpyro.param`` pytrees, so ``numpyro.infer.SVI`` fits decoder and encoder together by
maximising the ELBO. Fitting and the bounds on a fitted model live in
:mod:`vibook.autoencoders`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from vibook._checks import (
    check_array,
    check_key,
    check_positive,
    check_positive_int,
    check_subsample,
)
from vibook.models.bnn import bnn_apply, bnn_layer_shapes, check_activation, check_hidden
from vibook.models.minibatch import with_replacement

__all__ = [
    "check_vae_args",
    "decoder_mean",
    "encoder_normal",
    "init_mlp",
    "vae",
    "vae_guide",
]

OUTPUTS = ("sigmoid", "identity")
NOISES = ("shared", "pixel")
MIN_SCALE = 1e-4  # keeps q's and the likelihood's sds away from 0


def init_mlp(rng_key, n_inputs: int, hidden, n_outputs: int, *, gain: float = 1.0) -> dict:
    """Weights ``w0, b0, w1, ...`` of an MLP, drawn ``N(0, gain / fan_in)``, biases at zero.

    The layout is :func:`vibook.models.bnn.bnn_apply`'s (``gain=2`` is He et al.'s ReLU start).
    """
    shapes = bnn_layer_shapes(n_inputs, hidden, n_outputs)
    gain = check_positive(gain, "gain")
    keys = jax.random.split(check_key(rng_key), len(shapes))
    params = {}
    for i, (k, (fan_in, fan_out)) in enumerate(zip(keys, shapes, strict=True)):
        params[f"w{i}"] = (gain / fan_in) ** 0.5 * jax.random.normal(k, (fan_in, fan_out))
        params[f"b{i}"] = jnp.zeros(fan_out)
    return params


def decoder_mean(decoder: dict, z, *, activation: str = "relu", output: str = "sigmoid"):
    """The pixels' mean ``g(z)`` for codes ``z`` of shape (..., n, L): shape (..., n, D)."""
    flat = z.reshape(-1, z.shape[-1])  # leading dimensions of z (draws, images) batch
    out = bnn_apply(decoder, flat, activation=activation).reshape(*z.shape[:-1], -1)
    return jax.nn.sigmoid(out) if output == "sigmoid" else out


def encoder_normal(encoder: dict, x, *, latent_dim: int, activation: str = "relu"):
    """The encoder's ``q(z | x)``: its location and sd, each of shape (n, latent_dim)."""
    out = bnn_apply(encoder, x, activation=activation)
    return out[..., :latent_dim], jax.nn.softplus(out[..., latent_dim:]) + MIN_SCALE


def check_vae_args(x, latent_dim, hidden, activation, output, noise, batch_size=None):
    """The VAE's arguments, checked (``x`` as an array, ``hidden`` as a tuple)."""
    if noise not in NOISES:
        raise ValueError(f"noise must be one of {NOISES}; got {noise!r}")
    x = check_array(x, "x", ndim=2)
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    hidden = check_hidden(hidden)
    activation = check_activation(activation)
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}; got {output!r}")
    return x, latent_dim, hidden, activation, check_subsample(batch_size, x.shape[0], "batch_size")


def vae(
    x,
    *,
    latent_dim: int = 2,
    hidden=(256,),
    activation: str = "relu",
    output: str = "sigmoid",
    noise: str = "shared",
    batch_size: int | None = None,
):
    r"""The VAE's generative model: a Normal code per image, a decoder, Normal pixel noise.

    Sites: ``z`` (one code per image, in the plate ``images``) and the observed ``x``; params
    ``decoder`` (the network's weights as a dict) and ``log_sd`` (the noise sd on the log scale:
    one for all pixels, or one per pixel).

    .. math::

        z_i \sim \mathcal N(0, I_L),\quad x_i \mid z_i \sim
        \mathcal N\big(g_\theta(z_i), \mathrm{diag}(\sigma^2)\big)

    Parameters
    ----------
    x : array of shape (n, D)
        Images as rows (pixels in [0, 1] for the ``sigmoid`` output).
    latent_dim : int
        ``L``, the size of each code.
    hidden : sequence of int
        The decoder's hidden widths (the encoder mirrors them); ``()`` makes the decoder linear.
    activation : str
        Hidden nonlinearity (see :func:`vibook.models.bnn.bnn_apply`).
    output : str
        ``"sigmoid"`` keeps the pixel means in (0, 1); ``"identity"`` leaves them unbounded
        (with ``hidden=()`` the model is then probabilistic PCA, or factor analysis with
        ``noise="pixel"``).
    noise : str
        ``"shared"``: one noise sd for every pixel; ``"pixel"``: one per pixel.
    batch_size : int, optional
        Minibatch size (drawn with replacement); the likelihood is scaled by ``n / batch_size``.
    """
    x, latent_dim, hidden, activation, batch_size = check_vae_args(
        x, latent_dim, hidden, activation, output, noise, batch_size
    )
    n, d = x.shape
    decoder = numpyro.param(
        "decoder", lambda key: init_mlp(key, latent_dim, hidden, d, gain=2.0 if hidden else 1.0)
    )
    log_sd = numpyro.param("log_sd", jnp.full(d if noise == "pixel" else 1, jnp.log(0.1)))
    with with_replacement("images"), numpyro.plate("images", n, subsample_size=batch_size):
        z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([latent_dim]).to_event(1))
        mean = decoder_mean(decoder, z, activation=activation, output=output)
        sd = jnp.exp(log_sd) + MIN_SCALE
        numpyro.sample(
            "x", dist.Normal(mean, sd).to_event(1), obs=numpyro.subsample(x, event_dim=1)
        )


def vae_guide(
    x,
    *,
    latent_dim: int = 2,
    hidden=(256,),
    activation: str = "relu",
    output: str = "sigmoid",
    noise: str = "shared",
    batch_size: int | None = None,
):
    """The encoder: ``q(z_i | x_i)``, a Normal whose location and sd a network reads off ``x_i``.

    Takes :func:`vae`'s arguments; its param ``encoder`` maps ``D`` pixels through ``hidden`` to
    ``2 L`` outputs (location, and the sd through a softplus).
    """
    x, latent_dim, hidden, activation, batch_size = check_vae_args(
        x, latent_dim, hidden, activation, output, noise, batch_size
    )
    n, d = x.shape
    encoder = numpyro.param(
        "encoder", lambda key: init_mlp(key, d, hidden, 2 * latent_dim, gain=2.0 if hidden else 1.0)
    )
    with with_replacement("images"), numpyro.plate("images", n, subsample_size=batch_size):
        loc, scale = encoder_normal(
            encoder, numpyro.subsample(x, event_dim=1), latent_dim=latent_dim, activation=activation
        )
        numpyro.sample("z", dist.Normal(loc, scale).to_event(1))
