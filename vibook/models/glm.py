"""Generalised linear models: Bayesian logistic regression, with minibatches.

Logistic regression is the smallest model whose cost grows with the data (every likelihood
evaluation touches all ``n`` rows), so it is the yardstick for scaling inference: NUTS needs many
full-data gradients per draw, full-batch SVI one per step, and minibatch SVI (``subsample_size``) a
fixed number of rows per step however large ``n`` is (Hoffman et al. 2013).

References
----------
Hoffman, Blei, Wang and Paisley (2013), "Stochastic variational inference", JMLR 14.
Gelman, Jakulin, Pittau and Su (2008), "A weakly informative default prior distribution for
logistic and other regression models", Annals of Applied Statistics 2(4).
"""

from __future__ import annotations

import numpy as np
import numpyro
import numpyro.distributions as dist

from vibook._checks import (
    check_array,
    check_positive,
    check_real,
    check_subsample,
    is_tracer,
)
from vibook.models.minibatch import with_replacement

__all__ = ["logistic_loglik", "logistic_regression"]


def _check_xy(x, y):
    if not is_tracer(x):
        check_array(x, "x", ndim=2)
    if y is not None and not is_tracer(y):
        yy = check_array(y, "y", ndim=1, integer=True, nonnegative=True)
        if yy.shape[0] != x.shape[0]:
            raise ValueError(f"y must have one label per row of x ({x.shape[0]}); got {yy.shape}")
        if yy.max() > 1:
            raise ValueError(f"y must hold labels 0 or 1; got maximum {yy.max()}")


def logistic_regression(
    x,
    y=None,
    *,
    prior_scale: float = 1.0,
    subsample_size: int | None = None,
):
    r"""Binary labels whose log-odds are a linear function of the inputs, with Normal priors.

    .. math::
        w_j \sim \mathcal{N}(0, s^2),\quad b \sim \mathcal{N}(0, s^2),\quad
        y_i \mid x_i, w, b \sim \mathrm{Bernoulli}\big(\sigma(x_i^\top w + b)\big),
        \quad i = 1, \dots, n

    Parameters
    ----------
    x : array of shape (n, d)
        Inputs. A JAX array stays where it is (on its device, or split over several with
        ``run_svi(..., shard_data=True)``); nothing is copied back to the host.
    y : array of shape (n,), optional
        Labels in {0, 1}; ``None`` draws them from the prior (or posterior) predictive.
    prior_scale : float
        Standard deviation ``s`` of the Normal priors on the weights and the bias.
    subsample_size : int, optional
        Minibatch size: rows per evaluation, drawn uniformly with replacement (so the cost per step
        does not grow with ``n``), their log-likelihood scaled by ``n / subsample_size``.

    Examples
    --------
    >>> import jax
    >>> from vibook import run_svi
    >>> from vibook.data import synthetic_logistic
    >>> data = synthetic_logistic(2000, n_features=3)
    >>> fit = run_svi(jax.random.key(0), logistic_regression, data["x"], data["y"],
    ...               subsample_size=200, num_steps=1000)  # doctest: +SKIP
    """
    _check_xy(x, y)
    n, d = x.shape
    if not is_tracer(prior_scale):
        prior_scale = check_positive(prior_scale, "prior_scale")
    subsample_size = check_subsample(subsample_size, n)
    w = numpyro.sample("w", dist.Normal(0.0, prior_scale).expand([d]).to_event(1))
    b = numpyro.sample("b", dist.Normal(0.0, prior_scale))
    with with_replacement("data"), numpyro.plate("data", n, subsample_size=subsample_size):
        xb = numpyro.subsample(x, event_dim=1)
        yb = None if y is None else numpyro.subsample(y, event_dim=0)
        numpyro.sample("y", dist.Bernoulli(logits=xb @ w + b), obs=yb)


def logistic_loglik(x, y, *, w, b) -> float:
    """Mean log-likelihood per point at fixed parameters: with the true ones, the ceiling.

    Parameters
    ----------
    x, y : arrays of shape (m, d) and (m,)
        Inputs and labels in {0, 1}.
    w, b : array of shape (d,) and float
        Weights and bias.
    """
    if y is None:
        raise TypeError("y must be an array of labels 0 or 1; got None")
    _check_xy(x, y)
    w = check_array(w, "w", ndim=1)
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"w must have one weight per column of x ({x.shape[1]}); got {w.shape}")
    b = check_real(b, "b")
    logits = np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64) + b
    sign = 2.0 * np.asarray(y, dtype=np.float64) - 1.0
    return float(np.mean(-np.logaddexp(0.0, -sign * logits)))
