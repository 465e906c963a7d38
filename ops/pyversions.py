"""Python versions a target supports, from its ``requires-python``."""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet


def oldest_python(requires: str | None) -> tuple[int, int] | None:
    """The oldest 3.x minor version that ``requires-python`` admits, if any."""
    if not requires:
        return None
    try:
        spec = SpecifierSet(requires)
    except InvalidSpecifier:
        return None
    for minor in range(0, 40):
        if any(spec.contains(f"3.{minor}.{patch}", prereleases=True) for patch in (0, 99)):
            return (3, minor)
    return None
