"""Zero false alarms on a busy machine: every suite on a generated clean project and on its
defective twin, RUNS times each, with two CPU-bound processes running beside it the whole
time. Each project lives in its own virtualenv (pytest and pytest-benchmark linked in).

Per run: a baseline session on the unchanged code (``--update-baselines``), then the
defects are seeded into the twin (a codec 30% slower, a benchmark 10% slower, a new
``print()`` under ratchet, a broken import, an undeclared import, a broken link, a corrupting
codec, a cyclic pipeline, a service answering 500) and a file renamed in both, then every
suite is judged. Printed: failing items of the clean project (must be 0), and per seeded
defect whether it was found; then the clean project once more under ``-n 2``.

    python benchmarks/stress_suites.py [RUNS]
"""

from __future__ import annotations

import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import clean_env, write_tree  # noqa: E402
from tests.fakes import PORT_ZERO_SERVICE, venv_with  # noqa: E402

TOOLS = ["pytest", "pluggy", "iniconfig", "packaging", "pygments", "pytest-benchmark",
         "py-cpuinfo2"]  # fmt: skip
PROJECT = {
    "pyproject.toml": """
        [project]
        name = "stressproj"
        version = "1.0"
        requires-python = ">=3.8"
        dependencies = ['tomli; python_version < "3.11"']
        [project.optional-dependencies]
        fast = ["simplejson"]
        [tool.pytest.ini_options]
        python_files = ["bench_*.py"]
    """,
    "src/stressproj/__init__.py": '"""A project under stress."""\n',
    "src/stressproj/core.py": '''
        """Work to benchmark."""

        import os
        import sys

        if sys.version_info >= (3, 11):
            import tomllib
        else:
            import tomli as tomllib

        try:
            import simplejson  # noqa: F401

            HAS_SIMPLEJSON = True
        except ImportError:
            HAS_SIMPLEJSON = False


        def dumps(value: object) -> str:
            """JSON text, by simplejson when the extra is installed."""
            if HAS_SIMPLEJSON:
                import simplejson

                return simplejson.dumps(value)
            return repr(value)


        def work() -> int:
            """Integer work; STRESS_WORK scales it (the 10% slower session)."""
            rounds = int(os.environ.get("STRESS_WORK", "30000"))
            return sum(i * i % 7 for i in range(rounds)) + len(tomllib.__name__)
    ''',
    "src/stressproj/typed_a.py": '''
        """One side of a cycle that exists for the type checker only."""

        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from stressproj.typed_b import B


        def describe(value: "B") -> str:
            """Name a B."""
            return type(value).__name__
    ''',
    "src/stressproj/typed_b.py": '''
        """The other side."""

        import stressproj.typed_a  # noqa: F401


        class B:
            """Nothing."""
    ''',
    "src/stressproj/legacy.py": '''
        """A legacy module with a known finding (recorded by the ratchet), renamed later."""


        def report(value: int) -> None:
            """Print it."""
            print(value)
    ''',
    "src/stressproj/codec.py": '''
        """Codec plugins of the project."""

        import os
        import time
        import zlib


        class Zlib:
            """zlib; STRESS_SLOW_CODEC makes each call do 30% more of the same work."""

            lossless = True

            def compress(self, data: bytes) -> bytes:
                """Compress."""
                start = time.thread_time()
                payload = zlib.compress(data, 6)
                if os.environ.get("STRESS_SLOW_CODEC"):  # exactly 30% more CPU time
                    deadline = start + (time.thread_time() - start) * 1.3
                    while time.thread_time() < deadline:
                        pass
                return payload

            def decompress(self, payload: bytes) -> bytes:
                """Decompress."""
                return zlib.decompress(payload)


        class Corrupting(Zlib):
            """Flips one byte of the restored data when STRESS_CORRUPT is set."""

            def decompress(self, payload: bytes) -> bytes:
                """Decompress, wrongly in the defective twin."""
                restored = zlib.decompress(payload)
                if os.environ.get("STRESS_CORRUPT"):
                    return bytes([restored[0] ^ 1]) + restored[1:]
                return restored
    ''',
    "service.py": PORT_ZERO_SERVICE,
    "benchmarks/bench_core.py": """
        from stressproj.core import work


        def test_work(benchmark):
            benchmark(work)
    """,
    "data/sample.txt": "".join(f"line {i} of a sample to compress\n" for i in range(3000)),
    "README.md": """
        # stressproj

        Read the [guide](docs/guide.md).

        ```python
        from stressproj.core import work

        assert work() > 0
        ```
    """,
    "docs/guide.md": "# Guide\n\nBack to the [readme](../README.md).\n",
    "proofyard.yaml": """
        target: {venv: .venv}
        deps:
          extras: []
        quality:
          prints: {mode: ratchet}
          docstrings: {mode: ratchet}
        smoke:
          services:
            - name: api
              run: ["{python}", "service.py"]
              env: {WARM_S: "2"}
              ready_pattern: 'serving on (?P<url>http://\\S+)'
              ready_url: /health
              timeout_s: 20
              probes: [{path: /health}]
        compression:
          repeats: 30
          datasets: [{name: sample, kind: bytes, path: "data/*.txt"}]
          codecs:
            # compute-bound like the reference: sessions of it differ by a few per cent,
            # so a smaller effect than the default 25% is safe for it
            - {name: project-zlib, codec: "stressproj.codec:Zlib", min_ratio: 2.0,
               throughput_regression: 0.15}
            - {name: checked-zlib, codec: "stressproj.codec:Corrupting", min_ratio: 2.0,
               throughput_regression: 0.15}
        benchmark:
          paths: [benchmarks]
          rounds: 200
        pipelines:
          build:
            steps:
              - {name: one, run: ["{python}", "-c", "import stressproj.core"]}
              - {name: two, run: ["true"], needs: [one]}
    """,
}
CYCLE = """
  cyclic:
    steps:
      - {name: a, run: ["true"], needs: [b]}
      - {name: b, run: ["true"], needs: [a]}
"""
# seeded defect: (suite, junit test name that must fail, what to change)
DEFECTS = {
    "smoke: broken import": "test_import[stressproj.broken]",
    "smoke: service answers 500": "test_service[api]",
    "deps: undeclared import": "test_imports_match_declarations[missing]",
    "docs: broken link": "test_links[docs/guide.md]",
    "quality: new print() under ratchet": "test_gate[prints]",
    "pipeline: cycle": "test_step[cyclic::a]",
    "compression: corrupting codec": "test_lossless_property[checked-zlib]",
    "compression: codec 30% slower": "test_compression_case[project-zlib-sample]",
    "benchmark: 10% slower": "test_project_benchmark[benchmarks/bench_core.py::test_work]",
}
DEFECT_ENV = {
    "STRESS_SLOW_CODEC": "1",
    "STRESS_CORRUPT": "1",
    "STRESS_WORK": "33000",
    "STATUS": "500",
}


def burn() -> None:
    while True:
        pass


def pytest(root: Path, reports: Path, marker: str, *options: str, env=None):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", marker,
         f"--target={root}", f"--reports-dir={reports}", *options],
        cwd=REPO, capture_output=True, text=True, env=clean_env(**(env or {})), timeout=1800,
    )  # fmt: skip


MESSAGES: dict[str, str] = {}  # the failure message of each failing item, last run


def outcomes(reports: Path) -> dict[str, str]:
    found = {}
    for case in ET.parse(reports / "junit.xml").iter("testcase"):
        kinds = {child.tag for child in case}
        outcome = (
            "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "ok"
        )
        found[case.get("name")] = outcome
        for child in case:
            if child.tag in ("failure", "error"):
                MESSAGES[case.get("name")] = (child.get("message") or "")[:300]
    return found


def make(base: Path, name: str) -> Path:
    root = write_tree(base / name, PROJECT)
    venv_with(root / ".venv", TOOLS)
    return root


def seed(root: Path) -> None:
    """The static defects of the twin (the slowdowns come from DEFECT_ENV)."""
    src = root / "src" / "stressproj"
    (src / "broken.py").write_text('"""Broken."""\n\nraise RuntimeError("seeded")\n')
    (src / "undeclared.py").write_text('"""Undeclared."""\n\nimport not_declared_xyz  # noqa\n')
    (src / "chatty.py").write_text('"""New print."""\n\n\ndef say() -> None:\n    """Say."""\n'
                                   '    print("hi")\n')  # fmt: skip
    (root / "docs" / "guide.md").write_text("# Guide\n\nSee [gone](gone.md).\n")
    with (root / "proofyard.yaml").open("a") as handle:
        handle.write(CYCLE)


def judged(root: Path, reports: Path, env: dict[str, str], workers: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    parallel = ("-n", workers) if workers else ()
    pytest(root, reports, "smoke or docs or deps or quality or pipeline or compression",
           *parallel, env=env)  # fmt: skip
    found.update(outcomes(reports))
    pytest(root, reports, "benchmark", "-p", "no:xdist", env=env)
    found.update(outcomes(reports))
    return found


def one_run(base: Path) -> tuple[list[str], dict[str, str]]:
    clean, twin = make(base, "clean"), make(base, "twin")
    for root in (clean, twin):
        reports = root / ".proofyard" / "baseline-reports"
        pytest(root, reports, "quality or compression", "--update-baselines")
        pytest(root, reports, "benchmark", "-p", "no:xdist", "--update-baselines")
        legacy = root / "src" / "stressproj" / "legacy.py"
        legacy.rename(legacy.with_name("renamed_legacy.py"))  # git mv, under ratchet
    seed(twin)
    clean_found = judged(clean, base / "clean-reports", {})
    for name, outcome in sorted(clean_found.items()):
        if outcome == "failed":
            print(f"    clean {name}: {MESSAGES.get(name, '')}")
    twin_found = judged(twin, base / "twin-reports", DEFECT_ENV)
    false_alarms = sorted(name for name, outcome in clean_found.items() if outcome == "failed")
    return false_alarms, twin_found


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(2)]
    for process in burners:
        process.start()
    totals = dict.fromkeys(DEFECTS, 0)
    clean_failures = 0
    try:
        for run in range(1, runs + 1):
            base = Path(tempfile.mkdtemp(prefix=f"proofyard-stress-{run}-"))
            try:
                false_alarms, twin = one_run(base)
                if run == 1:
                    serial = judged(base / "clean", base / "clean-serial", {})
                    spread = judged(base / "clean", base / "clean-n2", {}, workers="2")
                    differ = sorted(
                        n for n in serial if serial[n] != spread.get(n) and "benchmark" not in n
                    )
                    print(f"clean under -n 2 vs serial: {len(differ)} items differ {differ}")
            finally:
                shutil.rmtree(base, ignore_errors=True)
            clean_failures += len(false_alarms)
            found = {d: twin.get(test) == "failed" for d, test in DEFECTS.items()}
            for defect, hit in found.items():
                totals[defect] += hit
            print(f"run {run}: clean project failing items: {len(false_alarms)} {false_alarms}")
            print(f"run {run}: defects found {sum(found.values())}/{len(found)}: "
                  + ", ".join(f"{d}={'yes' if h else 'NO'}" for d, h in found.items()))  # fmt: skip
            sys.stdout.flush()
    finally:
        for process in burners:
            process.terminate()
    print(f"\nclean project: {clean_failures} failing results in {runs} runs (must be 0)")
    for defect, hits in totals.items():
        print(f"{defect}: found in {hits} of {runs} runs")
    return 0 if clean_failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
