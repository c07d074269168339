r"""A Normal with unknown mean and precision: the model, its exact posterior and evidence.

The Normal-Gamma prior is conjugate, so the exact answer is known, and the mean-field
posterior ``q(mu) q(tau)`` that coordinate ascent finds (:func:`vibook.cavi.cavi_normal_gamma`)
can be compared with it (Bishop 2006, section 10.1.3).

.. math::
    \tau \sim \mathrm{Gamma}(a_0, b_0), \quad
    \mu \mid \tau \sim \mathcal{N}\big(\mu_0, (\lambda_0 \tau)^{-1}\big), \quad
    x_i \mid \mu, \tau \sim \mathcal{N}(\mu, \tau^{-1}), \quad i = 1, \dots, N

``Gamma(a, b)`` has shape ``a`` and rate ``b`` (mean ``a / b``).

References
----------
Bishop (2006), *Pattern Recognition and Machine Learning*, Springer, sections 2.3.6 and 10.1.3.
Murphy (2007), "Conjugate Bayesian analysis of the Gaussian distribution", technical note.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpyro
import numpyro.distributions as dist
from scipy.special import gammaln

from vibook._checks import check_array, check_positive, check_positive_int, check_real, is_tracer

__all__ = [
    "NormalGamma",
    "check_normal_gamma",
    "normal_gamma",
    "normal_gamma_log_evidence",
    "normal_gamma_posterior",
]


class NormalGamma(NamedTuple):
    """A Normal-Gamma distribution ``tau ~ Gamma(a, b)``, ``mu | tau ~ N(mu, 1 / (lam tau))``.

    The prior's ``(mu_0, lambda_0, a_0, b_0)`` and the posterior's ``(mu_N, lambda_N, a_N,
    b_N)`` in Bishop's notation are both of this kind.
    """

    mu: float = 0.0
    lam: float = 1.0
    a: float = 1.0
    b: float = 1.0


def check_normal_gamma(prior, name: str = "prior") -> NormalGamma:
    """Check a :class:`NormalGamma` (``mu`` finite; ``lam``, ``a``, ``b`` > 0)."""
    if not isinstance(prior, NormalGamma):
        raise TypeError(f"{name} must be a NormalGamma; got {type(prior).__name__}")
    return NormalGamma(
        check_real(prior.mu, f"{name}.mu"),
        *(check_positive(getattr(prior, k), f"{name}.{k}") for k in ("lam", "a", "b")),
    )


def _check_x(x) -> np.ndarray:
    return check_array(x, "x", ndim=1).astype(np.float64)


def normal_gamma(x=None, *, prior: NormalGamma, n: int | None = None):
    """The model as a NumPyro function; ``x=None`` draws ``n`` points from the prior predictive."""
    if x is None:
        n = check_positive_int(n, "n")
    elif not is_tracer(x):
        x = _check_x(x)
    mu0, lambda0, a0, b0 = check_normal_gamma(prior)
    tau = numpyro.sample("tau", dist.Gamma(a0, b0))
    mu = numpyro.sample("mu", dist.Normal(mu0, 1.0 / (lambda0 * tau) ** 0.5))
    with numpyro.plate("data", n if x is None else x.shape[0]):
        numpyro.sample("x", dist.Normal(mu, 1.0 / tau**0.5), obs=x)


def normal_gamma_posterior(x, prior: NormalGamma) -> NormalGamma:
    r"""The exact posterior, Normal-Gamma again, with updated ``(mu_N, lambda_N, a_N, b_N)``.

    .. math::
        \mu_N = \frac{\lambda_0 \mu_0 + N \bar x}{\lambda_0 + N}, \quad
        \lambda_N = \lambda_0 + N, \quad a_N = a_0 + \frac{N}{2}, \quad
        b_N = b_0 + \frac{1}{2}\Big(\sum_i (x_i - \bar x)^2
              + \frac{\lambda_0 N (\bar x - \mu_0)^2}{\lambda_0 + N}\Big)

    Its marginals: ``tau ~ Gamma(a_N, b_N)``; ``mu`` is Student-t with mean ``mu_N`` and
    variance ``b_N / ((a_N - 1) lambda_N)`` (for ``a_N > 1``).
    """
    x, (mu0, lambda0, a0, b0) = _check_x(x), check_normal_gamma(prior)
    n, xbar = x.shape[0], x.mean()
    return NormalGamma(
        (lambda0 * mu0 + n * xbar) / (lambda0 + n),
        lambda0 + n,
        a0 + n / 2,
        b0 + 0.5 * (np.sum((x - xbar) ** 2) + lambda0 * n * (xbar - mu0) ** 2 / (lambda0 + n)),
    )


def normal_gamma_log_evidence(x, prior: NormalGamma) -> float:
    r"""The exact log marginal likelihood ``log p(x)``.

    .. math::
        p(x) = \frac{\Gamma(a_N)}{\Gamma(a_0)} \frac{b_0^{a_0}}{b_N^{a_N}}
               \Big(\frac{\lambda_0}{\lambda_N}\Big)^{1/2} (2\pi)^{-N/2}
    """
    x, prior = _check_x(x), check_normal_gamma(prior)
    post = normal_gamma_posterior(x, prior)
    return float(
        gammaln(post.a)
        - gammaln(prior.a)
        + prior.a * np.log(prior.b)
        - post.a * np.log(post.b)
        + 0.5 * np.log(prior.lam / post.lam)
        - 0.5 * x.shape[0] * np.log(2 * np.pi)
    )
