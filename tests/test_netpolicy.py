"""The network policy: the pure decision, the in-process guard and subprocess isolation.

No test here attempts a connection to a non-loopback address: the guard is exercised over
a recording stand-in for the real connect, and subprocess tests only list interfaces.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from ops import netpolicy
from ops.netpolicy import NetworkBlocked, decide, guard_sockets, isolated_argv


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


@pytest.fixture
def recorded_connects(monkeypatch):
    """Replace the real connect with a recorder, so a policy bug can never reach the network."""
    calls = []

    def fake_connect(self, address):
        calls.append(address)

    monkeypatch.setattr(socket.socket, "connect", fake_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, a: calls.append(a) or 0)
    return calls


def test_guard_blocks_non_loopback_and_names_the_host(recorded_connects):
    with guard_sockets(), socket.socket() as sock:
        with pytest.raises(NetworkBlocked, match="192.0.2.7"):
            sock.connect(("192.0.2.7", 80))
        with pytest.raises(NetworkBlocked, match="example.invalid"):
            sock.connect_ex(("example.invalid", 443))
        sock.connect(("127.0.0.1", 9))
    assert recorded_connects == [("127.0.0.1", 9)]


def test_guard_honours_allow_hosts_and_is_removed_afterwards(recorded_connects):
    with guard_sockets(["198.51.100.0/24"]), socket.socket() as sock:
        sock.connect(("198.51.100.20", 80))
    patched_connect = socket.socket.connect
    with guard_sockets():
        assert socket.socket.connect is not patched_connect
    assert socket.socket.connect is patched_connect
    assert recorded_connects == [("198.51.100.20", 80)]


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
