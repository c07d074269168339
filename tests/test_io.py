"""vibook.save / vibook.load: exact round trips, no pickle, no overwriting by surprise."""

import jax
import numpy as np
import pytest
import xarray as xr
from numpyro.infer.autoguide import AutoNormal

import vibook
from vibook.io import SavedFit
from vibook.models import normal_normal

X = np.array([0.3, -1.2, 0.8, 2.1, 0.5, -0.4])


@pytest.fixture(scope="module")
def svi_fit():
    return vibook.run_svi(jax.random.key(1), normal_normal, X, num_steps=60, num_draws=50)


@pytest.fixture(scope="module")
def nuts_tree():
    return vibook.run_nuts(
        jax.random.key(2),
        normal_normal,
        X,
        num_warmup=60,
        num_draws=30,
        num_chains=2,
        log_likelihood=True,
    )


def _leaf_values(leaf):
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(leaf)), str(jax.random.key_impl(leaf))
    return np.asarray(leaf), np.asarray(leaf).dtype


def test_svi_fit_round_trips_exactly(svi_fit, tmp_path):
    written = vibook.save(svi_fit, tmp_path / "fit")
    assert written == tmp_path / "fit"
    assert sorted(p.name for p in written.iterdir()) == [
        "losses.npy",
        "params.npz",
        "posterior.nc",
        "state.npz",
        "vibook.json",
    ]
    back = vibook.load(written)
    assert isinstance(back, SavedFit)
    xr.testing.assert_identical(back.posterior, svi_fit.posterior)
    assert set(back.params) == set(svi_fit.params)
    for name, value in svi_fit.params.items():
        assert back.params[name].dtype == np.asarray(value).dtype
        np.testing.assert_array_equal(back.params[name], np.asarray(value))
    assert back.losses.dtype == svi_fit.losses.dtype
    np.testing.assert_array_equal(back.losses, svi_fit.losses)
    np.testing.assert_array_equal(back.elbo, svi_fit.elbo)
    saved_leaves = jax.tree.leaves(svi_fit.state)
    assert len(back.state_leaves) == len(saved_leaves)
    for new, old in zip(back.state_leaves, saved_leaves, strict=True):
        (new_values, new_kind), (old_values, old_kind) = _leaf_values(new), _leaf_values(old)
        assert new_kind == old_kind
        np.testing.assert_array_equal(new_values, old_values)
    assert back.guide_name == "AutoNormal"
    assert back.model_name.endswith("normal_normal")


def test_a_loaded_fit_saves_again_identically(svi_fit, tmp_path):
    first = vibook.load(vibook.save(svi_fit, tmp_path / "a"))
    second = vibook.load(vibook.save(first, tmp_path / "b"))
    xr.testing.assert_identical(second.posterior, first.posterior)
    for name in first.params:
        np.testing.assert_array_equal(second.params[name], first.params[name])
    for new, old in zip(second.state_leaves, first.state_leaves, strict=True):
        np.testing.assert_array_equal(_leaf_values(new)[0], _leaf_values(old)[0])


def test_nuts_datatree_round_trips_exactly(nuts_tree, tmp_path):
    back = vibook.load(vibook.save(nuts_tree, tmp_path / "nuts"))
    assert isinstance(back, xr.DataTree)
    # identical: same groups, values, dtypes (bool diverging, int tree_depth), coords and attrs
    xr.testing.assert_identical(back, nuts_tree)
    assert back["sample_stats"]["diverging"].dtype == bool
    assert "log_likelihood" in back.children


def test_predictive_tree_round_trips_exactly(nuts_tree, tmp_path):
    pred = vibook.predictive(
        jax.random.key(3), normal_normal, nuts_tree, n=len(X), observed={"x": X}
    )
    groups = {"posterior", "sample_stats", "posterior_predictive", "log_likelihood"}
    assert groups | {"observed_data"} == set(pred.children)
    back = vibook.load(vibook.save(pred, tmp_path / "pred"))
    xr.testing.assert_identical(back, pred)


def test_resume_after_load_continues_the_run(svi_fit, tmp_path):
    """60 steps, saved and loaded, then 40 more, is the same as one run of 100 steps.

    The loss is a deterministic function of the optimiser state (its random key included),
    so the continued run must retrace the long one; float tolerance as in tests/infer/test_svi.py.
    """
    saved = vibook.load(vibook.save(svi_fit, tmp_path / "fit"))
    guide = AutoNormal(normal_normal)
    state = saved.resume_state(normal_normal, X, guide=guide)
    more = vibook.run_svi(
        jax.random.key(1), normal_normal, X, guide=guide, init_state=state, num_steps=40
    )
    long = vibook.run_svi(jax.random.key(1), normal_normal, X, num_steps=100, num_draws=50)
    losses = np.concatenate([saved.losses, more.losses])
    np.testing.assert_allclose(losses, long.losses, rtol=1e-5, atol=1e-5)
    for name in long.params:
        np.testing.assert_allclose(more.params[name], long.params[name], rtol=1e-5, atol=1e-6)


def test_resume_state_refuses_a_different_guide(svi_fit, tmp_path):
    from numpyro.infer.autoguide import AutoMultivariateNormal

    saved = vibook.load(vibook.save(svi_fit, tmp_path / "fit"))
    with pytest.raises(ValueError, match="guide"):
        saved.resume_state(normal_normal, X, guide=AutoMultivariateNormal(normal_normal))


def test_refuses_to_overwrite_unless_asked(svi_fit, nuts_tree, tmp_path):
    target = vibook.save(svi_fit, tmp_path / "fit")
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(FileExistsError, match="overwrite=True"):
        vibook.save(nuts_tree, target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    # Asked: an earlier vibook save is replaced, and nothing is left beside it.
    vibook.save(nuts_tree, target, overwrite=True)
    assert isinstance(vibook.load(target), xr.DataTree)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit"]


def test_never_replaces_what_vibook_did_not_write(svi_fit, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(FileExistsError):
        vibook.save(svi_fit, a_file)
    with pytest.raises(FileExistsError, match="not a vibook save"):
        vibook.save(svi_fit, a_file, overwrite=True)
    assert a_file.read_text() == "mine"
    # A vibook save with a user's file added is not replaced either.
    target = vibook.save(svi_fit, tmp_path / "fit")
    (target / "my_plot.png").write_bytes(b"png")
    with pytest.raises(FileExistsError, match="not a vibook save"):
        vibook.save(svi_fit, target, overwrite=True)
    assert (target / "my_plot.png").read_bytes() == b"png"


def test_load_refuses_pickled_arrays(svi_fit, tmp_path):
    """Arrays are read with allow_pickle=False: an object array planted in a save is refused."""
    target = vibook.save(svi_fit, tmp_path / "fit")
    np.savez(target / "params.npz", evil=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        vibook.load(target)


def test_bad_arguments_are_named(svi_fit, tmp_path):
    with pytest.raises(TypeError, match="fit"):
        vibook.save({"params": 1}, tmp_path / "x")
    with pytest.raises(TypeError, match="path"):
        vibook.save(svi_fit, None)
    with pytest.raises(TypeError, match="overwrite"):
        vibook.save(svi_fit, tmp_path / "x", overwrite="yes")
    with pytest.raises(FileNotFoundError, match="not a vibook save"):
        vibook.load(tmp_path)
    with pytest.raises(TypeError, match="path"):
        vibook.load(3)
    assert not (tmp_path / "x").exists()
