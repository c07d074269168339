"""predictive: posterior predictive draws against the exact answer of the coin model."""

import jax
import pytest

from vibook import predictive
from vibook.models import beta_binomial, beta_binomial_posterior


def test_posterior_predictive_mean_matches_exact(nuts_coin):
    # E[heads_new] = flips * E[theta | data]; 4000 draws of a Binomial(10, .) with sd ~1.5
    # give a Monte Carlo error of ~0.025 on the mean, so 0.1 is four of them.
    pred = predictive(jax.random.key(2), beta_binomial, nuts_coin, flips=10)
    assert set(pred) == {"heads"}
    assert pred["heads"].shape == (4000,)
    exact = 10 * float(beta_binomial_posterior(7, flips=10).mean)
    assert pred["heads"].mean() == pytest.approx(exact, abs=0.1)
