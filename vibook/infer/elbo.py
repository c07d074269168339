"""The default loss of :func:`vibook.run_svi`: NumPyro's ``Trace_ELBO``, summed in a fixed order.

``Trace_ELBO`` takes ``log p - log q`` site by site over a Python ``set`` of site names, whose
order follows Python's string hashing, which is salted anew in every process
(``PYTHONHASHSEED``). The arithmetic is the same, but the compiled program lists its operations
in another order in each new process, so JAX's persistent compilation cache
(:func:`vibook.enable_compile_cache`) never finds the program written by an earlier run and
compiles it again. :class:`OrderedTraceELBO` computes the same estimate from the same random keys
(one particle: the key split into the model's and the guide's, as ``Trace_ELBO`` splits it), with
the sites taken in sorted order; ``tests/infer/test_elbo.py`` checks it against ``Trace_ELBO`` and
checks that two processes with different hash seeds compile one program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from numpyro.handlers import replay, seed
from numpyro.infer import Trace_ELBO
from numpyro.infer.util import compute_log_probs

__all__ = ["OrderedTraceELBO"]


def _mutable(trace) -> dict:
    return {name: site["value"] for name, site in trace.items() if site["type"] == "mutable"}


class OrderedTraceELBO(Trace_ELBO):
    """``Trace_ELBO`` (the same arguments) with its sites summed in sorted order.

    Parameters
    ----------
    num_particles : int
        Draws of the guide averaged in each estimate.
    vectorize_particles : bool or callable
        As in ``Trace_ELBO``: vectorise the particles (``jax.vmap``) or map over them.
    """

    def __init__(self, num_particles: int = 1, vectorize_particles=True):
        super().__init__(num_particles=num_particles, vectorize_particles=vectorize_particles)

    def loss_with_mutable_state(self, rng_key, param_map, model, guide, *args, **kwargs):
        """Minus the ELBO estimate, and any mutable state (``numpyro.mutable``) of one particle."""

        def particle(key):
            model_key, guide_key = jax.random.split(key)
            guide_logs, guide_trace = compute_log_probs(seed(guide, guide_key), args, kwargs,
                                                        param_map)  # fmt: skip
            mutable = _mutable(guide_trace)
            params = {**param_map, **mutable}
            replayed = replay(seed(model, model_key), guide_trace)
            model_logs, model_trace = compute_log_probs(replayed, args, kwargs, params)
            mutable.update(_mutable(model_trace))
            zero = jnp.array(0.0)
            terms = [
                model_logs.get(name, zero) - guide_logs.get(name, zero)
                for name in sorted({*model_logs, *guide_logs})
            ]
            return sum(terms, start=zero), mutable or None

        if self.num_particles == 1:
            elbo, mutable = particle(rng_key)
            return {"loss": -elbo, "mutable_state": mutable}
        elbos, _ = self.vectorize_particles_fn(
            particle, jax.random.split(rng_key, self.num_particles)
        )
        # As in Trace_ELBO, mutable state is kept with one particle only.
        return {"loss": -jnp.mean(elbos), "mutable_state": None}
