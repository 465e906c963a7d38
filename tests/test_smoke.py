"""The smoke checks on generated targets: each seeded defect caught, each clean twin passing."""

from __future__ import annotations

import os
import socket
import sys
import textwrap
import time

import pytest

from ops.config.schema import ProbeCheck, ServiceCheck
from ops.proc import run_command, shell_argv
from ops.smoke import commands
from ops.smoke.imports import (
    ImportRunner,
    classify,
    optional_distributions,
    third_party_imports,
)
from ops.smoke.services import RunningService, ServiceError
from ops.target import Target
from tests.conftest import write_tree
from tests.fakes import PORT_ZERO_SERVICE

TARGET = {
    "pyproject.toml": """
        [project]
        name = "demo"
        dependencies = ["pyyaml"]
        [project.optional-dependencies]
        vision = ["opencv-python"]
        gpu = ["turbo-missing-xyz"]
        [project.scripts]
        demo-ok = "demo.cli:ok"
        demo-bad = "demo.cli:bad"
    """,
    "src/demo/__init__.py": "import sys\nsys.modules.setdefault('demo_leak_marker', sys)\n",
    "src/demo/clean.py": "VALUE = 1\n",
    "src/demo/raises.py": "raise ValueError('boom at import')\n",
    "src/demo/optional.py": "import turbo_missing_xyz\n",
    "src/demo/vision.py": "import cv2\n",
    "src/demo/undeclared.py": "import undeclared_missing_xyz\n",
    "src/demo/hangs.py": "import time\nwhile True:\n    time.sleep(1)\n",
    "src/demo/leak_check.py": "import sys\nassert 'demo.raises' not in sys.modules\n",
    "src/demo/cli.py": """
        import sys
        def ok():
            print("usage: demo-ok [--help]")
            return 0
        def bad():
            print("broken", file=sys.stderr)
            return 3
    """,
    "tests/test_x.py": "",
}


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    root = write_tree(tmp_path_factory.mktemp("smoke") / "demo", TARGET)
    return Target(root)


@pytest.fixture(scope="module")
def results(target):
    optional = optional_distributions(target.pyproject)
    with ImportRunner([target.root / "src"], target.root) as runner:
        names = [name for name, _ in target.modules()]
        start = time.perf_counter()
        answers = {name: classify(name, runner.run(name, 1.5), optional) for name in names}
        answers["__elapsed__"] = time.perf_counter() - start
    return answers


def test_src_layout_packages_and_modules_are_found(target):
    assert list(target.package_dirs) == ["demo"]
    assert [name for name, _ in target.modules()][:3] == ["demo", "demo.clean", "demo.cli"]


@pytest.mark.parametrize(
    ("module", "outcome"),
    [
        ("demo", "ok"),
        ("demo.clean", "ok"),
        ("demo.cli", "ok"),
        ("demo.leak_check", "ok"),
        ("demo.raises", "error"),
        ("demo.undeclared", "error"),
        ("demo.hangs", "timeout"),
        ("demo.optional", "optional-missing"),
    ],
)
def test_import_outcomes(results, module, outcome):
    assert results[module].outcome == outcome, results[module].detail


def test_import_error_shows_the_exception_and_last_frames(results):
    detail = results["demo.raises"].detail
    assert "ValueError: boom at import" in detail and "raises.py" in detail


def test_missing_optional_dependency_names_its_extra(results):
    assert "extra [gpu]" in results["demo.optional"].detail


def test_well_known_import_names_map_to_their_distribution(results):
    # cv2 comes from opencv-python, declared only in the 'vision' extra
    assert results["demo.vision"].outcome in ("ok", "optional-missing")
    if results["demo.vision"].outcome == "optional-missing":
        assert "extra [vision]" in results["demo.vision"].detail


def test_a_hanging_import_is_killed_at_its_timeout(results):
    assert 1.4 < results["demo.hangs"].seconds < 5
    assert results["__elapsed__"] < 20


LAZY = {
    # a third-party package that loads its classes on first access, as pydantic does
    "lib/lazylib/__init__.py": """
        def __getattr__(name):
            import importlib
            return importlib.import_module("lazylib._heavy").Thing
    """,
    "lib/lazylib/_heavy.py": "class Thing: pass\n",
    "src/app/__init__.py": "",
    "src/app/uses.py": """
        import sys
        HEAVY_WAS_PRELOADED = "lazylib._heavy" in sys.modules
        assert "app.other" not in sys.modules  # the target's own modules never are
        from lazylib import Thing
        import json.decoder
        from app import other
        assert HEAVY_WAS_PRELOADED
    """,
    "src/app/other.py": "",
}


def test_preloading_takes_the_names_from_imports_name_and_nothing_of_the_target(tmp_path):
    root = write_tree(tmp_path / "app", {**LAZY, "pyproject.toml": "[project]\nname='app'\n"})
    target = Target(root)
    specs = third_party_imports(target)
    assert "lazylib:Thing" in specs and "json.decoder" in specs
    assert not any(spec.startswith("app") for spec in specs)
    paths = [root / "src", root / "lib"]
    with ImportRunner(paths, root, preload=specs) as runner:
        assert runner.run("app.uses", 10)["status"] == "ok"
    with ImportRunner(paths, root, preload=["lazylib"]) as runner:  # the module alone
        answer = runner.run("app.uses", 10)
    assert answer["status"] == "error" and answer["type"] == "AssertionError"


def _run_entry(target, name, args=("--help",)):
    points = {p.name: p for p in commands.declared_entry_points(target.pyproject)}
    return run_command(
        commands.entry_point_argv(points[name], args, sys.executable),
        timeout_s=20,
        cwd=target.root,
        env=commands.python_path_env([target.root / "src"]),
    )


def test_working_console_script_passes(target):
    result = _run_entry(target, "demo-ok")
    assert commands.judge_command(result, 0, None) == []
    assert "usage: demo-ok" in result.stdout


def test_failing_console_script_is_reported_with_its_exit_code(target):
    result = _run_entry(target, "demo-bad")
    assert commands.judge_command(result, 0, None) == ["exit code 3, expected 0"]
    assert "broken" in result.stderr


def test_command_timeout_kills_the_process_group():
    start = time.perf_counter()
    result = run_command(
        [
            sys.executable,
            "-c",
            "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)",
        ],
        timeout_s=1,
    )
    assert result.timed_out and time.perf_counter() - start < 10
    assert commands.judge_command(result, 0, None)[0].startswith("timed out after")


def test_expected_output_pattern_and_exit_code(tmp_path):
    result = run_command(
        [sys.executable, "-c", "print('version 1.2'); raise SystemExit(2)"], timeout_s=10
    )
    assert commands.judge_command(result, 2, r"version \d+\.\d+") == []
    assert commands.judge_command(result, 0, r"nope") == [
        "exit code 2, expected 0",
        "output does not match /nope/",
    ]


def test_missing_and_empty_artifacts(tmp_path):
    write_tree(tmp_path, {"out/model.bin": "x", "out/empty.txt": ""})
    assert commands.missing_artifacts(tmp_path, ["out/*.bin"]) == []
    assert commands.missing_artifacts(tmp_path, ["out/*.txt", "out/*.onnx"]) == [
        "out/*.txt: only empty files (empty.txt)",
        "out/*.onnx: no file matches",
    ]


SERVER = textwrap.dedent("""
    import http.server, json, sys, time
    delay, status = float(sys.argv[2]), int(sys.argv[3])
    time.sleep(delay)
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "ok" if status == 200 else "down"}).encode()
            self.send_response(status if self.path == "/health" else 200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            print("request", self.path, flush=True)
    print("listening", flush=True)
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
""")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _service(tmp_path, delay, status):
    (tmp_path / "server.py").write_text(SERVER)
    port = _free_port()
    return ServiceCheck(
        name="api",
        run=[sys.executable, "server.py", str(port), str(delay), str(status)],
        ready_url=f"http://127.0.0.1:{port}/",
        timeout_s=15,
        probes=[ProbeCheck(path="/health", expect_json={"status": "ok"})],
    )


def test_service_ready_after_two_seconds_is_polled_not_slept(tmp_path):
    spec = _service(tmp_path, 2.0, 200)
    with RunningService(spec, tmp_path, sys.executable) as running:
        ready = running.wait_ready()
        result = running.probe(spec.probes[0])
        pid = running.process.pid
    assert 2.0 <= ready < 4.0
    assert result.status == 200 and result.problems == ()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_service_health_500_fails_its_probe_and_keeps_output(tmp_path):
    spec = _service(tmp_path, 0.0, 500)
    with RunningService(spec, tmp_path, sys.executable) as running:
        running.wait_ready()
        result = running.probe(spec.probes[0])
        output = running.output()
    assert result.status == 500
    assert "status 500 after ready, expected 200" in result.problems
    assert "JSON field 'status' is 'down', expected 'ok'" in result.problems
    assert "request /health" in output


def test_service_that_exits_early_and_port_in_use_are_clear(tmp_path):
    port = _free_port()
    spec = ServiceCheck(
        name="dies",
        run=[sys.executable, "-c", "raise SystemExit(7)"],
        ready_port=port,
        timeout_s=10,
    )
    with pytest.raises(ServiceError, match="exited early with code 7"):
        with RunningService(spec, tmp_path, sys.executable) as running:
            running.wait_ready()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = ServiceCheck(name="taken", run=["true"], ready_port=busy.getsockname()[1])
        with pytest.raises(ServiceError, match="already in use"):
            RunningService(taken, tmp_path, sys.executable)


def test_service_urls_must_be_loopback(tmp_path):
    spec = ServiceCheck(name="remote", run=["true"], ready_url="http://192.0.2.1:80/")
    with pytest.raises(ServiceError, match="loopback only"):
        RunningService(spec, tmp_path, sys.executable)


def test_config_commands_are_argv_lists_unless_shell_is_set():
    project = "/project/.venv/bin/python"
    assert shell_argv(["{python}", "-V"], False, project) == [project, "-V"]
    assert shell_argv(["{harness_python}", "-V"], False, project) == [sys.executable, "-V"]
    assert shell_argv("echo hi | wc", True, project) == ["/bin/sh", "-c", "echo hi | wc"]
    with pytest.raises(ValueError, match="set shell: true"):
        shell_argv("echo hi", False, project)


WARMING = textwrap.dedent("""
    import http.server, sys, time
    started, then = time.monotonic(), int(sys.argv[2])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(503 if time.monotonic() - started < 1.5 else then)
            self.end_headers()
        def log_message(self, *args):
            pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
""")


@pytest.mark.parametrize("then", [200, 500])
def test_a_warming_up_service_is_ready_on_the_expected_answer(tmp_path, then):
    (tmp_path / "warm.py").write_text(WARMING)
    port = _free_port()
    spec = ServiceCheck(
        name="warm",
        run=[sys.executable, "warm.py", str(port), str(then)],
        ready_url=f"http://127.0.0.1:{port}/health",
        timeout_s=4,
        probes=[ProbeCheck(path="/health")],
    )
    with RunningService(spec, tmp_path, sys.executable) as running:
        if then == 200:
            assert running.wait_ready() >= 1.4  # the 503s of the warm-up were waited out
            assert running.probe(spec.probes[0]).problems == ()
        else:
            with pytest.raises(ServiceError, match=r"last answer: status 500, expected 200"):
                running.wait_ready()


def test_a_service_on_port_zero_is_found_by_what_it_prints(tmp_path):
    (tmp_path / "zero.py").write_text(PORT_ZERO_SERVICE)
    spec = ServiceCheck(
        name="zero",
        run=[sys.executable, "zero.py"],
        ready_pattern=r"serving on (?P<url>http://\S+)",
        ready_url="/health",
        timeout_s=6,
        probes=[ProbeCheck(path="/health")],
    )
    with RunningService(spec, tmp_path, sys.executable) as running:
        assert running.wait_ready() >= 0.9  # found the address, then waited out the 503s
        assert running.base_url.startswith("http://127.0.0.1:")
        assert running.probe(spec.probes[0]).problems == ()
    with pytest.raises(ValueError, match="named group"):
        ServiceCheck(name="bad", run=["x"], ready_pattern=r"port (\d+)")


READY = {
    "pyproject.toml": TARGET["pyproject.toml"],
    "src/demo/__init__.py": "",
    "src/demo/optional.py": "import turbo_missing_xyz\n",
}


@pytest.mark.parametrize("strict", [False, True])
def test_strict_readiness_turns_skips_into_failures(run_harness, make_target, strict):
    """A missing optional dependency is a skip, unless smoke.strict; a required GPU that
    is not there always fails (this machine's harness has no NVML binding)."""
    gpu = "environment: {require_gpu: true}" if strict else "environment: {}"
    root = make_target(
        READY, f"target: {{root: .}}\nsmoke: {{strict: {str(strict).lower()}, {gpu}}}\n"
    )
    result = run_harness(
        "-m", "smoke", "-k", "import or gpu", f"--proofyard-config={root / 'proofyard.yaml'}"
    )
    if not strict:
        assert result.returncode == 0, result.stdout[-3000:]
        assert "1 passed, 2 skipped" in result.stdout  # demo, demo.optional, test_gpu
        return
    assert result.returncode == 1
    assert "demo.optional: " in result.stdout and "(smoke.strict is true)" in result.stdout
    assert "a GPU is required but none is usable" in result.stdout
    assert "2 failed, 1 passed" in result.stdout.splitlines()[-1]
