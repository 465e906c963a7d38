"""``python -m ops env check``: one report of the machine and the target's needs."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from typing import Any

from ops.config import LoadedConfig
from ops.deps.environment import Environment, read_environment
from ops.env import facts
from ops.reports import SECRET_NAME
from ops.target import Target


@dataclass
class EnvReport:
    data: dict[str, Any]
    problems: list[str] = field(default_factory=list)


ENVIRONMENT_CACHE = ".proofyard/cache/environment"  # target-relative


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
        "tools": _tool_versions(config.env.tools),
        "platform": platform.platform(),
    }
    return EnvReport(data, problems)


def _tool_versions(tools: list[str]) -> dict[str, str]:
    """``TOOL --version`` of each tool, run side by side (one after another cost ~60 ms)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, len(tools))) as pool:
        versions = pool.map(facts.tool_version, tools)
    return {name: version or "not found" for name, version in zip(tools, versions, strict=True)}


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
