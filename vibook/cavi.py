r"""Coordinate ascent on the ELBO, by hand: CAVI for a Normal, and EM for a Gaussian mixture.

Coordinate-ascent variational inference (CAVI) maximises the ELBO over a mean-field family
``q(z) = prod_j q_j(z_j)`` one factor at a time. With the other factors held fixed, the best
``q_j`` is

.. math::
    \log q_j^*(z_j) = E_{q_{-j}}[\log p(x, z)] + \text{const},

so no update can lower the ELBO (Bishop 2006, section 10.1.1; Blei, Kucukelbir and McAuliffe
2017, section 2.4). EM is the same ascent on the same bound with two blocks: the E-step sets
``q(z)`` to the exact posterior of the assignments (the bound touches ``log p(x | theta)``),
the M-step maximises the bound over the parameters ``theta`` (Neal and Hinton 1998).

Both are written in NumPy, a few lines an update, to be read; the tests check them against
the exact posterior (:mod:`vibook.models.normal_gamma`) and scikit-learn's ``GaussianMixture``.

References
----------
Bishop (2006), *Pattern Recognition and Machine Learning*, Springer, sections 9.2-9.4, 10.1.
Blei, Kucukelbir and McAuliffe (2017), "Variational inference: a review for statisticians",
*JASA* 112(518).
Neal and Hinton (1998), "A view of the EM algorithm that justifies incremental, sparse, and
other variants", in *Learning in Graphical Models*.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, logsumexp
from scipy.stats import multivariate_normal

from vibook._checks import (
    check_array,
    check_mixture,
    check_positive,
    check_positive_int,
    check_real,
)
from vibook.models.normal_gamma import NormalGamma, check_normal_gamma

__all__ = ["cavi_normal_gamma", "em_gmm", "gmm_bound", "normal_gamma_elbo"]


def normal_gamma_elbo(x, prior: NormalGamma, m: float, lam: float, a: float, b: float) -> float:
    r"""The ELBO of ``q(mu) q(tau) = N(mu | m, 1 / lam) Gamma(tau | a, b)``, in closed form.

    With :math:`E[\tau] = a / b`, :math:`E[\log \tau] = \psi(a) - \log b` and
    :math:`E[(x_i - \mu)^2] = (x_i - m)^2 + 1 / \lambda`:

    .. math::
        \mathrm{ELBO} = E_q[\log p(x \mid \mu, \tau)] + E_q[\log p(\mu \mid \tau)]
        + E_q[\log p(\tau)] + H[q(\mu)] + H[q(\tau)]
    """
    x = check_array(x, "x", ndim=1).astype(np.float64)
    mu0, lambda0, a0, b0 = check_normal_gamma(prior)
    m, lam = check_real(m, "m"), check_positive(lam, "lam")
    a, b = check_positive(a, "a"), check_positive(b, "b")
    n, e_tau, e_log_tau = x.shape[0], a / b, digamma(a) - np.log(b)
    e_sq_data = np.sum((x - m) ** 2) + n / lam
    e_sq_prior = (m - mu0) ** 2 + 1 / lam
    log_2pi = np.log(2 * np.pi)
    e_lik = 0.5 * n * (e_log_tau - log_2pi) - 0.5 * e_tau * e_sq_data
    e_mu = 0.5 * (np.log(lambda0) + e_log_tau - log_2pi) - 0.5 * lambda0 * e_tau * e_sq_prior
    e_tau_prior = a0 * np.log(b0) - gammaln(a0) + (a0 - 1) * e_log_tau - b0 * e_tau
    h_mu = 0.5 * (1 + log_2pi - np.log(lam))
    h_tau = a - np.log(b) + gammaln(a) + (1 - a) * digamma(a)
    return float(e_lik + e_mu + e_tau_prior + h_mu + h_tau)


def cavi_normal_gamma(x, prior: NormalGamma, *, n_iter: int = 10, init_tau=1.0):
    r"""CAVI for the Normal with unknown mean and precision (Bishop 2006, section 10.1.3).

    Starting from ``E[tau] = init_tau``, each sweep updates the two factors in turn:

    .. math::
        q(\mu) = \mathcal{N}\Big(\frac{\lambda_0 \mu_0 + N \bar x}{\lambda_0 + N},\,
                 \big((\lambda_0 + N) E[\tau]\big)^{-1}\Big), \qquad
        q(\tau) = \mathrm{Gamma}\Big(a_0 + \frac{N + 1}{2},\,
                  b_0 + \frac{1}{2} E_{q(\mu)}\Big[\sum_i (x_i - \mu)^2
                  + \lambda_0 (\mu - \mu_0)^2\Big]\Big)

    Parameters
    ----------
    x : array of shape (N,)
        Data.
    prior : NormalGamma
        The prior's ``(mu_0, lambda_0, a_0, b_0)``.
    n_iter : int
        Sweeps (each updates ``q(mu)`` then ``q(tau)``).
    init_tau : float
        Starting ``E[tau]`` (> 0); ``q(tau)`` starts as ``Gamma(a_N, a_N / init_tau)``.

    Returns
    -------
    dict
        ``m``, ``lam`` (mean and precision of ``q(mu)``), ``a``, ``b`` (shape and rate of
        ``q(tau)``), each of shape (n_iter,) after each sweep, and ``elbo`` of shape
        (2 n_iter,): the ELBO after every factor update, ``q(mu)`` first.
    """
    x = check_array(x, "x", ndim=1).astype(np.float64)
    prior = check_normal_gamma(prior)
    n_iter, init_tau = check_positive_int(n_iter, "n_iter"), check_positive(init_tau, "init_tau")
    mu0, lambda0, a0, b0 = prior
    n, xbar = x.shape[0], x.mean()
    m = (lambda0 * mu0 + n * xbar) / (lambda0 + n)  # the same at every sweep
    a = a0 + (n + 1) / 2  # likewise
    b = a / init_tau
    out = {k: [] for k in ("m", "lam", "a", "b", "elbo")}
    for _ in range(n_iter):
        lam = (lambda0 + n) * a / b  # q(mu) given E[tau] = a / b
        out["elbo"].append(normal_gamma_elbo(x, prior, m, lam, a, b))
        b = b0 + 0.5 * (np.sum((x - m) ** 2) + n / lam + lambda0 * ((m - mu0) ** 2 + 1 / lam))
        out["elbo"].append(normal_gamma_elbo(x, prior, m, lam, a, b))
        for k, v in (("m", m), ("lam", lam), ("a", a), ("b", b)):
            out[k].append(v)
    return {k: np.asarray(v) for k, v in out.items()}


def _check_mixture(x, weights, means, covariances):
    """Checked ``x`` (n, d) and mixture parameters: weights summing to 1, covariances p.d."""
    x = check_array(x, "x", ndim=2).astype(np.float64)
    return (x, *check_mixture(weights, means, covariances, x.shape[1])[:3])


def _component_logpdf(x, weights, means, covariances):
    """``log pi_k + log N(x_n | mu_k, Sigma_k)``, shape (n, K)."""
    return np.stack(
        [
            np.log(w) + multivariate_normal(mu, cov).logpdf(x).reshape(-1)
            for w, mu, cov in zip(weights, means, covariances, strict=True)
        ],
        axis=1,
    )


def gmm_bound(x, resp, weights, means, covariances) -> float:
    r"""The ELBO of a Gaussian mixture for assignment probabilities ``resp`` and parameters.

    .. math::
        \mathcal{L}(r, \theta) = \sum_n \sum_k r_{nk}
        \big[\log \pi_k + \log \mathcal{N}(x_n \mid \mu_k, \Sigma_k) - \log r_{nk}\big]
        \le \log p(x \mid \theta),

    with equality when ``r`` (shape (n, K), rows summing to 1) is the exact posterior of the
    assignments.
    """
    x, weights, means, covariances = _check_mixture(x, weights, means, covariances)
    resp = check_array(resp, "resp", shape=(x.shape[0], weights.shape[0]), nonnegative=True)
    if not np.allclose(resp.sum(axis=1), 1.0):
        raise ValueError("resp must hold one probability distribution over clusters per row")
    log_joint = _component_logpdf(x, weights, means, covariances)
    safe = np.where(resp > 0, resp, 1.0)
    return float(np.sum(resp * (log_joint - np.log(safe))))


def em_gmm(x, *, weights, means, covariances, n_iter: int = 20, reg_covar: float = 1e-6):
    """EM for a full-covariance Gaussian mixture from given parameters, recording the bound.

    Each iteration is an E-step (responsibilities ``r_nk = p(z_n = k | x_n, theta)``, which
    makes :func:`gmm_bound` equal the log-likelihood) and an M-step (weighted means,
    covariances plus ``reg_covar`` on the diagonal as in scikit-learn, and weights).

    Parameters
    ----------
    x : array of shape (n, d)
    weights, means, covariances : arrays of shape (K,), (K, d), (K, d, d)
        Starting parameters.
    n_iter : int
        Iterations (E-step then M-step).
    reg_covar : float
        Added to each covariance's diagonal (>= 0).

    Returns
    -------
    dict
        ``weights``, ``means``, ``covariances`` after the last M-step; ``loglik`` of shape
        (n_iter,), ``log p(x | theta)`` at each E-step (the bound, tight); and ``bound_after_m``
        of shape (n_iter,), the bound after each M-step with the responsibilities of its E-step.
    """
    x, weights, means, covariances = _check_mixture(x, weights, means, covariances)
    n_iter, d = check_positive_int(n_iter, "n_iter"), x.shape[1]
    if check_real(reg_covar, "reg_covar") < 0:
        raise ValueError(f"reg_covar must be >= 0; got {reg_covar}")
    loglik, after_m = [], []
    for _ in range(n_iter):
        log_joint = _component_logpdf(x, weights, means, covariances)
        log_px = logsumexp(log_joint, axis=1, keepdims=True)
        resp = np.exp(log_joint - log_px)  # E-step: q(z_n) = p(z_n | x_n, theta)
        loglik.append(float(log_px.sum()))
        nk = resp.sum(0)  # M-step: maximise the bound over theta with q fixed
        weights, means = nk / x.shape[0], resp.T @ x / nk[:, None]
        diff = x[None] - means[:, None]  # (K, n, d)
        covariances = np.einsum("kn,kni,knj->kij", resp.T, diff, diff) / nk[:, None, None]
        covariances += reg_covar * np.eye(d)
        after_m.append(gmm_bound(x, resp, weights, means, covariances))
    return {
        "weights": weights,
        "means": means,
        "covariances": covariances,
        "loglik": np.asarray(loglik),
        "bound_after_m": np.asarray(after_m),
    }
