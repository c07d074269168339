"""Start a real JupyterLab and a headless Chromium for the browser tests, and stop them after.

JupyterLab runs from the project's ``.venv`` on 127.0.0.1 with a random free port and a random
token, on a temporary COPY of ``notebooks/`` (nothing in the repository is written), with its
config, settings, workspaces, runtime files and IPython profile in temporary folders, so neither
the user's set-up nor what a previous run saved can change what the test sees. Chromium is
Debian's (installed here with ``apt-get`` when missing and running as root); Playwright only
drives it and never downloads a browser.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
# Lab settings for a quiet, deterministic page: every cell attached to the DOM (the default
# windowing leaves off-screen cells out), no news or update checks (requests to the internet).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def ensure_chromium() -> Path:
    """Return Debian's Chromium, installing it with apt-get first if missing and root."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            f"{CHROMIUM} is missing and this is not root on a Debian-like system, so it cannot "
            "be installed here; install it with 'sudo apt-get install chromium' to run this test"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    for cmd in (
        ["apt-get", *lock, "update"],
        ["apt-get", *lock, "install", "-y", "--no-install-recommends", "chromium"],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    if not CHROMIUM.exists():
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} does not exist")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pids_mentioning(text: str) -> list[int]:
    """Processes whose command line contains ``text`` (our temporary folders are unique)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(proc.name))
    return pids


@dataclass
class Lab:
    """A running JupyterLab: where it listens, its token, and the folder it serves."""

    url: str
    token: str
    root_dir: Path
    process: subprocess.Popen
    tmp: Path
    log: Path

    def api(self, path: str, method: str = "GET") -> object:
        """Call the server's REST API and return the decoded JSON (or None)."""
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut down every session and kernel (each test starts from none)."""
        for session in self.api("/api/sessions") or []:
            self.api(f"/api/sessions/{session['id']}", method="DELETE")
        for kernel in self.api("/api/kernels") or []:
            self.api(f"/api/kernels/{kernel['id']}", method="DELETE")

    def stray_processes(self) -> list[int]:
        """The server and kernels it started that are still alive."""
        alive = _pids_mentioning(str(self.tmp))
        if self.process.poll() is None:
            alive.append(self.process.pid)
        return sorted(set(alive))

    def log_tail(self, n: int = 4000) -> str:
        """The end of the server's log, for failure messages."""
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


def start_lab(tmp: Path, notebooks: Path = ROOT / "notebooks", timeout: float = 120) -> Lab:
    """Start JupyterLab from ``.venv`` on a copy of ``notebooks`` and wait until it answers."""
    jupyter = VENV / "bin" / "jupyter"
    if not jupyter.exists():
        pytest.fail(f"{jupyter} is missing: run 'make test', which creates .venv")
    root_dir = tmp / "notebooks"
    shutil.copytree(notebooks, root_dir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    dirs = {name: tmp / name for name in ("config", "runtime", "settings", "workspaces", "ipython")}
    for d in dirs.values():
        d.mkdir()
    for rel, values in LAB_SETTINGS.items():
        path = dirs["settings"] / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # kernels must use the inline backend to show figures
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        IPYTHONDIR=str(dirs["ipython"]),
        PATH=f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    token = secrets.token_hex(24)
    port = _free_port()
    log = tmp / "jupyterlab.log"
    cmd = [
        str(jupyter),
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--expose-app-in-browser",
        "--LabApp.news_url=",
        "--LabApp.extension_manager=readonly",
        "--ServerApp.terminals_enabled=False",
    ]
    if os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            cmd, env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, root_dir, process, tmp, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            stop_lab(lab)
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{lab.log_tail()}")
        try:
            lab.api("/api/status")
            return lab
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                stop_lab(lab)
                pytest.fail(f"JupyterLab did not answer in {timeout} s:\n{lab.log_tail()}")
            time.sleep(0.5)


def stop_lab(lab: Lab, grace: float = 15) -> None:
    """Shut kernels down, stop the server's process group (TERM, then KILL), reap everything."""
    if lab.process.poll() is None:
        try:  # a clean shutdown stops kernels (they live in their own process groups)
            lab.shutdown_kernels()
        except (urllib.error.URLError, OSError, ValueError):
            pass
        try:
            os.killpg(lab.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            lab.process.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(lab.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            lab.process.wait(grace)
    # Anything still mentioning our temporary folders (a kernel whose server died) goes too.
    for pid in _pids_mentioning(str(lab.tmp)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while _pids_mentioning(str(lab.tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium (installed on first use when running as root)."""
    return ensure_chromium()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium_path):
    """A JupyterLab server for a test module; always stopped, and checked to be gone after."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    server = start_lab(tmp)
    try:
        yield server
    finally:
        stop_lab(server)
    stray = server.stray_processes()
    assert not stray, f"JupyterLab processes still running after stop: {stray}"


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Headless Debian Chromium driven by Playwright (no browser is downloaded)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, lab):
    """A fresh page at a size where the notebook and its widget fit in screenshots.

    Afterwards the page is closed and the kernels it started are shut down.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
        lab.shutdown_kernels()


@pytest.fixture(scope="session")
def screenshot_path():
    """``screenshot_path(name)``: a path in ``test-artifacts/browser/`` (ignored by git).

    Screenshots of earlier runs are removed first, so what is there is from this run.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()

    def path(name: str) -> Path:
        return ARTIFACTS / f"{name}.png"

    return path


if sys.platform == "win32":  # pragma: no cover - the lab helpers use POSIX process groups
    collect_ignore_glob = ["test_*.py"]
