"""Pipelines: retries, timeouts, policies, validation, resume after SIGKILL, Dask parity."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from pydantic import ValidationError

from ops.config.schema import Pipeline
from ops.kpi.history import History
from ops.pipeline.runner import PipelineError, Runner, Selection, plan
from ops.pipeline.state import StateFile
from tests.conftest import REPO, run_ops, write_tree

STEPS = textwrap.dedent("""
    import pathlib, time

    def noop():
        return True

    def flaky(counter):
        path = pathlib.Path(counter)
        count = int(path.read_text()) if path.exists() else 0
        path.write_text(str(count + 1))
        if count < 2:
            raise RuntimeError(f"flaky attempt {count + 1}")
        print("third time lucky")

    def write(path, text):
        pathlib.Path(path).write_text(text)

    def timed(seconds, fail=False):
        with open("started.txt", "a") as handle:
            handle.write(f"{seconds}\\n")
        time.sleep(seconds)
        if fail:
            raise RuntimeError("failed on purpose")
""")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    write_tree(tmp_path, {"steps_mod.py": STEPS})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def runner(workspace, steps, **kwargs):
    pipeline = Pipeline.model_validate({"workers": 2, "steps": steps})
    return Runner(
        "p",
        pipeline,
        workspace,
        workspace / "state.json",
        workspace / "logs",
        network={"isolate": False},
        **kwargs,
    )


def test_flaky_step_succeeds_on_its_third_attempt(workspace):
    result = runner(
        workspace,
        [
            {
                "name": "flaky",
                "call": "steps_mod:flaky",
                "retries": 2,
                "backoff_s": 0.01,
                "kwargs": {"counter": "count.txt"},
            }
        ],
    ).run()
    assert result.statuses == {"flaky": "succeeded"} and result.attempts == {"flaky": 3}
    log = Path(result.logs["flaky"]).read_text()
    assert log.count("=== flaky attempt") == 3 and "third time lucky" in log
    assert "RuntimeError: flaky attempt 2" in log


def test_a_log_is_written_for_steps_that_printed_or_failed_only(workspace):
    steps = [
        {"name": "quiet", "call": "steps_mod:noop"},
        {"name": "loud", "run": ["sh", "-c", "echo hello"]},
        {"name": "bad", "run": ["sh", "-c", "exit 3"]},
    ]
    result = runner(workspace, steps, policy="keep-going").run()
    assert result.statuses == {"quiet": "succeeded", "loud": "succeeded", "bad": "failed"}
    assert sorted(result.logs) == ["bad", "loud"]
    assert "hello" in Path(result.logs["loud"]).read_text()
    assert "=== bad attempt 1: exited 3" in Path(result.logs["bad"]).read_text()
    summary = json.loads((Path(result.logs["bad"]).parent / "summary.json").read_text())
    assert summary["steps"]["quiet"]["log"] is None
    assert summary["steps"]["quiet"]["detail"] == "returned"


def test_hanging_step_times_out_retries_then_fails(workspace):
    start = time.perf_counter()
    result = runner(
        workspace,
        [
            {
                "name": "hang",
                "run": ["sleep", "60"],
                "timeout_s": 0.5,
                "retries": 1,
                "backoff_s": 0.01,
            }
        ],
    ).run()
    assert result.statuses == {"hang": "failed"} and result.attempts == {"hang": 2}
    assert "timed out after" in result.details["hang"]
    assert time.perf_counter() - start < 10


BRANCHES = [
    {"name": "bad", "run": ["false"]},
    {"name": "after_bad", "run": ["true"], "needs": ["bad"]},
    {"name": "slow_ok", "run": ["sleep", "0.3"]},
    {"name": "independent", "run": ["true"], "needs": ["slow_ok"]},
]


def test_keep_going_runs_independent_branches(workspace):
    result = runner(workspace, BRANCHES, policy="keep-going").run()
    assert result.statuses == {
        "bad": "failed",
        "after_bad": "skipped",
        "slow_ok": "succeeded",
        "independent": "succeeded",
    }


def test_stop_starts_nothing_new_after_a_failure(workspace):
    result = runner(workspace, BRANCHES, policy="stop").run()
    assert result.statuses["bad"] == "failed"
    assert result.statuses["slow_ok"] == "succeeded"  # already running: it finishes
    assert result.statuses["independent"] == "not-run"
    assert not result.ok


def test_stop_starts_no_queued_call_step_after_a_failure(workspace):
    # two workers, each with a call step queued behind it: the failing worker must not take
    # its queued step, nor the other worker once its step ends
    steps = [{"name": "a", "call": "steps_mod:timed", "kwargs": {"seconds": 0.2, "fail": True}}]
    steps += [
        {"name": f"b{i}", "call": "steps_mod:timed", "kwargs": {"seconds": 0.6}} for i in range(6)
    ]
    events = []
    result = runner(
        workspace, steps, policy="stop", on_event=lambda s, e, d, f: events.append((s, e))
    ).run()
    assert result.statuses == {
        "a": "failed",
        "b0": "succeeded",
        **{f"b{i}": "not-run" for i in range(1, 6)},
    }
    assert sorted((workspace / "started.txt").read_text().split()) == ["0.2", "0.6"]
    assert sorted(events) == [
        ("a", "failed"),
        ("a", "running"),
        ("b0", "running"),
        ("b0", "succeeded"),
    ]
    assert result.attempts == {"a": 1, "b0": 1}


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"name": "a", "run": "echo hi"}], "run is a string"),
        ([{"name": "a"}], "give exactly one of run or call"),
    ],
)
def test_invalid_steps_are_rejected_before_running(steps, message):
    with pytest.raises(ValidationError, match=message):
        Pipeline.model_validate({"steps": steps})


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [
                {"name": "a", "run": ["x"], "needs": ["b"]},
                {"name": "b", "run": ["y"], "needs": ["a"]},
            ],
            "dependency cycle: a -> b -> a",
        ),
        ([{"name": "a", "run": ["x"], "needs": ["ghost"]}], "needs unknown step(s): ghost"),
        ([{"name": "a", "run": ["x"]}, {"name": "a", "run": ["y"]}], "duplicate step names: a"),
    ],
)
def test_a_broken_graph_fails_its_pipeline_before_anything_runs(workspace, steps, message):
    pipeline = Pipeline.model_validate({"steps": steps})
    assert pipeline.graph_problem().endswith(message)
    with pytest.raises(PipelineError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Runner("p", pipeline, workspace, workspace / "state.json", workspace / "logs").run()


def test_missing_callable_is_a_clear_error(workspace):
    with pytest.raises(PipelineError, match="step a: cannot load steps_mod:nothing"):
        runner(workspace, [{"name": "a", "call": "steps_mod:nothing"}]).run()


def test_many_steps_with_one_missing_callable_are_one_short_error(workspace):
    steps = [{"name": f"n{i}", "call": "steps_mod:nothing"} for i in range(300)]
    steps.append({"name": "other", "call": "no_such_module:f"})
    with pytest.raises(PipelineError) as raised:
        runner(workspace, steps).run()
    message = str(raised.value)
    assert message.startswith("steps n0, n1 and 298 more: cannot load steps_mod:nothing: ")
    assert "; step other: cannot load no_such_module:f: ModuleNotFoundError" in message
    assert len(message) < 400


def test_resume_reruns_only_what_changed(workspace):
    steps = [
        {
            "name": "make",
            "call": "steps_mod:write",
            "outputs": ["out.txt"],
            "kwargs": {"path": "out.txt", "text": "v1"},
        },
        {"name": "use", "run": ["cat", "out.txt"], "needs": ["make"], "inputs": ["out.txt"]},
    ]
    first = runner(workspace, steps).run()
    assert first.ok
    again = runner(workspace, steps).run(resume=True)
    assert again.statuses == {"make": "up-to-date", "use": "up-to-date"}
    (workspace / "out.txt").write_text("tampered")
    entries = plan(
        Pipeline.model_validate({"steps": steps}),
        workspace,
        StateFile(workspace / "state.json"),
        resume=True,
    )
    assert [(e.step, e.action) for e in entries] == [("make", "run"), ("use", "run")]


KILLABLE = """
import sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from ops.config.schema import Pipeline
from ops.kpi.history import History
from ops.pipeline.runner import Runner
root = Path({root!r})
steps = [{{"name": f"s{{i}}", "run": ["sh", "-c", f"echo {{i}} >> ran.txt"]}} for i in range(3)]
steps.append({{"name": "hang", "run": ["sleep", "60"], "needs": ["s0", "s1", "s2"]}})
steps.append({{"name": "last", "run": ["sh", "-c", "echo last >> ran.txt"], "needs": ["hang"]}})
if len(sys.argv) > 1:
    steps[3]["run"] = ["true"]
pipeline = Pipeline.model_validate({{"workers": 1, "steps": steps}})
runner = Runner("k", pipeline, root, root / "state.json", root / "logs",
                network={{"isolate": False}},
                on_event=lambda step, event, detail, figures: print(step, event, flush=True))
print(runner.run(resume=len(sys.argv) > 1).statuses, flush=True)
"""


def test_killed_runner_resumes_without_redoing_finished_steps(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(KILLABLE.format(repo=str(REPO), root=str(tmp_path)))
    process = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )
    for line in process.stdout:
        if line.startswith("hang running"):
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert sorted((tmp_path / "ran.txt").read_text().split()) == ["0", "1", "2"]
    assert not (tmp_path / "state.json").exists()  # killed before the end: the journal has it
    state = StateFile(tmp_path / "state.json").steps
    assert {name: state[name]["status"] for name in ("s0", "s1", "s2")} == dict.fromkeys(
        ("s0", "s1", "s2"), "succeeded"
    )
    resumed = subprocess.run(
        [sys.executable, str(script), "resume"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert "s0 running" not in resumed.stdout
    assert sorted((tmp_path / "ran.txt").read_text().split()) == ["0", "1", "2", "last"]


DAG = [
    {
        "name": "a",
        "call": "steps_mod:write",
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
    {"name": "c", "run": ["true"], "needs": ["a"]},
]


@pytest.mark.slow
def test_the_same_dag_on_dask_writes_an_identical_state(workspace):
    pytest.importorskip("distributed")
    from ops.pipeline.dask_executor import dask_executors

    local = runner(workspace, DAG).run()
    local_state = StateFile(workspace / "state.json").comparable()
    (workspace / "state.json").unlink()
    with dask_executors(None, 2) as executors:
        on_dask = runner(workspace, DAG, executors=executors).run()
        listening = [
            connection.laddr
            for process in [psutil.Process(), *psutil.Process().children(recursive=True)]
            for connection in process.net_connections(kind="inet")
            if connection.status == psutil.CONN_LISTEN
        ]
    assert listening and all(address.ip == "127.0.0.1" for address in listening), listening
    assert 8787 not in {address.port for address in listening}  # the dashboard is off
    assert local.statuses == on_dask.statuses == dict.fromkeys("abc", "succeeded")
    assert StateFile(workspace / "state.json").comparable() == local_state


@pytest.mark.slow
def test_pytest_runs_each_pipeline_once_with_an_item_per_step(run_harness, make_target, tmp_path):
    root = make_target(
        {"steps_mod.py": STEPS},
        """
        target: {root: .}
        pipelines:
          build:
            steps:
              - {name: make, call: "steps_mod:write", kwargs: {path: out.txt, text: hi}}
              - {name: check, run: ["grep", "-q", "bye", "out.txt"], needs: [make]}
              - {name: after, run: ["true"], needs: [check]}
    """,
    )
    result = run_harness(
        "-m",
        "pipeline",
        "-n",
        "2",
        f"--proofyard-config={root / 'proofyard.yaml'}",
        env={"PYTHONPATH": str(root)},
    )
    assert result.returncode == 1
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    outcomes = {
        t["nodeid"].split("[")[1].rstrip("]"): t["outcome"]
        for t in summary["suites"]["pipeline"]["tests"]
    }
    assert outcomes == {
        "build::make": "passed",
        "build::check": "failed",
        "build::after": "skipped",
    }
    assert "build::check failed after 1 attempt(s): exited 1" in result.stdout
    assert "build::after did not run: check failed" in result.stdout  # not a second failure
    assert "=== check attempt 1" in result.stdout  # the log is shown
    assert len(list((tmp_path / "reports" / "pipeline").iterdir())) == 1  # ran once


def test_cli_run_with_monitor_marks_each_step(tmp_path):
    write_tree(
        tmp_path,
        {
            "steps_mod.py": STEPS,
            "proofyard.yaml": """
        target: {root: .}
        pipelines:
          p:
            steps:
              - {name: one, run: ["python3", "-c", "x = b'x' * (120 * 2**20)"]}
              - {name: two, call: "steps_mod:noop", needs: [one]}
    """,
        },
    )
    result = subprocess.run(
        [sys.executable, "-m", "ops", "pipeline", "run", "p", "--monitor"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": f"{REPO}:{tmp_path}", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    (series,) = (tmp_path / ".proofyard" / "reports" / "monitor").glob("*.jsonl")
    marks = [
        json.loads(line) for line in series.read_text().splitlines() if '"pipeline-step"' in line
    ]
    assert [(m["name"], m["edge"]) for m in marks] == [
        ("p::one", "running"),
        ("p::one", "succeeded"),
        ("p::two", "running"),
        ("p::two", "succeeded"),
    ]
    assert marks[1]["peak_rss_mb"] > 120 and marks[1]["seconds"] > 0  # the step's own figures
    assert series.with_suffix(".html").is_file()
    summary = json.loads(series.with_suffix(".summary.json").read_text())
    assert summary["exit_status"] == 0
    assert [(s["name"], s["outcome"]) for s in summary["spans"]] == [
        ("p::one", "succeeded"),
        ("p::two", "succeeded"),
    ]
    (record,) = History(tmp_path / ".proofyard" / "kpi").runs()
    assert record.job == "pipeline p" and record.exit_status == 0
    assert record.metrics["steps_succeeded"]["value"] == 2.0
    assert record.metrics["step_succeeded{step=one}"]["value"] == 1.0
    assert record.metrics["step_peak_rss_mb{step=one}"]["value"] > 120


def test_first_interrupt_stops_new_steps_second_kills_running_ones(tmp_path):
    write_tree(
        tmp_path,
        {
            "proofyard.yaml": """
        target: {root: .}
        pipelines:
          p:
            workers: 1
            steps:
              - {name: long, run: ["sleep", "60"]}
              - {name: next, run: ["true"], needs: [long]}
    """
        },
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ops", "pipeline", "run", "p"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    for line in process.stderr:  # wait until the step runs, however slow the machine is
        if "long running" in line:
            break
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, rest = process.communicate(timeout=60)
    err = line + rest
    assert "interrupt again to kill the 1 running step(s)" in err
    assert "killing the running steps" in err
    statuses = json.loads(out)["statuses"]
    assert statuses == {"long": "failed", "next": "not-run"}
    assert process.returncode == 130


def test_a_corrupt_state_file_is_moved_aside_and_every_step_runs_again(workspace, caplog):
    state = workspace / "state.json"
    state.write_text('{"version": 1, "steps": {"a": ')
    with caplog.at_level("WARNING", logger="proofyard.pipeline"):
        result = runner(workspace, DAG).run()
    assert result.statuses == dict.fromkeys("abc", "succeeded")
    assert "is unreadable" in caplog.text and "every step runs again" in caplog.text
    assert list(workspace.glob("state.json.corrupt-*"))
    assert StateFile(state).steps  # a good state was written in its place


@pytest.mark.slow
def test_a_cyclic_pipeline_fails_alone_beside_a_valid_one(run_harness, make_target, tmp_path):
    root = make_target(
        {"pkg/__init__.py": ""},
        """
        target: {root: .}
        pipelines:
          broken:
            steps:
              - {name: a, run: ["true"], needs: [b]}
              - {name: b, run: ["true"], needs: [a]}
          fine:
            steps:
              - {name: only, run: ["true"]}
    """,
    )
    config = f"--proofyard-config={root / 'proofyard.yaml'}"
    result = run_harness("-m", "pipeline", config)
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    outcomes = {
        t["nodeid"].split("[")[1].rstrip("]"): t["outcome"]
        for t in summary["suites"]["pipeline"]["tests"]
    }
    assert outcomes == {"broken::a": "failed", "broken::b": "failed", "fine::only": "passed"}
    assert "pipeline broken: dependency cycle: a -> b -> a" in result.stdout
    assert run_harness("-m", "smoke", config).returncode == 0  # other suites run


@pytest.mark.slow
def test_an_unreachable_dask_scheduler_is_one_clear_line(tmp_path):
    pytest.importorskip("distributed")
    write_tree(
        tmp_path,
        {
            "proofyard.yaml": "target: {root: .}\npipelines:\n  p:\n    steps:\n"
            '      - {name: a, run: ["true"]}\n'
        },
    )
    result = run_ops(
        tmp_path, "pipeline", "run", "p", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"
    )
    assert result.returncode == 2
    assert "error: cannot reach the Dask scheduler tcp://127.0.0.1:9 within 10 s" in result.stderr
    assert "Traceback" not in result.stderr


CHAIN = [
    {"name": "fetch", "call": "steps_mod:write", "kwargs": {"path": "fetch.out", "text": "f"}},
    {
        "name": "prep",
        "call": "steps_mod:write",
        "kwargs": {"path": "prep.out", "text": "p"},
        "needs": ["fetch"],
        "outputs": ["prep.out"],
    },
    {
        "name": "train",
        "call": "steps_mod:write",
        "kwargs": {"path": "train.out", "text": "t"},
        "needs": ["prep"],
    },
    {
        "name": "report",
        "call": "steps_mod:write",
        "kwargs": {"path": "report.out", "text": "r"},
        "needs": ["train"],
    },
]


def _ran(result):
    return sorted(name for name, status in result.statuses.items() if status == "succeeded")


def test_only_from_and_skip_select_steps(workspace):
    with pytest.raises(PipelineError, match="--from: step prep has not succeeded yet"):
        runner(workspace, CHAIN).run(selection=Selection(start=("train",)))
    only = runner(workspace, CHAIN).run(selection=Selection(only=("prep",)))
    assert _ran(only) == ["fetch", "prep"] and only.ok
    assert only.statuses["train"] == "not-selected"
    again = runner(workspace, CHAIN).run(selection=Selection(only=("prep",)))
    assert _ran(again) == ["prep"]  # what it needs is up to date; the step itself always runs
    after = runner(workspace, CHAIN).run(selection=Selection(start=("train",)))
    assert _ran(after) == ["report", "train"]
    skipped = runner(workspace, CHAIN).run(selection=Selection(skip=("prep", "train")))
    assert _ran(skipped) == ["fetch", "report"] and skipped.ok
    with pytest.raises(PipelineError, match="--only nope: no such step"):
        runner(workspace, CHAIN).run(selection=Selection(only=("nope",)))


def test_a_matrix_step_fans_out_into_resumable_units(workspace):
    steps = [
        {
            "name": "shard",
            "matrix": {"n": [1, 2, 3]},
            "call": "steps_mod:flaky",
            "kwargs": {"counter": "count-{matrix.n}"},
            "retries": 0,
        },
        {"name": "merge", "needs": ["shard"], "call": "steps_mod:noop"},
    ]
    (workspace / "count-2").write_text("2")  # shard 2 succeeds at once, the others fail
    first = runner(workspace, steps, policy="keep-going").run()
    assert first.statuses == {
        "shard[n=1]": "failed",
        "shard[n=2]": "succeeded",
        "shard[n=3]": "failed",
        "merge": "skipped",
    }
    for n in (1, 3):
        (workspace / f"count-{n}").write_text("2")
    resumed = runner(workspace, steps).run(resume=True)
    assert _ran(resumed) == ["merge", "shard[n=1]", "shard[n=3]"]  # shard 2 was kept
    assert resumed.statuses["shard[n=2]"] == "up-to-date"
    one = plan(
        Pipeline.model_validate({"steps": steps}),
        workspace,
        StateFile(workspace / "x.json"),
        False,
        Selection(only=("shard[n=3]",)),
    )
    assert [(e.step, e.action) for e in one] == [
        ("shard[n=1]", "skip"),
        ("shard[n=2]", "skip"),
        ("shard[n=3]", "run"),
        ("merge", "skip"),
    ]


def test_state_changes_are_journalled_and_a_torn_line_costs_only_its_step(tmp_path):
    path = tmp_path / "state.json"
    state = StateFile(path)
    state.entry("a").update(status="succeeded", fingerprint="f1")
    state.entry("b").update(status="failed")
    state.flush()
    state.flush()  # nothing changed since: nothing appended
    assert len(state.journal.read_text().splitlines()) == 2 and not path.exists()
    with state.journal.open("a") as handle:
        handle.write('{"step": "c", "entry": {"status": "succ')  # killed mid-line
    again = StateFile(path)
    assert again.steps == {"a": {"status": "succeeded", "fingerprint": "f1"},
                           "b": {"status": "failed"}}  # fmt: skip
    again.save()
    assert not again.journal.exists() and StateFile(path).steps == again.steps
