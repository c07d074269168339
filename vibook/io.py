"""Save a fit to disk and load it back, exactly and without pickle.

A fit is saved as a *directory* of plain, portable files that other tools can read too:

=================  ===========================================================================
``vibook.json``    what was saved (``"svi"`` or ``"datatree"``), the format version, the model
                   and guide names, and how to rebuild the optimiser state
``posterior.nc``   the posterior ``DataTree`` (every group) as NetCDF-4, via ``h5netcdf``
``params.npz``     the variational parameters, one array per name (SVI fits only)
``losses.npy``     the loss at each step (SVI fits only)
``state.npz``      the leaves of the optimiser state, ``leaf_000``, ``leaf_001``, ... in
                   ``jax.tree.leaves`` order, random keys as their raw key data (SVI fits only)
=================  ===========================================================================

Arrays are read with ``allow_pickle=False``, so loading a directory never runs code from it.

The model and guide are Python functions and are *not* saved (that would need pickle): to continue a
fit, rebuild the guide the same way and call :meth:`SavedFit.resume_state`::

    saved = vibook.load("fit")
    guide = AutoNormal(model)                      # the same family as before
    state = saved.resume_state(model, x, guide=guide)
    more = vibook.run_svi(key, model, x, guide=guide, init_state=state, num_steps=500)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jax
import numpy as np
import numpyro
import xarray as xr
from numpyro.infer import SVI
from numpyro.infer.svi import SVIState

from vibook._checks import check_bool
from vibook.fit import SVIFit, as_datatree
from vibook.infer.elbo import OrderedTraceELBO

__all__ = ["SavedFit", "load", "save"]

_FORMAT = "vibook-fit"
_VERSION = 1
_MANIFEST = "vibook.json"
_POSTERIOR = "posterior.nc"
_PARAMS = "params.npz"
_LOSSES = "losses.npy"
_STATE = "state.npz"
_FILES = {_MANIFEST, _POSTERIOR, _PARAMS, _LOSSES, _STATE}
_ENGINE = "h5netcdf"


@dataclass(frozen=True)
class SavedFit:
    """An SVI fit read back by :func:`load`: everything but the model and guide functions.

    Attributes
    ----------
    params : dict of str to ndarray
        The fitted variational parameters, as in :attr:`vibook.SVIFit.params`.
    losses : ndarray of shape (num_steps,)
        The loss at each step.
    state_leaves : tuple of arrays
        The leaves of the optimiser state (``jax.tree.leaves(fit.state)``), random keys
        included; :meth:`resume_state` puts them back into an ``SVIState``.
    posterior : xarray.DataTree
        The posterior draws and observed data, identical to ``fit.posterior``.
    model_name, guide_name : str
        The qualified name of the model and the guide's class, for reference.
    khat : float or None
        The fit's PSIS k-hat, as in :attr:`vibook.SVIFit.khat`.
    """

    params: dict[str, np.ndarray]
    losses: np.ndarray
    state_leaves: tuple[Any, ...]
    posterior: xr.DataTree
    model_name: str
    guide_name: str
    khat: float | None = None

    @property
    def elbo(self) -> np.ndarray:
        """The ELBO estimate at each step (minus the loss), array of shape (num_steps,)."""
        return -self.losses

    def resume_state(
        self,
        model: Callable,
        *model_args,
        guide: Callable,
        optimizer=None,
        learning_rate: float | None = None,
        loss=None,
        **model_kwargs,
    ) -> SVIState:
        """The saved optimiser state, for ``run_svi(..., guide=guide, init_state=...)``.

        The state's layout depends on model, guide and optimiser, so ``SVI(...).init`` rebuilds it
        on the same arguments for the saved leaves to fill; the learning rate may change.

        Parameters
        ----------
        model, *model_args, **model_kwargs
            The fitted model and its arguments, as given to :func:`vibook.run_svi`.
        guide : callable
            A guide of the same family as the saved one (for example ``AutoNormal(model)``).
        optimizer, learning_rate, loss
            As given to :func:`vibook.run_svi` (the defaults match its defaults).
        """
        if not callable(model):
            raise TypeError(f"model must be a NumPyro model function; got {type(model).__name__}")
        if not callable(guide):
            raise TypeError(f"guide must be a NumPyro guide; got {type(guide).__name__}")
        if optimizer is None:
            optimizer = numpyro.optim.Adam(0.01 if learning_rate is None else learning_rate)
        svi = SVI(model, guide, optimizer, loss if loss is not None else OrderedTraceELBO())
        template = svi.init(jax.random.key(0), *model_args, **model_kwargs)
        leaves, treedef = jax.tree.flatten(template)
        if len(leaves) != len(self.state_leaves):
            raise ValueError(
                f"guide and optimizer must be built as for the saved fit (a {self.guide_name} "
                f"of {self.model_name}): the saved state has {len(self.state_leaves)} arrays, "
                f"this set-up has {len(leaves)}"
            )
        for i, (new, old) in enumerate(zip(leaves, self.state_leaves, strict=True)):
            if np.shape(new) != np.shape(old) or jax.numpy.result_type(new) != (
                jax.numpy.result_type(old)
            ):
                raise ValueError(
                    f"guide and optimizer must be built as for the saved fit (a "
                    f"{self.guide_name} of {self.model_name}): state array {i} was saved with "
                    f"shape {np.shape(old)} and dtype {jax.numpy.result_type(old)}, this set-up "
                    f"has shape {np.shape(new)} and dtype {jax.numpy.result_type(new)}"
                )
        return jax.tree.unflatten(treedef, [jax.numpy.asarray(x) for x in self.state_leaves])


def _check_path(path, name: str = "path") -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name} must be a str or os.PathLike; got {type(path).__name__}")
    path = Path(path)
    if str(path) in ("", "."):
        raise ValueError(f"{name} must name a directory to save into; got {str(path)!r}")
    return path


def _is_vibook_save(path: Path) -> bool:
    """A directory holding a vibook manifest and nothing but the files vibook writes."""
    if not path.is_dir() or path.is_symlink() or not (path / _MANIFEST).is_file():
        return False
    return {p.name for p in path.iterdir()} <= _FILES


def _state_arrays(leaves) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Optimiser-state leaves as plain arrays, with the PRNG implementation of key leaves."""
    arrays, keys = {}, {}
    for i, leaf in enumerate(leaves):
        name = f"leaf_{i:03d}"
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            keys[name] = str(jax.random.key_impl(leaf))
            leaf = jax.random.key_data(leaf)
        arrays[name] = np.asarray(leaf)
    return arrays, keys


def _write(fit, directory: Path) -> None:
    """Write ``fit`` into the existing, empty ``directory``."""
    if isinstance(fit, xr.DataTree):
        manifest = {"kind": "datatree"}
        posterior = fit
    else:
        if isinstance(fit, SVIFit):
            state_arrays, key_leaves = _state_arrays(jax.tree.leaves(fit.state))
            module = getattr(fit.model, "__module__", "?")
            model_name = f"{module}.{getattr(fit.model, '__qualname__', '?')}"
            guide_name = type(fit.fitted_guide).__name__
        else:  # a SavedFit, saved again
            state_arrays, key_leaves = _state_arrays(fit.state_leaves)
            model_name, guide_name = fit.model_name, fit.guide_name
        params = {k: np.asarray(v) for k, v in fit.params.items()}
        np.savez(directory / _PARAMS, **params)
        np.save(directory / _LOSSES, np.asarray(fit.losses), allow_pickle=False)
        np.savez(directory / _STATE, **state_arrays)
        manifest = {
            "kind": "svi",
            "model": model_name,
            "guide": guide_name,
            "params": sorted(params),
            "state_leaves": len(state_arrays),
            "key_leaves": key_leaves,
            # JSON has no inf or nan: a k-hat is written as its repr and read with float().
            "khat": None if fit.khat is None else repr(float(fit.khat)),
        }
        posterior = fit.posterior
    try:
        posterior.to_netcdf(directory / _POSTERIOR, engine=_ENGINE)
    except (TypeError, ValueError) as err:
        raise ValueError(f"fit's posterior could not be written as NetCDF: {err}") from err
    manifest = {"format": _FORMAT, "version": _VERSION, "vibook": version("vibook"), **manifest}
    (directory / _MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def save(fit, path, *, overwrite: bool = False) -> Path:
    """Save a fit as a new directory of NetCDF and ``.npz`` files (no pickle); return its path.

    Parameters
    ----------
    fit : SVIFit, SavedFit or xarray.DataTree
        A result of :func:`vibook.run_svi` (or one read back by :func:`load`), or a posterior
        ``DataTree`` such as :func:`vibook.run_nuts` returns.
    path : str or os.PathLike
        The directory to create (its files: see the module docstring).
    overwrite : bool
        If False (the default) an existing ``path`` is never touched and ``FileExistsError`` is
        raised. If True, an earlier vibook save at ``path`` is replaced; anything else there
        (a file, or a directory holding files vibook did not write) is still refused.

    Raises
    ------
    FileExistsError
        If ``path`` exists and may not be replaced.
    """
    if not isinstance(fit, SVIFit | SavedFit | xr.DataTree):
        raise TypeError(
            "fit must be an SVIFit (from run_svi), a SavedFit (from load) or a DataTree "
            f"(from run_nuts); got {type(fit).__name__}"
        )
    if isinstance(fit, xr.DataTree):
        as_datatree(fit, "fit")
    overwrite = check_bool(overwrite, "overwrite")
    path = _check_path(path)
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise FileExistsError(
                f"path {str(path)!r} already exists; pass overwrite=True to replace an earlier "
                "save there, or choose another path"
            )
        if not _is_vibook_save(path):
            raise FileExistsError(
                f"path {str(path)!r} exists and is not a vibook save (or holds other files); "
                "it is left untouched even with overwrite=True"
            )
    parent = path.absolute().parent
    if not parent.is_dir():
        raise FileNotFoundError(f"path's parent directory {str(parent)!r} does not exist")
    # Write beside path, then swap in: a failed save never half-writes or destroys a save.
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    try:
        _write(fit, tmp)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.rmdir(old)
            os.replace(path, old)
            os.replace(tmp, path)
            for name in _FILES:
                (old / name).unlink(missing_ok=True)
            os.rmdir(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return path


def _read_npz(file: Path) -> dict[str, np.ndarray]:
    with np.load(file, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def load(path) -> SavedFit | xr.DataTree:
    """Load what :func:`save` wrote: exactly the same numbers, dtypes and attributes.

    Parameters
    ----------
    path : str or os.PathLike
        A directory written by :func:`save`.

    Returns
    -------
    SavedFit or xarray.DataTree
        A :class:`SavedFit` for a saved SVI fit (continue it with :meth:`SavedFit.resume_state`);
        the ``DataTree`` itself for a saved DataTree.
    """
    path = _check_path(path)
    manifest_file = path / _MANIFEST
    if not manifest_file.is_file():
        raise FileNotFoundError(f"path {str(path)!r} is not a vibook save (no {_MANIFEST} in it)")
    manifest = json.loads(manifest_file.read_text())
    if manifest.get("format") != _FORMAT or manifest.get("version") != _VERSION:
        raise ValueError(
            f"path {str(path)!r} holds format {manifest.get('format')!r} version "
            f"{manifest.get('version')!r}; this vibook reads {_FORMAT!r} version {_VERSION}"
        )
    posterior = xr.load_datatree(path / _POSTERIOR, engine=_ENGINE)
    if manifest["kind"] == "datatree":
        return posterior
    state = _read_npz(path / _STATE)
    leaves = []
    for i in range(manifest["state_leaves"]):
        name = f"leaf_{i:03d}"
        leaf = state[name]
        if name in manifest["key_leaves"]:
            leaf = jax.random.wrap_key_data(leaf, impl=manifest["key_leaves"][name])
        leaves.append(leaf)
    return SavedFit(
        params=_read_npz(path / _PARAMS),
        losses=np.load(path / _LOSSES, allow_pickle=False),
        state_leaves=tuple(leaves),
        posterior=posterior,
        model_name=manifest["model"],
        guide_name=manifest["guide"],
        khat=None if manifest.get("khat") is None else float(manifest["khat"]),
    )
