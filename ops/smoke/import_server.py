"""A warm parent that forks one child per module import, so no import leaks into the next;
the docs suite sends it its code examples too, each request in a child of its own.

Run as a script (``python -I import_server.py PATH...``) it reads one JSON request per line
on stdin (``{"module": ..., "timeout_s": ...}``, or ``{"examples": SPEC, "cwd": ...,
"results": PATH, "timeout_s": ...}`` for ``ops/docs/example_runner.py``'s spec, its outcomes
written to PATH) and answers one JSON line on stdout.
Forking from this small, already started interpreter costs about a millisecond, where a
fresh interpreter per module costs its whole start-up; that is why it exists.
Only the standard library is imported here, so the children start from a clean slate.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import select
import signal
import sys
import tempfile
import time
import traceback

MAX_OUTPUT = 4000


LIMITS: dict[str, float | None] = {"memory_mb": None, "cpu_s": None}


def _limit_child() -> None:
    """The import's own ceilings: memory on top of what the warm parent holds, CPU time."""
    memory = LIMITS["memory_mb"]
    REAPER.apply_limits(memory and memory + REAPER.private_data_mb(), LIMITS["cpu_s"])


def _child(request: dict, result_fd: int, output_fd: int) -> None:
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.setpgid(0, 0)
    _limit_child()
    start = time.perf_counter()
    try:
        if "examples" in request:
            _examples(request)
        else:
            __import__(request["module"])
        answer = {"status": "ok", "seconds": time.perf_counter() - start}
    except BaseException as exc:  # the import's own failure is the result we report
        frames = traceback.format_exception(exc)
        message = str(exc)
        if isinstance(exc, MemoryError) and LIMITS["memory_mb"]:
            message = f"exceeded the memory limit ({LIMITS['memory_mb']:g} MB)"
        answer = {
            "status": "error",
            "seconds": time.perf_counter() - start,
            "type": type(exc).__name__,
            "message": message,
            "missing": getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
            "traceback": "".join(frames[-6:]),
        }
    os.write(result_fd, json.dumps(answer).encode())
    os._exit(0)


def _examples(request: dict) -> None:
    """As ``python -c RUNNER`` in the examples' folder would: that folder is importable and
    this server's own folder is not (the roots given to the server stay on the path)."""
    os.chdir(request["cwd"])
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [request["cwd"], *(p for p in sys.path if p != here)]
    _load("docs/example_runner").write_outcomes(request["examples"], request["results"])


def in_child(request: dict, timeout_s: float) -> dict:
    """Fork, serve ``request`` in the child (import its module, or run its examples), and
    return its report (or a timeout/crash one)."""
    read_fd, write_fd = os.pipe()
    output = tempfile.TemporaryFile()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(request, write_fd, output.fileno())
    os.close(write_fd)
    status, chunks = _await_child(pid, read_fd, start + timeout_s)
    os.close(read_fd)
    if status is None:  # timed out
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
    REAPER.end_tree(grace_s=0.5)  # whatever the import started dies with it
    wall = time.perf_counter() - start
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - MAX_OUTPUT))
    captured = output.read().decode(errors="replace")
    output.close()
    if status is None:
        return {"status": "timeout", "seconds": wall, "output": captured}
    if not b"".join(chunks):
        message = f"child ended with wait status {status} before reporting"
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
            message = f"exceeded the CPU-time limit ({LIMITS['cpu_s']:g} s)"
        return {"status": "crashed", "seconds": wall, "output": captured, "message": message}
    return {**json.loads(b"".join(chunks)), "wall_seconds": wall, "output": captured}


def _await_child(pid: int, read_fd: int, deadline: float) -> tuple[int | None, list[bytes]]:
    """The child's wait status (``None`` past ``deadline``) and its answer's bytes; the
    child's exit ends the wait, even while a process it forked still holds the pipe."""
    chunks: list[bytes] = []
    at_end = False
    while (remaining := deadline - time.perf_counter()) > 0:
        if at_end:
            time.sleep(min(remaining, 0.01))
        elif select.select([read_fd], [], [], min(remaining, 0.05))[0]:
            chunk = os.read(read_fd, 65536)
            chunks.append(chunk)
            at_end = not chunk
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status, chunks + _readable(read_fd)
    return None, chunks


def _readable(fd: int) -> list[bytes]:
    chunks = []
    while select.select([fd], [], [], 0)[0] and (chunk := os.read(fd, 65536)):
        chunks.append(chunk)
    return chunks


def _load(name: str):
    """``ops/NAME.py`` by path: the harness's folder must not join this server's sys.path,
    where the target's own ``ops`` package, if it has one, must win."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_proofyard_{name.replace('/', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


REAPER = _load("reaper")


def preload(specs: list[str]) -> None:
    """Import third-party dependencies once, in the warm parent: every child then starts
    with them loaded (never with any of the target's own modules), so each import time is
    the module's own cost. A spec is ``module`` or ``module:name,...``; taking the names
    loads what a package imports lazily on first access. A dependency that fails here is
    simply left to the children."""
    for spec in specs:
        name, _, names = spec.partition(":")
        try:
            module = importlib.import_module(name)
            for attribute in filter(None, names.split(",")):
                _take(module, attribute)
        except Exception as exc:  # the child that imports it reports it in full
            sys.stderr.write(f"import server: preloading {spec} failed: {exc!r}\n")


def _take(module: object, attribute: str) -> None:
    """``from module import attribute``: an attribute, or else a submodule."""
    try:
        getattr(module, attribute)
    except AttributeError:
        importlib.import_module(f"{module.__name__}.{attribute}")


def main(argv: list[str]) -> None:
    REAPER.become_subreaper()  # an import's setsid or double-forked children stay findable
    if "PROOFYARD_NETWORK_ALLOW" in os.environ:  # -I ignores PYTHONPATH: install it here
        _load("netguard").install()
    paths = [arg for arg in argv if not arg.startswith("--")]
    for arg in argv:
        name, _, value = arg.removeprefix("--").partition("=")
        if name in ("memory-mb", "cpu-s"):
            LIMITS[name.replace("-", "_")] = float(value)
    sys.path[:0] = paths
    preload([arg.split("=", 1)[1] for arg in argv if arg.startswith("--preload=")])
    for line in sys.stdin:
        request = json.loads(line)
        answer = in_child(request, float(request["timeout_s"]))
        sys.stdout.write(json.dumps({"module": request.get("module"), **answer}) + "\n")
        sys.stdout.flush()
    # nothing is left to flush: skip tearing down the preloaded modules (0.2 s per server)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
