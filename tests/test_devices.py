"""Several devices: data-parallel SVI and parallel NUTS chains on 4 simulated CPU devices.

XLA can split the host CPU into several devices (``--xla_force_host_platform_device_count``),
but only before JAX starts, so the checks run in a subprocess and this test process keeps
its single device.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from vibook import run_svi
from vibook.data import synthetic_logistic
from vibook.models import logistic_regression

REPO = Path(__file__).resolve().parents[1]

CHECKS = """
import json
import jax
import numpy as np
import numpyro
from jax.sharding import PartitionSpec
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal

from vibook import run_nuts, run_svi
from vibook.data import synthetic_logistic
from vibook.infer.svi import _shard_data_axis
from vibook.models import logistic_regression

out = {"devices": jax.local_device_count()}
data = synthetic_logistic(4000, n_features=3)
key = jax.random.key(1)

# Sharded and single-device SVI: same key, same steps, same arithmetic up to the order in
# which the per-device parts of the log-likelihood are summed.
args = (logistic_regression, data["x"], data["y"])
one = run_svi(key, *args, num_steps=200, num_draws=20)
four = run_svi(key, *args, num_steps=200, num_draws=20, shard_data=True)
out["max_param_diff"] = max(
    float(np.max(np.abs(np.asarray(one.params[k]) - np.asarray(four.params[k]))))
    for k in one.params
)
out["max_loss_rel_diff"] = float(np.max(np.abs(one.losses - four.losses) / np.abs(one.losses)))

# Where the data went: x split by rows over the 4 devices, the scalar left alone.
(x, y), kw = _shard_data_axis((data["x"], data["y"]), {"prior_scale": 1.0})
out["x_spec"] = list(x.sharding.spec)
out["x_shard_rows"] = sorted({s.data.shape[0] for s in x.addressable_shards})
out["x_devices"] = len(x.sharding.device_set)
out["kw_untouched"] = kw["prior_scale"] == 1.0

# The compiled step sums the per-device parts of the ELBO with an all-reduce.
svi = SVI(logistic_regression, AutoNormal(logistic_regression), numpyro.optim.Adam(0.01),
          Trace_ELBO())
state = svi.init(key, x, y)
hlo = jax.jit(svi.update).lower(state, x, y).compile().as_text()
out["all_reduce"] = "all-reduce" in hlo

# Parallel chains: run_nuts picks chain_method="parallel" (jax.pmap over the devices).
import numpyro.infer.mcmc as mcmc_module

mapped = []
original_pmap = mcmc_module.pmap

def spy_pmap(fn, *a, **k):
    compiled = original_pmap(fn, *a, **k)
    def call(arg):
        mapped.append(jax.tree.leaves(arg)[0].shape[0])
        return compiled(arg)
    return call

mcmc_module.pmap = spy_pmap
small = synthetic_logistic(200, n_features=2)
tree = run_nuts(key, logistic_regression, small["x"], small["y"],
                num_warmup=50, num_draws=50, num_chains=4)
mcmc_module.pmap = original_pmap
out["pmap_axis_sizes"] = mapped
out["nuts_chains"] = int(tree.posterior.sizes["chain"])
w = tree.posterior["w"].values  # (chain, draw, d)
out["chains_differ"] = bool(np.all(np.std(w.mean(axis=1), axis=0) > 0))
out["nuts_finite"] = bool(np.isfinite(w).all())
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def four_devices():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
        "VIBOOK_PROGRESS": "0",
    }
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHECKS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_four_simulated_devices(four_devices):
    assert four_devices["devices"] == 4


def test_sharded_svi_equals_single_device_svi(four_devices):
    # float32 sums of 4000 terms in another order differ by ~1e-7 relative per step; over 200
    # Adam steps that stays below 1e-4 in the parameters (they are of order 1).
    assert four_devices["max_loss_rel_diff"] < 1e-5
    assert four_devices["max_param_diff"] < 1e-4


def test_data_axis_is_split_over_the_devices(four_devices):
    assert four_devices["x_spec"] == ["data"]
    assert four_devices["x_shard_rows"] == [1000]  # 4000 rows, 1000 on each device
    assert four_devices["x_devices"] == 4
    assert four_devices["kw_untouched"]
    assert four_devices["all_reduce"]


def test_nuts_chains_run_in_parallel_on_four_devices(four_devices):
    assert four_devices["pmap_axis_sizes"] == [4]  # one pmap over 4 devices, a chain on each
    assert four_devices["nuts_chains"] == 4
    assert four_devices["chains_differ"]  # four chains, each with its own key
    assert four_devices["nuts_finite"]


def test_shard_data_checks_its_input(key):
    data = synthetic_logistic(10, n_features=2)
    with pytest.raises(TypeError, match="shard_data"):
        run_svi(key, logistic_regression, data["x"], data["y"], num_steps=2, shard_data=1)
    if jax.local_device_count() > 1:  # pragma: no cover - the test process has one CPU device
        pytest.skip("this check needs a data axis that one device count does not divide")
    # One device divides everything: sharding is then a no-op that must still fit correctly.
    fit = run_svi(
        key, logistic_regression, data["x"], data["y"], num_steps=2, num_draws=3, shard_data=True
    )
    assert np.isfinite(fit.losses).all()
