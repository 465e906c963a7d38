"""Smoke suite: does the target import, start, answer and produce what it should?"""

from __future__ import annotations

import os

import pytest

from fixtures.config import loaded_config
from fixtures.smoke import smoke_modules
from ops.env import facts as environment
from ops.findings import Finding
from ops.proc import Limits, run_command, shell_argv
from ops.smoke import commands
from ops.smoke.services import RunningService, ServiceError
from ops.target import Target

pytestmark = pytest.mark.smoke


def _params(values, ids, reason):
    if not values:
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="none")]
    return [pytest.param(value, id=ident) for value, ident in zip(values, ids, strict=True)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    loaded = loaded_config(metafunc.config)
    smoke = loaded.config.smoke
    target = Target.for_config(loaded)
    if "module" in metafunc.fixturenames:
        modules = smoke_modules(loaded)
        if modules or not smoke.imports.enabled:
            metafunc.parametrize(
                "module",
                _params(modules, [name for name, _ in modules], "smoke.imports.enabled is false"),
            )
        else:  # asked to import the project and found nothing: that fails, it never passes
            metafunc.parametrize("module", [pytest.param(None, id="none")])
    if "entry_point" in metafunc.fixturenames:
        points = (
            commands.declared_entry_points(target.pyproject) if smoke.entry_points.enabled else []
        )
        metafunc.parametrize(
            "entry_point",
            _params(points, [p.name for p in points], "the target declares no scripts"),
        )
    for name, key, values in (
        ("command", "commands", smoke.commands),
        ("service", "services", smoke.services),
        ("artifacts", "artifacts", smoke.artifacts),
    ):
        if name in metafunc.fixturenames:
            metafunc.parametrize(
                name, _params(values, [v.name for v in values], f"no smoke.{key} configured")
            )
    if "probe" in metafunc.fixturenames:
        metafunc.parametrize(
            "probe", _params(smoke.probes, smoke.probes, "no smoke.probes configured")
        )


def _run(argv, proofyard_config, **kwargs):
    config = proofyard_config.config
    return run_command(
        argv,
        allow_hosts=config.network.allow_hosts,
        isolate=config.network.isolate_subprocesses,
        limits=Limits.for_config(config.limits),
        **kwargs,
    )


def test_import(module, importer, target, proofyard_config, check):
    if module is None:
        pytest.fail(
            f"{target.root}: no source packages found to import (looked for target.packages, "
            "[tool.setuptools] packages, then folders with __init__.py under src/ or the root); "
            "name them in target.packages, or set smoke.imports.enabled: false",
            pytrace=False,
        )
    name, path = module
    result = importer.import_module(name)
    check.inspected("modules")
    check.metric("import_time", result.seconds, "s", module=name)
    if result.outcome == "optional-missing":
        if proofyard_config.config.smoke.strict:
            pytest.fail(f"{name}: {result.detail} (smoke.strict is true)", pytrace=False)
        pytest.skip(f"{name}: {result.detail}")
    check.require(
        result.outcome == "ok",
        Finding(
            "smoke.import",
            f"import of {name}: {result.outcome}\n{result.detail}",
            str(path.relative_to(target.root)),
            1,
            context=name,
        ),
    )


def test_entry_point(entry_point, target, import_roots, proofyard_config, check):
    smoke = proofyard_config.config.smoke.entry_points
    result = _run(
        commands.entry_point_argv(entry_point, smoke.args, proofyard_config.python.path),
        proofyard_config,
        timeout_s=smoke.timeout_s,
        cwd=target.root,
        env=commands.python_path_env(import_roots),
    )
    check.inspected("entry points")
    check.metric("run_time", result.duration_s, "s", entry_point=entry_point.name)
    problems = commands.judge_command(result, 0, None)
    check.require(
        not problems,
        Finding(
            "smoke.entry-point",
            f"{entry_point.group} {entry_point.name} = {entry_point.value} "
            f"{' '.join(smoke.args)}: {'; '.join(problems)}\n{commands.tail(result.output)}",
            "pyproject.toml",
            context=entry_point.name,
        ),
    )


def test_command(command, target, proofyard_config, check):
    result = _run(
        shell_argv(command.run, command.shell, proofyard_config.python.path),
        proofyard_config,
        timeout_s=command.timeout_s,
        cwd=target.root / (command.cwd or "."),
        env=command.env,
    )
    check.inspected("commands")
    check.metric("run_time", result.duration_s, "s", command=command.name)
    problems = commands.judge_command(result, command.expect_exit, command.expect_output)
    check.require(
        not problems,
        Finding(
            "smoke.command",
            f"command {command.name} "
            f"({proofyard_config.origin_of(('smoke', 'commands'))}): {'; '.join(problems)}\n"
            f"{commands.tail(result.output)}",
            context=command.name,
        ),
    )


def test_service(service, target, proofyard_config, check):
    problems = []
    try:
        with RunningService(service, target.root, proofyard_config.python.path) as running:
            ready_s = running.wait_ready()
            check.inspected("services")
            check.metric("ready_time", ready_s, "s", service=service.name)
            for probe in service.probes:
                result = running.probe(probe)
                check.inspected("probes")
                check.metric(
                    "latency", result.latency_ms, "ms", service=service.name, path=probe.path
                )
                problems += [f"{probe.method} {probe.path}: {p}" for p in result.problems]
            output = running.output()
    except ServiceError as exc:
        problems, output = [str(exc)], ""
    check.require(
        not problems,
        Finding(
            "smoke.service",
            f"service {service.name}: {'; '.join(problems)}"
            + (f"\n--- service output ---\n{commands.tail(output, 40)}" if output else ""),
            context=service.name,
        ),
    )


def test_probe(probe, target, import_roots, proofyard_config, check):
    result = _run(
        commands.probe_argv(probe, proofyard_config.python.path),
        proofyard_config,
        timeout_s=30,
        cwd=target.root,
        env=commands.python_path_env(import_roots),
    )
    check.inspected("probes")
    problems = commands.judge_command(result, 0, None)
    check.require(
        not problems,
        Finding(
            "smoke.probe",
            f"probe {probe}: {'; '.join(problems)}\n{commands.tail(result.output)}",
            context=probe,
        ),
    )


def test_artifacts(artifacts, target, proofyard_config, check):
    result = _run(
        shell_argv(artifacts.run, False, proofyard_config.python.path),
        proofyard_config,
        timeout_s=artifacts.timeout_s,
        cwd=target.root,
    )
    check.inspected("artifact globs", len(artifacts.expect))
    problems = commands.judge_command(result, 0, None)
    problems += commands.missing_artifacts(target.root, artifacts.expect)
    check.require(
        not problems,
        Finding(
            "smoke.artifacts",
            f"artifacts {artifacts.name}: {'; '.join(problems)}",
            context=artifacts.name,
        ),
    )


def test_python_version(target, proofyard_config, check):
    requires = target.pyproject.get("project", {}).get("requires-python")
    python = proofyard_config.python
    ok, sentence = environment.python_satisfies(requires, python.facts["version"])
    sentence = f"{python.path}: {sentence}"
    check.inspected("interpreters")
    check.require(ok, Finding("smoke.python-version", sentence, "pyproject.toml"))


def test_free_disk(target, proofyard_config, check):
    section = proofyard_config.config.smoke.environment
    short = []
    for relative in section.disk_paths:
        free = environment.free_disk_mb(target.root / relative)
        check.inspected("disks")
        metric = check.metric(
            "free_disk",
            free,
            "MB",
            section.min_free_disk_mb,
            free >= section.min_free_disk_mb,
            path=relative,
        )
        if not metric.passed:
            short.append(f"{relative}: {free:.0f} MB free < {section.min_free_disk_mb:g} MB")
    check.require(not short, Finding("smoke.free-disk", "; ".join(short)))


def test_required_env(proofyard_config, check):
    names = proofyard_config.config.smoke.environment.required_env
    if not names:
        pytest.skip("no smoke.environment.required_env configured")
    check.inspected("environment variables", len(names))
    missing = environment.missing_env(names, os.environ)
    check.require(
        not missing,
        Finding(
            "smoke.required-env", f"required environment variables not set: {', '.join(missing)}"
        ),
    )


def test_gpu(proofyard_config, check):
    needs = proofyard_config.config.smoke.environment
    if not (needs.require_gpu or needs.min_gpu_memory_mb):
        pytest.skip("smoke.environment.require_gpu is false and no min_gpu_memory_mb is set")
    info = environment.gpu_info()
    check.inspected("GPUs", len(info.devices))
    for device in info.devices:
        check.metric("gpu_memory_free", device["memory_free_mb"], "MB", gpu=str(device["index"]))
    problem = environment.gpu_problem(info, needs.require_gpu, needs.min_gpu_memory_mb)
    check.require(problem is None, Finding("smoke.gpu", problem or ""))
