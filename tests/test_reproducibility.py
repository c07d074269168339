"""The same key gives bit-identical results, for every function that takes a random key.

Every public function with a random-key argument (from ``public_calls.py``: the runners
``run_svi``, ``run_nuts``, ``predictive``, the BNN, LDA and baseline fitters, the active
learning loop, ...) is called twice with the same key and once with another. The numbers in
the two results must agree to the last bit (timestamps in DataTree attributes are not
numbers); the other key must change them. vibook never draws from global random state, so
there is nothing else that could make two runs differ.
"""

import importlib.util
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location(
    "vibook_public_calls", Path(__file__).with_name("public_calls.py")
)
calls = sys.modules.setdefault("vibook_public_calls", importlib.util.module_from_spec(_spec))
if not hasattr(calls, "CASES"):
    _spec.loader.exec_module(calls)

PUBLIC = calls.public_functions()
KEYED = [c for c in calls.CASES if c.keyed and c.func in PUBLIC]


def _run(case, seed):
    keys = {i: jax.random.key(seed) for i, a in enumerate(case.args) if a.kind == "key"}
    return calls.call(case, keys)


@pytest.mark.parametrize("case", KEYED, ids=[c.func.removeprefix("vibook.") for c in KEYED])
def test_same_key_same_bits_other_key_other_numbers(case):
    first, second = _run(case, 0), _run(case, 0)
    numbers = list(calls.leaves(first))
    assert numbers, "the result holds no numbers to compare"
    assert calls.same_numbers(first, second)
    if case.key_matters:
        assert not calls.same_numbers(first, _run(case, 1))


def test_runners_are_covered():
    names = {c.func for c in KEYED}
    for runner in (
        "vibook.infer.svi.run_svi",
        "vibook.infer.nuts.run_nuts",
        "vibook.infer.predictive.predictive",
    ):
        assert runner in names


def test_svi_fit_is_reproducible_in_every_part(key):
    """Losses, params, optimiser state and posterior draws: every number of an SVIFit."""
    from vibook import run_svi
    from vibook.models import normal_normal

    x = np.random.default_rng(1).normal(size=15)
    a = run_svi(key, normal_normal, x, num_steps=50, num_draws=30)
    b = run_svi(key, normal_normal, x, num_steps=50, num_draws=30)
    paths = [p for p, _ in calls.leaves(a)]
    assert any(".losses" in p for p in paths) and any(".state" in p for p in paths)
    assert any("/posterior/mu" in p for p in paths) and any(".params" in p for p in paths)
    assert calls.same_numbers(a, b)
