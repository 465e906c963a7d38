"""A real project in its own environment: ``ops init``, ``--target``, ``target.python``, and
reports that survive runs which ran nothing (issue: the path from a project to a green run)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ops.env.project import ProjectEnvError, _require
from ops.proc import CommandResult
from tests.conftest import REPO, clean_env, harness_argv, run_ops, write_tree
from tests.fakes import fake_venv, fake_wheel, venv_with

# The project pins packaging==21.3 (the harness runs a newer one): each check asserts it
# sees the project's own copy, so code that ran in the harness's interpreter fails loudly.
PROJECT = {
    "pyproject.toml": """
        [project]
        name = "ringbuf"
        version = "1.0"
        requires-python = ">=3.8"
        dependencies = ["packaging==21.3"]
        [project.scripts]
        ringbuf = "ringbuf.cli:main"
        [tool.pytest.ini_options]
        python_files = ["bench_*.py"]
    """,
    "src/ringbuf/__init__.py": '''
        """A ring buffer that must run with the project's own packaging."""

        import sys

        import packaging

        if packaging.__version__ != "21.3":
            raise ImportError(f"packaging {packaging.__version__} from {sys.prefix}")


        def check_env() -> bool:
            """A pipeline step: True in the project's interpreter."""
            return packaging.__version__ == "21.3"
    ''',
    "src/ringbuf/cli.py": '''
        """The command line."""


        def main() -> int:
            """Print the usage."""
            print("usage: ringbuf")
            return 0
    ''',
    "README.md": """
        # ringbuf

        See [the guide](docs/guide.md).

        ```python
        import ringbuf

        assert ringbuf.check_env()
        ```
    """,
    "docs/guide.md": "# Guide\n\nBack to the [readme](../README.md).\n",
    "src/ringbuf/codec.py": '''
        """A codec plugin of the project: it runs only where packaging is the project's."""

        import zlib

        import packaging


        def sample() -> bytes:
            """Samples the project already has (here: made in its own environment)."""
            assert packaging.__version__ == "21.3", packaging.__version__
            return b"ring buffer samples " * 2000


        class ProjectZlib:
            """zlib, refusing to run in any environment but the project's."""

            lossless = True

            def compress(self, data: bytes) -> bytes:
                """Compress."""
                assert packaging.__version__ == "21.3", packaging.__version__
                return zlib.compress(data, 6)

            def decompress(self, payload: bytes) -> bytes:
                """Decompress."""
                return zlib.decompress(payload)
    ''',
}
DEFECTS = {
    "src/ringbuf/broken.py": '"""Broken."""\n\nraise RuntimeError("seeded import failure")\n',
    "src/ringbuf/extra.py": '"""Undeclared."""\n\nimport nowhere_declared  # noqa: F401\n',
    "docs/guide.md": "# Guide\n\nSee [gone](gone.md).\n",
    "src/ringbuf/codec.py": '''
        """A codec that corrupts the first byte of what it restores."""

        import zlib


        def sample() -> bytes:
            """Samples."""
            return b"ring buffer samples " * 2000


        class ProjectZlib:
            """Lossy by accident."""

            lossless = True

            def compress(self, data: bytes) -> bytes:
                """Compress."""
                return zlib.compress(data, 6)

            def decompress(self, payload: bytes) -> bytes:
                """Decompress, wrongly."""
                restored = zlib.decompress(payload)
                return bytes([restored[0] ^ 1]) + restored[1:]
    ''',
}
SUITES = """
compression:
  datasets:
    - {name: sources, kind: bytes, path: "src/**/*.py"}
    - {name: made, kind: callable, call: "ringbuf.codec:sample", returns: bytes}
  codecs: [{name: project-zlib, codec: "ringbuf.codec:ProjectZlib", min_ratio: 1.2}]
pipelines:
  build:
    steps:
      - {name: env, call: "ringbuf:check_env"}
      - name: cli
        run: ["{python}", "-c", "import ringbuf, sys; sys.exit(not ringbuf.check_env())"]
"""


def _project(tmp_path: Path, defective: bool) -> tuple[Path, Path]:
    root = write_tree(tmp_path / "ringbuf", {**PROJECT, **(DEFECTS if defective else {})})
    python = fake_venv(root / ".venv", [("packaging", "21.3", [], "Apache-2.0")])
    return root, python


def _pytest(*args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        harness_argv(*args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(),
    )


def _passed(junit: Path) -> set[str]:
    tree = ET.parse(junit)
    return {
        case.get("name")
        for case in tree.iter("testcase")
        if not any(child.tag in ("failure", "error", "skipped") for child in case)
    }


def _skipped(junit: Path) -> dict[str, str]:
    return {
        case.get("name"): skipped.get("message", "")
        for case in ET.parse(junit).iter("testcase")
        for skipped in case.iter("skipped")
    }


def _freeze() -> str:
    return subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.slow
@pytest.mark.parametrize("defective", [False, True], ids=["clean", "defective"])
def test_a_project_in_its_own_venv_from_init_to_every_suite(tmp_path, defective):
    root, python = _project(tmp_path, defective)
    before = _freeze()
    made = run_ops(tmp_path, "init", str(root))
    assert made.returncode == 0, made.stderr
    config = root / "proofyard.yaml"
    assert "venv: .venv" in config.read_text()
    with config.open("a") as handle:
        handle.write(SUITES)
    assert run_ops(tmp_path, "config", "validate", str(config)).returncode == 0
    reports = tmp_path / "reports"
    result = _pytest(
        "-m",
        "smoke or docs or deps or quality or pipeline or compression",
        f"--target={root}",
        f"--reports-dir={reports}",
        "-p",
        "no:randomly",
    )
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["project_python"] == {
        "path": str(python),
        "version": summary["project_python"]["version"],
        "harness": False,
    }
    passed = _passed(reports / "junit.xml")
    sarif = json.loads((reports / "findings.sarif").read_text())
    rules = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    if not defective:
        assert result.returncode == 0, result.stdout[-4000:]
        for name in (
            "test_import[ringbuf]",
            "test_import[ringbuf.cli]",
            "test_entry_point[ringbuf]",
            "test_code_block[README.md:6]",
            "test_step[build::env]",
            "test_step[build::cli]",
        ):
            assert name in passed, sorted(passed)
        for case in ("project-zlib-sources", "project-zlib-made"):
            skipped = _skipped(reports / "junit.xml")[f"test_compression_case[{case}]"]
            assert "absolute gates passed; no baseline yet" in skipped
        assert "test_lossless_property[project-zlib]" in passed
    else:
        assert result.returncode == 1
        out = result.stdout
        assert "test_import[ringbuf.broken]" in out and "seeded import failure" in out
        assert "nowhere_declared" in out or "nowhere-declared" in out
        assert "gone.md" in out
        assert "project-zlib on sources" in out and "round trip" in out
        assert rules, out[-3000:]
    assert _freeze() == before  # nothing of the project went into the harness's venv


def test_target_without_a_config_is_detected_and_an_empty_one_fails(tmp_path):
    root, python = _project(tmp_path, False)
    reports = tmp_path / "reports"
    result = _pytest("-m", "smoke", f"--target={root}", f"--reports-dir={reports}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert (
        "test_import[ringbuf]"
        in _pytest("-m", "smoke", f"--target={root}", f"--reports-dir={reports}", "-v").stdout
    )
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["project_python"]["path"] == str(python)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _pytest("-m", "smoke", f"--target={empty}", f"--reports-dir={reports}")
    assert result.returncode == 1
    assert "no source packages found" in result.stdout
    assert "ops, fixtures" not in result.stdout  # never the harness's own config


def test_ops_init_detects_the_project_and_never_overwrites(tmp_path):
    root = write_tree(
        tmp_path / "flat",
        {
            "pyproject.toml": """
                [project]
                name = "flat"
                version = "1"
                [project.optional-dependencies]
                gpu = ["cupy"]
                test = ["pytest"]
                [dependency-groups]
                lint = ["ruff"]
            """,
            "flat/__init__.py": "",
            "tests/__init__.py": "",
            "docs/index.rst": "Title\n=====\n",
            "requirements.txt": "numpy\n",
            "constraints.txt": "numpy<2\n",
            "bench/bench_x.py": "",
        },
    )
    assert run_ops(tmp_path, "init", str(root)).returncode == 0
    text = (root / "proofyard.yaml").read_text()
    for expected in (
        "packages: [flat]",
        "docs/**/*.rst",
        "requirements: [requirements.txt]",
        "constraints: [constraints.txt]",
        "extras: [gpu]",
        "paths: [bench]",
        "no project virtualenv found",
    ):
        assert expected in text, text
    again = run_ops(tmp_path, "init", str(root))
    assert again.returncode == 2
    assert "never overwrites" in again.stderr and "Traceback" not in again.stderr
    assert (root / "proofyard.yaml").read_text() == text


def test_a_bad_interpreter_is_one_config_error(tmp_path):
    root = write_tree(
        tmp_path / "p", {"p/__init__.py": "", "proofyard.yaml": "target: {venv: nope}\n"}
    )
    result = _pytest("-m", "smoke", f"--proofyard-config={root / 'proofyard.yaml'}")
    assert result.returncode == 4
    assert "target.venv" in result.stderr and "nope" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("where", ["project", "elsewhere"])
def test_pytest_outside_the_harness_stops_in_one_line(tmp_path, where):
    root, _ = _project(tmp_path, False)
    (root / "tests").mkdir()
    (root / "tests" / "bench_own.py").write_text("def test_own():\n    pass\n")
    cwd = root if where == "project" else tmp_path
    args = ["-m", "smoke"] if where == "project" else ["-m", "smoke", f"--target={root}"]
    result = _pytest(*args, cwd=cwd, timeout=60)
    assert result.returncode == 4
    assert f"cd {REPO} && python -m pytest" in result.stderr
    assert "deselected" not in result.stdout
    own = _pytest(cwd=root, timeout=60)  # the project's own tests are not proofyard's business
    assert own.returncode == 0 and "1 passed" in own.stdout
    if where == "project":  # --monitor would do nothing there: it says how to watch instead
        monitored = _pytest("--monitor", cwd=root, timeout=60)
        assert monitored.returncode == 4 and "passed" not in monitored.stdout
        assert f"-m ops monitor watch --target={root} -- " in monitored.stderr


@pytest.fixture(scope="module")
def last_run(tmp_path_factory) -> tuple[Path, Path, dict[str, bytes]]:
    tmp_path = tmp_path_factory.mktemp("kept")
    root, _ = _project(tmp_path, False)
    reports = tmp_path / "reports"
    old = os.umask(0o022)
    try:
        result = _pytest("-m", "smoke", f"--target={root}", f"--reports-dir={reports}")
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stdout[-2000:]
    return root, reports, _snapshot(reports)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    "args", [["--co"], ["-k", "no_such_test"], ["--fixtures"], ["--markers"], ["--help"]]
)
def test_runs_that_ran_nothing_leave_the_reports_untouched(last_run, args):
    root, reports, before = last_run
    result = _pytest("-m", "smoke", f"--target={root}", f"--reports-dir={reports}", *args)
    assert "INTERNALERROR" not in result.stdout + result.stderr
    assert _snapshot(reports) == before
    assert any(name.startswith("allure-results/") for name in before)


def test_report_files_follow_the_umask(last_run):
    _, reports, _ = last_run
    for name in ("summary.json", "findings.sarif", "junit.xml", "report.html"):
        mode = stat.S_IMODE((reports / name).stat().st_mode)
        assert mode == 0o644, f"{name}: {oct(mode)}"


@pytest.mark.parametrize("plugin", ["html", "allure_pytest", "metadata"])
def test_a_disabled_report_plugin_turns_that_report_off(last_run, tmp_path, plugin):
    root, _, _ = last_run
    result = _pytest(
        "-m", "smoke", f"--target={root}", f"--reports-dir={tmp_path}", "-p", f"no:{plugin}"
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "INTERNALERROR" not in result.stdout + result.stderr
    assert (tmp_path / "summary.json").is_file()
    assert (tmp_path / "report.html").is_file() == (plugin != "html")
    if plugin != "metadata":
        assert f"the {plugin} plugin is not loaded" in result.stdout


@pytest.mark.parametrize("kind", ["file", "unwritable"])
def test_an_unusable_reports_dir_is_one_usage_line(last_run, tmp_path, kind):
    root, _, _ = last_run
    folder = tmp_path / "afile"
    if kind == "file":
        folder.write_text("")
    else:
        folder = Path("/proc/proofyard-reports")
    result = _pytest("-m", "smoke", f"--target={root}", f"--reports-dir={folder}")
    assert result.returncode == 4
    assert result.stderr.strip().startswith(f"ERROR: --reports-dir={folder}")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_env_project_builds_the_projects_venv_offline_and_leaves_the_harness_alone(tmp_path):
    root = write_tree(
        tmp_path / "pinned",
        {
            "requirements.txt": "packaging==21.3\n",
            "pinned/__init__.py": '"""Needs its own packaging."""\n\nimport packaging\n\n'
            'assert packaging.__version__ == "21.3", packaging.__version__\n',
            "proofyard.yaml": "target: {venv: .venv}\ndeps: {wheelhouse: wheels}\n",
        },
    )
    fake_wheel(root / "wheels", "packaging", "21.3")
    before = _freeze()
    built = run_ops(root, "env", "project", timeout=300)
    assert built.returncode == 0, built.stderr
    assert f"project environment ready: {root / '.venv' / 'bin' / 'python'}" in built.stdout
    reports = tmp_path / "reports"
    result = _pytest("-m", "smoke", f"--target={root}", f"--reports-dir={reports}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert _freeze() == before


def test_env_project_says_what_to_allow_when_the_index_is_blocked():
    blocked = CommandResult(
        ["pip"],
        1,
        "",
        "proofyard network policy blocked a connection to pypi.org",
        0.1,
        False,
        None,
    )
    with pytest.raises(ProjectEnvError, match="network.allow_hosts .*or set deps.wheelhouse"):
        _require(blocked, "pip install")


BENCHED = {
    "pyproject.toml": """
        [project]
        name = "fastmath"
        version = "1.0"
        [tool.pytest.ini_options]
        python_files = ["bench_*.py"]
        python_functions = ["bench_*"]
    """,
    "src/fastmath/__init__.py": '''
        """Moving averages."""


        def moving_average(values, width):
            """The mean of each window of ``width`` values."""
            return [sum(values[i : i + width]) / width for i in range(len(values) - width + 1)]
    ''',
    "benchmarks/bench_core.py": """
        import fastmath


        def bench_moving_average(benchmark):
            result = benchmark(fastmath.moving_average, list(range(2000)), 10)
            assert len(result) == 1991
    """,
    "benchmarks/helpers.py": "raise RuntimeError('not a benchmark file: never imported')\n",
}
BENCH_TOOLS = [
    "pytest",
    "pluggy",
    "iniconfig",
    "packaging",
    "pygments",
    "pytest-benchmark",
    "py-cpuinfo2",
]


@pytest.mark.slow
def test_a_projects_benchmarks_are_its_own_found_by_its_conventions(tmp_path):
    root = write_tree(tmp_path / "fastmath", BENCHED)
    python = venv_with(root / ".venv", BENCH_TOOLS)
    assert run_ops(tmp_path, "init", str(root)).returncode == 0
    assert "paths: [benchmarks]" in (root / "proofyard.yaml").read_text()
    reports = tmp_path / "reports"
    # what this checks is whose benchmarks run and how they are named; the gate's sensitivity
    # is measured by benchmarks/stress_suites.py. Two processes of this runner, loaded by the
    # test suite's own sessions, measured identical code 11% apart: a 50% effect is clear of it
    args = ("-m", "benchmark", "-p", "no:xdist", f"--target={root}", f"--reports-dir={reports}",
            "--set", "benchmark.min_effect=0.5")  # fmt: skip
    first = _pytest(*args, "-v")
    node = "benchmarks/bench_core.py::bench_moving_average"
    assert first.returncode == 0, first.stdout[-3000:]
    assert f"test_project_benchmark[{node}]" in first.stdout
    assert f"no baseline yet for {node}" in first.stdout
    assert "test_hot_paths" not in first.stdout  # the harness's own benchmarks stay home
    assert _pytest(*args, "--update-baselines").returncode == 0
    again = _pytest(*args, "-rA")
    item = f"suites/test_benchmark.py::test_project_benchmark[{node}]"
    # compared with its baseline: a pass, or inconclusive on a busy machine; never a failure
    assert f"PASSED {item}" in again.stdout or f"INCONCLUSIVE {item}" in again.stdout
    table = (reports / "benchmarks.md").read_text()
    assert f"`{node}`" in table
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["project_python"]["path"] == str(python)
    # an unimportable benchmark file fails its own item; the other suites never import it
    (root / "benchmarks" / "bench_broken.py").write_text("import not_installed_anywhere\n")
    broken = _pytest(*args, "-rA")
    assert broken.returncode == 1
    assert (
        "FAILED suites/test_benchmark.py::test_project_benchmark[benchmarks/bench_broken.py]"
        in (broken.stdout)
    )
    assert "not_installed_anywhere" in broken.stdout
    assert f"PASSED {item}" in broken.stdout or f"INCONCLUSIVE {item}" in broken.stdout
    smoke = _pytest("-m", "smoke", f"--target={root}", f"--reports-dir={reports}")
    assert smoke.returncode == 0, smoke.stdout[-3000:]


def test_benchmark_files_need_pytest_benchmark_in_the_project_and_say_so(tmp_path):
    root = write_tree(tmp_path / "fastmath", BENCHED)
    venv_with(root / ".venv", ["pytest", "pluggy", "iniconfig", "packaging"])
    (root / "proofyard.yaml").write_text(
        "target: {venv: .venv}\nbenchmark: {paths: [benchmarks]}\n"
    )
    result = _pytest("-m", "benchmark", "-p", "no:xdist", f"--target={root}")
    assert result.returncode == 1
    assert "needs pytest-benchmark in the project's interpreter" in result.stdout
    assert "pip install pytest-benchmark" in result.stdout
