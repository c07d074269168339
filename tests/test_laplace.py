import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import log_softmax, logsumexp

from vibook.baselines import fit_mlp, mlp_predict_proba
from vibook.laplace import (
    LaplaceFit,
    _features,
    _last_layer_draws,
    fit_last_layer_laplace,
    laplace_predict_proba,
)
from vibook.metrics import nll

K = 3  # classes


def blobs(n, seed):
    """Three overlapping Gaussian blobs in 2-D: no class separable, so the MAP stays finite."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    centres = np.array([[0.0, 1.0], [-0.9, -0.5], [0.9, -0.5]])
    x = centres[y] + 0.6 * rng.normal(size=(n, 2))
    return x.astype(np.float32), y.astype(np.int32)


@pytest.fixture(scope="module")
def data():
    return blobs(200, 0)


@pytest.fixture(scope="module")
def fit(data):
    x, y = data
    return fit_mlp(jax.random.key(0), x, y, n_classes=K, hidden=(3,), num_steps=2000)


@pytest.fixture(scope="module")
def lfit(fit, data):
    return fit_last_layer_laplace(fit, *data)


def nll_hessian(phi, probs):
    """sum_i kron(diag(p_i) - p_i p_i^T, phi_i phi_i^T), written out point by point."""
    lam = np.einsum("ik,kl->ikl", probs, np.eye(probs.shape[1])) - np.einsum(
        "ik,il->ikl", probs, probs
    )
    d = phi.shape[1]
    return np.einsum("ikl,ij,im->kjlm", lam, phi, phi).reshape(K * d, K * d)


def class_probs(phi, theta):
    """Softmax of the logits phi A, theta = A's columns (one per class) one after the other."""
    return np.exp(log_softmax(phi @ theta.reshape(K, -1).T, axis=-1))


def with_last_layer(fit, theta):
    """The fit with its last layer replaced by theta (ordered as LaplaceFit.loc)."""
    last = sum(1 for k in fit.weights if k.startswith("w")) - 1
    a = theta.reshape(K, -1).T  # (m + 1, K): the weights, then the bias row
    weights = dict(fit.weights)
    weights[f"w{last}"] = jnp.asarray(a[None, :-1], dtype=jnp.float32)
    weights[f"b{last}"] = jnp.asarray(a[None, -1], dtype=jnp.float32)
    return fit._replace(weights=weights)


def polish(phi, y, alpha, theta):
    """Newton's method to the mode of log p(y | theta) - alpha / 2 ||theta||^2 (concave)."""
    onehot = np.eye(K)[y]
    for _ in range(100):
        p = class_probs(phi, theta)
        grad = np.einsum("ik,ij->kj", onehot - p, phi).reshape(-1) - alpha * theta
        step = np.linalg.solve(nll_hessian(phi, p) + alpha * np.eye(theta.size), grad)
        theta = theta + step
        if np.abs(step).max() < 1e-12:
            break
    return theta


# ------------------------------------------------------------------ the Hessian
@pytest.mark.parametrize(("hidden", "activation"), [((3,), "tanh"), ((4, 3), "relu"), ((), "tanh")])
def test_hessian_is_autodiffs_hessian_of_the_nll(fit, data, hidden, activation):
    x, y = data[0][:40], data[1][:40]
    if hidden != (3,):  # the identity holds at any last layer, not only at a mode
        fit = fit_mlp(
            jax.random.key(1),
            x,
            y,
            n_classes=K,
            hidden=hidden,
            activation=activation,
            num_steps=200,
        )
    lf = fit_last_layer_laplace(fit, x, y)
    n_layers = len(hidden) + 1
    w = np.asarray(fit.weights[f"w{n_layers - 1}"][0])
    b = np.asarray(fit.weights[f"b{n_layers - 1}"][0])
    # loc is the last layer class by class: column k of (W; b) is loc[k * (m + 1):(k + 1) * (m + 1)]
    np.testing.assert_array_equal(lf.loc.reshape(K, -1).T, np.vstack([w, b[None]]))
    assert lf.config == {"n_classes": K, "n_features": (hidden or (2,))[-1] + 1}
    assert lf.loc.shape == (K * lf.config["n_features"],)

    act = {"tanh": jnp.tanh, "relu": jax.nn.relu}[activation]
    with jax.enable_x64(True):
        weights = {k: jnp.asarray(v[0], dtype=jnp.float64) for k, v in fit.weights.items()}
        h = jnp.asarray(x, dtype=jnp.float64)
        for i in range(n_layers - 1):
            h = act(h @ weights[f"w{i}"] + weights[f"b{i}"])

        def total_nll(theta):
            a = theta.reshape(K, -1).T
            logits = h @ a[:-1] + a[-1]
            return -jnp.sum(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

        expected = np.asarray(jax.hessian(total_nll)(jnp.asarray(lf.loc)))
    got = lf.eigvecs @ np.diag(lf.eigvals) @ lf.eigvecs.T
    # The module's features are the network's float32 output (relative rounding 6e-8), the
    # autodiff ones float64: entries of H, sums of 40 products of features, agree to ~1e-7 of
    # the largest entry (3e-8 here); 1e-5 of it leaves room and still catches a wrong ordering
    # or a diagonal or block-diagonal approximation, which are off by O(1) of it.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    assert np.all(lf.eigvals >= 0)
    # Softmax is unchanged by adding one vector to every class's column: at least m + 1 zero
    # eigenvalues (more where features are collinear on these points, as a dead relu unit is).
    d = lf.config["n_features"]
    assert np.all(lf.eigvals[:d] < 1e-8 * lf.eigvals[-1])


def test_features_give_back_the_maps_probabilities(fit, lfit, data):
    x = data[0]
    p_map = np.asarray(mlp_predict_proba(jax.random.key(0), fit, x))[0]
    # the same float32 network, the last layer as phi A in float64 instead of h W + b in float32
    np.testing.assert_allclose(class_probs(_features(fit, x), lfit.loc), p_map, atol=1e-5)


# ------------------------------------------------------------------ the evidence
@pytest.mark.parametrize("alpha", [0.5, 5.0])
def test_log_evidence_matches_importance_sampling(fit, lfit, data, alpha):
    x, y = data
    phi = _features(fit, x)
    # The Laplace evidence is that of a Gaussian centred at the posterior's mode: move the last
    # layer to the mode for this alpha (the MAP's own penalty is not alpha ||theta||^2 / 2).
    polished = with_last_layer(fit, polish(phi, y, alpha, lfit.loc))
    lf = fit_last_layer_laplace(polished, x, y, prior_precisions=[alpha])
    assert lf.prior_precision == alpha and lf.log_evidences.shape == (1,)
    # p(y | alpha) = E_q[p(y | theta) p(theta | alpha) / q(theta)], q the Laplace Gaussian:
    # unbiased for any q that covers the posterior; this q is near it, so the weights vary
    # little and the Monte Carlo sd of the log estimate (checked) is a few thousandths of a nat.
    n_params = lf.loc.size
    factor = lf.eigvecs / np.sqrt(lf.eigvals + alpha)  # q's covariance is factor @ factor.T
    log_det_factor = np.linalg.slogdet(factor)[1]
    rng = np.random.default_rng(1)
    log_w = []
    for _ in range(5):  # 100,000 draws
        z = rng.normal(size=(20_000, n_params))
        theta = lf.loc + z @ factor.T
        logits = theta.reshape(len(z), K, -1) @ phi.T  # (draws, K, n)
        loglik = (logits[:, y, np.arange(len(y))] - logsumexp(logits, axis=1)).sum(1)
        log_prior = 0.5 * n_params * np.log(alpha / (2 * np.pi)) - 0.5 * alpha * (theta**2).sum(1)
        log_q = -0.5 * (z**2).sum(1) - 0.5 * n_params * np.log(2 * np.pi) - log_det_factor
        log_w.append(loglik + log_prior - log_q)
    log_w = np.concatenate(log_w)
    estimate = logsumexp(log_w) - np.log(log_w.size)
    mc_sd = np.std(np.exp(log_w - estimate)) / np.sqrt(log_w.size)  # sd of log(estimate)
    assert mc_sd < 0.01
    # Laplace's error: the log-likelihood is not quadratic over the posterior's width. It
    # shrinks like 1/n; here (n = 200, 12 parameters, 4 of them set by the prior alone) it is
    # 0.03-0.12 nats. 0.3 nats is far below what a wrong term would cost: P/2 log alpha is
    # 4-10 nats at these alphas, the 2 pi terms 11 nats.
    assert abs(lf.log_evidences[0] - estimate) < 0.3


def test_log_evidence_curve_by_slogdet(fit, lfit, data):
    x, y = data
    phi = _features(fit, x)
    theta = lfit.loc
    loglik = np.take_along_axis(log_softmax(phi @ theta.reshape(K, -1).T, -1), y[:, None], 1).sum()
    hess = nll_hessian(phi, class_probs(phi, theta))
    expected = []
    for alpha in lfit.prior_precisions:
        sign, logdet = np.linalg.slogdet(hess + alpha * np.eye(theta.size))
        assert sign == 1
        expected.append(
            loglik - 0.5 * alpha * theta @ theta + 0.5 * theta.size * np.log(alpha) - 0.5 * logdet
        )
    # The same float64 features, a second route (H point by point, a determinant instead of
    # eigenvalues): only float64 rounding, ~1e-13 of the values, separates them.
    np.testing.assert_allclose(lfit.log_evidences, expected, rtol=1e-8)


def test_prior_precision_is_the_grids_argmax(lfit):
    np.testing.assert_array_equal(lfit.prior_precisions, np.logspace(-4, 4, 81))
    assert lfit.log_evidences.shape == (81,)
    best = int(np.argmax(lfit.log_evidences))
    assert lfit.prior_precision == lfit.prior_precisions[best]
    # Inside the grid: the Occam factor P/2 log alpha falls off to the left, the prior's
    # -alpha ||theta*||^2 / 2 to the right.
    assert 0 < best < 80


# ------------------------------------------------------------------ the predictive
def test_huge_prior_precision_gives_back_the_map(fit, data):
    x, y = data
    big = fit_last_layer_laplace(fit, x, y, prior_precisions=[1e8])
    p_map = np.asarray(mlp_predict_proba(jax.random.key(0), fit, x))[0]
    probs = np.asarray(laplace_predict_proba(jax.random.key(1), big, x, num_draws=100))
    # Each weight's sd is at most 1e-4 and |phi| <= 2 here, so a logit moves by about 2e-4 (5 sd
    # over 60,000 draws and points: 1e-3), a probability by less (at most 2e-4 here).
    np.testing.assert_allclose(probs, np.broadcast_to(p_map, probs.shape), atol=1e-3)


def test_more_data_narrows_the_predictive_towards_the_map(fit, data):
    x, y = data
    p_map = np.asarray(mlp_predict_proba(jax.random.key(0), fit, x))[0]
    gaps = []
    for copies in (1, 100):  # 100 copies of the data: 100 times the Hessian
        lf = fit_last_layer_laplace(
            fit, np.tile(x, (copies, 1)), np.tile(y, copies), prior_precisions=[1.0]
        )
        probs = np.asarray(laplace_predict_proba(jax.random.key(1), lf, x, num_draws=4000))
        gaps.append(np.abs(probs.mean(0) - p_map).mean())
    # Averaging the softmax over the Gaussian moves it by about the posterior variance of the
    # logits, 1/n (the prior-only directions move no logit); 4000 draws add Monte Carlo noise of
    # about 1e-4. A hundredth of the variance: the gap must shrink at least tenfold (it shrinks
    # a hundredfold here, 7e-3 to 7e-5).
    assert gaps[0] > 1e-3
    assert gaps[1] < 0.1 * gaps[0]


def test_averaging_over_the_posterior_softens_the_map(fit, lfit, data):
    x, y = data
    p_map = np.asarray(mlp_predict_proba(jax.random.key(0), fit, x))[0]
    probs = np.asarray(laplace_predict_proba(jax.random.key(1), lfit, x, num_draws=2000))
    assert probs.shape == (2000, 200, K)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    # At the chosen alpha the mean top probability drops (about 0.869 to 0.858 here; Monte Carlo
    # error of the mean ~1e-4); draws without spread would leave it where it is.
    assert probs.mean(0).max(-1).mean() < p_map.max(-1).mean() - 0.002
    assert np.isfinite(nll(probs.mean(0), y))  # vibook.metrics takes the draws' mean


def test_draws_have_the_laplace_covariance(fit, lfit, data):
    x, y = data
    phi = _features(fit, x)
    precision = nll_hessian(phi, class_probs(phi, lfit.loc)) + lfit.prior_precision * np.eye(
        lfit.loc.size
    )
    n_draws = 20_000
    theta = np.asarray(_last_layer_draws(jax.random.key(2), lfit, n_draws), dtype=np.float64)
    vals, vecs = np.linalg.eigh(precision)
    whiten = vecs @ np.diag(np.sqrt(vals)) @ vecs.T  # precision^(1/2): the draws' covariance to I
    white = (theta - lfit.loc) @ whiten
    # Standard normal draws: the sample mean has sd 1/sqrt(S), the sample covariance's entries
    # sd sqrt(2/S) on the diagonal and sqrt(1/S) off it (S = 20,000: 0.01 and 0.007). Five sd
    # bound all 12 means and 78 covariance entries together.
    assert np.abs(white.mean(0)).max() < 5 / np.sqrt(n_draws)
    np.testing.assert_allclose(
        np.cov(white.T), np.eye(lfit.loc.size), atol=5 * np.sqrt(2 / n_draws)
    )


# ------------------------------------------------------------------ checks and keys
def test_same_key_same_draws_other_key_other_draws(lfit, data):
    x = data[0][:10]
    a = np.asarray(laplace_predict_proba(jax.random.key(3), lfit, x, num_draws=7))
    b = np.asarray(laplace_predict_proba(jax.random.key(3), lfit, x, num_draws=7))
    c = np.asarray(laplace_predict_proba(jax.random.key(4), lfit, x, num_draws=7))
    assert a.shape == (7, 10, K)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_bad_input(fit, lfit, data):
    x, y = data
    with pytest.raises(TypeError, match="fit must be an MLPFit"):
        fit_last_layer_laplace({"w0": 1}, x, y)
    for method in ("dropout", "ensemble"):
        other = fit_mlp(
            jax.random.key(0),
            x,
            y,
            method=method,
            n_classes=K,
            hidden=(3,),
            n_members=2,
            num_steps=5,
        )
        with pytest.raises(ValueError, match=f"fit must be a MAP fit.*{method}"):
            fit_last_layer_laplace(other, x, y)
    regression = fit_mlp(jax.random.key(0), x, x[:, 0], hidden=(3,), num_steps=5)
    with pytest.raises(ValueError, match="fit must be a classification fit"):
        fit_last_layer_laplace(regression, x, x[:, 0])
    for bad in ([1.0, 0.0], [-1.0], [[1.0, 2.0]], 1.0, [np.nan]):
        with pytest.raises(ValueError, match="prior_precisions"):
            fit_last_layer_laplace(fit, x, y, prior_precisions=bad)
    with pytest.raises(TypeError, match="prior_precisions"):
        fit_last_layer_laplace(fit, x, y, prior_precisions="abc")
    with pytest.raises(ValueError, match="x must have 2 columns"):
        fit_last_layer_laplace(fit, x[:, :1], y)
    with pytest.raises(ValueError, match="y must hold labels in 0..2"):
        fit_last_layer_laplace(fit, x, np.where(y == 0, 3, y))
    with pytest.raises(ValueError, match="same length"):
        fit_last_layer_laplace(fit, x, y[:-1])
    with pytest.raises(TypeError, match="lfit must be a LaplaceFit"):
        laplace_predict_proba(jax.random.key(0), fit, x)
    with pytest.raises(ValueError, match="x must have 2 columns"):
        laplace_predict_proba(jax.random.key(0), lfit, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="num_draws"):
        laplace_predict_proba(jax.random.key(0), lfit, x, num_draws=0)
    with pytest.raises(TypeError, match="rng_key"):
        laplace_predict_proba(0, lfit, x)
    assert isinstance(lfit, LaplaceFit)
