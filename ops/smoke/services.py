"""Start a service, wait for readiness with backoff, probe it, stop its process group."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ops import netguard
from ops.config.schema import ProbeCheck, ServiceCheck
from ops.netpolicy import decide
from ops.proc import shell_argv, stop_process_group, supervised_argv

LOG_TAIL_BYTES = 8000


class ServiceError(Exception):
    """The service could not be started or never became ready."""


@dataclass(frozen=True)
class ProbeResult:
    probe: ProbeCheck
    status: int | None
    latency_ms: float
    problems: tuple[str, ...]


def _loopback_only(host: str, what: str) -> None:
    decision = decide(host)
    if not decision.allowed:
        raise ServiceError(f"{what}: services are probed on loopback only ({decision.reason})")


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _http_status(url: str, method: str = "GET", timeout: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class RunningService:
    """A started service; a context manager that always stops the whole process group."""

    def __init__(
        self, spec: ServiceCheck, cwd: Path, python: str, env: dict[str, str] | None = None
    ) -> None:
        """``python``: the project's interpreter, for ``{python}`` in the service's argv."""
        self.spec = spec
        self.python = python
        self.base_url: str | None = None
        self.port: int | None = None
        if spec.ready_pattern:
            pass  # the address is read from the service's output once it prints it
        elif spec.ready_url:
            parts = urlsplit(spec.ready_url)
            _loopback_only(parts.hostname or "", f"service {spec.name}: ready_url")
            self.base_url = f"{parts.scheme}://{parts.netloc}"
            self.port = parts.port or (443 if parts.scheme == "https" else 80)
        elif spec.ready_port:
            self.base_url = f"http://127.0.0.1:{spec.ready_port}"
            self.port = spec.ready_port
        else:
            raise ServiceError(f"service {spec.name}: give ready_url, ready_port or ready_pattern")
        if self.port is not None and _port_open(self.port):
            raise ServiceError(
                f"service {spec.name}: port {self.port} on 127.0.0.1 is already "
                "in use before the service started"
            )
        self._log = tempfile.TemporaryFile()
        full_env = netguard.carried({**os.environ, **(env or {}), **spec.env})
        try:
            self.process = subprocess.Popen(
                supervised_argv(shell_argv(spec.run, False, python), spec.stop_grace_s),
                cwd=Path(cwd, spec.cwd or "."),
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServiceError(
                f"service {spec.name}: cannot start {spec.run[0]!r}: {exc}"
            ) from None

    def wait_ready(self) -> float:
        """Poll readiness with exponential backoff until ``timeout_s``; return the seconds it
        took. Ready means the expected answer (see ``ready_status``), not any answer."""
        start = time.perf_counter()
        delay = 0.02
        last = "no answer"
        while True:
            code = self.process.poll()
            if code is not None:
                raise ServiceError(f"service {self.spec.name}: exited early with code {code}")
            if self.base_url is None:
                self._address()
                ready, last = False, f"no match of /{self.spec.ready_pattern}/ in its output"
            else:
                ready, last = self._ready()
            if ready:
                return time.perf_counter() - start
            if time.perf_counter() - start > self.spec.timeout_s:
                raise ServiceError(
                    f"service {self.spec.name}: not ready after {self.spec.timeout_s:g} s "
                    f"(last answer: {last})"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _address(self) -> None:
        """Take the service's address from its output (``ready_pattern``), once printed."""
        match = re.search(self.spec.ready_pattern or "", self.output())
        if match is None:
            return
        found = match.groupdict()
        if found.get("url"):
            parts = urlsplit(found["url"])
            host, port = parts.hostname or "", parts.port
            scheme = parts.scheme or "http"
        else:
            host, port, scheme = "127.0.0.1", int(found["port"]), "http"
        _loopback_only(host, f"service {self.spec.name}: the address it printed")
        if not port:
            raise ServiceError(f"service {self.spec.name}: no port in {match.group(0)!r}")
        self.port = port
        self.base_url = f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}"

    def _ready_url(self) -> str | None:
        url = self.spec.ready_url
        if url and url.startswith("/") and self.base_url:
            return self.base_url + url
        return url

    def _ready(self) -> tuple[bool, str]:
        """Whether the service is ready, and what it last answered."""
        url = self._ready_url()
        if not url:
            return _port_open(self.port), f"port {self.port} closed"
        try:
            status, _ = _http_status(url, timeout=1.0)
        except (OSError, urllib.error.URLError) as exc:
            return False, f"{getattr(exc, 'reason', exc)}"
        expected = self.spec.ready_status or (
            self.spec.probes[0].expect_status if self.spec.probes else None
        )
        ready = status == expected if expected else status < 500
        return ready, f"status {status}" + (f", expected {expected}" if expected else "")

    def probe(self, probe: ProbeCheck) -> ProbeResult:
        start = time.perf_counter()
        problems = []
        status = None
        try:
            status, body = _http_status(self.base_url + probe.path, probe.method)
        except (OSError, urllib.error.URLError) as exc:
            latency = (time.perf_counter() - start) * 1000
            return ProbeResult(probe, None, latency, (f"request failed: {exc}",))
        latency = (time.perf_counter() - start) * 1000
        if status != probe.expect_status:
            problems.append(f"status {status} after ready, expected {probe.expect_status}")
        if latency > probe.max_latency_ms:
            problems.append(f"latency {latency:.1f} ms over {probe.max_latency_ms:g} ms")
        if probe.expect_json:
            problems += _json_problems(body, probe.expect_json)
        return ProbeResult(probe, status, latency, tuple(problems))

    def output(self) -> str:
        size = self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, size - LOG_TAIL_BYTES))  # the tail only, however much it wrote
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            stop_process_group(self.process, self.spec.stop_grace_s)

    def __enter__(self) -> RunningService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._log.close()


def _json_problems(body: bytes, expected: dict[str, Any]) -> list[str]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ["body is not JSON"]
    if not isinstance(data, dict):
        return ["JSON body is not an object"]
    return [
        f"JSON field {key!r} is {data.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if data.get(key) != value
    ]
