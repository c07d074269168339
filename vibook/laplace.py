r"""A last-layer Laplace approximation around the MAP network of :mod:`vibook.baselines`.

A MAP network (``fit_mlp(method="map")``) is one point in weight space; its softmax is all the
uncertainty it has. The Laplace approximation (MacKay 1992) puts a Gaussian around that point,
with the curvature of the log posterior there as its precision. For a whole network the curvature
is a matrix the size of the weights squared; doing it for the last layer only, with the hidden
layers kept at the MAP, is cheap and keeps most of the benefit (Daxberger et al. 2021, "Laplace
Redux"). Given the hidden layers the last layer is a multinomial logistic regression, so the
Gaussian is the classical Laplace approximation of a logistic regression on learned features.

**Features.** For input :math:`x_i`, :math:`\phi_i \in \mathbb R^{m+1}` is the output of the last
hidden layer (``m`` units) with a 1 appended for the bias, so the logits are
:math:`f_i = A^\top \phi_i` with :math:`A = \binom{W}{b}` of shape (m + 1, K). (A net with no
hidden layer has :math:`\phi_i = (x_i, 1)`.) The parameters are
:math:`\theta = (a_1, \dots, a_K)`, class by class, :math:`a_k` the column of :math:`A` for class
``k`` (its ``m`` weights, then its bias); there are :math:`P = (m + 1) K` of them.

**Hessian.** The logits are linear in :math:`\theta`, so the Hessian of the negative
log-likelihood is exact, not a Gauss-Newton approximation:

.. math::
    H = \sum_i \big(\mathrm{diag}(p_i) - p_i p_i^\top\big) \otimes \phi_i \phi_i^\top,
    \qquad p_i = \mathrm{softmax}(f_i),

with the class index outer, as in the order of :math:`\theta`. It is singular: adding the same
vector to every class's column leaves the softmax unchanged, so :math:`H` has at least
:math:`m + 1` zero eigenvalues (those computed below zero are rounding errors, set to 0).

**Posterior.** With the prior :math:`\theta \sim \mathcal N(0, \alpha^{-1} I)`,

.. math::
    p(\theta \mid y) \approx \mathcal N\big(\theta^*, (H + \alpha I)^{-1}\big),

:math:`\theta^*` the MAP network's last layer. This is *post hoc*: the MAP was trained with its own
L2 penalty (the prior of :func:`vibook.baselines.fit_mlp`: weight sd ``prior_scale / sqrt(m)``,
bias sd ``prior_scale``), and :math:`\alpha` is chosen afterwards, without retraining, so
:math:`\theta^*` is the mode of this posterior only when the two priors agree; elsewhere the
Gaussian, and the evidence below, are centred a little off the mode (as in Laplace Redux).

**Prior precision.** :math:`\alpha` is picked by the evidence (type-II maximum likelihood), whose
Laplace approximation at :math:`\theta^*` is

.. math::
    \log p(y \mid \alpha) \approx \log p(y \mid \theta^*) - \frac{\alpha}{2}\lVert\theta^*\rVert^2
    + \frac{P}{2}\log\alpha - \frac12 \log\det(H + \alpha I)

(the :math:`2\pi` of the prior and of the Gaussian integral cancel). With the eigenvalues
:math:`\lambda_j` of :math:`H`,
:math:`\log\det(H + \alpha I) = \sum_j \log(\lambda_j + \alpha)`: one eigendecomposition gives
the evidence at every :math:`\alpha` of a grid, and the grid's argmax is the chosen
:math:`\alpha`.

**Prediction.** :func:`laplace_predict_proba` draws
:math:`\theta = \theta^* + V \mathrm{diag}\big((\lambda + \alpha)^{-1/2}\big) z`,
:math:`z \sim \mathcal N(0, I)`, :math:`V` the eigenvectors of :math:`H`, and returns
:math:`\mathrm{softmax}(A^\top \phi)` for each draw, of shape (num_draws, n, K) like
:func:`vibook.baselines.mlp_predict_proba`, so :mod:`vibook.metrics` and
:func:`vibook.baselines.score_table` apply.

The features come from the network in float32, as it predicts; the Hessian, its eigenvectors and
the evidence are computed from them in float64 with NumPy.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from vibook._checks import check_array, check_key, check_positive_int
from vibook.baselines import MLPFit
from vibook.models.bnn import ACTIVATIONS, check_xy

__all__ = ["LaplaceFit", "fit_last_layer_laplace", "laplace_predict_proba"]

DEFAULT_PRIOR_PRECISIONS = np.logspace(-4, 4, 81)


class LaplaceFit(NamedTuple):
    r"""The result of :func:`fit_last_layer_laplace`.

    Attributes
    ----------
    fit : MLPFit
        The MAP network; its hidden layers give the features.
    loc : ndarray of shape (P,)
        :math:`\theta^*`, the MAP's last layer, class by class: for each class its ``m``
        weights (one per unit of the last hidden layer), then its bias
        (``P = (m + 1) * n_classes``).
    eigvals, eigvecs : ndarrays of shape (P,) and (P, P)
        The eigenvalues (ascending, >= 0) and eigenvectors (columns) of the Hessian of the
        negative log-likelihood in the last layer, at ``loc``.
    prior_precision : float
        :math:`\alpha`, the grid value of largest evidence; the posterior covariance is
        ``eigvecs @ diag(1 / (eigvals + prior_precision)) @ eigvecs.T``.
    prior_precisions : ndarray
        The grid of :math:`\alpha` tried.
    log_evidences : ndarray
        The Laplace log evidence at each grid value (nats).
    config : dict
        ``n_classes`` and ``n_features`` (``m + 1``, the bias's 1 included).
    """

    fit: MLPFit
    loc: np.ndarray
    eigvals: np.ndarray
    eigvecs: np.ndarray
    prior_precision: float
    prior_precisions: np.ndarray
    log_evidences: np.ndarray
    config: dict[str, Any]


def _check_map_fit(fit) -> int:
    """The number of classes of a MAP classification MLPFit, after checking it is one."""
    if not isinstance(fit, MLPFit):
        raise TypeError(
            "fit must be an MLPFit from fit_mlp(method='map', n_classes=K); "
            f"got {type(fit).__name__}"
        )
    if fit.config["method"] != "map":
        raise ValueError(
            "fit must be a MAP fit (fit_mlp with method='map'): the Laplace approximation is "
            f"centred on one network; got method={fit.config['method']!r}"
        )
    if fit.config["n_classes"] is None:
        raise ValueError("fit must be a classification fit (fit_mlp with n_classes given)")
    return fit.config["n_classes"]


def _check_width(fit: MLPFit, x) -> None:
    d = fit.weights["w0"].shape[-2]
    if x.shape[1] != d:
        raise ValueError(f"x must have {d} columns, as the fit's inputs had; got {x.shape[1]}")


def _n_layers(fit: MLPFit) -> int:
    return sum(1 for k in fit.weights if k.startswith("w") and k[1:].isdigit())


def _features(fit: MLPFit, x) -> np.ndarray:
    """phi: the last hidden layer's output with a column of ones, (n, m + 1), as float64."""
    act = ACTIVATIONS[fit.config["activation"]]
    h = jnp.asarray(x, dtype=jnp.float32)
    for i in range(_n_layers(fit) - 1):
        h = act(h @ fit.weights[f"w{i}"][0] + fit.weights[f"b{i}"][0])
    h = np.asarray(h, dtype=np.float64)
    return np.column_stack([h, np.ones(h.shape[0])])


def _last_layer(fit: MLPFit) -> np.ndarray:
    """theta*: the last layer (W; b) of shape (m + 1, K), flattened class by class."""
    last = _n_layers(fit) - 1
    w = np.asarray(fit.weights[f"w{last}"][0], dtype=np.float64)
    b = np.asarray(fit.weights[f"b{last}"][0], dtype=np.float64)
    return np.vstack([w, b[None]]).T.reshape(-1)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _hessian(phi: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """sum_i (diag(p_i) - p_i p_i^T) kron phi_i phi_i^T, class index outer."""
    n, k = probs.shape
    d = phi.shape[1]
    outer = (probs[:, :, None] * phi[:, None, :]).reshape(n, k * d)  # p_ik phi_i
    hess = -outer.T @ outer
    for c in range(k):
        block = slice(c * d, (c + 1) * d)
        hess[block, block] += (phi * probs[:, c : c + 1]).T @ phi
    return 0.5 * (hess + hess.T)


def _check_precisions(prior_precisions) -> np.ndarray:
    if prior_precisions is None:
        return DEFAULT_PRIOR_PRECISIONS.copy()
    grid = check_array(prior_precisions, "prior_precisions", ndim=1).astype(np.float64)
    if np.any(grid <= 0):
        raise ValueError(f"prior_precisions must all be > 0; got minimum {grid.min()}")
    return grid


def fit_last_layer_laplace(fit: MLPFit, x, y, *, prior_precisions=None) -> LaplaceFit:
    r"""Laplace approximation of a MAP network's last layer, its prior precision by evidence.

    Parameters
    ----------
    fit : MLPFit
        A classification fit of :func:`vibook.baselines.fit_mlp` with ``method="map"``.
    x, y : arrays of shape (n, d) and (n,)
        The training inputs and integer labels in ``0..n_classes-1`` (the fit's ``n_classes``).
    prior_precisions : 1-D array of float > 0, optional
        The grid of prior precisions :math:`\alpha` tried; ``np.logspace(-4, 4, 81)`` by default.

    Returns
    -------
    LaplaceFit
        The Gaussian :math:`\mathcal N(\theta^*, (H + \alpha I)^{-1})` over the last layer,
        with :math:`\alpha` the grid's value of largest Laplace log evidence, and the evidence
        at every grid value (see the module docstring).
    """
    n_classes = _check_map_fit(fit)
    x, y, n_classes = check_xy(x, y, n_classes)
    _check_width(fit, x)
    grid = _check_precisions(prior_precisions)
    phi = _features(fit, x)
    theta = _last_layer(fit)
    log_probs = _log_softmax(phi @ theta.reshape(n_classes, -1).T)
    loglik = float(np.take_along_axis(log_probs, np.asarray(y)[:, None], axis=1).sum())
    eigvals, eigvecs = np.linalg.eigh(_hessian(phi, np.exp(log_probs)))
    eigvals = np.clip(eigvals, 0.0, None)  # H is PSD: below 0 is rounding of the null directions
    log_evidences = (
        loglik
        - 0.5 * grid * float(theta @ theta)
        + 0.5 * theta.size * np.log(grid)
        - 0.5 * np.log(eigvals[None, :] + grid[:, None]).sum(1)
    )
    return LaplaceFit(
        fit=fit,
        loc=theta,
        eigvals=eigvals,
        eigvecs=eigvecs,
        prior_precision=float(grid[np.argmax(log_evidences)]),
        prior_precisions=grid,
        log_evidences=log_evidences,
        config={"n_classes": n_classes, "n_features": phi.shape[1]},
    )


def _last_layer_draws(rng_key, lfit: LaplaceFit, num_draws: int):
    """Draws of theta, (num_draws, P): theta* + V diag(1 / sqrt(lambda + alpha)) z."""
    scale = 1.0 / np.sqrt(lfit.eigvals + lfit.prior_precision)
    z = jax.random.normal(rng_key, (num_draws, lfit.loc.size))
    factor = jnp.asarray(lfit.eigvecs * scale[None, :], dtype=jnp.float32)
    return jnp.asarray(lfit.loc, dtype=jnp.float32) + z @ factor.T


def laplace_predict_proba(rng_key, lfit: LaplaceFit, x, *, num_draws: int = 100):
    r"""Class probabilities under the last-layer Laplace posterior, one row per draw.

    Parameters
    ----------
    rng_key : jax.random key
        Drives the draws of the last layer.
    lfit : LaplaceFit
        A fit of :func:`fit_last_layer_laplace`.
    x : array of shape (n, d)
    num_draws : int
        Draws of the last layer from :math:`\mathcal N(\theta^*, (H + \alpha I)^{-1})`.

    Returns
    -------
    array of shape (num_draws, n, n_classes)
        ``softmax(phi W + b)`` for each draw, as :func:`vibook.baselines.mlp_predict_proba`
        shapes its rows, so the scores of :mod:`vibook.metrics` apply.
    """
    rng_key = check_key(rng_key)
    if not isinstance(lfit, LaplaceFit):
        raise TypeError(
            f"lfit must be a LaplaceFit from fit_last_layer_laplace; got {type(lfit).__name__}"
        )
    x = check_array(x, "x", ndim=2)
    _check_width(lfit.fit, x)
    num_draws = check_positive_int(num_draws, "num_draws")
    phi = jnp.asarray(_features(lfit.fit, x), dtype=jnp.float32)
    theta = _last_layer_draws(rng_key, lfit, num_draws)
    columns = theta.reshape(num_draws, lfit.config["n_classes"], lfit.config["n_features"])
    return jax.nn.softmax(jnp.einsum("nd,skd->snk", phi, columns), axis=-1)
