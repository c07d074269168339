"""Input checks used at vibook's public boundary.

Each check names the argument, what was expected and what was received, and raises ``TypeError`` for
the wrong kind of object or ``ValueError`` for the wrong value. JAX tracers (inside ``jit`` or an
MCMC step) pass through untouched: they were checked when they were concrete.
"""

from __future__ import annotations

import numbers

import jax
import numpy as np


def is_tracer(value) -> bool:
    """Return True when ``value`` is an abstract JAX value with no concrete data."""
    return isinstance(value, jax.core.Tracer)


def check_key(rng_key, name: str = "rng_key"):
    """Check that ``rng_key`` is a JAX PRNG key (``jax.random.key`` or ``PRNGKey``)."""
    if is_tracer(rng_key):
        return rng_key
    if isinstance(rng_key, jax.Array):
        if jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key) and rng_key.shape == ():
            return rng_key
        if rng_key.dtype == np.uint32 and rng_key.shape == (2,):
            return rng_key
    raise TypeError(
        f"{name} must be a JAX random key such as jax.random.key(0) or jax.random.PRNGKey(0); "
        f"got {type(rng_key).__name__} {getattr(rng_key, 'shape', '')}".rstrip()
    )


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Check that ``value`` is an integer >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def check_positive(value, name: str) -> float:
    """Check that ``value`` is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number; got {type(value).__name__}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value}")
    return float(value)


def check_real(value, name: str) -> float:
    """Check that ``value`` is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return float(value)


def check_level(value, name: str = "level") -> float:
    """Check that ``value`` is a coverage (an interval's probability) in (0, 1)."""
    value = check_real(value, name)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1); got {value}")
    return value


def check_array(
    value,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple[int | None, ...] | None = None,
    integer: bool = False,
    nonnegative: bool = False,
    allow_empty: bool = False,
):
    """Check an array argument and return it as a NumPy array (tracers pass through).

    Parameters
    ----------
    value, name : array_like, str
        The argument and its name, for the error message.
    ndim : int or tuple of int, optional
        Allowed number(s) of dimensions.
    shape : tuple of int or None, optional
        Required shape; ``None`` entries match any length.
    integer, nonnegative : bool
        Require whole numbers (an integer dtype, or floats with no fractional part), or values >= 0.
    allow_empty : bool
        Whether an array with no elements is accepted.
    """
    if is_tracer(value):
        return value
    if value is None or isinstance(value, str | bytes | dict | set):
        raise TypeError(f"{name} must be an array of numbers; got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise TypeError(f"{name} must be an array of numbers; could not convert it: {err}") from err
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold integers or floats; got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, allowed))} dimension(s); "
                f"got shape {arr.shape}"
            )
    if shape is not None and (
        arr.ndim != len(shape)
        or any(s not in (None, a) for s, a in zip(shape, arr.shape, strict=True))
    ):
        want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}; got {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name} must be finite; got {bad} NaN or infinite value(s)")
    if integer and np.issubdtype(arr.dtype, np.floating) and np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must hold whole numbers (counts); got non-integer values")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0; got minimum {arr.min()}")
    return arr


def check_choice(value, name: str, options) -> str:
    """Check that ``value`` is one of the strings in ``options``."""
    options = sorted(options)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {options}; got {type(value).__name__}")
    if value not in options:
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def check_seed(seed, name: str = "seed") -> int:
    """Check a NumPy seed: an integer >= 0 (bools refused)."""
    return check_positive_int(seed, name, minimum=0)


def check_subsample(subsample_size, n: int, name: str = "subsample_size"):
    """Check a minibatch size: None (full batch) or an integer in 1..n."""
    if subsample_size is None:
        return None
    subsample_size = check_positive_int(subsample_size, name)
    if subsample_size > n:
        raise ValueError(f"{name} must be <= the number of data points ({n}); got {subsample_size}")
    return subsample_size


def check_model(model, name: str = "model") -> None:
    """Check that ``model`` is callable (a NumPyro model function)."""
    if not callable(model):
        raise TypeError(f"{name} must be a NumPyro model function; got {type(model).__name__}")


def check_bool(value, name: str) -> bool:
    """Check that ``value`` is True or False (NumPy bools too; 0 and 1 are refused)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False; got {type(value).__name__}")
    return bool(value)


def check_var_names(var_names, available, name: str = "var_names") -> list[str] | None:
    """Check ``var_names``: None (all), one name, or a sequence of names in ``available``."""
    if var_names is None:
        return None
    if isinstance(var_names, str):
        var_names = [var_names]
    if not isinstance(var_names, list | tuple) or not all(isinstance(v, str) for v in var_names):
        raise TypeError(f"{name} must be a variable name or a list of them; got {var_names!r}")
    unknown = [v for v in var_names if v not in available]
    if unknown or not var_names:
        raise ValueError(f"{name} must name variables among {sorted(available)}; got {var_names}")
    return list(var_names)


def select_coords(da, coords, name: str = "coords"):
    """``da.sel(coords)``, with a clear error when ``coords`` does not fit ``da``'s dims."""
    if coords is None:
        return da
    if not isinstance(coords, dict):
        raise TypeError(f"{name} must be a dict of dimension name to value; got {coords!r}")
    unknown = [d for d in coords if d not in da.dims]
    if unknown:
        raise ValueError(f"{name} names dimension(s) {unknown} that {da.name!r} lacks: {da.dims}")
    try:
        return da.sel(coords)
    except (KeyError, ValueError, TypeError, IndexError) as err:
        raise ValueError(f"{name} {coords!r} does not select from {da.name!r}: {err}") from err


def check_panel(panel, name: str, keys) -> dict:
    """Check ``panel[k]`` is numeric and finite for each of ``keys``; copy them as NumPy arrays."""
    if not isinstance(panel, dict):
        raise TypeError(f"{name} must be a dict with keys {list(keys)}; got {type(panel).__name__}")
    missing = [k for k in keys if k not in panel]
    if missing:
        raise ValueError(f"{name} lacks the key(s) {missing}; it must have {list(keys)}")
    return {**panel, **{k: check_array(panel[k], f"{name}[{k!r}]", ndim=None) for k in keys}}


def check_mixture(weights, means, covariances, dim: int, *, means_name: str = "means"):
    """Checked Gaussian-mixture parameters, and the Cholesky factors of the covariances.

    ``weights`` (K,) must be >= 0 and sum to 1, ``means`` (K, dim), ``covariances`` (K, dim,
    dim) symmetric positive definite. ``means_name`` is the caller's name for the means.
    """
    weights = check_array(weights, "weights", ndim=1, nonnegative=True).astype(np.float64)
    if not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"weights must sum to 1; got {weights.sum()}")
    k = weights.shape[0]
    means = check_array(means, means_name, shape=(k, dim)).astype(np.float64)
    covariances = check_array(covariances, "covariances", shape=(k, dim, dim)).astype(np.float64)
    try:
        chol = np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError as err:
        raise ValueError("covariances must be symmetric positive definite") from err
    return weights, means, covariances, chol
