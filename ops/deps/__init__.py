"""Dependency checks: declarations, the installed environment, imports, licenses, advisories."""
