"""Held-out log-likelihood of logistic regression, against the log-likelihood at a point."""

import arviz_base as azb
import numpy as np
import pytest

from vibook.data import synthetic_logistic
from vibook.models import logistic_loglik
from vibook.regression import logistic_heldout_loglik


def test_heldout_loglik_of_a_point_posterior_is_the_loglik_at_that_point():
    test = synthetic_logistic(300, n_features=2, seed=5)
    w, b = np.array([0.7, -0.2]), 0.1
    draws = {"w": np.broadcast_to(w, (1, 4, 2)).copy(), "b": np.full((1, 4), b)}
    tree = azb.from_dict({"posterior": draws})
    got = logistic_heldout_loglik(tree, test["x"], test["y"])
    assert got == pytest.approx(logistic_loglik(test["x"], test["y"], w=w, b=b), abs=1e-5)
    assert got < 0
    with pytest.raises(ValueError, match="columns"):
        logistic_heldout_loglik(tree, test["x"][:, :1], test["y"])


def test_laplace_mode_and_curvature_match_scipy_and_jax_on_the_model_itself():
    import jax
    import jax.numpy as jnp
    from numpyro.infer.util import log_density
    from scipy.optimize import minimize

    from vibook.models import logistic_regression
    from vibook.regression import logistic_laplace

    d = synthetic_logistic(400, n_features=3, seed=2)
    got = logistic_laplace(d["x"], d["y"], prior_scale=0.7)

    @jax.jit
    def neg_log_joint(theta):  # the NumPyro model's own density (float32), w then b
        params = {"w": theta[:3], "b": theta[3]}
        model_kwargs = {"prior_scale": 0.7}
        return -log_density(logistic_regression, (d["x"], d["y"]), model_kwargs, params)[0]

    grad = jax.jit(jax.grad(neg_log_joint))
    opt = minimize(
        lambda t: float(neg_log_joint(jnp.asarray(t, jnp.float32))),
        np.zeros(4),
        jac=lambda t: np.asarray(grad(jnp.asarray(t, jnp.float32)), dtype=np.float64),
        method="BFGS",
    )
    hess = np.asarray(jax.hessian(neg_log_joint)(jnp.asarray(got["mean"], jnp.float32)))
    # float32 densities: the modes agree to ~1e-4, the curvatures to ~1e-4 relative
    # (BFGS stops at float32 precision, which it reports as "precision loss")
    assert got["mean"] == pytest.approx(opt.x, abs=2e-4)
    assert got["cov"] == pytest.approx(np.linalg.inv(hess), rel=1e-3, abs=1e-6)
    assert got["sd"] == pytest.approx(np.sqrt(np.diag(np.linalg.inv(hess))), rel=1e-3)


def test_laplace_refuses_labels_that_are_not_zero_or_one():
    from vibook.regression import logistic_laplace

    d = synthetic_logistic(20, n_features=2, seed=0)
    with pytest.raises(ValueError, match="label 0 or 1"):
        logistic_laplace(d["x"], d["y"] + 1)
    with pytest.raises(ValueError, match="prior_scale"):
        logistic_laplace(d["x"], d["y"], prior_scale=-1.0)
