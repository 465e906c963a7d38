"""Running commands: argv lists, no shell, a timeout that ends the whole process tree
(through :mod:`ops.reaper`), and output kept to a bounded tail."""

from __future__ import annotations

import atexit
import contextlib
import json
import multiprocessing
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops import netguard
from ops.lazy import lazy_module
from ops.netpolicy import SubprocessIsolation, isolated_argv
from ops.reaper import EXCEEDED, become_subreaper, private_data_mb

psutil = lazy_module("psutil")


@dataclass(frozen=True)
class CommandResult:
    """What a finished (or killed) command did."""

    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool
    isolation: SubprocessIsolation
    error: str | None = None
    limits: Limits = field(default_factory=lambda: NO_LIMITS)
    usage: dict[str, float] = field(default_factory=dict)  # peak_rss_mb, cpu_s (measure=True)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def exceeded(self) -> str | None:
        """The ceiling that stopped the command, if one did: as the reaper said it, or an
        allocation that failed under the memory ceiling."""
        for line in reversed(self.stderr.splitlines()):
            if line.startswith(EXCEEDED):
                return line.removeprefix("proofyard: ")
        tail = self.stderr[-4000:]
        if self.limits.memory_mb and self.returncode and any(m in tail for m in OUT_OF_MEMORY):
            return f"exceeded the memory limit ({self.limits.memory_mb:g} MB)"
        return None

    def describe(self) -> str:
        """One line saying how the command ended."""
        if self.error:
            return f"could not start {self.argv[0]!r}: {self.error}"
        if self.exceeded:
            return f"{self.exceeded}; exited {self.returncode} after {self.duration_s:.2f} s"
        if self.timed_out:
            return f"timed out after {self.duration_s:.1f} s and was killed (whole process tree)"
        return f"exited {self.returncode} after {self.duration_s:.2f} s"


PYTHON_PLACEHOLDER = "{python}"
HARNESS_PYTHON_PLACEHOLDER = "{harness_python}"
OUT_OF_MEMORY = ("MemoryError", "Cannot allocate memory", "bad_alloc", "out of memory")


def shell_argv(command: str | Sequence[str], shell: bool, python: str) -> list[str]:
    """A command from the config as argv: strings need ``shell: true`` to run through /bin/sh.

    An argv item ``{python}`` stands for the project's interpreter (``python``),
    ``{harness_python}`` for the one running the harness.
    """
    if isinstance(command, str):
        if not shell:
            raise ValueError(
                f"command {command!r} is a string: give an argv list or set shell: true"
            )
        return ["/bin/sh", "-c", command]
    named = {PYTHON_PLACEHOLDER: python, HARNESS_PYTHON_PLACEHOLDER: sys.executable}
    return [named.get(part, part) for part in command]


REAPER = Path(__file__).with_name("reaper.py")
OUTPUT_TAIL_BYTES = 4 << 20  # per stream: what a command prints past this is counted, not kept


@dataclass(frozen=True)
class Limits:
    """Ceilings for one process of the target's code: private memory and CPU time."""

    memory_mb: float | None = None
    cpu_s: float | None = None

    @classmethod
    def for_config(cls, section: Any) -> Limits:
        """``limits`` from the config; memory defaults to half the machine's, at most 2 GB."""
        memory = section.memory_mb
        if memory is None:
            memory = min(psutil.virtual_memory().total / 2 / (1 << 20), 2048.0)
        return cls(round(memory), section.cpu_s)

    def options(self) -> list[str]:
        """The reaper's (and the import server's) command-line options for these ceilings."""
        return [
            f"--{name.replace('_', '-')}={value:g}"
            for name, value in (("memory_mb", self.memory_mb), ("cpu_s", self.cpu_s))
            if value
        ]


NO_LIMITS = Limits()


def reset_high_water_mark() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux 4.0+); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return high_water_mark() > 0


def high_water_mark() -> int:
    """This process's peak RSS in bytes (the kernel's ``VmHWM``), 0 where it cannot be read."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


class LimitExceeded(Exception):
    """In-process work ran past a ceiling of :func:`soft_limits`."""


def _cpu_exceeded(_signum: int, _frame: object) -> None:
    raise LimitExceeded


@contextlib.contextmanager
def soft_limits(limits: Limits) -> Iterator[None]:
    """Ceilings for in-process work in a worker's main thread: ``limits.memory_mb`` more
    private memory than now (a MemoryError past it) and ``limits.cpu_s`` more CPU time
    (:class:`LimitExceeded`); the soft limits only, restored afterwards."""
    if not (limits.memory_mb or limits.cpu_s):
        yield
        return
    saved = {kind: resource.getrlimit(kind) for kind in (resource.RLIMIT_DATA, resource.RLIMIT_CPU)}
    previous = signal.signal(signal.SIGXCPU, _cpu_exceeded)
    try:
        if limits.memory_mb:
            soft = int((private_data_mb() + limits.memory_mb) * (1 << 20))
            _set_soft(resource.RLIMIT_DATA, soft)
        if limits.cpu_s:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            _set_soft(resource.RLIMIT_CPU, int(usage.ru_utime + usage.ru_stime + limits.cpu_s) + 1)
        yield
    finally:
        for kind, value in saved.items():
            resource.setrlimit(kind, value)
        signal.signal(signal.SIGXCPU, previous)


def _set_soft(kind: int, soft: int) -> None:
    hard = resource.getrlimit(kind)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(kind, (soft, hard))


def supervised_argv(
    argv: Sequence[str],
    grace_s: float = 2.0,
    limits: Limits = NO_LIMITS,
    usage_file: Path | None = None,
) -> list[str]:
    """``argv`` run under :mod:`ops.reaper`: its whole process tree, setsid and double-forked
    children included, ends with it, at a stop, or when this process dies (Linux); each of
    its processes under ``limits``; its peak RSS and CPU time written to ``usage_file``."""
    if not sys.platform.startswith("linux"):
        return list(argv)
    # -S: the reaper needs the stdlib only, and site costs ~30 ms of every command (measured)
    reaper = [sys.executable, "-I", "-S", str(REAPER), str(os.getpid()), f"{grace_s:g}"]
    extra = [f"--usage-file={usage_file}"] if usage_file else []
    return [*reaper, *limits.options(), *extra, "--", *argv]


class OutputTail:
    """The last ``limit`` bytes of a stream, and how many bytes before them were dropped."""

    def __init__(self, limit: int) -> None:
        self.limit, self.dropped = limit, 0
        self._data = bytearray()

    def add(self, chunk: bytes) -> None:
        self._data += chunk
        if len(self._data) > 2 * self.limit:  # trimmed in batches: amortised O(1) a byte
            self._trim()

    def _trim(self) -> None:
        cut = max(0, len(self._data) - self.limit)
        del self._data[:cut]
        self.dropped += cut

    def text(self) -> str:
        self._trim()
        body = self._data.decode(errors="replace")
        if self.dropped:
            return f"[proofyard: {self.dropped} earlier bytes of output dropped]\n{body}"
        return body


def run_command(
    argv: Sequence[str],
    *,
    timeout_s: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    allow_hosts: Sequence[str] = (),
    isolate: bool = True,
    grace_s: float = 2.0,
    input_text: str | None = None,
    on_start: Callable[[int], None] | None = None,
    output_limit: int = OUTPUT_TAIL_BYTES,
    limits: Limits = NO_LIMITS,
    measure: bool = False,
) -> CommandResult:
    """Run ``argv`` in its own session under the network policy and the reaper; never raises
    for the command. At the timeout its whole tree is stopped; output is kept to a tail.
    With ``measure``, the result's ``usage`` holds the command's peak RSS and CPU time
    (Linux)."""
    with (
        tempfile.TemporaryDirectory(prefix="proofyard-usage-")
        if measure
        else contextlib.nullcontext(None)
    ) as folder:
        usage_file = Path(folder) / "usage.json" if folder else None
        wrapped, isolation = isolated_argv(argv, allow_hosts, enabled=isolate)
        full_env = netguard.carried({**os.environ, **(env or {})})
        start = time.perf_counter()
        try:
            stdin = subprocess.DEVNULL if input_text is None else subprocess.PIPE
            process = subprocess.Popen(
                supervised_argv(wrapped, grace_s, limits, usage_file),
                cwd=cwd,
                env=full_env,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            return CommandResult(list(argv), None, "", "", 0.0, False, isolation, str(exc))
        if on_start is not None:
            on_start(process.pid)  # the process group to kill if the caller must stop it
        tails = {process.stdout: OutputTail(output_limit), process.stderr: OutputTail(output_limit)}
        if input_text is not None:
            _feed(process, input_text.encode())
        timed_out = not _drain(process, tails, time.monotonic() + timeout_s)
        if timed_out:
            stop_process_group(process, grace_s)
            _drain(process, tails, time.monotonic() + grace_s + 2.0)
        _close(process, tails)
        out, err = tails.values()
        return CommandResult(
            list(argv),
            process.returncode,
            out.text(),
            err.text(),
            time.perf_counter() - start,
            timed_out,
            isolation,
            limits=limits,
            usage=_usage(usage_file),
        )


def _usage(path: Path | None) -> dict[str, float]:
    """The reaper's usage figures, when it was asked for them and wrote them."""
    if path is None:
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _feed(process: subprocess.Popen, payload: bytes) -> None:
    """Write the input from a thread, so a command that prints before reading cannot block."""

    def write() -> None:
        assert process.stdin is not None
        try:
            process.stdin.write(payload)
            process.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    threading.Thread(target=write, daemon=True).start()


def _drain(process: subprocess.Popen, tails: dict, deadline: float) -> bool:
    """Read both pipes until they close and the process exits; False at ``deadline``."""
    with selectors.DefaultSelector() as selector:
        for stream in tails:
            if stream is not None and not stream.closed:
                selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, _ in selector.select(min(left, 0.5)):
                chunk = os.read(key.fd, 1 << 16)
                if chunk:
                    tails[key.fileobj].add(chunk)
                else:
                    selector.unregister(key.fileobj)
    try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def _close(process: subprocess.Popen, tails: dict) -> None:
    for stream in tails:
        if stream is not None:
            stream.close()
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def stop_process_group(process: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the process's group; SIGKILL it when it is still there a second after the
    reaper's own ``grace_s`` (the reaper needs that long to end the tree below it)."""
    for sig, wait_s in ((signal.SIGTERM, grace_s + 1.0), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def adopt_orphans() -> bool:
    """Make this process a child subreaper, and end whatever is left below it at exit.

    Processes that in-process work starts and abandons (a multiprocessing worker's child,
    a ``module:function`` step's ``&`` child) are then re-parented here rather than to
    init, and :func:`end_descendants` finds them.
    """
    if not become_subreaper():
        return False
    atexit.register(end_descendants)
    return True


# multiprocessing's helpers (``python -c 'from multiprocessing.X import main; ...'``)
MULTIPROCESSING_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def end_descendants(grace_s: float = 2.0) -> int:
    """SIGTERM every process below this one, SIGKILL those alive ``grace_s`` later.

    multiprocessing's resource tracker and forkserver are left alone: they end by themselves
    once this process's pipes to them close, and the tracker ignores SIGTERM, so waiting on
    it cost the whole grace at the exit of every command that had used a process pool."""
    try:
        tree = [p for p in psutil.Process().children(recursive=True) if not _helper(p)]
    except psutil.Error:
        return 0
    for process in tree:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    return len(tree)


def _helper(process: psutil.Process) -> bool:
    """One of multiprocessing's own helper processes (see MULTIPROCESSING_HELPERS)."""
    try:
        arguments = process.cmdline()[1:]
    except psutil.Error:
        return False
    starts = tuple(f"from {module} import main" for module in MULTIPROCESSING_HELPERS)
    return any(argument.startswith(starts) for argument in arguments)


def worker_pool(workers: int, start_method: str) -> ProcessPoolExecutor:
    """A process pool whose workers, and what they start, end with this process; each
    worker runs in this process's environment as it is now, network policy included."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(start_method),
        initializer=start_worker,
        initargs=(os.getpid(), dict(os.environ)),
    )


def start_worker(pid: int, environ: dict[str, str]) -> None:
    """A pool worker's initializer: the environment of the pool's maker (a forkserver
    started earlier, see :func:`prestart_forkserver`, holds an older one), its network
    policy in force before any work arrives, and this worker's end tied to ``pid``'s."""
    os.environ.clear()
    os.environ.update(environ)
    if netguard.ALLOW_ENV in environ:
        netguard.install()
    die_with(pid)


def prestart_forkserver(preload: Sequence[str] = ()) -> None:
    """Start multiprocessing's forkserver in the background, ``preload`` imported in it, so
    a ``forkserver`` pool made later finds it running and its workers start with those
    modules: that start (~0.1 s) overlaps the caller's own (the config's load). It only
    forks workers, which take their environment from :func:`start_worker`."""
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(list(preload))
    threading.Thread(
        target=forkserver.ensure_running, name="proofyard-forkserver", daemon=True
    ).start()


def die_with(pid: int, poll_s: float = 0.5) -> None:
    """A pool worker's initializer: once process ``pid`` (the harness) is gone, even by
    kill -9, end what this worker started and exit.

    A parent-death signal cannot do it: a forkserver worker's parent is the forkserver, which
    itself waits for its workers to close the pipe that tells it the harness is gone.
    """
    become_subreaper()

    def watch() -> None:
        while _alive(pid):
            time.sleep(poll_s)
        end_descendants(grace_s=1.0)
        os._exit(1)

    threading.Thread(target=watch, name="proofyard-die-with", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
