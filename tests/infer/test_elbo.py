"""OrderedTraceELBO: the Trace_ELBO estimate, in a program that is the same in every process."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal

from vibook.data import synthetic_logistic
from vibook.infer.elbo import OrderedTraceELBO
from vibook.models import logistic_regression

REPO = Path(__file__).resolve().parents[2]


def _many_sites(y):
    # Several latent sites with names whose set order varies with the hash seed.
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    tau = numpyro.sample("tau", dist.HalfNormal(1.0))
    with numpyro.plate("groups", 3):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
    numpyro.sample("y", dist.Normal(theta, 1.0), obs=y)


Y = np.array([1.0, -0.5, 2.0])


@pytest.mark.parametrize("num_particles", [1, 4])
def test_loss_and_gradient_equal_trace_elbo_at_the_same_key(num_particles):
    guide = AutoNormal(_many_sites)
    svi = SVI(_many_sites, guide, numpyro.optim.Adam(0.1), Trace_ELBO())
    params = svi.get_params(svi.init(jax.random.key(0), Y))  # constrained, as SVI passes them

    def loss(elbo, p):
        return elbo.loss(jax.random.key(3), p, _many_sites, guide, Y)

    ours = OrderedTraceELBO(num_particles=num_particles)
    theirs = Trace_ELBO(num_particles=num_particles)
    # The same draws, the same terms, added in another order: equal to float32 rounding.
    np.testing.assert_allclose(loss(ours, params), loss(theirs, params), rtol=1e-6)
    g_ours = jax.grad(lambda p: loss(ours, p))(params)
    g_theirs = jax.grad(lambda p: loss(theirs, p))(params)
    for name in params:
        np.testing.assert_allclose(g_ours[name], g_theirs[name], rtol=1e-5, atol=1e-6)


def test_svi_fits_agree_with_trace_elbo():
    data = synthetic_logistic(500, n_features=3)
    fits = {}
    for name, elbo in (("ours", OrderedTraceELBO()), ("theirs", Trace_ELBO())):
        svi = SVI(logistic_regression, AutoNormal(logistic_regression), numpyro.optim.Adam(0.05),
                  elbo)  # fmt: skip
        result = svi.run(jax.random.key(1), 300, data["x"], data["y"], progress_bar=False)
        fits[name] = result.params
    for name in fits["ours"]:
        # 300 steps of float32 arithmetic in another order: parameters of order 1 agree to 1e-4.
        np.testing.assert_allclose(fits["ours"][name], fits["theirs"][name], atol=1e-4)


PROGRAM = """
import jax
import vibook
from vibook import run_svi
from vibook.data import synthetic_logistic
from vibook.models import logistic_regression
vibook.enable_compile_cache()
d = synthetic_logistic(200, n_features=3)
run_svi(jax.random.key(0), logistic_regression, d["x"], d["y"], num_steps=20, num_draws=5,
        psis_draws=None, progress_bar=False)
"""


def test_two_processes_with_different_hash_seeds_share_one_compiled_fit(tmp_path):
    folder = tmp_path / "cache"
    counts = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "XDG_CACHE_HOME": str(tmp_path),
               "VIBOOK_COMPILE_CACHE": "1", "JAX_PLATFORMS": "cpu"}  # fmt: skip
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(PROGRAM)], env=env,
                              capture_output=True, text=True, timeout=300, cwd=REPO)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        counts.append(sorted(p.name for p in (folder.parent / "vibook" / "jax").iterdir()))
    programs = [[n for n in names if n.startswith("jit_program")] for names in counts]
    assert len(programs[0]) == 1, programs[0]  # the whole fit is one program
    # The second process found the first one's program: nothing new was compiled and written.
    assert programs[1] == programs[0]
