"""One sample of the machine and of a process tree, through psutil (and NVML for GPUs).

A process that vanishes between listing and reading is skipped; permission errors leave
that figure out. Nothing here raises for the machine's state.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ops.env.facts import gpu_info
from ops.lazy import lazy_module

psutil = lazy_module("psutil")


@dataclass
class _Rates:
    """Byte counters turned into per-second rates between two samples."""

    last: dict[str, float] = field(default_factory=dict)
    at: float | None = None

    def update(self, counters: dict[str, float], now: float) -> dict[str, float]:
        rates = {}
        if self.at is not None and now > self.at:
            rates = {
                key: max(0.0, (value - self.last.get(key, value)) / (now - self.at))
                for key, value in counters.items()
            }
        self.last, self.at = counters, now
        return rates


TREE_REFRESH_S = 1.0
HOST_REFRESH_S = 2.0  # the machine's process table and sensors: read at most this often


class Sampler:
    """Samples system figures and the tree under ``root_pid`` (default: this process);
    with ``host`` the machine only, no tree. ``top`` is how many of the machine's processes
    are listed by CPU and by memory (0: none)."""

    def __init__(
        self,
        root_pid: int | None = None,
        disk_paths: Sequence[str] = ("/",),
        gpu: bool = True,
        exclude_pids: Sequence[int] = (),
        *,
        host: bool = False,
        top: int = 5,
    ) -> None:
        self.root = psutil.Process(root_pid or os.getpid())
        self.host = host
        self.top = top
        self._host_view: dict[str, Any] = {}
        self._host_at = -1e9
        self.exclude_pids = set(exclude_pids)  # a sampler watching its own parent leaves itself out
        self.disk_paths = list(disk_paths)
        self._processes: dict[int, psutil.Process] = {}
        self._members: list[psutil.Process] = []
        self._listed_at = -1e9
        self._disk = _Rates()
        self._net = _Rates()
        self.errors: list[str] = []
        self._gpu = _Gpu() if gpu else None
        psutil.cpu_percent(percpu=True)  # the first call only primes the counters

    def _note(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    def sample(self) -> dict[str, Any]:
        now = time.time()
        per_core = psutil.cpu_percent(percpu=True)
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        data: dict[str, Any] = {
            "time": now,
            "cpu": {"total": round(sum(per_core) / len(per_core), 2), "per_core": per_core},
            "memory": {
                "percent": memory.percent,
                "used_mb": round(memory.used / 2**20, 1),
                "available_mb": round(memory.available / 2**20, 1),
            },
            "swap": {"percent": swap.percent, "used_mb": round(swap.used / 2**20, 1)},
            "load": dict(zip(("1m", "5m", "15m"), os.getloadavg(), strict=True)),
            "disk": self._disks(),
            "disk_io": self._disk.update(_io_counters(psutil.disk_io_counters()), now),
            "net_io": self._net.update(_io_counters(psutil.net_io_counters()), now),
            **self._machine(),
        }
        if not self.host:
            data["process"] = self._tree()
        if self._gpu is not None:
            data["gpu"] = self._gpu.sample()
        return data

    def _machine(self) -> dict[str, Any]:
        """Process count, the top processes and temperatures: refreshed every
        ``HOST_REFRESH_S`` (a scan of every process costs more than the rest of a sample)."""
        now = time.monotonic()
        if now - self._host_at >= HOST_REFRESH_S:
            self._host_view = {"system": {"processes": len(psutil.pids())}}
            if self.top:
                self._host_view["top"] = top_processes(self.top)
            temperatures = _temperatures()
            if temperatures:
                self._host_view["temperature"] = temperatures
            self._host_at = now
        return self._host_view

    def _disks(self) -> dict[str, float]:
        usage = {}
        for path in self.disk_paths:
            try:
                usage[path] = psutil.disk_usage(path).percent
            except OSError as exc:
                self._note(f"disk usage of {path}: {exc}")
        return usage

    def _tree_members(self) -> list[psutil.Process]:
        """The root and its descendants, listed at most once a second (listing was half the
        cost of a sample at 10 Hz)."""
        now = time.monotonic()
        if not self.root.is_running():
            raise psutil.NoSuchProcess(self.root.pid)
        if now - self._listed_at >= TREE_REFRESH_S:
            children = descendants(self.root)
            self._members = [self.root, *(p for p in children if p.pid not in self.exclude_pids)]
            self._listed_at = now
        return self._members

    def _tree(self) -> dict[str, Any]:
        """CPU %, RSS, threads and open files summed over the root and its descendants."""
        try:
            members = self._tree_members()
        except psutil.NoSuchProcess:
            return {"alive": False, "processes": 0}
        totals = {
            "alive": True,
            "processes": 0,
            "cpu_percent": 0.0,
            "rss_mb": 0.0,
            "threads": 0,
            "open_files": 0,
        }
        seen = set()
        for process in members:
            tracked = self._processes.setdefault(process.pid, process)
            seen.add(process.pid)
            try:
                with tracked.oneshot():
                    totals["cpu_percent"] += tracked.cpu_percent()
                    totals["rss_mb"] += tracked.memory_info().rss / 2**20
                    totals["threads"] += tracked.num_threads()
                    try:
                        totals["open_files"] += len(tracked.open_files())
                    except psutil.AccessDenied:
                        self._note(f"open files of pid {process.pid}: access denied")
                totals["processes"] += 1
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue  # it ended between listing and reading
            except psutil.AccessDenied:
                self._note(f"pid {process.pid}: access denied")
        for pid in set(self._processes) - seen:
            del self._processes[pid]  # keep long-lived Process objects only for live pids
        totals["cpu_percent"] = round(totals["cpu_percent"], 2)
        totals["rss_mb"] = round(totals["rss_mb"], 2)
        return totals


def top_processes(count: int) -> dict[str, list[dict[str, Any]]]:
    """The machine's ``count`` busiest processes by CPU % and by RSS. psutil keeps the
    Process objects of ``process_iter`` between calls, so CPU % is over the last interval
    (0.0 for a process seen for the first time)."""
    rows = []
    for process in psutil.process_iter(["name", "cpu_percent", "memory_info"]):
        info = process.info
        if info.get("memory_info") is None:
            continue  # access denied, or it ended while listed
        rows.append(
            {
                "pid": process.pid,
                "name": info.get("name") or "?",
                "cpu_percent": round(info.get("cpu_percent") or 0.0, 1),
                "rss_mb": round(info["memory_info"].rss / 2**20, 1),
            }
        )
    busy = [row for row in rows if row["cpu_percent"] > 0]
    by_cpu = sorted(busy, key=lambda row: (-row["cpu_percent"], row["pid"]))[:count]
    by_memory = sorted(rows, key=lambda row: (-row["rss_mb"], row["pid"]))[:count]
    return {"cpu": by_cpu, "memory": by_memory}


def _temperatures() -> dict[str, float]:
    """The hottest current reading of each sensor group and overall (°C); empty where the
    platform has no sensors psutil can read (most VMs)."""
    reader = getattr(psutil, "sensors_temperatures", None)
    try:
        groups = reader() if reader else {}
    except (OSError, RuntimeError):
        return {}
    hottest = {
        name: max(entry.current for entry in entries) for name, entries in groups.items() if entries
    }
    if not hottest:
        return {}
    return {"max_c": max(hottest.values()), **hottest}


def descendants(root: psutil.Process) -> list[psutil.Process]:
    """The root's descendants. Where Linux lists each thread's children in /proc, only the
    tree's own entries are read; psutil's ``children()`` reads every process's stat file
    (2.2 ms of a 3.4 ms sample on a machine with 64 processes, and it grows with the machine)."""
    if not _PROC_CHILDREN:
        return root.children(recursive=True)
    found, queue = [], [root.pid]
    while queue:
        pid = queue.pop()
        for child in _child_pids(pid):
            try:
                found.append(psutil.Process(child))
            except psutil.NoSuchProcess:
                continue  # ended while the tree was being listed
            queue.append(child)
    return found


def _child_pids(pid: int) -> list[int]:
    children: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                children += [int(field) for field in handle.read().split()]
    except OSError:
        return children  # the process or one of its threads ended meanwhile
    return children


_PROC_CHILDREN = os.path.exists(f"/proc/self/task/{os.getpid()}/children")


def _io_counters(counters: Any) -> dict[str, float]:
    if counters is None:
        return {}
    return {
        "read_bytes": getattr(counters, "read_bytes", getattr(counters, "bytes_recv", 0)),
        "write_bytes": getattr(counters, "write_bytes", getattr(counters, "bytes_sent", 0)),
    }


class _Gpu:
    """NVML handles opened once; 'no GPU' stated once when the library or driver is missing."""

    def __init__(self) -> None:
        info = gpu_info()
        self.detail = info.detail
        self.handles: list[Any] = []
        if info.available:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handles = [
                pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
            ]

    def sample(self) -> dict[str, Any]:
        if not self.handles:
            return {"available": False, "detail": self.detail}
        devices = []
        for index, handle in enumerate(self.handles):
            nvml = self.nvml
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            device = {
                "index": index,
                "utilisation": nvml.nvmlDeviceGetUtilizationRates(handle).gpu,
                "memory_used_mb": round(memory.used / 2**20, 1),
                "memory_total_mb": round(memory.total / 2**20, 1),
            }
            device["temperature_c"] = self._sensor(
                nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU
            )
            power_mw = self._sensor(nvml.nvmlDeviceGetPowerUsage, handle)
            device["power_w"] = None if power_mw is None else power_mw / 1000
            devices.append(device)
        return {"available": True, "devices": devices}

    def _sensor(self, read, *args: Any) -> Any:
        try:
            return read(*args)
        except self.nvml.NVMLError:
            return None  # not every board reports every sensor
