"""The network policy's decision and its enforcement inside any Python process.

Standard library only, so it also loads (by path, see ``ops/netguard_site``) in every
Python child the harness starts, whatever interpreter and environment the child runs in.
The guard is an audit hook (PEP 578): every ``connect``, ``sendto`` and ``sendmsg`` of an
internet socket raises the ``socket.*`` audit event before anything leaves the process,
including sockets made through ``_socket`` directly, which a patched ``socket.socket``
never sees. The allowed hosts are read from ``PROOFYARD_NETWORK_ALLOW`` (JSON) at each
call: the policy is the environment's, inherited by every child.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

ALLOW_ENV = "PROOFYARD_NETWORK_ALLOW"
GUARDED_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
INTERNET = (socket.AF_INET, socket.AF_INET6)
SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netguard_site")


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


@functools.cache
def _allowed_addresses(names: tuple[str, ...]) -> frozenset[str]:
    """The addresses the allowed host names resolve to (a connection is made to these)."""
    found = set()
    for name in names:
        with contextlib.suppress(OSError, UnicodeError):
            found |= {info[4][0] for info in socket.getaddrinfo(name, None)}
    return frozenset(found)


@functools.cache
def _parsed(spec: str) -> tuple[str, ...]:
    value = json.loads(spec)
    return tuple(str(entry) for entry in value) if isinstance(value, list) else ()


def check(host: str, allow_hosts: Sequence[str]) -> None:
    """Raise :class:`NetworkBlocked` naming ``host`` and the policy unless it is allowed."""
    decision = decide(host, allow_hosts)
    if decision.allowed:
        return
    names = tuple(entry for entry in allow_hosts if not _is_network(entry) and entry != "*")
    if names and host.strip("[]") in _allowed_addresses(names):
        return
    raise NetworkBlocked(
        f"proofyard network policy blocked a connection to {host}: {decision.reason}"
    )


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def audit(event: str, args: tuple) -> None:
    """The audit hook: the policy in ``$PROOFYARD_NETWORK_ALLOW``, when set, on each send."""
    if event not in GUARDED_EVENTS:
        return
    spec = os.environ.get(ALLOW_ENV)
    if spec is None or len(args) < 2:
        return
    sock, address = args[0], args[-1]
    if getattr(sock, "family", None) not in INTERNET:
        return
    host = _host_of(address)
    if host is not None:
        check(host, _parsed(spec))


@functools.cache
def install() -> None:
    """Add the audit hook to this process, once (hooks cannot be removed: it reads the
    policy from the environment at each call, and does nothing while none is set)."""
    sys.addaudithook(audit)


def child_environment(allow_hosts: Sequence[str], environ: dict[str, str]) -> dict[str, str]:
    """The variables that carry the policy into Python children: the allowed hosts, and
    ``netguard_site`` first on ``PYTHONPATH`` (its ``sitecustomize`` installs this guard)."""
    path = [SITE_DIR, *[p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    return {
        ALLOW_ENV: json.dumps(list(allow_hosts)),
        "PYTHONPATH": os.pathsep.join(dict.fromkeys(path)),
    }


def carried(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` for a child, the policy in force here carried into it: a caller's own
    ``PYTHONPATH`` keeps ``netguard_site`` first."""
    spec = environ.get(ALLOW_ENV, os.environ.get(ALLOW_ENV))
    if spec is None:
        return environ
    return {**environ, **child_environment(_parsed(spec), environ)}


@contextlib.contextmanager
def enforced(allow_hosts: Sequence[str] = ()) -> Iterator[None]:
    """The policy in force in this process and every child it starts, while active."""
    install()
    added = child_environment(allow_hosts, dict(os.environ))
    previous = {name: os.environ.get(name) for name in added}
    os.environ.update(added)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
