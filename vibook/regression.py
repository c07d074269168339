"""Scoring a fitted logistic regression on held-out data.

The model is :func:`vibook.models.logistic_regression`; its log-likelihood at given weights is
:func:`vibook.models.logistic_loglik`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from vibook._checks import check_array
from vibook.fit import as_datatree, as_draws

__all__ = ["logistic_heldout_loglik"]


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
