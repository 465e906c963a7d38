"""The benchmark gate: statistics, the store, the suite end to end, A/B and cachegrind."""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil
import statistics
import subprocess
import textwrap

import numpy as np
import pytest

from ops.benchmark.ab import ABError, ab_compare, instruction_count
from ops.benchmark.stats import (
    compare,
    confirms_regression,
    mann_whitney_p,
    near_regression,
    pooled_stands,
)
from ops.benchmark.store import BenchmarkStore


def samples(center, spread=0.02, n=30, seed=0):
    return list(np.random.default_rng(seed).normal(center, center * spread, n))


@pytest.mark.parametrize(
    ("current", "verdict"),
    [(1.00, "pass"), (1.20, "regression"), (0.80, "improvement"), (1.05, "inconclusive")],
)
def test_verdicts(current, verdict):
    result = compare(samples(current, seed=1), samples(1.0, seed=2), min_effect=0.05)
    assert result.verdict == verdict, result.detail


@pytest.mark.parametrize(
    ("pooled", "second", "stands"),
    [
        ("pass", "pass", True),
        ("pass", "inconclusive", True),
        ("pass", "regression", False),  # the second process alone is slower: not a pass
        ("regression", "regression", True),
        ("regression", "pass", False),  # one slow process must not decide by itself
        ("regression", "inconclusive", False),
        ("improvement", "improvement", True),
        ("improvement", "pass", False),
        ("inconclusive", "pass", False),
    ],
)
def test_a_verdict_on_two_processes_pooled_stands_only_with_the_second(pooled, second, stands):
    assert pooled_stands(pooled, second) is stands


@pytest.mark.parametrize(
    ("verdict", "high", "near"),
    [
        ("pass", 1.03, True),  # past half of a 5% effect: another process is asked
        ("pass", 1.02, False),
        ("regression", 1.2, False),  # not a pass: confirmed by its own rule
        ("pass", float("nan"), False),
    ],
)
def test_a_pass_near_the_effect_is_asked_again(verdict, high, near):
    assert near_regression(verdict, high, 0.05) is near


@pytest.mark.parametrize(
    ("verdict", "ratio", "low", "confirms"),
    [
        ("regression", 1.07, 1.055, True),
        ("inconclusive", 1.057, 1.047, False),  # just past the effect: a third decides
        ("inconclusive", 1.09, 1.03, True),  # noisy, but 1.5x the effect and above 1
        ("inconclusive", 1.09, 0.99, False),
        ("pass", 1.01, 0.99, False),
    ],
)
def test_a_second_process_confirms_only_a_clear_slowdown(verdict, ratio, low, confirms):
    assert confirms_regression(verdict, ratio, low, 0.05) is confirms


def test_noisy_samples_are_inconclusive_and_say_so():
    result = compare(samples(1.1, spread=0.4, seed=3), samples(1.0, spread=0.4, seed=4))
    assert result.verdict == "inconclusive" and "too noisy to tell" in result.detail


def test_noise_floor_and_too_few_samples():
    tiny = compare(samples(2e-8), samples(1e-8), noise_floor_s=1e-7)
    assert tiny.verdict == "inconclusive" and "noise floor" in tiny.detail
    assert compare([1.0, 2.0], [1.0, 2.0, 3.0]).verdict == "inconclusive"


def test_mann_whitney():
    assert mann_whitney_p([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    assert mann_whitney_p(list(range(20)), list(range(100, 120))) < 1e-6


def test_store_is_per_machine_updated_only_when_asked(tmp_path):
    store = BenchmarkStore(tmp_path)
    store.save("b", "m1", [1.0, 1.1], 0.01, "abc", update_baseline=False)
    assert store.baseline("b", "m1") == (None, False)
    store.save("b", "m1", [1.0, 1.1], 0.01, "abc", update_baseline=True)
    saved, other = store.baseline("b", "m1")
    assert saved.samples == [1.0, 1.1] and not other
    saved, other = store.baseline("b", "m2")
    assert saved.machine == "m1" and other  # another machine's, in calibrated units
    assert len(store.history_of("b", "m1")) == 2
    (tmp_path / "m1.json").write_text("{broken")
    with pytest.raises(ValueError, match="corrupt benchmark store"):
        store.baseline("b", "m1")
    moved = store.quarantine(tmp_path / "m1.json")
    assert moved is not None and moved.name.startswith("m1.json.corrupt-")
    assert store.quarantine(tmp_path / "m1.json") is None  # once: the next finds it gone
    assert store.baseline("b", "m1") == (None, False)


BENCH = textwrap.dedent("""
    import itertools
    import os
    import sys

    import pytest

    if os.environ.get("FAKE_BUSY"):  # every pair sampled while preempted (in the project's
        # pytest, proofyard's plugin loads calibration.py under this private name)
        calibration = sys.modules["_proofyard_calibration"]
        calibration.involuntary_switches = itertools.count().__next__

    WORK = int(os.environ.get("BENCH_WORK", "20000"))
    BY_PROCESS = os.environ.get("WORK_BY_PROCESS")  # "COUNTER:F1,F2,...": the Nth process
    if BY_PROCESS:  # of the session does FN times the work (the last factor for the rest)
        counter, _, factors = BY_PROCESS.partition(":")
        starts = (int(open(counter).read()) if os.path.exists(counter) else 0) + 1
        open(counter, "w").write(str(starts))
        WORK = int(WORK * float(factors.split(",")[min(starts, len(factors.split(","))) - 1]))

    def workload():
        return sum(index * index % 11 for index in range(WORK))

    def test_workload(benchmark):
        benchmark.pedantic(workload, rounds=10, iterations=1)

    @pytest.mark.budget(max_time=1e-9)
    def test_over_budget(benchmark):
        benchmark(workload)

    @pytest.mark.budget(max_rss_growth_mb=5)
    def test_grows(benchmark):
        benchmark.pedantic(lambda: b"x" * (40 * 2**20), rounds=2, iterations=1)

    @pytest.mark.budget(max_memroy_mb=5)
    def test_misspelt_budget(benchmark):
        benchmark(workload)
""")


def _check_second_opinions(run_harness, args, by_process, tmp_path) -> None:
    # the second process disagrees, a third and a fourth find it slower: two of three fresh
    two_of_three = run_harness(*args, env=by_process("two-of-three", "4,1,4"))
    assert "a third and a fourth confirmed it" in two_of_three.stdout, two_of_three.stdout[-3000:]
    assert "test_w.py::test_workload: regression" in two_of_three.stdout
    # the second and the fourth disagree: the first (asked about because it found it) and
    # the third are no majority of the fresh processes
    split = run_harness(*args, env=by_process("split", "4,1,4,1"))
    three = r"fresh processes found ratios (?:[\d.]+ \([^)]*\)(?:, |: )){3}the processes"
    assert re.search(three, split.stdout), split.stdout[-3000:]
    assert "test_w.py::test_workload: regression" not in split.stdout
    # one process 4x faster (an improvement by itself), the next as fast as the baseline:
    # judged again on both pooled, it is no improvement
    faster = run_harness(*args, env=by_process("faster", "0.25,1"))
    rows = json.loads((tmp_path / "reports" / "summary.json").read_text())["suites"]["benchmark"]
    (row,) = [r for r in rows["tables"]["benchmarks"] if r["benchmark"].endswith("test_workload")]
    assert row["verdict"] in ("pass", "inconclusive"), faster.stdout[-3000:]
    # a pass near the effect: the first process 1.7x, with an effect of 80% a pass whose
    # interval reaches past 1.4; the second 3x: judged again, it passes no more
    effect = ("--set", "benchmark.min_effect=0.8")
    near = run_harness(*args, *effect, env=by_process("near", "1.7,3"))
    rows = json.loads((tmp_path / "reports" / "summary.json").read_text())["suites"]["benchmark"]
    (row,) = [r for r in rows["tables"]["benchmarks"] if r["benchmark"].endswith("test_workload")]
    assert row["verdict"] in ("regression", "inconclusive"), near.stdout[-3000:]


@pytest.mark.slow
def test_suite_gates_a_slower_variant_and_budgets(run_harness, make_target, tmp_path):
    root = make_target(
        {"benches/test_w.py": BENCH},
        "target: {root: .}\nbenchmark: {paths: [benches], rounds: 40, calibration_tolerance: 100}\n"
        "kpi: {record: false}\n",
    )
    args = (
        "-m",
        "benchmark",
        "-k",
        "test_w",
        "-p",
        "no:xdist",
        f"--proofyard-config={root / 'proofyard.yaml'}",
    )
    first = run_harness(*args)
    assert "no baseline yet for" in first.stdout
    assert "over the budget 1e-09 s" in first.stdout  # budgets apply without a baseline
    assert "RSS growth" in first.stdout and "over the budget 5 MB" in first.stdout
    assert "budget takes only keywords" in first.stdout and "got max_memroy_mb" in first.stdout
    # (an effect clear of how far processes of a runner this suite loads differ: a new
    # baseline needs two that agree)
    run_harness(*args, "--update-baselines", "--set", "benchmark.min_effect=0.3")
    slow = run_harness(*args, env={"BENCH_WORK": "80000"})
    table = (tmp_path / "reports" / "benchmarks.md").read_text()
    assert "test_w.py::test_workload` | regression |" in table, slow.stdout[-2000:]
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    rows = summary["suites"]["benchmark"]["tables"]["benchmarks"]
    assert {row["verdict"] for row in rows if row["benchmark"].endswith("test_workload")} == {
        "regression"
    }
    assert list((tmp_path / "reports").glob("benchmark-*.svg"))
    (png,) = (tmp_path / "reports").glob("benchmark-*test_workload.png")  # for the Markdown
    assert png.read_bytes().startswith(b"\x89PNG") and f"]({png.name})" in table
    assert "confirmed in a fresh process" in slow.stdout  # a slower change: slower again
    # an effect of 50%: the measuring process (4x the work) is clear of it, the fresh one
    # (the same code as the baseline; two processes of a loaded runner differ by up to ~11%)
    # is not, whatever the load
    half = ("--set", "benchmark.min_effect=0.5")

    def by_process(name: str, factors: str) -> dict[str, str]:
        return {"WORK_BY_PROCESS": f"{tmp_path / name}:{factors}"}

    one_off = run_harness(*args, *half, env=by_process("one-off", "4,1"))
    assert "processes of this machine disagree" in one_off.stdout, one_off.stdout[-3000:]
    assert re.search(r"fresh processes found ratios [\d.]+ \(\w+\), [\d.]+", one_off.stdout), (
        one_off.stdout[-3000:]
    )  # a third, 1x as the second
    assert "test_w.py::test_workload: regression" not in one_off.stdout
    workload = tuple("test_workload" if arg == "test_w" else arg for arg in args)
    _check_second_opinions(run_harness, (*workload, *half), by_process, tmp_path)
    # a new baseline needs two processes that agree: none of three do, and the old stays
    store = next((root / ".proofyard" / "benchmarks").glob("*.json"))
    before = json.loads(store.read_text())
    odd = run_harness(*args, *half, "--update-baselines", env=by_process("odd", "1,4,16"))
    assert "3 processes measured medians of" in odd.stdout, odd.stdout[-3000:]
    assert "the baseline was kept" in odd.stdout
    name = next(k for k in before if k.endswith("test_workload"))
    assert json.loads(store.read_text())[name]["samples"] == before[name]["samples"]
    # the first process ran 4x slower: the other two agree and make the baseline
    agreed = run_harness(*args, *half, "--update-baselines", env=by_process("agreed", "4,1"))
    assert "processes measured medians" not in agreed.stdout, agreed.stdout[-3000:]
    new = json.loads(store.read_text())[name]
    assert statistics.median(new["samples"]) < 2 * statistics.median(before[name]["samples"])
    assert new["samples"] != before[name]["samples"]
    # identical code, every pair interrupted; a 50% effect is clear of how far two processes
    # of a runner loaded by this test suite differ (11% seen)
    busy_run = run_harness(*args, "--set", "benchmark.min_effect=0.5", env={"FAKE_BUSY": "1"})
    rows = json.loads((tmp_path / "reports" / "summary.json").read_text())["suites"]["benchmark"]
    assert "tables" in rows, busy_run.stdout[-3000:]
    assert "benchmarks" in rows["tables"], busy_run.stdout[-3000:]
    busy = next(r for r in rows["tables"]["benchmarks"] if r["benchmark"].endswith("workload"))
    # every pair interrupted by the scheduler, all measured in CPU time: still a verdict
    assert busy["preempted"] == busy["rounds"] + busy["unsteady"], busy
    assert busy["verdict"] != "regression", busy
    undecidable = ("--set", "benchmark.noise_floor_s=10")  # every median is below it
    vague = run_harness(*args, *undecidable)
    assert "1 inconclusive" in vague.stdout  # its own outcome: not passed, not failed
    assert "INCONCLUSIVE" in vague.stdout and "noise floor" in vague.stdout
    assert "inspected nothing" not in vague.stdout
    counts = json.loads((tmp_path / "reports" / "summary.json").read_text())["suites"]["benchmark"][
        "counts"
    ]
    assert counts.get("inconclusive") == 1 and "passed" not in counts, counts
    strict = run_harness(*args, *undecidable, "--set", "benchmark.inconclusive=fail")
    assert "inconclusive (strict)" in strict.stdout and strict.returncode == 1
    parallel = run_harness(
        "-m",
        "benchmark",
        "-k",
        "test_w",
        "-n",
        "2",
        f"--proofyard-config={root / 'proofyard.yaml'}",
    )
    assert "benchmarks are not measured under xdist" in parallel.stdout


WAITING_BENCH = textwrap.dedent("""
    import itertools
    import os
    import sys
    import time

    if os.environ.get("FAKE_BUSY"):  # every pair preempted
        calibration = sys.modules["_proofyard_calibration"]
        calibration.involuntary_switches = itertools.count().__next__

    NAP = float(os.environ.get("NAP", "0.002"))

    def test_naps(benchmark):
        benchmark.pedantic(time.sleep, args=(NAP,), rounds=5, iterations=1)

    def test_spins(benchmark):
        benchmark.pedantic(lambda: sum(range(20000)), rounds=5, iterations=1)
""")


@pytest.mark.slow
def test_a_benchmark_that_waits_is_judged_in_wall_time_and_a_busy_run_keeps_its_baseline(
    run_harness, make_target, tmp_path
):
    root = make_target(
        {"benches/test_nap.py": WAITING_BENCH},
        # an effect clear of how far two sessions of a runner this suite loads differ, and
        # sessions compared across the states that load puts the machine in
        "target: {root: .}\nbenchmark: {paths: [benches], max_sampling_s: 1, min_effect: 0.3,\n"
        "  calibration_tolerance: 100}\nkpi: {record: false}\n",
    )
    args = ("-m", "benchmark", "-k", "test_nap", f"--proofyard-config={root / 'proofyard.yaml'}")

    def rows() -> dict[str, dict]:
        summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
        table = summary["suites"]["benchmark"]["tables"]["benchmarks"]
        return {row["benchmark"].rsplit("::", 1)[1]: row for row in table}

    first = run_harness(*args, "--update-baselines")
    assert first.returncode == 0, first.stdout[-3000:]
    assert {k: r["measure"] for k, r in rows().items()} == {
        "test_naps": "wall", "test_spins": "thread CPU"
    }  # fmt: skip
    store = next((root / ".proofyard" / "benchmarks").glob("*.json"))
    baseline = json.loads(store.read_text())
    # a longer sleep costs no CPU: only wall time sees the regression
    slower = run_harness(*args, env={"NAP": "0.005"})
    assert "test_nap.py::test_naps: regression" in slower.stdout, slower.stdout[-3000:]
    assert rows()["test_spins"]["verdict"] == "pass", json.dumps(rows()["test_spins"])
    # every pair of the baseline's session had its calibration run 10x slower: another state
    # of the machine, where calibrated units do not compare
    shifted = json.loads(store.read_text())
    spins = next(k for k in shifted if k.endswith("test_spins"))
    shifted[spins]["slices"] = [t * 10 for t in shifted[spins]["slices"]]
    store.write_text(json.dumps(shifted))
    moved = run_harness(*args, "--set", "benchmark.calibration_tolerance=1.25")
    assert rows()["test_spins"]["verdict"] == "inconclusive", moved.stdout[-3000:]
    assert "the two sessions ran in different machine states" in moved.stdout
    store.write_text(json.dumps({**json.loads(store.read_text()), spins: baseline[spins]}))
    busy = run_harness(*args, "--update-baselines", env={"FAKE_BUSY": "1"})
    naps = rows()["test_naps"]
    assert naps["verdict"] == "inconclusive" and naps["rounds"] == 0, naps
    assert "the machine stayed busy" in busy.stdout and "the baseline was kept" in busy.stdout
    assert "max_sampling_s=1 s" in busy.stdout, busy.stdout[-3000:]
    spins = rows()["test_spins"]  # in CPU time a preempted pair counts
    assert 0 < spins["rounds"] <= spins["preempted"], spins
    kept = json.loads(store.read_text())
    name = next(k for k in kept if k.endswith("test_naps"))
    assert kept[name]["samples"] == baseline[name]["samples"]  # not replaced by the busy run
    assert len(kept[name]["history"]) == len(baseline[name]["history"]) + 2  # not the busy one


# it prints: the measuring interpreter's answers must not mix with that
MODULE = 'def work(n=20000):\n    print("noise")\n    return sum(i * i % 7 for i in range({n}))\n'


@pytest.mark.slow
def test_ab_against_a_git_worktree_and_instruction_counts(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "mod.py").write_text(MODULE.format(n="n"))
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "fast"], check=True)
    (repo / "pkg" / "mod.py").write_text(MODULE.format(n="n * 3"))  # three times the work
    from ops.benchmark.ab import worktree

    with worktree(repo, "HEAD") as old:
        result = ab_compare([repo], [old], "pkg.mod:work", pairs=60)
        with pytest.raises(ABError, match="ModuleNotFoundError: No module named 'pkg.gone'"):
            ab_compare([repo], [old], "pkg.gone:work")
        assert (old / "pkg" / "mod.py").read_text() == MODULE.format(n="n")
    assert result.verdict == "regression" and result.ratio > 2, result.detail
    if shutil.which("valgrind") is None:
        return
    slow = instruction_count([repo], "pkg.mod:work", [2000])
    assert instruction_count([repo], "pkg.mod:work", [2000]) == pytest.approx(slow, rel=0.02)
    assert instruction_count([repo], "pkg.mod:work", [6000]) > 2 * slow


def test_judge_trusts_only_an_interval_clear_of_the_minimum_effect():
    from ops.benchmark.stats import judge

    assert judge(1.08, 1.06, 1.10, 0.05) == "regression"
    assert judge(1.06, 1.03, 1.09, 0.05) == "inconclusive"  # significant, not clear of 5%
    assert judge(0.92, 0.90, 0.94, 0.05) == "improvement"
    assert judge(1.01, 0.97, 1.04, 0.05) == "pass"
    assert judge(1.01, 0.94, 1.07, 0.05) == "inconclusive"  # as wide as the effect


def test_a_comparison_samples_with_its_baselines_plan(tmp_path):
    from ops.benchmark.calibration import SamplingPlan, choose_plan, paired_units

    calls = []
    plan = SamplingPlan(loops=3, slices=2)
    paired = paired_units(lambda: calls.append(1), plan, rounds=10, switches=lambda: 0)
    assert len(paired.units) == 10 and paired.slice_s > 0
    # one warm-up call, then the plan's loops per sample (taken again when unsteady)
    assert len(calls) == 1 + paired.tries * 3 and paired.tries == 10 + paired.unsteady
    assert choose_plan(lambda: sum(range(100))).loops > 1  # a fast call is looped
    store = BenchmarkStore(tmp_path)
    store.save(
        "b", "m1", [1.0, 1.1], 0.01, "abc", update_baseline=True, plan={"loops": 3, "slices": 2}
    )
    saved, _ = store.baseline("b", "m1")
    assert SamplingPlan(**saved.plan) == plan
    store.save("b", "m1", [1.0], 0.01, "abc", update_baseline=False, plan={"loops": 9, "slices": 9})
    assert store.baseline("b", "m1")[0].plan == {"loops": 3, "slices": 2}  # kept with its samples
    store.save("c", "m1", [1.0], 0.01, None, update_baseline=True, method="paired-slices/1")
    assert store.baseline("c", "m1")[0].method == "paired-slices/1"
    assert store.baseline("b", "m1")[0].method is None  # an older baseline: not compared
    slow = paired_units(lambda: None, plan, rounds=1000, max_seconds=0)
    # past the time limit, sampling stops at the minimum, or sooner when most pairs were
    # unsteady (this machine changed speed in them)
    assert len(slow.units) == 20 or slow.unsteady > len(slow.units), slow


def test_pairs_the_scheduler_interrupted_count_in_cpu_time():
    from ops.benchmark.calibration import SamplingPlan, paired_units

    plan = SamplingPlan(loops=1, slices=1)
    busy = paired_units(lambda: None, plan, rounds=10, switches=itertools.count().__next__)
    # every pair interrupted, all kept but those the machine's speed changed in
    assert len(busy.units) == 10 and busy.preempted == busy.tries == 10 + busy.unsteady
    # the time the thread waits for the CPU is not in its CPU time: a pair whose wall time
    # would double still measures the work alone
    import time

    def waits() -> int:
        time.sleep(0.002)  # read before and after each pair: off the CPU, as if preempted
        return 0

    work = lambda: sum(range(20000))  # noqa: E731
    quiet = paired_units(work, plan, rounds=30)
    waited = paired_units(work, plan, rounds=30, switches=waits)
    ratio = statistics.median(waited.units) / statistics.median(quiet.units)
    assert 0.8 < ratio < 1.25, ratio


def test_the_clock_is_cpu_time_for_work_on_this_thread_and_wall_time_for_waits():
    import time

    from ops.benchmark.calibration import CPU, WALL, SamplingPlan, choose_plan, paired_units

    assert choose_plan(lambda: sum(range(20000))).measure == CPU
    assert choose_plan(lambda: time.sleep(0.002)).measure == WALL  # CPU time would miss it
    # preempted on every call: the best call still shows work on the CPU
    preempted = itertools.count().__next__
    assert choose_plan(lambda: sum(range(20000)), switches=preempted).measure == CPU
    # in wall time a preempted pair cannot count: a machine busy past the time cap leaves
    # too few, and sampling stops there
    plan = SamplingPlan(loops=1, slices=1, measure=WALL)
    busy = paired_units(lambda: None, plan, rounds=100, max_seconds=0.2,
                        switches=itertools.count().__next__)  # fmt: skip
    assert busy.units == [] and busy.tries >= 1 and busy.preempted == busy.tries
    # both clocks are taken for every pair: a sleep is in wall time, not in CPU time
    sleepy = paired_units(lambda: time.sleep(0.002), plan, rounds=20, switches=lambda: 0)
    assert len(sleepy.units) == len(sleepy.other_units) == 20
    assert statistics.median(sleepy.units) > 5 * statistics.median(sleepy.other_units)


def test_one_slow_unpreempted_call_does_not_turn_cpu_work_to_wall_time():
    from ops.benchmark.calibration import CPU, WALL, clock_for

    steady, stolen, waiting = (
        (1.0, 0.99, False, False),
        (1.0, 0.6, False, False),
        (1.0, 0.1, False, True),
    )
    preempted = (2.0, 1.0, True, False)
    assert clock_for([steady, steady, stolen, steady, preempted]) == CPU
    assert clock_for([stolen, stolen, steady, preempted, preempted]) == WALL
    assert clock_for([steady, steady, steady, steady, waiting]) == WALL  # it gave up the CPU
    assert clock_for([preempted] * 5) == CPU  # every call preempted: the work is on the CPU


def test_sampling_stops_once_the_median_is_known_well_enough():
    from ops.benchmark.calibration import EARLY_STOP, SamplingPlan, median_half_width, paired_units

    plan = SamplingPlan(loops=1, slices=1)
    steady = paired_units(lambda: sum(range(5000)), plan, rounds=400, precision=0.5)
    assert len(steady.units) == EARLY_STOP  # checked every 10 from there
    exact = paired_units(lambda: sum(range(5000)), plan, rounds=160, precision=0.0)
    assert len(exact.units) == 160  # no precision asked: every round
    assert len(exact.slices) == 160 and min(exact.slices) > 0
    assert median_half_width([1.0] * 9) == math.inf  # too few for an interval
    assert median_half_width([1.0, 1.1] * 20) == pytest.approx(0.05 / 1.05)


def test_a_calibration_at_another_speed_means_another_machine_state():
    from ops.benchmark.stats import machine_state_changed

    assert machine_state_changed(1.85e-3, 1.9e-3) is None  # one state: within 12% seen
    assert "another state" in machine_state_changed(1.1e-3, 1.9e-3)  # the fast state seen
    assert "2.00x" in machine_state_changed(2e-3, 1e-3)
    assert machine_state_changed(1e-3, 0.0) is None  # an old baseline without a calibration


def test_pairs_are_compared_within_one_machine_state():
    from ops.benchmark.stats import compare_in_states, state_threshold

    rng = np.random.default_rng(0)

    def session(slow: int, fast: int, work: float = 1.0):
        # the fast state's calibrated units read 6.7% higher, as measured beside two hogs,
        # and spread more (2-9% against 1-3% measured, within one session)
        units = [*rng.normal(4.24, 0.04, slow), *rng.normal(4.52, 0.2, fast)]
        slices = [*rng.normal(1.9e-3, 5e-5, slow), *rng.normal(1.05e-3, 3e-5, fast)]
        return [u * work for u in units], slices

    base = session(100, 30)
    assert 1.1e-3 < state_threshold([*base[1], *session(30, 100)[1]]) < 1.8e-3
    assert state_threshold(rng.normal(1.9e-3, 1e-4, 200)) is None  # one state
    same = session(30, 100)  # identical code, its pairs mostly in the other state
    pooled = compare_in_states(*same, base[0], None, min_effect=0.05)  # no slices: all pairs
    assert pooled.ratio > 1.04  # the state mix alone moves the median
    judged = compare_in_states(*same, *base, min_effect=0.05)
    # 30 pairs of each state on the thinner side: the steadier state is judged
    assert judged.verdict == "pass" and "judged on the slow state's" in judged.detail
    slower = compare_in_states(*session(30, 100, 1.10), *base, min_effect=0.05)
    assert slower.verdict == "regression", slower.detail
    fast_only = compare_in_states(*session(10, 120), *session(10, 120), min_effect=0.05)
    assert "judged on the fast state's" in fast_only.detail  # the only state with enough
    apart = compare_in_states(*session(0, 120), *session(120, 0), min_effect=0.05)
    assert apart.verdict == "inconclusive" and "different machine states" in apart.detail


def test_a_pair_during_which_the_machine_changed_speed_is_taken_again(monkeypatch):
    from ops.benchmark import calibration

    plan = calibration.SamplingPlan(loops=1, slices=2)
    real = calibration.paired_units(lambda: sum(range(5000)), plan, rounds=30)
    assert len(real.units) == 30 and real.tries == 30 + real.unsteady
    slice_work = calibration._calibration_slice
    calls = itertools.count()

    def changing_speed() -> int:  # the slice after each sample runs at twice its time
        for _ in range(1 + next(calls) % 2):
            slice_work()
        return 0

    monkeypatch.setattr(calibration, "_calibration_slice", changing_speed)
    unsteady = calibration.paired_units(lambda: None, plan, rounds=30, max_seconds=0.2)
    assert unsteady.units == [] and unsteady.unsteady == unsteady.tries > 0


def test_paired_ratios_from_processes_that_disagree_are_inconclusive():
    from ops.benchmark.stats import compare_paired, sign_test_p

    steady = [samples(1.0, 0.01, 50, seed) for seed in range(3)]
    odd_process = [samples(1.2, 0.01, 50, 9)]  # one pair of processes read 20% slower
    pooled = compare_paired(steady + odd_process, baseline_s=0.01)
    assert pooled.verdict == "inconclusive" and pooled.high > 1.1, pooled.detail
    assert compare_paired(steady, baseline_s=0.01).verdict == "pass"
    slower = [samples(1.3, 0.01, 50, seed) for seed in range(3)]
    assert compare_paired(slower, baseline_s=0.01).verdict == "regression"
    assert compare_paired([[1.3, 1.3, 1.3]], baseline_s=0.01).verdict == "inconclusive"
    assert sign_test_p(np.array([1.1] * 30)) < 1e-5 and sign_test_p(np.array([1.0])) == 1.0


def test_budgets_name_what_is_over():
    from fixtures.benchmarking import over_budget

    limits = {"max_time": 0.5, "max_memory_mb": None, "max_rss_growth_mb": 10}
    measured = {"max_time": 0.4, "max_memory_mb": 900.0, "max_rss_growth_mb": 12.5}
    assert over_budget(limits, measured) == ["RSS growth 12.5 MB over the budget 10 MB"]
    assert over_budget(limits, {**measured, "max_rss_growth_mb": 1}) == []


@pytest.mark.slow
def test_declared_callables_are_benchmarked_without_a_test(run_harness, make_target, tmp_path):
    root = make_target(
        {"work.py": "def spin(n):\n    return sum(range(n))\n"},
        """
        target: {root: ., packages: [work]}
        benchmark:
          paths: []
          rounds: 20
          callables:
            - {name: spin, call: "work:spin", kwargs: {n: 5000}}
        kpi: {record: false}
        """,
    )
    args = (
        "-m",
        "benchmark",
        "-p",
        "no:xdist",
        "--set",
        "benchmark.min_effect=0.5",
        f"--proofyard-config={root / 'proofyard.yaml'}",
    )
    first = run_harness(*args)
    assert "no baseline yet for suites/test_benchmark.py::test_declared_callable[spin]" in (
        first.stdout
    )
    run_harness(*args, "--update-baselines")
    second = run_harness(*args)
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    (row,) = summary["suites"]["benchmark"]["tables"]["benchmarks"]
    assert row["benchmark"].endswith("test_declared_callable[spin]")
    assert row["verdict"] not in ("no-baseline", "regression"), second.stdout[-3000:]
    # the allure attachment is the whole record: the rows the benchmark plugin adds too
    attached = [
        json.loads(path.read_text())
        for path in (tmp_path / "reports" / "allure-results").glob("*-attachment.json")
    ]
    assert any(record.get("tables", {}).get("benchmarks") for record in attached)


def test_one_project_run_collects_then_measures_only_what_it_is_told(tmp_path, monkeypatch):
    from ops.benchmark import project
    from ops.interpreter import Interpreter

    (tmp_path / "benches").mkdir()
    (tmp_path / "benches" / "test_b.py").write_text(
        "def test_one(benchmark):\n    benchmark(sum, range(100))\n\n"
        "def test_two(benchmark):\n    benchmark(sum, range(100))\n"
    )
    (tmp_path / "benches" / "test_broken.py").write_text("import no_such_module\n")
    options = project.Options(rounds=20, max_seconds=1.0, isolate=False)

    def started() -> project.ProjectBenchmarks:
        return project.ProjectBenchmarks(Interpreter.harness(), tmp_path, ["benches"], options)

    run = started()
    collected = run.collected()
    assert collected.items == ["benches/test_b.py::test_one", "benches/test_b.py::test_two"]
    assert "no_such_module" in collected.collection_errors()["benches/test_broken.py"]
    measured = run.measure(["benches/test_b.py::test_two"], {})
    assert measured.error is None and measured.items == ["benches/test_b.py::test_two"]
    assert len(measured.results["benches/test_b.py::test_two"]["units"]) >= 20
    assert "benches/test_b.py::test_one" not in measured.results  # not asked for
    run.close()  # once measured, nothing left to stop
    # nothing asked of it (every benchmark deselected): closing ends the waiting run
    idle = started()
    idle.collected()
    idle.close()
    # a run that gave up waiting: its benchmarks are measured in a run of their own
    monkeypatch.setattr(project, "WAIT_S", 0.1)
    late = started()
    late.collected()
    late._run.future.result(timeout=120)  # it gave up and ended
    again = late.measure(["benches/test_b.py::test_one"], {})
    assert again.error is None and "units" in again.results["benches/test_b.py::test_one"]
