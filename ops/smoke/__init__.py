"""Smoke checks: imports, entry points, commands, services, probes, artifacts, environment."""
