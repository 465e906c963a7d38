"""The network policy: the pure decision, the in-process guard and subprocess isolation.

No test here attempts a connection to a non-loopback address: the guard is exercised over
a recording stand-in for the real connect, and subprocess tests only list interfaces.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from ops import netguard, netpolicy
from ops.netpolicy import NetworkBlocked, decide, guard_sockets, isolated_argv
from tests.conftest import REPO, clean_env


@pytest.mark.parametrize(
    ("host", "allow", "allowed"),
    [
        ("127.0.0.1", (), True),
        ("127.8.9.10", (), True),
        ("::1", (), True),
        ("[::1]", (), True),
        ("::ffff:127.0.0.1", (), True),
        ("localhost", (), True),
        ("LOCALHOST", (), True),
        ("10.0.0.1", (), False),
        ("192.168.1.5", (), False),
        ("8.8.8.8", (), False),
        ("example.org", (), False),
        ("example.org", ("example.org",), True),
        ("10.1.2.3", ("10.0.0.0/8",), True),
        ("11.1.2.3", ("10.0.0.0/8",), False),
        ("0.0.0.0", (), False),
    ],
)
def test_decide(host, allow, allowed):
    assert decide(host, allow).allowed is allowed


class FakeSocket:
    """Stands in for a socket in an audit event: the hook only reads ``family``."""

    def __init__(self, family=socket.AF_INET):
        self.family = family


def test_the_audit_hook_blocks_non_loopback_and_names_the_host(monkeypatch):
    monkeypatch.setenv(netguard.ALLOW_ENV, "[]")
    with pytest.raises(NetworkBlocked, match="192.0.2.7 is not loopback"):
        netguard.audit("socket.connect", (FakeSocket(), ("192.0.2.7", 80)))
    with pytest.raises(NetworkBlocked, match="'example.invalid' is not in"):
        netguard.audit("socket.sendto", (FakeSocket(), ("example.invalid", 443)))
    netguard.audit("socket.connect", (FakeSocket(), ("127.0.0.1", 9)))
    netguard.audit("socket.connect", (FakeSocket(socket.AF_UNIX), "/tmp/sock"))
    netguard.audit("open", ("/etc/hosts", "r", 0))


def test_the_allow_list_is_exact(monkeypatch):
    monkeypatch.setenv(netguard.ALLOW_ENV, '["198.51.100.0/24"]')
    netguard.audit("socket.connect", (FakeSocket(), ("198.51.100.20", 80)))
    with pytest.raises(NetworkBlocked, match="198.51.101.1"):
        netguard.audit("socket.connect", (FakeSocket(), ("198.51.101.1", 80)))
    monkeypatch.delenv(netguard.ALLOW_ENV)
    netguard.audit("socket.connect", (FakeSocket(), ("198.51.101.1", 80)))  # no policy set


def test_guard_sockets_sets_the_policy_for_children_and_restores_it(monkeypatch):
    monkeypatch.delenv(netguard.ALLOW_ENV, raising=False)
    monkeypatch.setenv("PYTHONPATH", "/mine")
    with guard_sockets(["198.51.100.0/24"]):
        assert os.environ[netguard.ALLOW_ENV] == '["198.51.100.0/24"]'
        assert os.environ["PYTHONPATH"] == f"{netguard.SITE_DIR}:/mine"
        carried = netguard.carried({"PYTHONPATH": "/roots"})
        assert carried["PYTHONPATH"] == f"{netguard.SITE_DIR}:/roots"
    assert netguard.ALLOW_ENV not in os.environ and os.environ["PYTHONPATH"] == "/mine"


BLOCKED_CHILD = (
    "import _socket, socket\n"
    "raw = _socket.socket()\n"
    "try:\n"
    "    raw.connect(('192.0.2.7', 9))\n"
    "except OSError as exc:\n"
    "    print(type(exc).__name__, exc)\n"
)


def test_a_python_child_is_guarded_even_through_raw_sockets():
    isolation = netpolicy.subprocess_isolation()
    if not isolation.enforced:  # the namespace makes sure a guard bug reaches nothing
        pytest.skip(isolation.detail)
    argv, _ = isolated_argv([sys.executable, "-c", BLOCKED_CHILD])
    env = netguard.carried({**os.environ, netguard.ALLOW_ENV: "[]"})
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
    assert result.stdout.startswith("NetworkBlocked proofyard network policy blocked"), result


def test_guard_allows_real_loopback_traffic():
    with guard_sockets(), socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5) as client:
            peer, _ = server.accept()
            client.sendall(b"ping")
            assert peer.recv(4) == b"ping"
            peer.close()


CHILD = (
    "import socket, json\n"
    "names = [name for _, name in socket.if_nameindex()]\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
    "c = socket.create_connection(s.getsockname(), timeout=5)\n"
    "print(json.dumps(names))\n"
)


def test_subprocess_runs_with_loopback_only_where_enforced():
    isolation = netpolicy.subprocess_isolation()
    if not isolation.enforced:
        pytest.skip(isolation.detail)
    argv, used = isolated_argv([sys.executable, "-c", CHILD])
    assert used.enforced
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout.strip() == '["lo"]'


def test_subprocess_policy_says_why_it_is_not_enforced():
    argv, used = isolated_argv(["true"], allow_hosts=["example.org"])
    assert argv == ["true"] and not used.enforced and "allow_hosts" in used.detail
    argv, used = isolated_argv(["true"], enabled=False)
    assert argv == ["true"] and "disabled" in used.detail


PROBE_THEN_FORK = """
import json, os, sys
from ops import netpolicy
netpolicy.start_isolation_probe()  # in a thread of this process
pid = os.fork()
if pid == 0:  # the child has no probe thread: it must probe again, not wait forever
    print(json.dumps(netpolicy.subprocess_isolation().detail), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print(json.dumps(netpolicy.subprocess_isolation().detail))
"""


def test_the_probe_started_in_the_background_answers_in_a_forked_child_too():
    result = subprocess.run(
        [sys.executable, "-c", PROBE_THEN_FORK],
        env=clean_env(PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    child, parent = map(json.loads, result.stdout.splitlines())
    assert child == parent == netpolicy.subprocess_isolation().detail
