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
