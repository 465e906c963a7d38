"""Describe an interpreter's installed distributions as JSON (standard library only).

Run as a script by the interpreter under check: ``PYTHON snapshot.py``. The harness reads
the JSON, so checking another interpreter (a target's virtualenv) works the same way.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import platform
import sys
import time


def marker_environment() -> dict[str, str]:
    """PEP 508 marker variables, as packaging.markers.default_environment() computes them."""
    implementation = sys.implementation
    version = implementation.version
    impl_version = f"{version.major}.{version.minor}.{version.micro}"
    if version.releaselevel != "final":
        impl_version += version.releaselevel[0] + str(version.serial)
    return {
        "implementation_name": implementation.name,
        "implementation_version": impl_version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def stamps() -> list[list]:
    """The interpreter's file and every sys.path entry with its modification time (None
    where missing): installing or removing a distribution changes its folder's."""
    found = []
    for entry in dict.fromkeys([os.path.realpath(sys.executable), *sys.path]):
        try:
            found.append([entry, os.stat(entry).st_mtime_ns])
        except OSError:
            found.append([entry, None])
    return found


def describe() -> dict:
    imports: dict[str, list[str]] = {}
    for module, names in metadata.packages_distributions().items():
        for name in names:
            imports.setdefault(name.lower(), []).append(module)
    seen = set()
    distributions = []
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if not name or name.lower() in seen:
            continue  # a later entry on sys.path is shadowed by the first
        seen.add(name.lower())
        meta = dist.metadata
        distributions.append(
            {
                "name": name,
                "version": dist.version,
                "requires": dist.requires or [],
                "license_expression": meta.get("License-Expression"),
                "license": meta.get("License"),
                "classifiers": [
                    c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
                ],
                "top_level": sorted(set(imports.get(name.lower(), []))),
            }
        )
    return {
        "stamps": stamps(),
        "taken_ns": time.time_ns(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "markers": marker_environment(),
        "stdlib": sorted(sys.stdlib_module_names),
        "distributions": sorted(distributions, key=lambda d: d["name"].lower()),
    }


if __name__ == "__main__":
    json.dump(describe(), sys.stdout)
