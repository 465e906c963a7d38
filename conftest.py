"""Loads proofyard's pytest plugins from ``fixtures/``; nothing else lives here."""

pytest_plugins = [
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
