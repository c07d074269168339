"""Long SVI runs resume: two runs of 500 steps equal one run of 1000, bit for bit.

Why exactly equal and not just close: ``fit.state`` holds everything a step depends on (the
step counter, the optimiser's moments, the parameters and the random key that the next step
splits), and each step is the same compiled loop body applied to that state. Run 500 steps,
hand the state back, run 500 more, and the second run sees exactly the inputs that steps
500..999 of the long run saw, so on the same machine the numbers agree to the last bit. (Only
a change of XLA version or hardware could reorder a floating-point sum; that is not what this
test is about.)
"""

import jax
import numpy as np
import numpyro
import pytest
from numpyro.infer.autoguide import AutoMultivariateNormal

from vibook import run_svi
from vibook.models import logit_normal_coin, normal_normal

X = np.random.default_rng(0).normal(1.0, 1.0, size=20)


def _state_arrays(state):
    out = []
    for leaf in jax.tree.leaves(state):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out.append(np.asarray(leaf))
    return out


CASES = {
    "normal_normal, AutoNormal, Adam": (normal_normal, (X,), {}),
    "logit_normal_coin, full-rank guide, ClippedAdam": (
        logit_normal_coin,
        (7,),
        {
            "flips": 10,
            "guide": AutoMultivariateNormal(logit_normal_coin),
            "optimizer": numpyro.optim.ClippedAdam(0.02),
        },
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_two_runs_of_500_steps_equal_one_of_1000(case):
    model, args, kwargs = CASES[case]
    key = jax.random.key(3)
    first = run_svi(key, model, *args, num_steps=500, num_draws=50, **kwargs)
    second = run_svi(
        key, model, *args, num_steps=500, num_draws=50, init_state=first.state, **kwargs
    )
    whole = run_svi(key, model, *args, num_steps=1000, num_draws=50, **kwargs)

    np.testing.assert_array_equal(np.concatenate([first.losses, second.losses]), whole.losses)
    assert set(second.params) == set(whole.params)
    for name in whole.params:
        np.testing.assert_array_equal(second.params[name], whole.params[name])
    for a, b in zip(_state_arrays(second.state), _state_arrays(whole.state), strict=True):
        np.testing.assert_array_equal(a, b)
    # The posterior draws use the call's own key, so they agree too.
    for name in whole.posterior.posterior.data_vars:
        np.testing.assert_array_equal(
            second.posterior.posterior[name].values, whole.posterior.posterior[name].values
        )
    # And the resumed run did move: the state is not the one it was handed.
    assert int(_state_arrays(second.state)[0]) == 1000
    assert not np.array_equal(second.losses, first.losses)
