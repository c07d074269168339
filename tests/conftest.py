"""Test set-up: CPU only, no progress bars, Agg plots, and vibook's own warnings as errors."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("VIBOOK_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

import warnings  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _vibook_warnings_are_errors():
    """A warning raised from vibook's own code fails the test."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", module=r"vibook(\..*)?$")
        yield


@pytest.fixture
def key():
    """A fixed JAX random key; tests split it rather than seed anything globally."""
    return jax.random.key(0)
