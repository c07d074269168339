"""Binder: the environment ``binder/`` describes runs the quickstart, and the badge points here.

Binder builds ``binder/environment.yml`` (conda: Python and pip, then the pip packages), runs
``binder/postBuild`` at the repository root, and opens the notebook the README's badge names.
The test does the same in a fresh venv on a copy of the working tree, with pip's own cache, and
nothing else from this machine's ``.venv``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
BADGE = re.compile(
    r"\(https://mybinder\.org/v2/gh/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)/(?P<ref>[^?)\s]+)"
    r"\?urlpath=(?:lab/tree/|tree/)(?P<path>[^)\s&]+)\)"
)
# What Binder gets from conda rather than pip; anything else conda-only would be missing from
# the venv built here, so it is not allowed.
CONDA_ONLY = {"python", "pip"}
RUN_NOTEBOOK = """
import sys
import nbformat
from nbclient import NotebookClient

path, prefix_file = sys.argv[1], sys.argv[2]
nb = nbformat.read(path, as_version=4)
probe = "import sys, vibook; print(sys.prefix); print(vibook.__file__)"
nb.cells.append(nbformat.v4.new_code_cell(probe))
client = NotebookClient(
    nb, timeout=600, kernel_name=nb.metadata.kernelspec.name,
    resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}},
)
client.execute()
with open(prefix_file, "w") as f:
    f.write("".join(o.get("text", "") for o in nb.cells[-1].outputs))
"""


def _environment() -> dict:
    return yaml.safe_load((BINDER / "environment.yml").read_text())


def _pip_requirements(env: dict) -> list[str]:
    pip = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "binder/environment.yml must have exactly one pip: section"
    return list(pip[0])


def _checkout(dest: Path) -> Path:
    """Copy what a clone would hold (files git does not ignore) to ``dest``, as Binder sees it."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
    )
    if listed.returncode != 0:  # not a git checkout (an unpacked archive): copy all but builds
        ignore = shutil.ignore_patterns(".venv", "test-artifacts", "__pycache__", ".*_cache")
        return Path(shutil.copytree(ROOT, dest, ignore=ignore))
    for name in filter(None, listed.stdout.decode().split("\0")):
        src = ROOT / name
        if src.is_file():  # a file deleted in the working tree is still listed by git
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _run(cmd, *, env, cwd, timeout=900, what=None):
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(
            f"{what or ' '.join(map(str, cmd))} failed ({done.returncode}):\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        )
    return done.stdout


def test_binder_environment_is_python_pip_and_pip_packages():
    env = _environment()
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    names = {re.split(r"[=<>! ]", d, maxsplit=1)[0] for d in conda}
    assert names == CONDA_ONLY, f"conda-only dependencies {names - CONDA_ONLY} would be missing"
    python = next(d for d in conda if d.startswith("python"))
    assert python == "python=3.12", python  # the version find-python picks for the venv below
    assert _pip_requirements(env), "the pip section is empty"
    assert os.access(BINDER / "postBuild", os.X_OK), "binder/postBuild must be executable"


def test_readme_binder_badge_points_at_this_repository_notebooks():
    readme = (ROOT / "README.md").read_text()
    badges = list(BADGE.finditer(readme))
    assert badges, "README.md has no Binder badge linking to a notebook"
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    repo_url = urls["Repository"].removesuffix(".git").rstrip("/")
    for badge in badges:
        assert f"https://github.com/{badge['owner']}/{badge['repo']}" == repo_url, badge[0]
        path = badge["path"]
        assert path.startswith("notebooks/") and path.endswith(".ipynb"), path
        assert (ROOT / path).is_file(), f"the badge opens {path}, which does not exist"
    remote = subprocess.run(
        ["git", "-C", str(ROOT), "remote", "get-url", "origin"], capture_output=True, text=True
    )
    if remote.returncode == 0 and "github.com" in remote.stdout:  # a clone of the real repo
        slug = re.search(r"github\.com[:/]([^/]+/[^/\s]+?)(?:\.git)?\s*$", remote.stdout)
        assert slug and repo_url.endswith(slug[1]), (remote.stdout, repo_url)


@pytest.fixture
def work(tmp_path):
    """A scratch folder, removed afterwards: the venv built in it is about 1 GB."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.binder
def test_fresh_binder_environment_runs_quickstart(work):
    """Build a venv from binder/ alone, run postBuild in it, then run notebook 00 in it."""
    python = subprocess.run(
        [str(ROOT / "scripts" / "find-python")], capture_output=True, text=True, check=True
    ).stdout.strip()
    repo = _checkout(work / "repo")
    venv = work / "venv"
    bin_dir = venv / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.pop("MPLBACKEND", None)  # as on Binder: the kernel's inline backend draws figures
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        JUPYTER_DATA_DIR=str(work / "jupyter-data"),  # no user-level kernel can shadow ours
        JUPYTER_CONFIG_DIR=str(work / "jupyter-config"),
        IPYTHONDIR=str(work / "ipython"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    _run([python, "-m", "venv", str(venv)], env=env, cwd=work)
    requirements = work / "binder-requirements.txt"
    requirements.write_text("\n".join(_pip_requirements(_environment())) + "\n")
    _run(
        # --no-compile: no .pyc for all of jax/scipy up front (import compiles what it uses).
        [bin_dir / "python", "-m", "pip", "install", "--quiet", "--no-compile", "-r", requirements],
        env=env,
        cwd=repo,
        what="pip install of binder/environment.yml's pip section",
    )
    _run(["bash", repo / "binder" / "postBuild"], env=env, cwd=repo, what="binder/postBuild")

    where = _run(
        [bin_dir / "python", "-c", "import vibook; print(vibook.__file__)"], env=env, cwd=work
    )
    assert Path(where.strip()).is_relative_to(repo / "vibook"), where
    specs = json.loads(
        _run([bin_dir / "jupyter", "kernelspec", "list", "--json"], env=env, cwd=work)
    )["kernelspecs"]
    assert "vibook" in specs, f"postBuild did not register the vibook kernel: {sorted(specs)}"
    assert Path(specs["vibook"]["resource_dir"]).is_relative_to(venv), specs["vibook"]

    notebook = repo / "notebooks" / "00_quickstart.ipynb"
    assert notebook.is_file(), "notebooks/00_quickstart.ipynb is missing"
    probe = work / "probe.txt"
    _run(
        [bin_dir / "python", "-c", RUN_NOTEBOOK, notebook, probe],
        env=env,
        cwd=notebook.parent,
        timeout=600,
        what="running notebooks/00_quickstart.ipynb in the Binder venv",
    )
    prefix, module = probe.read_text().splitlines()
    assert Path(prefix) == venv, f"the notebook ran in {prefix}, not in the Binder venv"
    assert Path(module).is_relative_to(repo), module
