"""What vibook relies on in NumPyro and ArviZ beyond their documented calls, one test each.

A release that changes one of these fails here, with a message that says what changed,
rather than somewhere deep in a fit.
"""

import copy

import arviz_base as azb
import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS
from numpyro.infer.autoguide import AutoNormal

from vibook import run_svi
from vibook.infer.staged import stage_model
from vibook.models import EIGHT_SCHOOLS, eight_schools_noncentred, normal_normal
from vibook.models.minibatch import with_replacement


def test_plate_subsample_message_can_be_replaced():
    """models/minibatch.py swaps the ``fn`` of NumPyro's ``plate`` message."""

    def model():
        with with_replacement("data"), numpyro.plate("data", 100, subsample_size=99) as idx:
            numpyro.deterministic("idx", idx)

    idx = numpyro.handlers.trace(numpyro.handlers.seed(model, 0)).get_trace()["idx"]["value"]
    # 99 draws with replacement from 100 repeat an index with probability 1 - 100!/100^99,
    # 1 to 40 decimals; a draw without replacement (NumPyro's own sampler) never does.
    assert len(np.unique(np.asarray(idx))) < 99, (
        "NumPyro's plate no longer lets a handler replace its subsample function (msg['fn'] of "
        "the 'plate' message): minibatches are drawn without replacement"
    )


def test_staged_dims_match_arviz_conversion():
    """staged.py reads ArviZ dims from trace sites' plates (``cond_indep_stack``)."""
    y, sigma = EIGHT_SCHOOLS["y"], EIGHT_SCHOOLS["sigma"]
    info = stage_model(eight_schools_noncentred, (y,), {"sigma": sigma})
    mcmc = MCMC(NUTS(eight_schools_noncentred), num_warmup=5, num_samples=5, progress_bar=False)
    mcmc.run(jax.random.key(0), y, sigma=sigma)
    tree = azb.from_numpyro(mcmc)
    for name, dims in info.dims.items():
        group = "posterior" if name in tree["posterior"].data_vars else "observed_data"
        got = list(tree[group][name].dims)
        got = [d for d in got if d not in ("chain", "draw")]
        assert got == dims, f"{name}: ArviZ names its dims {got}, vibook's staged trace {dims}"


def test_run_svi_leaves_the_given_guide_as_it_was(key):
    """The fit works on a deep copy of the guide; the caller's object is not set up by it."""
    x = np.random.default_rng(0).normal(size=20)
    guide = AutoNormal(normal_normal)
    before = copy.copy(vars(guide))
    a = run_svi(key, normal_normal, x, guide=guide, num_steps=50, num_draws=10)
    assert vars(guide).keys() == before.keys()
    assert all(vars(guide)[k] is v for k, v in before.items())
    b = run_svi(key, normal_normal, x, guide=guide, num_steps=50, num_draws=10)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert a.guide is not guide  # fit.guide is a set-up copy of its own
    draws = a.guide.sample_posterior(key, a.params, sample_shape=(5,))
    assert draws["mu"].shape == (5,)


def test_elbo_subclass_protocol():
    """LocalReparamELBO subclasses ``numpyro.infer.elbo.ELBO`` via ``loss_with_mutable_state``."""
    assert hasattr(numpyro.infer.elbo.ELBO, "loss_with_mutable_state"), (
        "numpyro.infer.elbo.ELBO has no loss_with_mutable_state: LocalReparamELBO needs updating"
    )

    class Constant(numpyro.infer.elbo.ELBO):
        def loss_with_mutable_state(self, rng_key, param_map, model, guide, *args, **kwargs):
            return {"loss": 3.0, "mutable_state": None}

    def model():
        numpyro.sample("z", dist.Normal())

    assert Constant().loss(jax.random.key(0), {}, model, model) == 3.0
