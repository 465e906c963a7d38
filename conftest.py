"""Loads proofyard's pytest plugins from ``fixtures/``; nothing else lives here.

None of them load in the pytest that measures the self-target's own benchmark files
(``ops/benchmark/project.py`` sets the flag): that pytest is the project's, not the harness's.
"""

import os

HARNESS_PLUGINS = [
    "fixtures.config",
    "fixtures.network",
    "fixtures.processes",
    "fixtures.recording",
    "fixtures.baselines",
    "fixtures.environment",
    "fixtures.reporting",
    "fixtures.html_escaping",
    "fixtures.allure_guard",
    "fixtures.smoke",
    "fixtures.docs",
    "fixtures.deps",
    "fixtures.compression",
    "fixtures.quality",
    "fixtures.pipeline",
    "fixtures.monitoring",
    "fixtures.kpi",
    "fixtures.benchmarking",
]
pytest_plugins = [] if os.environ.get("PROOFYARD_BENCH_WORKER") else HARNESS_PLUGINS
