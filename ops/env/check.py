"""``python -m ops env check``: one report of the machine and the target's needs."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.atomic import write_atomic
from ops.config import LoadedConfig
from ops.deps.environment import SETTLE_NS, Environment, read_environment
from ops.env import facts
from ops.reports import SECRET_NAME
from ops.target import Target


@dataclass
class EnvReport:
    data: dict[str, Any]
    problems: list[str] = field(default_factory=list)


ENVIRONMENT_CACHE = ".proofyard/cache/environment"  # target-relative
TOOLS_CACHE = f"{ENVIRONMENT_CACHE}/tools.json"


def project_environment(loaded: LoadedConfig) -> Environment:
    """The project interpreter's distributions, kept between sessions while it is unchanged."""
    return read_environment(loaded.python.path, cache=loaded.resolve(ENVIRONMENT_CACHE))


def environment_report(loaded: LoadedConfig) -> EnvReport:
    config = loaded.config
    target = Target.for_config(loaded)
    problems: list[str] = []
    requires = target.pyproject.get("project", {}).get("requires-python")
    python_ok, python_sentence = facts.python_satisfies(requires, loaded.python.facts["version"])
    if not python_ok:
        problems.append(python_sentence)
    installed = project_environment(loaded)
    gpu = facts.gpu_info()
    caches = {}
    for relative in config.env.cache_dirs:
        ok, detail = facts.writable(loaded.resolve(relative))
        caches[relative] = detail
        if not ok:
            problems.append(f"cache folder {relative} is not writable: {detail}")
    names = config.smoke.environment.required_env
    missing = facts.missing_env(names, os.environ)
    problems += [f"required environment variable {name} is not set" for name in missing]
    needs = config.smoke.environment
    gpu_short = facts.gpu_problem(gpu, needs.require_gpu, needs.min_gpu_memory_mb)
    if gpu_short:
        problems.append(gpu_short)
    for path in needs.disk_paths:
        free = facts.free_disk_mb(loaded.resolve(path))
        if free < needs.min_free_disk_mb:
            problems.append(
                f"{path}: {free:.0f} MB free, below smoke.environment.min_free_disk_mb "
                f"({needs.min_free_disk_mb:.0f} MB)"
            )
    data = {
        "python": {  # the project's interpreter: it runs the project's code
            "version": loaded.python.facts["version"],
            "executable": loaded.python.path,
            "requires_python": requires,
            "satisfied": python_ok,
        },
        "harness_python": {"version": platform.python_version(), "executable": sys.executable},
        "packages": {
            dist.display_name: dist.version
            for dist in sorted(installed.installed.values(), key=lambda d: d.name)
        },
        "cpu": facts.cpu_facts(),
        "memory": facts.memory_mb(),
        "disk_free_mb": {
            path: round(facts.free_disk_mb(loaded.resolve(path)), 1)
            for path in config.smoke.environment.disk_paths
        },
        "gpu": {"available": gpu.available, "detail": gpu.detail, "devices": list(gpu.devices)},
        "cache_folders": caches,
        "required_env": {name: ("missing" if name in missing else "set") for name in names},
        "tools": _tool_versions(config.env.tools, loaded.resolve(TOOLS_CACHE)),
        "platform": platform.platform(),
    }
    return EnvReport(data, problems)


def _tool_versions(tools: list[str], kept: Path) -> dict[str, str]:
    """``TOOL --version`` of each tool, run side by side, and kept in ``kept`` by the tool's
    file (path, size, modification time): an unchanged tool is not run again (running three
    took ~60 ms a session)."""
    from concurrent.futures import ThreadPoolExecutor

    try:
        known = json.loads(kept.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    stamps = {name: _tool_stamp(name) for name in tools}
    versions = {
        name: known[name]["version"]
        for name in tools
        if stamps[name] is not None and (known.get(name) or {}).get("stamp") == stamps[name]
    }
    fresh = [name for name in tools if name not in versions]
    with ThreadPoolExecutor(max(1, len(fresh))) as pool:
        versions.update(zip(fresh, pool.map(facts.tool_version, fresh), strict=True))
    if any(stamps[name] is not None for name in fresh):
        entries = {n: {"stamp": stamps[n], "version": versions[n]} for n in tools if stamps[n]}
        with contextlib.suppress(OSError):  # an unwritable cache only costs the speed
            write_atomic(kept, json.dumps(entries), durable=False)
    return {name: versions[name] or "not found" for name in tools}


def _tool_stamp(name: str) -> list | None:
    """The tool's file as ``[path, size, mtime_ns]``; None when absent or changed within
    the last SETTLE_NS (a coarse clock could hide a second change)."""
    path = shutil.which(name)
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    if stat.st_mtime_ns > time.time_ns() - SETTLE_NS:
        return None
    return [os.path.realpath(path), stat.st_size, stat.st_mtime_ns]


def environment_table(report: EnvReport) -> dict[str, str]:
    """A flat key/value table for pytest-html and allure; secret-looking names redacted."""
    data = report.data
    table = {
        "Python (project)": f"{data['python']['version']} ({data['python']['executable']})",
        "Python (harness)": f"{data['harness_python']['version']} "
        f"({data['harness_python']['executable']})",
        "Platform": data["platform"],
        "CPU": f"{data['cpu']['usable']} usable of {data['cpu']['count']}: {data['cpu']['model']}",
        "Memory": f"{data['memory']['available_mb']:.0f} of "
        f"{data['memory']['total_mb']:.0f} MB free",
        "GPU": data["gpu"]["detail"],
        **{f"Tool {name}": version for name, version in data["tools"].items()},
        **{f"Env {name}": state for name, state in data["required_env"].items()},
    }
    return {
        key: ("<redacted>" if SECRET_NAME.search(key) else str(value))
        for key, value in table.items()
    }
