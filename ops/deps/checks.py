"""Pure checks of declarations against an environment: each returns findings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from ops.deps.declared import Declared
from ops.deps.environment import Environment
from ops.findings import Finding
from ops.graphs import strongly_connected_cycles


def applies(declared: Declared, env: Environment, extras: Iterable[str] = ("",)) -> bool:
    """Whether the requirement's environment marker holds here (for any of ``extras``)."""
    marker = declared.requirement.marker
    if marker is None:
        return True
    return any(marker.evaluate(env.marker_env(extra)) for extra in extras)


def declared_vs_installed(
    declared: Sequence[Declared], env: Environment
) -> tuple[int, list[Finding]]:
    """Each applicable requirement is installed at a version its specifier accepts."""
    findings = []
    inspected = 0
    for item in declared:
        extra = item.group.split(":", 1)[1] if item.group.startswith("extra:") else ""
        if not applies(item, env, (extra,) if extra else ("",)):
            continue
        inspected += 1
        dist = env.installed.get(item.name)
        where = dict(path=item.source, line=item.line, context=str(item.requirement))
        if dist is None:
            findings.append(
                Finding(
                    "deps.missing", f"{item.requirement} ({item.group}) is not installed", **where
                )
            )
        elif item.requirement.specifier and not item.requirement.specifier.contains(
            dist.version, prereleases=True
        ):
            findings.append(
                Finding(
                    "deps.version-mismatch",
                    f"{item.requirement} ({item.group}):"
                    f" installed {dist.display_name} {dist.version}",
                    **where,
                )
            )
        else:
            for wanted in sorted(item.requirement.extras):
                findings += _extra_problems(item, wanted, env)
    return inspected, findings


def _extra_problems(item: Declared, extra: str, env: Environment) -> list[Finding]:
    dist = env.installed[item.name]
    problems = []
    for requirement in dist.requirements():
        marker = requirement.marker
        if (
            marker is None
            or not marker.evaluate(env.marker_env(extra))
            or marker.evaluate(env.marker_env(""))
        ):
            continue  # only what the extra adds
        installed = env.installed.get(canonicalize_name(requirement.name))
        if installed is None or not requirement.specifier.contains(installed.version, True):
            have = f"installed {installed.version}" if installed else "not installed"
            problems.append(
                Finding(
                    "deps.missing",
                    f"{item.requirement}: extra [{extra}] needs {requirement.name}"
                    f"{requirement.specifier} ({have})",
                    item.source,
                    item.line,
                    context=f"{item.requirement}[{extra}]{requirement.name}",
                )
            )
    return problems


def pin_drift(
    declared: Sequence[Declared], env: Environment, selected: Sequence[Declared] | None = None
) -> tuple[int, list[Finding]]:
    """Exact pins equal the installed version; pins of one name agree across files.

    A pin must be installed only when its group is ``selected`` for checking (default: every
    one); a constraints file's pin binds only what is installed."""
    chosen = {id(item) for item in (declared if selected is None else selected)}
    findings = []
    pins: dict[str, list[Declared]] = {}
    for item in declared:
        if item.pinned is not None and applies(item, env):
            pins.setdefault(item.name, []).append(item)
    for name, items in sorted(pins.items()):
        versions = {item.pinned for item in items}
        if len(versions) > 1:
            places = ", ".join(f"{i.source}:{i.line} =={i.pinned}" for i in items)
            findings.append(
                Finding(
                    "deps.pin-conflict",
                    f"{name} is pinned differently: {places}",
                    items[0].source,
                    items[0].line,
                    context=name,
                )
            )
        dist = env.installed.get(name)
        for item in items:
            if dist is None and (id(item) not in chosen or item.group == "constraints"):
                continue
            if dist is None:
                findings.append(
                    Finding(
                        "deps.pin-drift",
                        f"{name}=={item.pinned} is pinned but not installed",
                        item.source,
                        item.line,
                        context=name,
                    )
                )
            elif not SpecifierSet(f"=={item.pinned}").contains(dist.version, prereleases=True):
                findings.append(
                    Finding(
                        "deps.pin-drift",
                        f"{name}=={item.pinned} is pinned but {dist.version} is installed",
                        item.source,
                        item.line,
                        context=name,
                    )
                )
    return len(pins), findings


def environment_conflicts(env: Environment) -> tuple[int, list[Finding]]:
    """The equivalent of ``pip check``: each installed distribution's needs are met."""
    findings = []
    for dist in sorted(env.installed.values(), key=lambda d: d.name):
        for requirement in dist.requirements():
            if requirement.marker is not None and not requirement.marker.evaluate(
                env.marker_env("")
            ):
                continue
            needed = env.installed.get(canonicalize_name(requirement.name))
            if needed is None:
                findings.append(
                    Finding(
                        "deps.env-missing",
                        f"{dist.display_name} {dist.version} "
                        f"requires {requirement}, which is not installed",
                        context=f"{dist.name}->{requirement}",
                    )
                )
            elif requirement.specifier and not requirement.specifier.contains(needed.version, True):
                findings.append(
                    Finding(
                        "deps.env-conflict",
                        f"{dist.display_name} {dist.version} "
                        f"requires {requirement}, but {needed.display_name} "
                        f"{needed.version} is installed",
                        context=f"{dist.name}->{requirement}",
                    )
                )
    return len(env.installed), findings


def dependency_cycles(env: Environment) -> list[list[str]]:
    """Cycles in the installed dependency graph, each as the list of names around it."""
    graph = {
        name: sorted(
            {
                canonicalize_name(r.name)
                for r in dist.requirements()
                if (r.marker is None or r.marker.evaluate(env.marker_env("")))
                and canonicalize_name(r.name) in env.installed
            }
        )
        for name, dist in env.installed.items()
    }
    return strongly_connected_cycles(graph)
