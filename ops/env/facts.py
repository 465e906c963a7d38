"""Facts about this machine that the smoke suite and ``ops env check`` share."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet


@dataclass(frozen=True)
class GpuInfo:
    available: bool
    detail: str
    devices: tuple[dict[str, object], ...] = ()


def python_satisfies(requires_python: str | None, version: str | None = None) -> tuple[bool, str]:
    """Whether the interpreter satisfies ``requires-python``, with a sentence saying so."""
    version = version or platform.python_version()
    if not requires_python:
        return True, f"Python {version}; the target declares no requires-python"
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return False, f"requires-python {requires_python!r} is not a valid specifier"
    ok = spec.contains(version, prereleases=True)
    return ok, f"Python {version} {'satisfies' if ok else 'does not satisfy'} {requires_python}"


def free_disk_mb(path: Path) -> float:
    return shutil.disk_usage(path).free / 2**20


def missing_env(names: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """Names (never values) of required variables that are unset or empty."""
    return [name for name in names if not environ.get(name)]


def gpu_info() -> GpuInfo:
    """GPUs through NVML (nvidia-ml-py); a missing library or driver means 'no GPU'."""
    try:
        import pynvml
    except ImportError:
        return GpuInfo(False, "no GPU: nvidia-ml-py (pynvml) is not installed")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return GpuInfo(False, f"no GPU: NVML unavailable ({exc})")
    try:
        devices = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            devices.append(
                {
                    "index": index,
                    "name": name if isinstance(name, str) else name.decode(),
                    "memory_total_mb": memory.total / 2**20,
                    "memory_free_mb": memory.free / 2**20,
                }
            )
    finally:
        pynvml.nvmlShutdown()
    if not devices:
        return GpuInfo(False, "no GPU: NVML reports no device")
    return GpuInfo(
        True,
        f"{len(devices)} GPU(s): " + ", ".join(str(d["name"]) for d in devices),
        tuple(devices),
    )


def gpu_problem(info: GpuInfo, required: bool, min_memory_mb: float | None) -> str | None:
    """Why the GPUs do not meet the requirement, or None when they do (or none is needed)."""
    if not (required or min_memory_mb):
        return None
    if not info.available:
        return f"a GPU is required but none is usable: {info.detail}"
    if min_memory_mb:
        most = max(float(d.get("memory_free_mb", 0.0)) for d in info.devices)
        if most < min_memory_mb:
            return (
                f"no GPU has {min_memory_mb:g} MB free (smoke.environment.min_gpu_memory_mb); "
                f"the most free is {most:.0f} MB"
            )
    return None


def tool_version(name: str) -> str | None:
    """First line of ``NAME --version`` (``java -version`` prints to stderr), or None."""
    path = shutil.which(name)
    if path is None:
        return None
    flag = "-version" if name == "java" else "--version"
    try:
        result = subprocess.run(
            [path, flag], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"present, version unknown ({exc})"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else "present"


def writable(folder: Path) -> tuple[bool, str]:
    """Whether ``folder`` (created if missing) accepts a new file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return False, str(exc)
    return True, "writable"


def memory_mb() -> dict[str, float]:
    import psutil

    memory = psutil.virtual_memory()
    return {
        "total_mb": round(memory.total / 2**20, 1),
        "available_mb": round(memory.available / 2**20, 1),
    }


def cpu_facts() -> dict[str, object]:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"count": os.cpu_count(), "usable": len(os.sched_getaffinity(0)), "model": model}
