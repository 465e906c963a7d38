"""Environment facts the smoke suite and ``ops env check`` share."""

from __future__ import annotations

import platform
import shutil
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
