"""Deps suite: what is declared, what is installed, what the code imports, and what it costs."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from ops.deps import advisories, checks, licenses, wheelhouse
from ops.deps.imports import file_imports, import_findings
from ops.env.facts import python_satisfies
from ops.findings import Finding
from ops.importnames import stdlib_for
from ops.pyversions import oldest_python

pytestmark = pytest.mark.deps


def _selected(names, configured):
    return set(names) if "*" in configured else set(configured) & set(names)


@pytest.fixture(scope="module")
def required(declarations, proofyard_config, target):
    """Main dependencies plus the configured extras and groups."""
    section = proofyard_config.config.deps
    project = target.pyproject.get("project", {})
    extras = _selected(project.get("optional-dependencies", {}), section.extras)
    groups = _selected(target.pyproject.get("dependency-groups", {}), section.groups)
    return [
        item
        for item in declarations.items
        if item.group == "main"
        or item.group in {f"extra:{e}" for e in extras}
        or item.group in {f"group:{g}" for g in groups}
    ]


def test_declarations_parse(declarations, check):
    check.inspected("declarations", len(declarations.items))
    check.findings(
        Finding("deps.declaration", e.message, e.source, e.line, context=e.message)
        for e in declarations.errors
    )
    if not declarations.items and not declarations.errors:
        pytest.skip("the target declares no dependencies")
    check.assert_no_findings("dependency declarations")


def test_declared_vs_installed(required, environment, check):
    if not required:
        pytest.skip("no required dependencies declared")
    inspected, found = checks.declared_vs_installed(required, environment)
    if not inspected and not found:
        pytest.skip(
            f"none of the {len(required)} required dependencies applies to Python "
            f"{environment.python} (their environment markers exclude it)"
        )
    check.inspected("declared dependencies", inspected)
    check.findings(found)
    check.assert_no_findings(f"declared dependencies in {environment.executable}")


def test_pin_drift(declarations, required, environment, check):
    pinned = [item for item in declarations.items if item.pinned]
    if not pinned:
        pytest.skip("no exact (==) pins declared")
    files = [i for i in declarations.items if i.group in ("requirements", "constraints")]
    inspected, found = checks.pin_drift(declarations.items, environment, [*required, *files])
    check.inspected("pinned distributions", inspected)
    check.findings(found)
    check.assert_no_findings("pins")


def test_environment_consistency(environment, check):
    inspected, found = checks.environment_conflicts(environment)
    check.inspected("installed distributions", inspected)
    check.findings(found)
    check.assert_no_findings(f"installed distributions of {environment.executable}")


def test_dependency_cycles(environment, proofyard_config, check):
    cycles = checks.dependency_cycles(environment)
    check.inspected("installed distributions", len(environment.installed))
    severity = "error" if proofyard_config.config.deps.fail_on_cycles else "warning"
    check.findings(
        Finding(
            "deps.cycle",
            "dependency cycle: " + " -> ".join(cycle + cycle[:1]),
            severity=severity,
            context=",".join(cycle),
        )
        for cycle in cycles
    )
    check.metric("dependency_cycles", len(cycles))
    check.assert_no_findings("dependency cycles")


@pytest.fixture(scope="module")
def import_report(target, declarations, environment, proofyard_config):
    section = proofyard_config.config.deps
    uses, errors = [], []
    for _name, path in target.modules():
        found_uses, error = file_imports(path, path.relative_to(target.root).as_posix())
        uses += found_uses
        errors += [error] if error else []
    requires = target.pyproject.get("project", {}).get("requires-python")
    oldest = oldest_python(requires) or tuple(map(int, environment.python.split(".")[:2]))
    newest = tuple(map(int, environment.python.split(".")[:2]))
    dev = {f"extra:{g}" for g in section.dev_groups} | {f"group:{g}" for g in section.dev_groups}
    declared = {item.name for item in declarations.items if item.group != "constraints"}
    dev_only = {item.name for item in declarations.items if item.group in dev}
    main = {item.name for item in declarations.items if item.group == "main"}
    owners = environment.import_owners()
    dist_modules = {name: set(dist.top_level) for name, dist in environment.installed.items()}
    found = import_findings(
        uses,
        own={name.split(".")[0] for name in target.package_dirs},
        stdlib=stdlib_for(environment.stdlib, oldest, newest),
        stdlib_since=lambda since: stdlib_for(environment.stdlib, max(oldest, since), newest),
        declared=declared,
        dev_only=dev_only,
        main=main,
        owners=owners,
        allow_unused={canonicalize_name(n) for n in section.allow_unused},
        dist_modules=dist_modules,
    )
    return uses, errors, found


@pytest.mark.parametrize("kind", ["missing", "misplaced", "unused"])
def test_imports_match_declarations(kind, import_report, check):
    uses, errors, found = import_report
    if not uses:
        pytest.skip("the target's packages import nothing (or no packages were found)")
    check.inspected("imports", len(uses))
    check.skipped("optional imports (guarded)", sum(1 for use in uses if use.optional))
    check.findings(errors + found[kind])
    check.assert_no_findings(f"{kind} dependencies")


def test_requires_python(target, environment, check):
    requires = target.pyproject.get("project", {}).get("requires-python")
    if requires is None:
        pytest.skip("the target declares no requires-python")
    ok, sentence = python_satisfies(requires, environment.python)
    check.inspected("interpreters")
    check.require(ok, Finding("deps.requires-python", sentence, "pyproject.toml"))


def test_wheelhouse(proofyard_config, check):
    section = proofyard_config.config.deps
    if not section.wheelhouse:
        pytest.skip("deps.wheelhouse is not configured")
    folder = proofyard_config.resolve(section.wheelhouse)
    manifest = folder / section.wheelhouse_manifest
    check.require(
        manifest.is_file(),
        Finding("deps.wheel-manifest", f"manifest {manifest} is missing", context=str(manifest)),
    )
    inspected, problems = wheelhouse.verify(folder, manifest)
    check.inspected("wheels", inspected)
    check.findings(Finding(p.rule, f"{p.file}: {p.message}", context=p.file) for p in problems)
    check.assert_no_findings(f"wheelhouse {folder}")


def test_licenses(required, environment, proofyard_config, check):
    policy = proofyard_config.config.deps.licenses
    closure = _closure({item.name for item in required}, environment)
    if not closure:
        pytest.skip("no installed dependencies to check")
    results = licenses.check_licenses(
        [environment.installed[n] for n in sorted(closure)], policy.allow, policy.deny
    )
    check.inspected("distributions", len(results))
    for result in results:
        label = result.expression or "none"
        if result.verdict == licenses.Verdict.DENIED:
            check.finding(
                Finding(
                    "deps.license-denied",
                    f"{result.name}: {label} ({result.source}) is denied",
                    context=result.name,
                )
            )
        elif result.verdict == licenses.Verdict.NOT_ALLOWED:
            check.finding(
                Finding(
                    "deps.license-not-allowed",
                    f"{result.name}: {label} ({result.source}) is not in the allow list",
                    context=result.name,
                )
            )
        elif result.verdict == licenses.Verdict.UNKNOWN and (
            policy.allow or policy.deny or policy.fail_on_unknown
        ):
            check.finding(
                Finding(
                    "deps.license-unknown",
                    f"{result.name}: license unknown ({result.source}: {label})",
                    context=result.name,
                    severity="error" if policy.fail_on_unknown else "warning",
                )
            )
    if not (policy.allow or policy.deny or policy.fail_on_unknown):
        check.skipped("no license policy configured", len(results))
        pytest.skip("deps.licenses has no allow or deny list")
    check.assert_no_findings("licenses")


def _closure(names, environment):
    seen, todo = set(), [n for n in names if n in environment.installed]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in environment.installed[name].requirements():
            child = canonicalize_name(requirement.name)
            marker = requirement.marker
            if child in environment.installed and (
                marker is None or marker.evaluate(environment.marker_env(""))
            ):
                todo.append(child)
    return seen


def test_vulnerabilities(environment, proofyard_config, check):
    folder = proofyard_config.config.deps.advisories
    if not folder:
        pytest.skip("no advisory database configured (deps.advisories): nothing was checked")
    path = Path(proofyard_config.resolve(folder))
    if not path.is_dir():
        pytest.fail(f"deps.advisories: {path} is not a folder", pytrace=False)
    database = advisories.load_database(path)
    if not database.advisories:
        pytest.skip(f"advisory database {path} holds no advisories")
    check.inspected("installed distributions", len(environment.installed))
    check.metric("advisories", len(database.advisories), database=str(path), date=database.date)
    for error in database.errors:
        check.finding(Finding("deps.advisory-unreadable", error, context=error))
    for hit in advisories.match(database, environment.installed.values()):
        fixed = f"; fixed in {', '.join(hit.fixed)}" if hit.fixed else ""
        check.finding(
            Finding(
                "deps.vulnerable",
                f"{hit.name} {hit.version}: {hit.advisory_id} "
                f"{hit.summary}{fixed} (database {database.date}, "
                f"{len(database.advisories)} advisories)",
                context=f"{hit.name}:{hit.advisory_id}",
            )
        )
    check.assert_no_findings("known vulnerabilities")
