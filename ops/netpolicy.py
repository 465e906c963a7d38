"""The hermetic network policy: loopback only, unless the config allows more hosts.

``decide`` is the pure decision; ``guard_sockets`` applies it to this process's sockets and
``isolated_argv`` to subprocesses (a fresh user+network namespace with only loopback up).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from ops import netguard
from ops.netguard import NetworkBlocked, decide

__all__ = ["NetworkBlocked", "decide", "guard_sockets", "isolated_argv", "subprocess_policy"]


@contextlib.contextmanager
def guard_sockets(allow_hosts: Sequence[str] = ()) -> Iterator[None]:
    """The policy in force in this process (an audit hook) and, through the environment,
    in every Python child it starts, while active (see :mod:`ops.netguard`)."""
    with netguard.enforced(allow_hosts):
        yield


@dataclass(frozen=True)
class SubprocessIsolation:
    """Whether subprocesses can be confined to loopback here, and how or why not."""

    enforced: bool
    detail: str


def subprocess_isolation() -> SubprocessIsolation:
    """Whether ``unshare`` can give a child a loopback-only namespace (probed once per
    process, see :func:`start_isolation_probe`)."""
    return _isolation_probe().result()


def start_isolation_probe() -> None:
    """Start the probe in the background: a subprocess in a new namespace, ~50 ms that
    then overlap the caller's own work (a pytest session's) instead of adding to it."""
    _isolation_probe()


@functools.cache
def _isolation_probe() -> Future[SubprocessIsolation]:
    probe: Future[SubprocessIsolation] = Future()

    def run() -> None:
        try:
            probe.set_result(_probe_unshare())
        except BaseException as exc:  # the caller of .result() sees it
            probe.set_exception(exc)

    threading.Thread(target=run, name="proofyard-unshare-probe", daemon=True).start()
    return probe


# a forked child has no probe thread: it probes again rather than wait on one that is gone
os.register_at_fork(after_in_child=_isolation_probe.cache_clear)


def _probe_unshare() -> SubprocessIsolation:
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
    # -I keeps the helper's own folder (ops/) off sys.path, so nothing there shadows the stdlib;
    # -S skips site (the helper needs the stdlib only): ~30 ms of every command it wraps.
    helper = Path(__file__).with_name("netns_exec.py")
    python = [sys.executable, "-I", "-S", str(helper), "--"]
    return [unshare, "--user", "--map-root-user", "--net", *python]
