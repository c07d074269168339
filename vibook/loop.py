"""The one optimisation loop every fit in vibook runs: a scan of steps, a progress bar, a check.

A fit is ``num_steps`` calls of ``state, loss = step(state, i)``: :func:`scan_steps` runs them as
one ``jax.lax.scan`` (compiled once, feeding a :class:`Progress` bar from inside), and
:func:`check_finite` stops a run whose loss or parameters became NaN or infinite, naming the step.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from vibook.fit import SVIDivergenceError

__all__ = ["Progress", "check_finite", "scan_steps"]


class Progress:
    """A progress bar that a compiled loop reports to through ``jax.debug.callback``.

    A compiled program keeps the Python objects it was traced with, so it holds this slot and each
    run puts its own bar in it (:meth:`showing`): a cached program run again shows a fresh bar.
    """

    def __init__(self, desc: str = "SVI"):
        self.desc = desc
        self.bar = None

    @contextmanager
    def showing(self, num_steps: int, enabled: bool = True):
        """Show a bar of ``num_steps`` steps while the block runs (nothing if not enabled)."""
        if not enabled:
            yield
            return
        self.bar = tqdm(total=num_steps, desc="compiling")
        try:
            yield
        finally:
            self.bar.close()
            self.bar = None

    def update(self, step, loss) -> None:
        """Move the bar to step ``step`` (0-based) and show the loss."""
        if self.bar is None:
            return
        self.bar.set_description(self.desc, refresh=False)
        self.bar.set_postfix_str(f"loss {float(loss):.4g}", refresh=False)
        self.bar.update(int(step) + 1 - self.bar.n)


def scan_steps(step: Callable, state, num_steps: int, *, progress: Progress | None = None):
    """Run ``state, loss = step(state, i)`` for ``i = 0 .. num_steps - 1`` in one ``lax.scan``.

    Parameters
    ----------
    step : callable
        One optimisation step, traceable by JAX.
    state, num_steps : pytree, int
        The starting state and the number of steps.
    progress : Progress, optional
        Reported to about 50 times over the run and at the last step.

    Returns
    -------
    state : pytree
        The state after the last step.
    losses : array of shape (num_steps,)
    """
    every = max(num_steps // 50, 1)

    def body(state, i):
        state, loss = step(state, i)
        if progress is not None:
            due = (i % every == every - 1) | (i == num_steps - 1)
            jax.lax.cond(due, lambda: jax.debug.callback(progress.update, i, loss), lambda: None)
        return state, loss

    return jax.lax.scan(body, state, jnp.arange(num_steps))


def check_finite(losses, params=None, *, what: str = "SVI", remedy: str = "") -> np.ndarray:
    """The losses as a NumPy array, after checking that the run did not diverge.

    Raises
    ------
    SVIDivergenceError
        If a loss is NaN or infinite (the message names the first such step and the last
        finite loss), or if every loss is finite but the last update broke a parameter.
    """
    losses = np.asarray(losses)
    num_steps = losses.shape[0]
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        step = int(bad[0])
        last = f"{losses[step - 1]:.4g}" if step > 0 else "none"
        raise SVIDivergenceError(
            f"{what} diverged: the loss became {losses[step]} at step {step} of {num_steps} "
            f"(last finite loss: {last}). {remedy}".rstrip()
        )
    # The last update can break the parameters while every loss (computed before it) is finite.
    broken = sorted(
        k
        for k, v in (params or {}).items()
        if not all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(v))
    )
    if broken:
        raise SVIDivergenceError(
            f"{what} diverged: the update at step {num_steps - 1} of {num_steps} (the last) "
            f"made {', '.join(broken)} NaN or infinite, though every loss was finite. "
            f"{remedy}".rstrip()
        )
    return losses
