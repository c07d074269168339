"""Scoring a fitted logistic regression on held-out data, and its Laplace approximation.

The model is :func:`vibook.models.logistic_regression`; its log-likelihood at given weights is
:func:`vibook.models.logistic_loglik`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from vibook._checks import check_array, check_positive
from vibook.fit import as_datatree, as_draws

__all__ = ["logistic_heldout_loglik", "logistic_laplace"]


def logistic_heldout_loglik(posterior, x, y) -> float:
    r"""Mean log predictive density of held-out labels: how well the posterior predicts new data.

    The "elpd" per point on a test set, over ``S`` posterior draws:

    .. math::
        \frac{1}{m}\sum_{i=1}^{m} \log \frac{1}{S}\sum_{s=1}^{S}
        p\big(y_i \mid x_i, w^{(s)}, b^{(s)}\big)

    Parameters
    ----------
    posterior : SVIFit or xarray.DataTree
        A fit of :func:`logistic_regression` (``run_svi`` or ``run_nuts``).
    x, y : arrays of shape (m, d) and (m,)
        Held-out inputs and labels in {0, 1}.

    Returns
    -------
    float
        Nats per held-out point (<= 0; higher is better).
    """
    x = check_array(x, "x", ndim=2)
    y = check_array(y, "y", ndim=1, integer=True, nonnegative=True)
    if y.shape[0] != x.shape[0] or y.max() > 1:
        raise ValueError(f"y must hold one label 0 or 1 per row of x ({x.shape[0]}); got {y.shape}")
    draws = as_draws(as_datatree(posterior), required=("w", "b"))
    w, b = jnp.asarray(draws["w"]), jnp.asarray(draws["b"])
    if w.shape[-1] != x.shape[1]:
        raise ValueError(f"x must have {w.shape[-1]} columns like the fitted w; got {x.shape[1]}")
    sign = 2.0 * jnp.asarray(y, dtype=w.dtype) - 1.0

    @jax.jit
    def mean_lpd(x, sign, w, b):
        logits = x @ w.T + b  # (m, S)
        log_p = -jax.nn.softplus(-sign[:, None] * logits)
        return jnp.mean(logsumexp(log_p, axis=1) - jnp.log(w.shape[0]))

    return float(mean_lpd(jnp.asarray(x, dtype=w.dtype), sign, w, b))


def logistic_laplace(x, y, *, prior_scale: float = 1.0) -> dict:
    r"""Laplace approximation to the posterior of :func:`logistic_regression`, by Newton's method.

    The posterior mode :math:`\hat\theta` of :math:`\theta = (w, b)` and the inverse of the
    negative log posterior's Hessian there, :math:`H^{-1}`, with

    .. math::
        H = \sum_i p_i (1 - p_i)\, \tilde x_i \tilde x_i^\top + I / s^2,
        \quad \tilde x_i = (x_i, 1),\ p_i = \sigma(\tilde x_i^\top \hat\theta).

    With many rows the posterior is close to Normal (Bernstein-von Mises), and this is an
    accurate, deterministic reference for its means and sds. Computed in float64 with NumPy;
    Newton's steps stop when the largest one is below 1e-10 (the log posterior is concave).

    Parameters
    ----------
    x, y : arrays of shape (n, d) and (n,)
        Inputs and labels in {0, 1}.
    prior_scale : float
        Standard deviation ``s`` of the Normal priors, as in the model.

    Returns
    -------
    dict
        ``"mean"`` (d + 1,) and ``"cov"`` (d + 1, d + 1), in the order ``w[0], ..., w[d-1], b``;
        ``"sd"`` the square roots of the covariance's diagonal.
    """
    x = check_array(x, "x", ndim=2)
    y = check_array(y, "y", ndim=1, integer=True, nonnegative=True)
    if y.shape[0] != x.shape[0] or y.max() > 1:
        raise ValueError(f"y must hold one label 0 or 1 per row of x ({x.shape[0]}); got {y.shape}")
    precision = 1.0 / check_positive(prior_scale, "prior_scale") ** 2
    design = np.column_stack([np.asarray(x, dtype=np.float64), np.ones(x.shape[0])])
    labels, theta = np.asarray(y, dtype=np.float64), np.zeros(design.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-design @ theta))
        hessian = (design * (p * (1.0 - p))[:, None]).T @ design + precision * np.eye(theta.size)
        step = np.linalg.solve(hessian, design.T @ (labels - p) - precision * theta)
        theta = theta + step
        if np.abs(step).max() < 1e-10:
            break
    p = 1.0 / (1.0 + np.exp(-design @ theta))
    hessian = (design * (p * (1.0 - p))[:, None]).T @ design + precision * np.eye(theta.size)
    cov = np.linalg.inv(hessian)
    return {"mean": theta, "cov": cov, "sd": np.sqrt(np.diag(cov))}
