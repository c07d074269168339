r"""Fitting a variational autoencoder and bounding its log-likelihood.

:func:`fit_vae` fits :func:`vibook.models.vae.vae` with its encoder :func:`vae_guide` by minibatch
SVI (one compiled program per configuration and data shape). On a fitted model:

- :func:`encode` and :func:`decode` run the two networks;
- :func:`elbo_per_image` estimates each image's ELBO under any Normal ``q`` (the encoder's by
  default), and :func:`fit_local_q` optimises one ``q`` per image with the decoder held fixed, so
  the difference of the two is the *amortisation gap* (Cremer et al. 2018);
- :func:`iwae_bounds` computes the importance-weighted bound (Burda et al. 2016) for several
  numbers of draws ``K`` from the same draws,

.. math::

    \mathcal L_K(x) = \mathbb E\Big[\log \frac1K \sum_{k=1}^K
    \frac{p(x, z_k)}{q(z_k \mid x)}\Big],\quad z_k \sim q(\cdot \mid x),

which is the ELBO at ``K = 1``, never decreases in ``K`` and tends to ``log p(x)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import logsumexp
from numpyro.infer import SVI, TraceMeanField_ELBO

from vibook._checks import check_array, check_key, check_positive, check_positive_int
from vibook.loop import check_finite, scan_steps
from vibook.models.vae import (
    MIN_SCALE,
    check_vae_args,
    decoder_mean,
    encoder_normal,
    vae,
    vae_guide,
)

__all__ = [
    "VAEFit",
    "decode",
    "elbo_per_image",
    "encode",
    "fit_local_q",
    "fit_vae",
    "iwae_bounds",
]


class VAEFit(NamedTuple):
    """The result of :func:`fit_vae`.

    Attributes
    ----------
    params : dict
        ``encoder`` and ``decoder`` (dicts of weights ``w0, b0, ...``) and ``log_sd``, the noise
        sd's log: shape (1,), or (D,) with ``noise="pixel"``.
    losses : array of shape (num_steps,)
        Negative ELBO of the minibatch at each step, scaled to the whole training set.
    config : dict
        The model's keyword arguments (``latent_dim``, ``hidden``, ``activation``, ``output``,
        ``noise``).
    """

    params: dict[str, Any]
    losses: np.ndarray
    config: dict[str, Any]


@functools.lru_cache(maxsize=16)
def _program(config_items, num_steps, learning_rate, batch_size):
    config = dict(config_items)
    model = functools.partial(vae, **config, batch_size=batch_size)
    guide = functools.partial(vae_guide, **config, batch_size=batch_size)
    # The KL of two Normals is exact, so only the reconstruction term is estimated.
    svi = SVI(model, guide, numpyro.optim.Adam(learning_rate), TraceMeanField_ELBO())

    @jax.jit
    def run(key, x):
        state = svi.init(key, x)

        def step(state, _):
            return svi.update(state, x)

        state, losses = scan_steps(step, state, num_steps)
        return svi.get_params(state), losses

    return run


def fit_vae(
    rng_key,
    x,
    *,
    latent_dim: int = 2,
    hidden: Sequence[int] = (256,),
    activation: str = "relu",
    output: str = "sigmoid",
    noise: str = "shared",
    num_steps: int = 3000,
    batch_size: int = 100,
    learning_rate: float = 1e-3,
) -> VAEFit:
    """Fit a VAE's decoder and encoder together by minibatch SVI on the ELBO (Adam).

    Parameters
    ----------
    rng_key : jax.random key
        Drives the networks' start, the minibatches and the ELBO's draws.
    x : array of shape (n, D)
        Training images as rows.
    latent_dim, hidden, activation, output, noise
        The model (see :func:`vibook.models.vae.vae`).
    num_steps, batch_size, learning_rate
        Adam steps, images per step (drawn with replacement), and Adam's step size.

    Returns
    -------
    VAEFit

    Examples
    --------
    >>> import jax, numpy as np
    >>> x = np.random.default_rng(0).uniform(size=(200, 16)).astype(np.float32)
    >>> fit = fit_vae(jax.random.key(0), x, latent_dim=2, hidden=(8,), num_steps=50)
    >>> fit.params["log_sd"].shape
    (1,)
    """
    rng_key = check_key(rng_key)
    x = check_array(x, "x", ndim=2)
    x, latent_dim, hidden, activation, _ = check_vae_args(
        x, latent_dim, hidden, activation, output, noise
    )
    config = {
        "latent_dim": latent_dim,
        "hidden": hidden,
        "activation": activation,
        "output": output,
        "noise": noise,
    }
    num_steps = check_positive_int(num_steps, "num_steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size > x.shape[0]:
        raise ValueError(f"batch_size must be at most the {x.shape[0]} images; got {batch_size}")
    learning_rate = check_positive(learning_rate, "learning_rate")
    run = _program(tuple(sorted(config.items())), num_steps, learning_rate, batch_size)
    params, losses = run(rng_key, jnp.asarray(x, jnp.float32))
    losses = check_finite(losses, params, what="VAE fit", remedy="Try a smaller learning_rate.")
    return VAEFit(params=jax.tree.map(np.asarray, params), losses=losses, config=config)


def _check_fit(fit) -> VAEFit:
    if not isinstance(fit, VAEFit):
        raise TypeError(f"fit must be a VAEFit from fit_vae; got {type(fit).__name__}")
    return fit


def _check_images(fit, x):
    x = check_array(x, "x", ndim=2)
    d = fit.params["encoder"]["w0"].shape[0]
    if x.shape[1] != d:
        raise ValueError(f"x must have the {d} pixels per row the VAE was fitted on; got {x.shape}")
    return x


def encode(fit: VAEFit, x):
    """The encoder's ``q(z | x)`` for each image: (location, sd), each of shape (n, L)."""
    fit = _check_fit(fit)
    x = _check_images(fit, x)
    loc, scale = encoder_normal(
        fit.params["encoder"],
        jnp.asarray(x),
        latent_dim=fit.config["latent_dim"],
        activation=fit.config["activation"],
    )
    return np.asarray(loc), np.asarray(scale)


def decode(fit: VAEFit, z):
    """The decoder's pixel means ``g(z)`` for codes of shape (..., L): shape (..., D)."""
    fit = _check_fit(fit)
    z = check_array(z, "z")
    if z.ndim == 0 or z.shape[-1] != fit.config["latent_dim"]:
        raise ValueError(f"z must end in the latent size {fit.config['latent_dim']}; got {z.shape}")
    return np.asarray(_mean(fit.params, jnp.asarray(z, jnp.float32), fit.config))


def _mean(params, z, config):
    return decoder_mean(
        params["decoder"], z, activation=config["activation"], output=config["output"]
    )


def _log_lik(params, config, x, z):
    """``log p(x | z)`` for images (n, D) and codes (..., n, L): shape (..., n)."""
    sd = jnp.exp(params["log_sd"]) + MIN_SCALE
    return dist.Normal(_mean(params, z, config), sd).log_prob(x).sum(-1)


def _q(fit, x, loc, scale):
    x = jnp.asarray(_check_images(fit, x), jnp.float32)
    if (loc is None) != (scale is None):
        raise ValueError("give both loc and scale of q, or neither (the encoder's q)")
    if loc is None:
        loc, scale = encode(fit, x)
    shape = (x.shape[0], fit.config["latent_dim"])
    loc = check_array(loc, "loc", shape=shape)
    scale = check_array(scale, "scale", shape=shape)
    if np.any(scale <= 0):
        raise ValueError("scale must be positive")
    return x, jnp.asarray(loc, jnp.float32), jnp.asarray(scale, jnp.float32)


def _elbo(params, config, x, loc, scale, key, num_draws):
    """Per-image ELBO: Monte Carlo reconstruction term minus the exact KL to N(0, I)."""
    eps = jax.random.normal(key, (num_draws, *loc.shape))
    recon = _log_lik(params, config, x, loc + scale * eps).mean(0)
    kl = dist.kl_divergence(dist.Normal(loc, scale), dist.Normal(0.0, 1.0)).sum(-1)
    return recon - kl


def elbo_per_image(rng_key, fit: VAEFit, x, *, loc=None, scale=None, num_draws: int = 100):
    """Each image's ELBO, ``E_q[log p(x | z)] - KL(q || N(0, I))``, in nats.

    Parameters
    ----------
    rng_key : jax.random key
    fit : VAEFit
    x : array of shape (n, D)
    loc, scale : arrays of shape (n, L), optional
        A Normal ``q`` per image; the encoder's by default.
    num_draws : int
        Draws of ``q`` for the reconstruction term (the KL is exact).

    Returns
    -------
    array of shape (n,)
    """
    fit = _check_fit(fit)
    key = check_key(rng_key)
    x, loc, scale = _q(fit, x, loc, scale)
    num_draws = check_positive_int(num_draws, "num_draws")
    return np.asarray(_elbo(fit.params, fit.config, x, loc, scale, key, num_draws))


@functools.lru_cache(maxsize=16)
def _local_program(config_items, num_steps, learning_rate, num_draws):
    config = dict(config_items)
    optim = numpyro.optim.Adam(learning_rate)

    @jax.jit
    def run(key, params, x, loc, scale):
        def loss(q, k):
            return -_elbo(params, config, x, q[0], jnp.exp(q[1]), k, num_draws).sum()

        def step(state, i):
            value, grads = jax.value_and_grad(loss)(
                optim.get_params(state), jax.random.fold_in(key, i)
            )
            return optim.update(grads, state), value / x.shape[0]

        state, losses = scan_steps(step, optim.init((loc, jnp.log(scale))), num_steps)
        q_loc, q_log_scale = optim.get_params(state)
        return q_loc, jnp.exp(q_log_scale), losses

    return run


def fit_local_q(
    rng_key,
    fit: VAEFit,
    x,
    *,
    num_steps: int = 1000,
    learning_rate: float = 0.01,
    num_draws: int = 8,
):
    """One Normal ``q(z_i)`` per image, fitted to maximise that image's ELBO, decoder held fixed.

    This is the variational inference that amortisation replaces: each image's own location and
    sd, started at the encoder's and moved by Adam. The ELBO it reaches is the best this Normal
    family allows for this decoder; the encoder's shortfall from it is the amortisation gap.

    Returns
    -------
    loc, scale : arrays of shape (n, L)
    losses : array of shape (num_steps,)
        The negative ELBO per image, averaged over the images, at each step.
    """
    fit = _check_fit(fit)
    key = check_key(rng_key)
    x, loc, scale = _q(fit, x, None, None)
    run = _local_program(
        tuple(sorted(fit.config.items())),
        check_positive_int(num_steps, "num_steps"),
        check_positive(learning_rate, "learning_rate"),
        check_positive_int(num_draws, "num_draws"),
    )
    q_loc, q_scale, losses = run(key, fit.params, x, loc, scale)
    losses = check_finite(losses, what="fit_local_q", remedy="Try a smaller learning_rate.")
    return np.asarray(q_loc), np.asarray(q_scale), losses


def iwae_bounds(rng_key, fit: VAEFit, x, ks, *, loc=None, scale=None):
    """Importance-weighted bounds ``L_K`` of each image's ``log p(x)`` for each ``K`` in ``ks``.

    ``max(ks)`` draws of ``q`` are made per image; ``L_K`` uses the first ``K`` of them, so the
    bounds for different ``K`` share draws (their differences are estimated precisely).

    Parameters
    ----------
    rng_key : jax.random key
    fit : VAEFit
    x : array of shape (n, D)
    ks : sequence of int
        Numbers of draws, each at least 1.
    loc, scale : arrays of shape (n, L), optional
        The proposal ``q`` per image; the encoder's by default.

    Returns
    -------
    array of shape (len(ks), n)
        ``log (1/K) sum_k p(x, z_k) / q(z_k | x)`` per image, in nats.
    """
    fit = _check_fit(fit)
    key = check_key(rng_key)
    x, loc, scale = _q(fit, x, loc, scale)
    ks = check_array(ks, "ks", ndim=1, integer=True).astype(int)
    if ks.size == 0 or ks.min() < 1:
        raise ValueError(f"ks must be numbers of draws, each at least 1; got {ks.tolist()}")
    log_w = _log_weights(
        fit.params, tuple(sorted(fit.config.items())), x, loc, scale, key, int(ks.max())
    )
    return np.stack([np.asarray(logsumexp(log_w[:, :k], axis=1)) - np.log(k) for k in ks])


@functools.partial(jax.jit, static_argnums=(1, 6))
def _log_weights(params, config_items, x, loc, scale, key, num_draws):
    """``log p(x, z_k) - log q(z_k | x)`` for ``num_draws`` draws per image: (n, num_draws)."""
    config = dict(config_items)
    keys = jax.random.split(key, x.shape[0])

    def one(args):
        xi, li, si, ki = args
        z = li + si * jax.random.normal(ki, (num_draws, li.shape[0]))
        log_prior = dist.Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_q = dist.Normal(li, si).log_prob(z).sum(-1)
        return _log_lik(params, config, xi[None], z[:, None])[:, 0] + log_prior - log_q

    return jax.lax.map(one, (x, loc, scale, keys))
