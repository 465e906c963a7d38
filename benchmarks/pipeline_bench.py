"""Pipeline scheduling figures, measured in one run:
- overhead per step for 500 no-op `call` steps run locally (goal: at most 5 ms per step);
- two independent 1 s sleep branches with 2 workers (goal: at most 1.2 s wall);
- the same DAG run locally and on a Dask LocalCluster: identical state files (status and
  fingerprint of every step);
- whole processes, side by side, rounds interleaved: `python -m ops pipeline run` of the
  no-op steps against `doit -n 2` of as many no-op Python tasks (goal: within 2x).

Usage: python benchmarks/pipeline_bench.py [--steps 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from suite_run import timed

from ops.config.schema import Pipeline
from ops.pipeline.runner import Runner
from ops.pipeline.state import StateFile

DODO = """
def noop():
    return None


def task_noop():
    for index in range(STEPS):
        yield {"name": f"n{index}", "actions": [(noop,)], "verbosity": 0}
"""

NOOP = "def noop():\n    return None\n\ndef write(path, text):\n    open(path, 'w').write(text)\n"


def run(root: Path, steps: list[dict], workers: int = 2, executors=None, state="state.json"):
    pipeline = Pipeline.model_validate({"workers": workers, "steps": steps})
    runner = Runner(
        "bench",
        pipeline,
        root,
        root / state,
        root / "logs",
        network={"isolate": True},
        executors=executors,
    )
    start = time.perf_counter()
    result = runner.run()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    whole_processes(args.steps, args.rounds)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "bench_steps.py").write_text(NOOP)
        sys.path.insert(0, str(root))
        noops = [{"name": f"n{i}", "call": "bench_steps:noop"} for i in range(args.steps)]
        result, wall = run(root, noops)
        per_step = wall / args.steps * 1000
        print(
            f"{args.steps} no-op call steps, 2 workers: {wall:.2f} s wall, {per_step:.2f} ms "
            f"per step (goal <= 5 ms -> {'OK' if per_step <= 5 else 'OVER'}); "
            f"all succeeded: {result.ok}"
        )
        sleeps = [{"name": "left", "run": ["sleep", "1"]}, {"name": "right", "run": ["sleep", "1"]}]
        result, wall = run(root, sleeps, state="sleep-state.json")
        print(
            f"two independent 1 s sleep branches, 2 workers: {wall:.2f} s wall "
            f"(goal <= 1.2 s -> {'OK' if wall <= 1.2 else 'OVER'}); all succeeded: {result.ok}"
        )
        dag = [
            {
                "name": "a",
                "call": "bench_steps:write",
                "kwargs": {"path": "a.txt", "text": "a"},
                "outputs": ["a.txt"],
            },
            {
                "name": "b",
                "run": ["sh", "-c", "cat a.txt > b.txt"],
                "needs": ["a"],
                "inputs": ["a.txt"],
                "outputs": ["b.txt"],
            },
            {"name": "c", "call": "bench_steps:noop", "needs": ["a"]},
        ]
        local, local_wall = run(root, dag, state="local.json")
        from ops.pipeline.dask_executor import dask_executors

        start = time.perf_counter()
        with dask_executors(None, 2) as executors:
            started = time.perf_counter() - start
            dask_result, dask_wall = run(root, dag, executors=executors, state="dask.json")
        same = (
            StateFile(root / "local.json").comparable()
            == StateFile(root / "dask.json").comparable()
        )
        print(
            f"DAG of 3 steps: local {local_wall:.2f} s, Dask LocalCluster {dask_wall:.2f} s "
            f"(cluster start {started:.2f} s); statuses equal: "
            f"{local.statuses == dask_result.statuses}; state files identical: {same}"
        )


def whole_processes(steps: int, rounds: int) -> None:
    """`ops pipeline run` and `doit -n 2` of ``steps`` no-op steps, each a fresh process
    with no state from an earlier round, interleaved; medians of wall and CPU seconds."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "bench_steps.py").write_text(NOOP)
        (root / "dodo.py").write_text(f"STEPS = {steps}\n" + DODO)
        lines = [f"  - {{name: n{i}, call: 'bench_steps:noop'}}" for i in range(steps)]
        (root / "proofyard.yaml").write_text(
            "target: {root: .}\nkpi: {record: false}\npipelines:\n  noop:\n"
            "    workers: 2\n    steps:\n" + "\n".join(f"  {line}" for line in lines) + "\n"
        )
        ours, theirs = [], []
        for _ in range(rounds):
            for path in [root / ".proofyard", *root.glob(".doit.db*")]:
                subprocess.run(["rm", "-rf", str(path)], check=True)
            ours.append(timed([sys.executable, "-m", "ops", "pipeline", "run", "noop"], root))
            theirs.append(timed([sys.executable, "-m", "doit", "-n", "2"], root))
        for name, runs in (("ops pipeline run", ours), ("doit -n 2", theirs)):
            failed = [r.result.stderr[-500:] for r in runs if r.result.returncode != 0]
            if failed:
                raise SystemExit(f"{name} failed: {failed[0]}")
        wall = statistics.median(r.wall for r in ours), statistics.median(r.wall for r in theirs)
        cpu = statistics.median(r.cpu for r in ours), statistics.median(r.cpu for r in theirs)
        print(
            f"{steps} no-op steps, whole process, median of {rounds}: ops pipeline run "
            f"{wall[0]:.2f} s wall / {cpu[0]:.2f} s CPU, doit -n 2 {wall[1]:.2f} s / "
            f"{cpu[1]:.2f} s -> {wall[0] / wall[1]:.2f}x wall, {cpu[0] / cpu[1]:.2f}x CPU "
            f"(goal <= 2x)"
        )


if __name__ == "__main__":
    main()
