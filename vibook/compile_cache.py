"""JAX's persistent compilation cache, kept in the user's cache directory.

Every model that JAX runs is first compiled by XLA, and in a notebook that compile time is
most of the wait before the first result. With the persistent cache on, each compiled
program is written to disk and the next run of the same notebook (a new kernel, the same
code and shapes) reads it back instead of compiling again.

The cache lives under the user's cache directory, ``$XDG_CACHE_HOME/vibook/jax`` (or
``~/.cache/vibook/jax``), never inside a project or the repository. Importing vibook changes
no JAX setting: the cache is on only after :func:`enable_compile_cache` is called (each
notebook's first cell calls it), and ``VIBOOK_COMPILE_CACHE=0`` makes that call do nothing
(for a cold run).
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache

__all__ = ["default_cache_dir", "enable_compile_cache"]


def default_cache_dir() -> Path:
    """The folder vibook's compilation cache uses unless told otherwise.

    ``$XDG_CACHE_HOME/vibook/jax`` when ``XDG_CACHE_HOME`` is set (and absolute), else
    ``~/.cache/vibook/jax``, following the XDG base-directory convention.
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "vibook" / "jax"


def enable_compile_cache(
    path: str | os.PathLike | None = None, *, min_compile_seconds=0.0
) -> Path | None:
    """Turn on JAX's persistent compilation cache so a second run skips XLA compilation.

    Parameters
    ----------
    path : str or path-like, optional
        Folder for the cache; :func:`default_cache_dir` when not given. It is created if
        missing.
    min_compile_seconds : float
        Only programs whose compilation took at least this long are stored. The default, 0,
        stores all of them: a notebook compiles many small programs (one per model, guide
        and shape) whose times add up.

    Returns
    -------
    pathlib.Path or None
        The cache folder in use; None when ``VIBOOK_COMPILE_CACHE=0`` (or ``false``) is set,
        which leaves the cache off.

    Examples
    --------
    >>> import vibook
    >>> folder = vibook.enable_compile_cache()  # doctest: +SKIP
    """
    if isinstance(min_compile_seconds, bool) or not isinstance(min_compile_seconds, int | float):
        raise TypeError(
            f"min_compile_seconds must be a number >= 0; got {type(min_compile_seconds).__name__}"
        )
    if not min_compile_seconds >= 0:
        raise ValueError(f"min_compile_seconds must be a number >= 0; got {min_compile_seconds}")
    if os.environ.get("VIBOOK_COMPILE_CACHE", "1") in ("0", "false", "False"):
        return None
    if path is None:
        folder = default_cache_dir()
    elif isinstance(path, str | os.PathLike):
        folder = Path(path).expanduser()
    else:
        raise TypeError(f"path must be a folder name (str or path-like); got {type(path).__name__}")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"path must be a folder; {str(folder)!r} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    if jax.config.jax_compilation_cache_dir not in (None, str(folder)):
        # JAX opens its cache once; moving it to another folder needs a fresh start.
        compilation_cache.reset_cache()
    compilation_cache.set_cache_dir(str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
