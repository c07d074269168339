"""The persistent compilation cache: where it lives, when it is on, and that it is used.

Each check that compiles runs in a fresh subprocess so this test process keeps its own
JAX configuration.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vibook.compile_cache import default_cache_dir, enable_compile_cache

REPO = Path(__file__).resolve().parents[1]


def _run(code, env):
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, "JAX_PLATFORMS": "cpu", **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_default_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "vibook" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "vibook" / "jax"
    # A relative XDG_CACHE_HOME is invalid by the XDG spec and is ignored.
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    assert default_cache_dir() == Path.home() / ".cache" / "vibook" / "jax"


def test_default_dir_is_outside_the_repository():
    assert REPO not in default_cache_dir().parents


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="path"):
        enable_compile_cache(3)
    with pytest.raises(TypeError, match="min_compile_seconds"):
        enable_compile_cache(tmp_path, min_compile_seconds="0")
    with pytest.raises(ValueError, match="min_compile_seconds"):
        enable_compile_cache(tmp_path, min_compile_seconds=-1.0)
    a_file = tmp_path / "f"
    a_file.write_text("")
    with pytest.raises(ValueError, match="is a file"):
        enable_compile_cache(a_file)


def test_second_process_reads_the_cache(tmp_path):
    code = """
        import json, jax, jax.numpy as jnp
        from vibook import enable_compile_cache
        hits = []
        jax.monitoring.register_event_listener(
            lambda event, **kw: hits.append(event)
            if event == "/jax/compilation_cache/cache_hits" else None
        )
        folder = enable_compile_cache()
        jax.jit(lambda x: jnp.tanh(x) @ x.T)(jnp.ones((7, 7))).block_until_ready()
        print(json.dumps({"folder": str(folder), "hits": len(hits)}))
    """
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    first = _run(code, env)
    assert first["folder"] == str(tmp_path / "vibook" / "jax")
    assert first["hits"] == 0  # an empty cache cannot hit
    assert any((tmp_path / "vibook" / "jax").iterdir())
    second = _run(code, env)
    assert second["hits"] >= 1


def test_import_changes_nothing_and_the_call_turns_it_on(tmp_path):
    # Pretend to be a Jupyter kernel: IPython's get_ipython returns a ZMQInteractiveShell.
    code = """
        import json, IPython
        class ZMQInteractiveShell: pass
        IPython.get_ipython = lambda: ZMQInteractiveShell()
        import jax, vibook
        after_import = jax.config.jax_compilation_cache_dir
        folder = vibook.enable_compile_cache()
        print(json.dumps({"import": after_import, "call": jax.config.jax_compilation_cache_dir,
                          "folder": None if folder is None else str(folder)}))
    """
    on = _run(code, {"XDG_CACHE_HOME": str(tmp_path)})
    assert on["import"] is None
    assert on["call"] == on["folder"] == str(tmp_path / "vibook" / "jax")
    off = _run(code, {"XDG_CACHE_HOME": str(tmp_path), "VIBOOK_COMPILE_CACHE": "0"})
    assert off == {"import": None, "call": None, "folder": None}
