"""Deps suite speed: a target with 300 declared and installed distributions (goal <= 3 s).

Builds a bare virtualenv holding 300 hand-written distributions (with requirements between
them, licenses and import names), a target that declares and imports all of them plus a
requirements file of pins and an OSV advisory folder, then times `pytest -m deps` on it
(three runs, wall clock, reports written) and the checks alone in this process.

Usage: python benchmarks/deps_bench.py [--count 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the fake environment builder lives with the tests

from suite_run import run_suite  # noqa: E402

from tests.fakes import fake_venv  # noqa: E402


def build(folder: Path, count: int) -> Path:
    names = [f"pkg-{index:03d}" for index in range(count)]
    dists = [
        (name, "1.0", [names[index - 1] + ">=1"] if index else [], "MIT")
        for index, name in enumerate(names)
    ]
    python = fake_venv(folder / "venv", dists)
    root = folder / "target"
    (root / "demo").mkdir(parents=True)
    deps = ",\n".join(f'    "{name}>=1"' for name in names)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "demo"\nrequires-python = ">=3.8"\ndependencies = [\n{deps}\n]\n'
        '[tool.setuptools]\npackages = ["demo"]\n'
    )
    (root / "requirements.txt").write_text("".join(f"{name}==1.0\n" for name in names))
    (root / "demo" / "__init__.py").write_text(
        "".join(f"import {name.replace('-', '_')}\n" for name in names)
    )
    osv = root / "osv"
    osv.mkdir()
    for index in range(200):
        (osv / f"PYSEC-{index}.json").write_text(
            json.dumps(
                {
                    "id": f"PYSEC-{index}",
                    "modified": "2026-01-01T00:00:00Z",
                    "affected": [
                        {
                            "package": {"ecosystem": "PyPI", "name": f"other-{index}"},
                            "ranges": [
                                {
                                    "type": "ECOSYSTEM",
                                    "events": [{"introduced": "0"}, {"fixed": "2"}],
                                }
                            ],
                        }
                    ],
                }
            )
        )
    (root / "proofyard.yaml").write_text(
        f"target: {{root: .}}\ndeps:\n  python: {python}\n  advisories: osv\n"
        "  licenses: {allow: [MIT]}\n"
    )
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = build(Path(folder), args.count)
        walls, last = [], ""
        for _ in range(3):
            wall, result, last = run_suite(
                "deps",
                Path(folder) / "reports",
                f"--proofyard-config={root / 'proofyard.yaml'}",
            )
            walls.append(wall)
        summary = json.loads((Path(folder) / "reports" / "summary.json").read_text())
        deps = summary["suites"]["deps"]
        print(
            f"target: {args.count} declared, installed and imported distributions; "
            f"suite inspected {dict(deps['inspected'])}"
        )
        print(
            f"pytest -m deps: median {statistics.median(walls):.2f} s, best {min(walls):.2f} s "
            f"wall (goal <= 3 s: ratio {statistics.median(walls) / 3:.2f}) -> "
            f"{'OK' if statistics.median(walls) <= 3 else 'OVER'}; exit {result.returncode}; "
            f"{last}"
        )
        print(f"time inside the suite's items: {deps['duration_s']:.2f} s")


if __name__ == "__main__":
    main()
