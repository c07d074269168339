"""Minibatches drawn with replacement: the one subsampling mechanism vibook's models use.

On CPU NumPyro draws a plate's minibatch without replacement by a scan over all ``n`` indices: O(n)
per step. With replacement it costs O(subsample_size), and the sum over it, scaled by
``n / subsample_size``, is still an unbiased estimate of the full log-likelihood.

The handler replaces the ``plate`` message's index sampler (``fn``), which NumPyro's documentation
does not promise; ``tests/test_upstream_contract.py`` fails if a release changes it.
"""

from __future__ import annotations

import jax
import numpyro

__all__ = ["with_replacement"]


def _draw_with_replacement(size, subsample_size, rng_key=None):
    """Minibatch indices drawn uniformly with replacement."""
    if rng_key is None:
        raise ValueError(
            "subsample_size needs a random key: fit with SVI under a seed (NUTS cannot subsample)"
        )
    return jax.random.randint(rng_key, (subsample_size,), 0, size)


class with_replacement(numpyro.primitives.Messenger):  # noqa: N801 - used like a handler
    """Handler: the plate ``name`` draws its minibatch with replacement.

    Use as ``with with_replacement("data"), numpyro.plate("data", n, subsample_size=m):``.
    """

    def __init__(self, name: str):
        self.name = name
        super().__init__()

    def process_message(self, msg):
        """Swap the plate's index sampler for one that draws with replacement."""
        if msg["type"] == "plate" and msg["name"] == self.name and msg["value"] is None:
            msg["fn"] = _draw_with_replacement
