"""The hermetic network policy: loopback only, unless the config allows more hosts.

``decide`` is the pure decision; ``guard_sockets`` applies it to this process's sockets and
``isolated_argv`` to subprocesses (a fresh user+network namespace with only loopback up).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NetworkBlocked(ConnectionRefusedError):
    """A connection the network policy does not allow."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def decide(host: str, allow_hosts: Sequence[str] = ()) -> Decision:
    """Whether ``host`` (a name or address, never resolved here) may be reached.

    ``allow_hosts`` holds names, addresses and CIDR networks; ``*`` allows every host.
    """
    host = host.strip("[]").split("%", 1)[0].lower()
    if "*" in allow_hosts:
        return Decision(True, "network.allow_hosts contains '*' (any host)")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if address.is_loopback or _mapped_loopback(address):
            return Decision(True, "loopback")
        for entry in allow_hosts:
            with contextlib.suppress(ValueError):
                if address in ipaddress.ip_network(entry, strict=False):
                    return Decision(True, f"allowed by network.allow_hosts entry {entry!r}")
        return Decision(False, f"{host} is not loopback and not in network.allow_hosts")
    if host in LOOPBACK_NAMES:
        return Decision(True, "loopback name")
    if host in {entry.lower() for entry in allow_hosts}:
        return Decision(True, f"allowed by network.allow_hosts entry {host!r}")
    return Decision(False, f"host name {host!r} is not in network.allow_hosts")


def _mapped_loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(mapped and mapped.is_loopback)


def _host_of(address: object) -> str | None:
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        return address[0]
    return None  # AF_UNIX paths and other families are not network traffic


@contextlib.contextmanager
def guard_sockets(allow_hosts: Sequence[str] = ()) -> Iterator[None]:
    """Make ``socket.socket`` refuse connections the policy does not allow, while active."""
    originals = {name: getattr(socket.socket, name) for name in ("connect", "connect_ex", "sendto")}

    def check(sock: socket.socket, address: object) -> None:
        host = _host_of(address) if sock.family in (socket.AF_INET, socket.AF_INET6) else None
        if host is not None:
            decision = decide(host, allow_hosts)
            if not decision.allowed:
                raise NetworkBlocked(
                    f"proofyard network policy blocked a connection to {host}: {decision.reason}"
                )

    def connect(self, address):
        check(self, address)
        return originals["connect"](self, address)

    def connect_ex(self, address):
        check(self, address)
        return originals["connect_ex"](self, address)

    def sendto(self, data, *args):
        check(self, args[-1])
        return originals["sendto"](self, data, *args)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.socket.sendto = sendto
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(socket.socket, name, original)


@dataclass(frozen=True)
class SubprocessIsolation:
    """Whether subprocesses can be confined to loopback here, and how or why not."""

    enforced: bool
    detail: str


@functools.cache
def subprocess_isolation() -> SubprocessIsolation:
    """Probe once per process whether ``unshare`` can give a child a loopback-only namespace."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return SubprocessIsolation(False, "not enforced: the unshare command is missing")
    probe = [*_namespace_prefix(unshare), sys.executable, "-c", "pass"]
    try:
        result = subprocess.run(probe, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SubprocessIsolation(False, f"not enforced: probing unshare failed: {exc}")
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        return SubprocessIsolation(
            False,
            f"not enforced: unshare --net failed: {reason[-1] if reason else result.returncode}",
        )
    return SubprocessIsolation(True, "enforced: user+network namespace with loopback only")


def subprocess_policy(allow_hosts: Sequence[str] = (), enabled: bool = True) -> SubprocessIsolation:
    """How harness subprocesses are confined under this configuration.

    With ``allow_hosts`` configured a namespace would cut those hosts off too, so children
    then run unconfined and the isolation says so.
    """
    if not enabled:
        return SubprocessIsolation(False, "not enforced: disabled by network.isolate_subprocesses")
    if allow_hosts:
        return SubprocessIsolation(False, "not enforced: network.allow_hosts is set")
    return subprocess_isolation()


def isolated_argv(
    argv: Sequence[str], allow_hosts: Sequence[str] = (), enabled: bool = True
) -> tuple[list[str], SubprocessIsolation]:
    """``argv`` wrapped to run without a route beyond loopback, where the platform allows."""
    isolation = subprocess_policy(allow_hosts, enabled)
    if not isolation.enforced:
        return list(argv), isolation
    return [*_namespace_prefix(shutil.which("unshare") or "unshare"), *argv], isolation


def _namespace_prefix(unshare: str) -> list[str]:
    # -I keeps the helper's own folder (ops/) off sys.path, so nothing there shadows the stdlib.
    helper = Path(__file__).with_name("netns_exec.py")
    return [unshare, "--user", "--map-root-user", "--net", sys.executable, "-I", str(helper), "--"]
