"""A session's fixed cost on a small project: 40 modules (3,000 lines), 20 of them in one
package the smoke suite imports, a README and 10 Markdown pages with links, declared and
imported dependencies. Whole processes, median of a few rounds, interleaved:

- `pytest -m docs`, `-m deps`, `-m quality` (cold, then warm: nothing changed) and
  `-m smoke` (20 modules imported, isolated), against the goals (0.8 s; smoke 1.0 s; warm
  quality within 25% of cold). Cold quality: the analysis's and ruff's caches emptied; the
  snapshot of the project's environment, which every suite shares and an install renews,
  is kept. A first run, with no cache at all, is printed too, with no goal;
- the floor under them: `pytest --co -q` of an empty folder with the same plugins, and
  `python -c pass`, so that a slower machine shows as a higher floor, not as a miss.

Usage: python benchmarks/small_project_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from suite_run import REPO, timed

MODULE = '''"""Module {index}: small helpers of the kind a real package holds."""

from __future__ import annotations

import json
import math


def scaled(values: list[float], factor: float = {index}.0) -> list[float]:
    """Each value times ``factor``."""
    return [value * factor for value in values]


def summary(values: list[float]) -> dict[str, float]:
    """Mean and spread of ``values`` (empty: zeros)."""
    if not values:
        return {{"mean": 0.0, "sd": 0.0}}
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return {{"mean": mean, "sd": spread}}


def as_json(values: list[float]) -> str:
    """``values`` and their summary as JSON."""
    return json.dumps({{"values": values, "summary": summary(values)}})


class Window:
    """A moving window over a stream of numbers."""

    def __init__(self, size: int = {size}) -> None:
        self.size = size
        self.items: list[float] = []

    def push(self, value: float) -> float:
        """Add ``value``; the window's mean after it."""
        self.items = (self.items + [value])[-self.size :]
        return sum(self.items) / len(self.items)
''' + "".join(
    f'''

def helper_{n}(value: int) -> int:
    """Helper {n}: a branch or two, as real code has."""
    if value < {n}:
        return value + {n}
    if value % 2:
        return value * 3 + 1
    return value // 2
'''
    for n in range(5)
)

PAGE = """# Page {index}

Back to the [README](../README.md); the [next page](page{next}.md#page-{next}) and the
[module it describes](../smallpkg/mod{index:02d}.py).

## Usage

```python
print({index} + 1)
```
"""


def make_project(root: Path) -> None:
    (root / "smallpkg").mkdir()
    (root / "tools").mkdir()
    (root / "docs").mkdir()
    (root / "smallpkg" / "__init__.py").write_text('"""A small package."""\n')
    for index in range(20):
        (root / "smallpkg" / f"mod{index:02d}.py").write_text(MODULE.format(index=index, size=5))
    for index in range(19):  # with the package's __init__: 40 files
        (root / "tools" / f"tool{index:02d}.py").write_text(MODULE.format(index=index, size=7))
    for index in range(10):
        (root / "docs" / f"page{index}.md").write_text(
            PAGE.format(index=index, next=(index + 1) % 10)
        )
    (root / "README.md").write_text(
        "# smallpkg\n\n" + "".join(f"- [page {i}](docs/page{i}.md)\n" for i in range(10))
    )
    (root / "pyproject.toml").write_text(
        '[project]\nname = "smallpkg"\nversion = "1.0"\nrequires-python = ">=3.9"\n'
        'dependencies = ["pytest"]\n'
    )
    (root / "proofyard.yaml").write_text(
        "target: {root: ., packages: [smallpkg]}\nkpi: {record: false}\n"
        "deps: {allow_unused: [pytest]}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder, "smallpkg-project")
        root.mkdir()
        make_project(root)
        empty = Path(folder, "empty")
        empty.mkdir()
        config = f"--proofyard-config={root / 'proofyard.yaml'}"
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", config]
        runs: dict[str, list[float]] = {}
        suite_seconds: dict[str, list[float]] = {}

        def run(name: str, argv: list[str], cwd: Path = REPO) -> None:
            done = timed(argv, cwd)
            if done.result.returncode not in (0, 1, 5):  # 1: findings (generated twins)
                raise SystemExit(f"{name} failed:\n{done.result.stdout[-2000:]}")
            runs.setdefault(name, []).append(done.wall)
            if "quality" in name:
                summary = json.loads((root / ".proofyard/reports/summary.json").read_text())
                suite_seconds.setdefault(name, []).append(
                    summary["suites"]["quality"]["duration_s"]
                )

        for _ in range(args.rounds):
            run("python -c pass", [sys.executable, "-c", "pass"])
            run("pytest --co, empty folder", [sys.executable, "-m", "pytest", "--co", "-q"], empty)
            for suite in ("docs", "deps", "smoke"):
                run(f"-m {suite}", [*base, "-m", suite])
            shutil.rmtree(root / ".proofyard" / "cache", ignore_errors=True)
            run("-m quality, first run (no cache)", [*base, "-m", "quality"])
            for cache in (root / ".proofyard" / "cache").glob("quality.json*"):  # and ruff's
                shutil.rmtree(cache) if cache.is_dir() else cache.unlink()
            run("-m quality, cold", [*base, "-m", "quality"])
            run("-m quality, warm", [*base, "-m", "quality"])
        goals = {"-m docs": 0.8, "-m deps": 0.8, "-m quality, cold": 0.8, "-m smoke": 1.0}
        medians = {name: statistics.median(times) for name, times in runs.items()}
        for name, median in medians.items():
            goal = goals.get(name)
            verdict = f" (goal <= {goal} s: {'OK' if median <= goal else 'OVER'})" if goal else ""
            print(f"{name}: {median:.2f} s wall, median of {args.rounds}{verdict}")
        warm = medians["-m quality, warm"] / medians["-m quality, cold"]
        print(f"quality warm / cold, whole processes: {warm:.2f} (startup included)")
        within = {name: statistics.median(times) for name, times in suite_seconds.items()}
        for name, median in within.items():
            print(f"{name}: the suite's own {median:.3f} s (summary.json duration_s)")
        warm = within["-m quality, warm"] / within["-m quality, cold"]
        print(
            f"quality warm / cold, the suite's own time: {warm:.2f} "
            f"(goal <= 0.25: {'OK' if warm <= 0.25 else 'OVER'})"
        )


if __name__ == "__main__":
    main()
