"""The checkers of notebook 08's exercises (vibook.exercises.vae).

Each checker is fed the stub, odd answers of every kind, each recognised mistake, and the right
answer computed a second way: the KL by NumPyro's multivariate-Normal KL, the bound by NumPy's
``logaddexp`` and by JAX's float32 ``logsumexp``, and the prediction by a NumPy/SciPy Monte Carlo
of the bounds on linear-Gaussian VAEs (probabilistic PCA) whose ``log p(x)`` SciPy gives exactly,
never with the checker's own formulas.
"""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
import scipy.stats as st
from exercise_answers import ODD_ANSWERS, ODD_FUNCTIONS, STUBS, says
from scipy.special import logsumexp

from vibook.autoencoders import VAEFit
from vibook.exercises import (
    check_encoder_kl,
    check_iwae_estimator,
    check_prior_proposal_prediction,
)
from vibook.models.vae import MIN_SCALE

# ------------------------------------------------------------------------------ 08.1
LOC, SCALE = np.array([0.6, -1.2, 0.3]), np.array([0.4, 1.6, 0.8])  # a q wide enough that
# every mistake below changes the answer by more than the by-hand tolerance
NOTEBOOK_Q = np.array([0.4218, -0.03904]), np.array([0.01637, 0.01554])  # the first test image's


def _numpyro_kl(loc, scale):
    q = dist.MultivariateNormal(jnp.asarray(loc), jnp.diag(jnp.asarray(scale) ** 2))
    p = dist.MultivariateNormal(jnp.zeros(len(loc)), jnp.eye(len(loc)))
    return float(dist.kl_divergence(q, p))


def test_encoder_kl_reports_the_stub_and_never_raises():
    for stub in STUBS:
        says(check_encoder_kl(stub, loc=LOC, scale=SCALE), "not answered", "Not yet answered")
    for answer in ODD_ANSWERS:
        says(check_encoder_kl(answer, loc=LOC, scale=SCALE), "wrong")
    says(check_encoder_kl([[1.0], [1.0, 2.0]], loc=LOC, scale=SCALE), "wrong")  # ragged


@pytest.mark.parametrize(("loc", "scale"), [(LOC, SCALE), NOTEBOOK_Q])
def test_encoder_kl_right_answer_from_numpyro(loc, scale):
    kl = _numpyro_kl(loc, scale)  # float32: relative error ~1e-6, far inside BY_HAND
    says(check_encoder_kl(kl, loc=loc, scale=scale), "right", "summed over the")
    says(check_encoder_kl(round(kl, 3), loc=loc, scale=scale), "right")  # three decimals do


def _kl_mistake(kind):
    m, s = LOC, SCALE
    one = [_numpyro_kl(m[i : i + 1], s[i : i + 1]) for i in range(3)]  # each dimension's KL
    kl = sum(one)
    return {
        "per_dim": one,
        "one_dim": one[1],
        "mean": kl / 3,
        "no_half": 2 * kl,
        "sign": -kl,
        "log_s": kl + 0.5 * np.sum(np.log(s)),  # -log s**2 / 2 replaced by -log s / 2
        "sd_for_var": kl + 0.5 * np.sum(s - s**2),
        "no_minus_one": kl + 1.5,
        "no_mu": kl - 0.5 * np.sum(m**2),
        "forward": _numpyro_kl_forward(m, s),
        "other": 1.234,
        "two_numbers": (1.0, 2.0),
    }[kind]


def _numpyro_kl_forward(loc, scale):
    q = dist.MultivariateNormal(jnp.asarray(loc), jnp.diag(jnp.asarray(scale) ** 2))
    p = dist.MultivariateNormal(jnp.zeros(len(loc)), jnp.eye(len(loc)))
    return float(dist.kl_divergence(p, q))


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("per_dim", "One number per dimension"),
        ("one_dim", "dimension 2's term only"),
        ("mean", "mean over the 3 dimensions"),
        ("no_half", "factor 1/2 in front is missing"),
        ("sign", "sign is flipped"),
        ("log_s", "log s is used where log s**2 goes"),
        ("sd_for_var", "sd s is used where the variance"),
        ("no_minus_one", "-1 of each dimension is left out"),
        ("no_mu", "mu**2 term is left out"),
        ("forward", "forward KL"),
        ("other", "Not the KL"),
        ("two_numbers", "shape ()"),
    ],
)
def test_encoder_kl_recognised_mistakes(kind, phrase):
    says(check_encoder_kl(_kl_mistake(kind), loc=LOC, scale=SCALE), "wrong", phrase)


def test_encoder_kl_refuses_bad_inputs():
    with pytest.raises(ValueError, match="scale"):
        check_encoder_kl(1.0, loc=LOC, scale=SCALE[:2])
    with pytest.raises(ValueError, match="scale"):
        check_encoder_kl(1.0, loc=LOC, scale=np.array([0.5, 0.0, 1.0]))


# ------------------------------------------------------------------------------ 08.2
def by_logaddexp(log_w):
    """The bound by NumPy's pairwise logaddexp, not by scipy's logsumexp."""
    return np.logaddexp.reduce(log_w, axis=0) - np.log(log_w.shape[0])


def test_iwae_estimator_reports_the_stub_and_never_raises():
    for stub in STUBS:
        says(check_iwae_estimator(stub), "not answered", "Not yet answered")
        says(check_iwae_estimator(lambda *a, stub=stub: stub), "not answered")
    for func in ODD_FUNCTIONS:
        says(check_iwae_estimator(func), "wrong")
    says(check_iwae_estimator(lambda *args: 1 / 0), "wrong", "raised ZeroDivisionError")
    says(check_iwae_estimator(3), "wrong", "must be a function")
    says(check_iwae_estimator(lambda lw: lw.astype(complex).mean(0)), "wrong", "real numbers")


def test_iwae_estimator_right_answer_two_other_ways():
    says(check_iwae_estimator(by_logaddexp), "right", "above the mean log-weight")
    # JAX in float32: values ~1000 carry ~1e-4 of rounding, inside the relative 1e-6 of COMPUTED
    says(check_iwae_estimator(lambda lw: jax.nn.logsumexp(lw, axis=0) - jnp.log(len(lw))), "right")
    says(check_iwae_estimator(by_logaddexp, num_draws=3, n_images=20, seed=4), "right")


def _naive(lw):
    with np.errstate(all="ignore"):
        return np.log(np.mean(np.exp(lw), axis=0))


@pytest.mark.parametrize(
    ("func", "phrase"),
    [
        (_naive, "overflows to inf"),
        (lambda lw: np.logaddexp.reduce(lw, axis=1) - np.log(lw.shape[1]), "over the images"),
        (lambda lw: lw.mean(axis=0), "the ELBO's estimate"),
        (lambda lw: np.logaddexp.reduce(lw, axis=0), "log of the sum"),
        (lambda lw: np.logaddexp.reduce(lw, axis=0) / len(lw), "divided by K"),
        (lambda lw: lw.max(axis=0), "That is the largest log-weight:"),
        (lambda lw: lw.max(axis=0) - np.log(len(lw)), "largest log-weight minus log K"),
        (lambda lw: by_logaddexp(lw) - lw.max(axis=0), "not added back"),
        (lambda lw: by_logaddexp(lw)[None], "shape (8,)"),
        (lambda lw: by_logaddexp(lw) + 1.0, "Not the bound"),
    ],
)
def test_iwae_estimator_recognised_mistakes(func, phrase):
    says(check_iwae_estimator(func), "wrong", phrase)


def test_iwae_estimator_refuses_equal_axes():
    with pytest.raises(ValueError, match="n_images"):
        check_iwae_estimator(by_logaddexp, num_draws=8, n_images=8)


# ------------------------------------------------------------------------------ 08.3
D, L, N, K = 6, 2, 20, 100
W = np.array([[1, 1, 0, 0, 0, 0], [0, 0, 1, -1, 0, 0]], np.float32)  # orthogonal rows
B = np.linspace(-1, 1, D).astype(np.float32)


def linear_vae(sigma, shift, narrow, seed):
    """Probabilistic PCA as a VAE, with a linear encoder: the exact posterior moved by ``shift``
    posterior sds and narrowed ``narrow``-fold; its images; and the posterior's sd and log p(x)."""
    precision = 1 + 2 / sigma**2  # I + W W^T / sigma^2 is diagonal, both entries equal
    post_sd = precision**-0.5
    a = W.T / sigma**2 / precision  # loc = (x - B) a
    raw_sd = np.log(np.expm1(post_sd / narrow - MIN_SCALE))  # softplus(raw) + MIN_SCALE
    w0 = np.concatenate([a, np.zeros((D, L))], axis=1).astype(np.float32)
    b0 = np.concatenate([-B @ a + shift * post_sd, np.full(L, raw_sd)]).astype(np.float32)
    params = {
        "decoder": {"w0": W, "b0": B},
        "log_sd": np.array([np.log(sigma - MIN_SCALE)], np.float32),
        "encoder": {"w0": w0, "b0": b0},
    }
    config = {"latent_dim": L, "hidden": (), "activation": "relu", "output": "identity"}
    fit = VAEFit(params=params, losses=np.zeros(1), config={**config, "noise": "shared"})
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(N, L)) @ W + B + sigma * rng.normal(size=(N, D))).astype(np.float32)
    log_p = st.multivariate_normal(B, W.T @ W + sigma**2 * np.eye(D)).logpdf(x)
    enc_loc = (x - B) @ a + shift * post_sd
    return fit, x, (enc_loc, np.full_like(enc_loc, post_sd / narrow)), log_p


def mc_bounds(x, sigma, loc, scale, k, reps, rng):
    """Mean over the images of L_1 and L_k, ``reps`` independent times, by SciPy: (reps, 2)."""
    z = loc + scale * rng.standard_normal((reps, k, *loc.shape))  # (reps, k, n, L)
    log_w = (
        st.norm.logpdf(x, z @ W + B, sigma).sum(-1)
        + st.norm.logpdf(z).sum(-1)
        - st.norm.logpdf(z, loc, scale).sum(-1)
    )
    return np.stack([log_w[:, 0].mean(-1), (logsumexp(log_w, axis=1) - np.log(k)).mean(-1)], 1)


# (sigma, shift, narrow, seed, expected): an exact encoder with a narrow posterior, which the
# prior's draws cover badly; and an encoder 5 sds off and 5 times too narrow, on a wider one.
CASES = {"below": (0.05, 0.0, 1.0, 0), "above": (0.3, 5.0, 5.0, 1)}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    sigma, shift, narrow, seed = CASES[request.param]
    fit, x, (loc, scale), log_p = linear_vae(sigma, shift, narrow, seed)
    rng = np.random.default_rng(10 + seed)
    enc = mc_bounds(x, sigma, loc, scale, K, 200, rng)
    pri = mc_bounds(x, sigma, np.zeros_like(loc), np.ones_like(loc), K, 200, rng)
    # The checker's numbers are one realisation of these bounds; our 200 independent others
    # all fall more than 5 nats on the same side of each threshold (the prior's L_K has a heavy
    # lower tail, so its sd says little; its upper tail is light), so the checker's does too
    # with probability above 98% (rule of three), and with its fixed seed it always does.
    for threshold in (0, 1):
        gap = pri[:, 1] - enc[:, threshold]
        side = np.sign(gap.mean())
        assert np.all(side * gap > 5), (request.param, threshold, gap.min(), gap.max())
    e1, ek, pk = enc[:, 0].mean(), enc[:, 1].mean(), pri[:, 1].mean()
    truth = "below" if pk < e1 else "between" if pk < ek else "above"
    assert truth == request.param
    assert pk < log_p.mean()  # a lower bound on log p(x), exact from SciPy
    if shift == 0:  # the exact posterior: every weight is p(x), so L_1 = log p(x)
        np.testing.assert_allclose(e1, log_p.mean(), atol=1e-9)
    return fit, x, truth


def test_prior_proposal_reports_the_stub_and_never_raises(case):
    fit, x, _ = case
    for stub in STUBS:
        says(check_prior_proposal_prediction(stub, fit=fit, x=x, num_draws=K), "not answered")
    for answer in [*ODD_ANSWERS, "Above the encoder", 3]:
        says(
            check_prior_proposal_prediction(answer, fit=fit, x=x, num_draws=K),
            "wrong",
            "'below', 'between' or 'above'",
        )


def test_prior_proposal_right_answer_by_monte_carlo(case):
    fit, x, truth = case
    says(
        check_prior_proposal_prediction(f" {truth.upper()} ", fit=fit, x=x, num_draws=K, seed=3),
        "right",
        f"So it lands {truth}",
    )
    for other in {"below", "between", "above"} - {truth}:
        says(
            check_prior_proposal_prediction(other, fit=fit, x=x, num_draws=K, seed=3),
            "wrong",
            f"Not {other}.",
            f"So it lands {truth}",
        )


def test_prior_proposal_refuses_bad_inputs(case):
    fit, x, _ = case
    with pytest.raises(TypeError, match="fit"):
        check_prior_proposal_prediction("above", fit=3, x=x)
    with pytest.raises(ValueError, match="x"):
        check_prior_proposal_prediction("above", fit=fit, x=x[:, :3])
    with pytest.raises(ValueError, match="num_draws"):
        check_prior_proposal_prediction("above", fit=fit, x=x, num_draws=1)
