"""CAVI and EM written by hand, against exact answers and scikit-learn."""

import numpy as np
import pytest
from scipy import stats
from sklearn.mixture import GaussianMixture

from vibook.cavi import cavi_normal_gamma, em_gmm, gmm_bound, normal_gamma_elbo
from vibook.data import load_faithful
from vibook.models.normal_gamma import (
    NormalGamma,
    normal_gamma_log_evidence,
    normal_gamma_posterior,
)

PRIOR = NormalGamma(mu=0.0, lam=1.0, a=2.0, b=2.0)
X = np.random.default_rng(0).normal(1.0, 0.5, size=20)


def test_elbo_matches_monte_carlo():
    m, lam, a, b = 0.3, 5.0, 3.0, 1.0
    rng = np.random.default_rng(1)
    mu = rng.normal(m, 1 / np.sqrt(lam), 200_000)
    tau = rng.gamma(a, 1 / b, 200_000)
    log_p = (
        stats.gamma.logpdf(tau, PRIOR.a, scale=1 / PRIOR.b)
        + stats.norm.logpdf(mu, PRIOR.mu, 1 / np.sqrt(PRIOR.lam * tau))
        + stats.norm.logpdf(X[None], mu[:, None], 1 / np.sqrt(tau[:, None])).sum(1)
    )
    log_q = stats.norm.logpdf(mu, m, 1 / np.sqrt(lam)) + stats.gamma.logpdf(tau, a, scale=1 / b)
    v = log_p - log_q
    mcse = v.std() / np.sqrt(v.size)
    assert normal_gamma_elbo(X, PRIOR, m, lam, a, b) == pytest.approx(v.mean(), abs=4 * mcse)


def test_cavi_rises_monotonically_to_below_the_evidence():
    fit = cavi_normal_gamma(X, PRIOR, n_iter=10, init_tau=50.0)
    assert np.all(np.diff(fit["elbo"]) >= -1e-12)  # rounding only
    assert fit["elbo"][-1] - fit["elbo"][0] > 1.0  # it did climb, from a poor start
    assert fit["elbo"][-1] < normal_gamma_log_evidence(X, PRIOR)


def test_cavi_fixed_point_against_the_exact_posterior():
    fit = cavi_normal_gamma(X, PRIOR, n_iter=50)
    post = normal_gamma_posterior(X, PRIOR)
    exact_var_mu = post.b / ((post.a - 1) * post.lam)
    assert fit["m"][-1] == pytest.approx(post.mu, rel=1e-12)  # the mean is exact
    # At the fixed point b = b_N (a_N + 1/2) / a_N, so E_q[tau] = a_N / b_N exactly, and the
    # variance of mu is too small by (a_N - 1) / a_N (notebook 04 derives both).
    assert fit["a"][-1] / fit["b"][-1] == pytest.approx(post.a / post.b, rel=1e-10)
    assert 1 / fit["lam"][-1] == pytest.approx(exact_var_mu * (post.a - 1) / post.a, rel=1e-10)
    assert np.abs(np.diff(fit["b"][-3:])).max() < 1e-10  # converged


def test_em_matches_scikit_learn():
    x = load_faithful()
    x = (x - x.mean(0)) / x.std(0)
    w0, m0, c0 = (
        np.array([0.5, 0.5]),
        np.array([[-1.0, 1.0], [1.0, -1.0]]),
        np.stack([np.eye(2)] * 2),
    )
    gm = GaussianMixture(
        2,
        weights_init=w0,
        means_init=m0,
        precisions_init=np.linalg.inv(c0),
        tol=1e-10,
        max_iter=500,
    ).fit(x)
    fit = em_gmm(x, weights=w0, means=m0, covariances=c0, n_iter=gm.n_iter_)
    np.testing.assert_allclose(fit["means"], gm.means_, atol=1e-10)
    np.testing.assert_allclose(fit["covariances"], gm.covariances_, atol=1e-10)
    np.testing.assert_allclose(fit["weights"], gm.weights_, atol=1e-10)
    # EM as coordinate ascent: the M-step raises the bound, the next E-step raises it again.
    assert np.all(fit["bound_after_m"] >= fit["loglik"] - 1e-8)
    assert np.all(fit["loglik"][1:] >= fit["bound_after_m"][:-1] - 1e-8)


def test_bound_is_tight_at_the_posterior_and_loose_elsewhere():
    x = np.random.default_rng(2).normal(size=(30, 2))
    w, m, c = np.array([0.3, 0.7]), np.array([[0.0, 0.0], [1.0, 1.0]]), np.stack([np.eye(2)] * 2)
    log_joint = np.log(w) + np.stack([stats.multivariate_normal(mu).logpdf(x) for mu in m], 1)
    log_px = np.logaddexp(log_joint[:, 0], log_joint[:, 1])
    exact = np.exp(log_joint - log_px[:, None])
    assert gmm_bound(x, exact, w, m, c) == pytest.approx(log_px.sum(), rel=1e-12)
    assert gmm_bound(x, np.full_like(exact, 0.5), w, m, c) < log_px.sum() - 0.1
