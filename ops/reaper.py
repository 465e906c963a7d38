"""Run one command and make sure nothing it started outlives it.

``python -I reaper.py PARENT_PID -- ARGV...`` becomes a child subreaper
(``prctl(PR_SET_CHILD_SUBREAPER)``), so every process the command forks, double-forks or
moves into a session of its own is re-parented here when its parent dies, instead of to
init, and stays findable. The reaper ends that whole tree when:

- the command's own process exits (a ``&`` or setsid child, a daemonized server: all go);
- it receives SIGTERM or SIGINT (the harness's timeout or stop): SIGTERM to the tree, then
  SIGKILL after the grace period;
- the harness that started it dies (even by kill -9): its parent pid changes.

Its exit status is the command's (a command killed by a signal makes the reaper die of the
same signal). It runs with ``-I`` and imports only the standard library, so it starts fast
and nothing in the target's folders can shadow what it needs; it cannot use psutil for the
same reason, and reads the tree from every process's parent in ``/proc``
(``/proc/PID/task/TID/children`` needs a kernel option some platforms lack).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
POLL_S = 0.25  # how often the parent is checked; a child's exit wakes the loop at once


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux); False where the platform cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _live_parents() -> dict[int, int]:
    """pid -> parent pid of every process that is not a zombie, read from ``/proc``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if fields[0] != b"Z":
            parents[int(entry)] = int(fields[1])
    return parents


def descendants_of(pid: int) -> list[int]:
    """Every live process below ``pid``."""
    below: dict[int, list[int]] = {}
    for child, parent in _live_parents().items():
        below.setdefault(parent, []).append(child)
    tree, queue = [], list(below.get(pid, ()))
    while queue:
        child = queue.pop()
        tree.append(child)
        queue += below.get(child, ())
    return tree


def signal_tree(sig: int) -> int:
    """Send ``sig`` to every descendant (stopped ones are continued so they can die)."""
    tree = descendants_of(os.getpid())
    for pid in tree:
        try:
            os.kill(pid, sig)
            if sig == signal.SIGTERM:
                os.kill(pid, signal.SIGCONT)
        except OSError:
            pass
    return len(tree)


def reap() -> list[tuple[int, int, resource.struct_rusage]]:
    """Collect every exited child without blocking: (pid, status, usage)."""
    done = []
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done.append((pid, status, usage))


def end_tree(grace_s: float) -> None:
    """SIGTERM the whole tree, wait up to ``grace_s`` seconds, then SIGKILL what is left."""
    if signal_tree(signal.SIGTERM):
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            reap()
            if not descendants_of(os.getpid()):
                break
            time.sleep(0.02)
    while signal_tree(signal.SIGKILL):
        time.sleep(0.01)
        reap()
    reap()


class _Stop(Exception):
    pass


def _stop(_signum: int, _frame: object) -> None:
    raise _Stop


def supervise(
    parent: int, argv: list[str], grace_s: float
) -> tuple[int, resource.struct_rusage | None]:
    """Run ``argv``; the status to exit with (negative: die of that signal) and the
    command's own resource usage."""
    become_subreaper()
    status: int | None = None
    usage = None
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # SIGCHLD blocked here, so sigtimedwait wakes the moment a child exits; the command
    # starts with an empty mask and default handlers
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    try:
        child = os.posix_spawnp(
            argv[0], argv, os.environ, setsigmask=(), setsigdef=(signal.SIGTERM, signal.SIGINT)
        )
    except OSError as exc:
        print(f"proofyard: cannot start {argv[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127, None
    try:
        while status is None:
            for pid, raw, rusage in reap():
                if pid == child:
                    status, usage = os.waitstatus_to_exitcode(raw), rusage
            if status is None:
                if os.getppid() != parent:
                    status = -signal.SIGKILL  # the harness is gone: nobody reads the result
                    break
                signal.sigtimedwait({signal.SIGCHLD}, POLL_S)
    except _Stop:
        status = -signal.SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    end_tree(grace_s)
    return status, usage


EXCEEDED = "proofyard: exceeded the"  # how the harness recognises a ceiling that stopped it


def private_data_mb() -> float:
    """This process's private data already in use (VmData: what RLIMIT_DATA counts)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def apply_limits(memory_mb: float | None, cpu_s: float | None) -> None:
    """Ceilings this process and its children inherit: private memory and CPU time."""
    if memory_mb:
        limit = int(memory_mb * (1 << 20))
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    if cpu_s:
        seconds = max(1, int(cpu_s))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))


def _report_limits(status: int, usage: resource.struct_rusage | None, limits: dict) -> None:
    """Say which ceiling a failed command ran into, on its stderr, for the harness."""
    if status == 0 or usage is None:
        return
    cpu = usage.ru_utime + usage.ru_stime
    peak_mb = usage.ru_maxrss / 1024
    if limits["cpu_s"] and (status == -signal.SIGXCPU or cpu >= limits["cpu_s"]):
        print(f"{EXCEEDED} CPU-time limit ({limits['cpu_s']:g} s)", file=sys.stderr)
    elif limits["memory_mb"] and peak_mb >= 0.8 * limits["memory_mb"]:
        print(
            f"{EXCEEDED} memory limit ({limits['memory_mb']:g} MB; peak RSS {peak_mb:.0f} MB)",
            file=sys.stderr,
        )


def _write_usage(path: str | None, usage: resource.struct_rusage | None) -> None:
    """The command's peak RSS (its largest process waited for: Linux's wait4 merges the
    descendants' high-water marks) and CPU time, as JSON, for the harness."""
    if not path or usage is None:
        return
    figures = {
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 4),
    }
    try:
        with open(path, "w") as handle:
            import json  # here: ~14 ms of every command's start, for a rare extra

            handle.write(json.dumps(figures))
    except OSError:
        pass  # the figures are extras; the command's own result stands


def main(args: list[str]) -> int:
    limits: dict = {"memory_mb": None, "cpu_s": None}
    usage_file = None
    while args[2:3] and args[2].startswith("--") and args[2] != "--":
        name, _, value = args.pop(2)[2:].partition("=")
        if name == "usage-file":
            usage_file = value
        else:
            limits[name.replace("-", "_")] = float(value)
    if len(args) < 4 or args[2] != "--":
        print(
            "usage: reaper.py PARENT_PID GRACE_S [--memory-mb=N] [--cpu-s=N] [--usage-file=PATH]"
            " -- COMMAND [ARGS...]",
            file=sys.stderr,
        )
        return 2
    parent, grace_s, argv = int(args[0]), float(args[1]), args[3:]
    if os.getppid() != parent:
        return 125  # the harness died before this started
    apply_limits(limits["memory_mb"], limits["cpu_s"])
    status, usage = supervise(parent, argv, grace_s)
    _report_limits(status, usage, limits)
    _write_usage(usage_file, usage)
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        time.sleep(1)
        return 128 - status
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
