"""JAX's persistent compilation cache, kept in the user's cache directory.

JAX compiles every program with XLA, and in a notebook that compile time is most of the wait before
the first result. With the persistent cache on, compiled programs are written to disk and the next
run of the same notebook (a new kernel, the same code and shapes) reads them back.

The folder (:func:`default_cache_dir`) is never inside a project or the repository. Importing vibook
changes no JAX setting: the cache is on only after :func:`enable_compile_cache` (each notebook's
first cell calls it); ``VIBOOK_COMPILE_CACHE=0`` makes that call do nothing (a cold run).
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache

from vibook._checks import check_real

__all__ = ["default_cache_dir", "enable_compile_cache"]


def default_cache_dir() -> Path:
    """The default cache folder: ``$XDG_CACHE_HOME/vibook/jax``, else ``~/.cache/vibook/jax``.

    ``XDG_CACHE_HOME`` counts only when set and absolute (the XDG base-directory convention).
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
        Folder for the cache, created if missing; :func:`default_cache_dir` by default.
    min_compile_seconds : float
        Only programs that took at least this long to compile are stored; the default, 0, keeps all,
        as a notebook's many small programs (one per model, guide and shape) add up.

    Returns
    -------
    pathlib.Path or None
        The cache folder in use; None (cache off) when ``VIBOOK_COMPILE_CACHE`` is ``0``/``false``.

    Examples
    --------
    >>> import vibook
    >>> folder = vibook.enable_compile_cache()  # doctest: +SKIP
    """
    min_compile_seconds = check_real(min_compile_seconds, "min_compile_seconds")
    if min_compile_seconds < 0:
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
