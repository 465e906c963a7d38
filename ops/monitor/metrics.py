"""The figures a monitor sample holds, by dotted path: what alert rules may name.

Kept apart from the sampler (no psutil import) so the config schema can check a rule's
metric when the file is loaded: a misspelt ``cpu.totl`` is a config error, not an alert
that never fires.
"""

from __future__ import annotations

import difflib
import re

FIXED = {
    "cpu.total": "%",
    "memory.percent": "%",
    "memory.used_mb": "MB",
    "memory.available_mb": "MB",
    "swap.percent": "%",
    "swap.used_mb": "MB",
    "load.1m": "",
    "load.5m": "",
    "load.15m": "",
    "disk_io.read_bytes": "B/s",
    "disk_io.write_bytes": "B/s",
    "net_io.read_bytes": "B/s",
    "net_io.write_bytes": "B/s",
    "system.processes": "",
    "temperature.max_c": "°C",
    "process.processes": "",
    "process.cpu_percent": "%",
    "process.rss_mb": "MB",
    "process.threads": "",
    "process.open_files": "",
}
PATTERNS = {
    "cpu.per_core.N": re.compile(r"cpu\.per_core\.\d+"),
    "gpu.devices.N.FIELD": re.compile(
        r"gpu\.devices\.\d+\.(utilisation|memory_used_mb|memory_total_mb|temperature_c|power_w)"
    ),
    "disk.PATH": re.compile(r"disk\..+"),
    "temperature.SENSOR": re.compile(r"temperature\.[\w.-]+"),
    "kpi.NAME": re.compile(r"kpi\..+"),
}


def unknown_metric(path: str) -> str | None:
    """Why ``path`` names no figure of a sample, or None when it names one."""
    if path in FIXED or any(pattern.fullmatch(path) for pattern in PATTERNS.values()):
        return None
    close = difflib.get_close_matches(path, FIXED, n=1)
    if close:
        return f"unknown metric {path!r} (did you mean {close[0]!r}?)"
    return f"unknown metric {path!r}; known: {', '.join([*FIXED, *PATTERNS])}"
