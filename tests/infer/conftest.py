"""Fits shared by several test files of tests/infer/.

Session-scoped: a module-scoped fixture in a conftest.py is computed again for each module
that uses it, and these are whole MCMC runs.
"""

import jax
import pytest

from vibook import run_nuts
from vibook.models import EIGHT_SCHOOLS, beta_binomial, eight_schools_noncentred


@pytest.fixture(scope="session")
def nuts_coin():
    """NUTS on the coin (7 heads of 10, Beta(1, 1) prior): 4 chains of 1000 draws."""
    return run_nuts(jax.random.key(1), beta_binomial, 7, flips=10, num_warmup=500, num_draws=1000)


@pytest.fixture(scope="session")
def nuts_schools():
    """NUTS on eight schools, non-centred, with the log_likelihood group: 4 chains of 500 draws."""
    return run_nuts(
        jax.random.key(3),
        eight_schools_noncentred,
        EIGHT_SCHOOLS["y"],
        sigma=EIGHT_SCHOOLS["sigma"],
        num_warmup=500,
        num_draws=500,
        log_likelihood=True,
    )
