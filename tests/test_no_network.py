"""No network: every data loader, and a whole notebook, run with the network blocked.

Only connections to loopback addresses (127.0.0.0/8, ::1) and Unix sockets are allowed (the
notebook's kernel talks to this process over ZeroMQ on localhost); any other ``connect``,
``connect_ex``, ``sendto``, ``create_connection`` or host-name lookup raises ``OSError``. In
the notebook's kernel the same guard is installed at interpreter start (a ``sitecustomize``
module put first on ``PYTHONPATH``), and an extra first cell checks that it is active.
"""

import inspect
import os
import socket
from pathlib import Path

import nbformat
import numpy as np
import pytest

import vibook.data

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "00_quickstart.ipynb"

# The guard, as source so that the notebook's kernel can run the very same code.
GUARD = r"""
import ipaddress
import socket

BLOCKED = "network access blocked in this test"


def _is_local(host):
    if isinstance(host, bytes):
        host = host.decode()
    if host is None or host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False  # any other host name would need a DNS look-up


def _check(sock, address):
    if getattr(sock, "family", None) == getattr(socket, "AF_UNIX", object()):
        return
    if isinstance(address, (str, bytes)):  # a Unix socket path
        return
    if not _is_local(address[0]):
        raise OSError(f"{BLOCKED}: refused to reach {address!r}")


def wrap_connect(original):
    def connect(self, address):
        _check(self, address)
        return original(self, address)

    return connect


def wrap_sendto(original):
    def sendto(self, data, *rest):
        _check(self, rest[-1])
        return original(self, data, *rest)

    return sendto


def wrap_create_connection(original):
    def create_connection(address, *args, **kwargs):
        _check(None, address)
        return original(address, *args, **kwargs)

    return create_connection


def wrap_getaddrinfo(original):
    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            raise OSError(f"{BLOCKED}: refused to look up {host!r}")
        return original(host, *args, **kwargs)

    return getaddrinfo


PATCHES = [
    (socket.socket, "connect", wrap_connect),
    (socket.socket, "connect_ex", wrap_connect),
    (socket.socket, "sendto", wrap_sendto),
    (socket, "create_connection", wrap_create_connection),
    (socket, "getaddrinfo", wrap_getaddrinfo),
]


def install():
    for owner, name, wrap in PATCHES:
        setattr(owner, name, wrap(getattr(owner, name)))
"""

_guard = {}
exec(compile(GUARD, "<network guard>", "exec"), _guard)


@pytest.fixture
def no_network(monkeypatch):
    for owner, name, wrap in _guard["PATCHES"]:
        monkeypatch.setattr(owner, name, wrap(getattr(owner, name)))


def test_the_guard_blocks_the_network_and_allows_loopback(no_network):
    with pytest.raises(OSError, match="network access blocked"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)  # TEST-NET-1, never routed
    with pytest.raises(OSError, match="network access blocked"):
        socket.getaddrinfo("pypi.org", 443)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(OSError, match="network access blocked"):
            s.connect(("8.8.8.8", 53))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(OSError, match="network access blocked"):
            s.sendto(b"x", ("8.8.8.8", 53))
    # Loopback still works: a server and a client on 127.0.0.1.
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname(), timeout=5):
            conn, _ = server.accept()
            conn.close()


def _loaders():
    """Every public function of vibook.data (those defined there, not imported)."""
    return sorted(
        name
        for name, obj in vars(vibook.data).items()
        if inspect.isfunction(obj) and obj.__module__ == "vibook.data" and name[0] != "_"
    )


# Arguments for loaders that need some; the others are called with their defaults.
# Sizes are small: the point is that nothing is fetched, not the data.
LOADER_ARGS = {
    "make_mixture": ((50,), {}),
    "make_lda_corpus": ((5,), {"n_topics": 2, "n_vocab": 20, "doc_length": 10}),
    "synthetic_logistic": ((20,), {}),
    "rotate_images": ((np.zeros((2, 64)), 15.0), {}),
    "corpus_from_counts": (([[1, 0, 2], [0, 3, 1]],), {}),
}


@pytest.mark.parametrize("name", _loaders())
def test_data_loader_runs_offline(name, no_network):
    loader = getattr(vibook.data, name)
    args, kwargs = LOADER_ARGS.get(name, ((), {}))
    required = [
        p.name
        for p in inspect.signature(loader).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(required) > len(args):
        pytest.fail(f"add arguments for vibook.data.{name} to LOADER_ARGS in this test")
    result = loader(*args, **kwargs)
    assert result is not None


def test_notebook_runs_offline(tmp_path, monkeypatch, no_network):
    """Notebook 00, top to bottom, in a kernel that cannot reach the network."""
    from nbclient import NotebookClient

    (tmp_path / "sitecustomize.py").write_text(GUARD + "\ninstall()\n")
    path = [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    check = nbformat.v4.new_code_cell(
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
        "except OSError as err:\n"
        "    assert 'network access blocked' in str(err), err\n"
        "else:\n"
        "    raise AssertionError('the network guard is not active in the kernel')\n"
    )
    nb.cells.insert(0, check)
    client = NotebookClient(
        nb,
        kernel_name="python3",  # ipykernel's own spec: this interpreter, whatever is installed
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    ran = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in ran)
    errors = [o for c in ran for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
