"""The monitor: sampling a changing process tree, alert rules, sinks, runs, dashboards,
the watch command, and per-test limits in pytest."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from ops.config.observe import AlertRule, MonitorConfig
from ops.monitor.alerts import AlertEngine, Sinks, metric_value
from ops.monitor.dashboard import render
from ops.monitor.detached import DetachedMonitor
from ops.monitor.run import MonitorRun, open_series, prune_runs, read_run
from ops.monitor.sampler import Sampler, descendants
from ops.monitor.summary import summarize
from tests.conftest import REPO, run_with_plugins, watch_argv
from tests.test_browser import OFFLINE


def test_sample_covers_system_and_process_tree():
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; x = b'x' * 50_000_000; time.sleep(30)"]
    )
    try:
        time.sleep(0.5)
        sampler = Sampler(disk_paths=["/", "/no/such/path"])
        sample = sampler.sample()
        assert 0 <= sample["cpu"]["total"] <= 100 and sample["cpu"]["per_core"]
        assert sample["process"]["processes"] >= 2
        assert sample["process"]["rss_mb"] > 50  # the child's 50 MB count toward the tree
        assert "/" in sample["disk"] and "/no/such/path" not in sample["disk"]
        assert any("/no/such/path" in error for error in sampler.errors)
        assert sample["gpu"]["available"] in (True, False)
        child.kill()
        child.wait()
        after = sampler.sample()  # the vanished child is simply gone
        assert after["process"]["processes"] == sample["process"]["processes"] - 1
    finally:
        child.kill()


def test_tree_listing_finds_grandchildren_started_from_any_thread():
    script = textwrap.dedent("""
        import subprocess, sys, threading, time
        sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
        threading.Thread(target=subprocess.Popen, args=(sleeper,)).start()  # from a thread
        nested = f"import subprocess; subprocess.Popen({sleeper!r}).wait()"
        subprocess.Popen([sys.executable, "-c", nested])
        time.sleep(30)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        root = psutil.Process(parent.pid)
        deadline = time.monotonic() + 10
        while len(root.children(recursive=True)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        expected = sorted(p.pid for p in root.children(recursive=True))
        assert len(expected) == 3
        assert sorted(p.pid for p in descendants(root)) == expected
    finally:
        for process in [*psutil.Process(parent.pid).children(recursive=True)]:
            process.kill()
        parent.kill()


def test_watching_a_process_that_exits_does_not_crash():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    sampler = Sampler(child.pid)
    child.wait()
    assert sampler.sample()["process"] == {"alive": False, "processes": 0}


def series_in(folder):
    return open_series(folder, 10, {"label": "test"})


def samples(metric_values):
    return [{"time": float(t), "cpu": {"total": v}} for t, v in metric_values]


def test_alert_needs_its_duration_and_clears_with_hysteresis():
    rule = AlertRule(name="hot", metric="cpu.total", above=80, for_s=30, hysteresis=10)
    engine = AlertEngine([rule])
    series = samples([(0, 90), (10, 95), (25, 85), (31, 90), (40, 75), (50, 69), (60, 90)])
    events = [(e.time, e.state) for s in series for e in engine.evaluate(s)]
    # fires after 30 s above 80; 75 is below 80 but not 10 under it, so it stays firing
    assert events == [(31.0, "firing"), (50.0, "resolved")]
    spike = AlertEngine([rule])
    assert [e for s in samples([(0, 99), (5, 50), (10, 99)]) for e in spike.evaluate(s)] == []


def test_metric_paths():
    sample = {"disk": {"/": 91.0}, "load": {"1m": 9.5}, "gpu": {"devices": [{"utilisation": 7}]}}
    assert metric_value(sample, "disk./") == 91.0
    assert metric_value(sample, "load.1m") == 9.5
    assert metric_value(sample, "gpu.devices.0.utilisation") == 7.0
    assert metric_value(sample, "memory.percent") is None


class _Hook(http.server.BaseHTTPRequestHandler):
    bodies: list = []

    def do_POST(self):
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_sink_posts_json_and_a_dead_one_is_reported_once():
    _Hook.bodies = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    engine = AlertEngine([AlertRule(name="mem", metric="memory.percent", above=85)])
    sinks = Sinks(["webhook", "report"], f"http://127.0.0.1:{server.server_address[1]}/hook")
    for event in engine.evaluate({"time": 1.0, "memory": {"percent": 90}}):
        sinks.deliver(event)
    server.shutdown()
    assert [(b["rule"], b["state"]) for b in _Hook.bodies] == [("mem", "firing")]
    assert [e.rule for e in sinks.reported] == ["mem"]
    dead = Sinks(["webhook"], f"http://127.0.0.1:{server.server_address[1]}/hook")
    for event in [
        *engine.evaluate({"time": 9.0, "memory": {"percent": 10}}),
        *AlertEngine(engine.rules).evaluate({"time": 1.0, "memory": {"percent": 99}}),
    ]:
        dead.deliver(event)
        dead.deliver(event)
    assert len(dead.errors) == 1
    remote = Sinks(["webhook"], "http://192.0.2.5/hook")
    remote.deliver(sinks.reported[0])
    assert "not loopback" in remote.errors[0]


def test_run_writes_series_marks_alerts_and_survives_write_errors(tmp_path):
    rules = [AlertRule(name="always", metric="memory.percent", above=-1)]
    run = MonitorRun(
        series_in(tmp_path / "monitor"),
        Sampler(gpu=False),
        0.05,
        engine=AlertEngine(rules),
        sinks=Sinks(["report"]),
    )
    with run:
        run.mark("test", "<img src=x onerror=alert(1)>", edge="start")
        time.sleep(0.3)
        shutil.rmtree(tmp_path / "monitor")  # the folder vanishes mid-run
        (tmp_path / "monitor").write_text("now a file")
        time.sleep(0.2)
    assert run.samples >= 4
    assert len(run.errors) == 1 and "cannot write" in run.errors[0]
    assert [a.rule for a in run.alerts] == ["always"]


def test_detached_monitor_samples_this_process_from_another_one(tmp_path):
    section = MonitorConfig(
        gpu=False, alerts=[AlertRule(name="always", metric="memory.percent", above=-1)]
    )
    hungry = subprocess.Popen(
        [sys.executable, "-c", "import time; x = b'x' * 50_000_000; time.sleep(30)"]
    )
    try:
        monitor = DetachedMonitor(tmp_path, section, [], "test", interval_s=0.05).start()
        (sampler_process,) = [
            p for p in psutil.Process().children() if "ops.monitor.detached" in p.cmdline()
        ]
        for index in range(50):  # the parent's marks interleave with the child's samples
            monitor.mark("test", f"t{index}", edge="start")
            time.sleep(0.01)
        # this process, the hungry child, and whatever earlier tests of this worker left
        # (a forkserver, say); never the sampler itself
        tree = psutil.Process().children(recursive=True)
        expected = 1 + sum(1 for p in tree if p.pid != sampler_process.pid)
        outcome = monitor.stop()
    finally:
        hungry.kill()
    assert not sampler_process.is_running()
    lines = monitor.path.read_text().splitlines()
    records = read_run(monitor.path)
    assert len(records) == len(lines)  # no line torn by the two writers
    assert [r["type"] for r in records][:1] == ["run"] and records[-1]["type"] == "end"
    assert sum(r["type"] == "mark" for r in records) == 50
    taken = [r for r in records if r["type"] == "sample"]
    assert outcome.samples == len(taken) >= 5 and outcome.errors == []
    assert [a.rule for a in outcome.alerts] == ["always"]
    assert taken[-1]["process"]["processes"] == expected and taken[-1]["process"]["rss_mb"] > 50


def test_detached_monitor_ends_with_its_parent(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from ops.config.observe import MonitorConfig
        from ops.monitor.detached import DetachedMonitor
        DetachedMonitor(Path({str(tmp_path)!r}), MonitorConfig(gpu=False), [], "t", 0.05).start()
        print("started", flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout.readline().strip() == "started"
    (sampler_process,) = psutil.Process(parent.pid).children()
    parent.kill()
    parent.wait()
    sampler_process.wait(timeout=10)  # gone once the pipe closes, not left sampling a dead pid
    (path,) = tmp_path.glob("*.jsonl")
    assert read_run(path)[-1]["type"] == "end"


def test_retention_keeps_the_newest_runs(tmp_path):
    for index in range(5):
        (tmp_path / f"2026010{index}T000000-aaaaaa.jsonl").write_text("{}")
        (tmp_path / f"2026010{index}T000000-aaaaaa.html").write_text("")
    removed = prune_runs(tmp_path, 2)
    assert len(removed) == 3 and sorted(p.name for p in tmp_path.glob("*.jsonl")) == [
        "20260103T000000-aaaaaa.jsonl",
        "20260104T000000-aaaaaa.jsonl",
    ]
    assert len(list(tmp_path.glob("*.html"))) == 2


def test_dashboard_is_self_contained_and_escaped(tmp_path):
    run = MonitorRun(series_in(tmp_path), Sampler(gpu=False), 0.05)
    with run:
        run.mark("test", "<img src=x onerror=alert(1)>", edge="start")
        time.sleep(0.25)
    page = render(read_run(run.path), "title <b>")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "title &lt;b&gt;" in page and page.count("class='chart'") >= 3
    # nothing to fetch: no element of the page refers to another resource (plotly.js is
    # embedded; the browser test proves no request leaves the page)
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)\s*=""", page)


def test_dashboard_renders_in_a_headless_browser(tmp_path):
    browser = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    if browser is None:
        pytest.skip("no headless browser installed")
    run = MonitorRun(series_in(tmp_path), Sampler(gpu=False), 0.05)
    with run:
        time.sleep(0.2)
    page = tmp_path / "page.html"
    page.write_text(render(read_run(run.path), "dashboard"))
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", *OFFLINE, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "main-svg" in result.stdout  # plotly.js ran from the page itself and drew


def test_watch_passes_the_exit_code_through(tmp_path):
    (tmp_path / "proofyard.yaml").write_text("target: {root: .}\n")
    result = subprocess.run(
        watch_argv(
            f"--reports-dir={tmp_path / 'reports'}",
            "--",
            sys.executable,
            "-c",
            "import time; time.sleep(0.5); raise SystemExit(7)",
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 7, result.stderr
    runs = list((tmp_path / "reports" / "monitor").glob("*.jsonl"))
    assert len(runs) == 1 and runs[0].with_suffix(".html").is_file()
    assert sum(1 for r in read_run(runs[0]) if r["type"] == "sample") >= 3


LIMITED = textwrap.dedent("""
    import pytest

    @pytest.mark.limits(memory_mb=2000)
    def test_within():
        assert sum(range(1000)) > 0

    @pytest.mark.limits(memory_mb=150)
    def test_too_hungry():
        data = b"x" * (300 * 1024 * 1024)  # touched pages, freed before the test ends
        del data

    @pytest.mark.limits(memory_mb=150)
    def test_modest():
        data = b"x" * (10 * 1024 * 1024)
        del data

    @pytest.mark.limits(wall_s=0.1)
    def test_too_slow():
        import time
        time.sleep(0.3)
""")


def test_limits_marker_fails_tests_naming_the_measured_value(pytester):
    pytester.makepyfile(test_limits=LIMITED)
    pytester.makeini("[pytest]\nmarkers =\n    limits: limits\n")
    result = run_with_plugins(
        pytester, "--monitor", plugins=("fixtures.environment", "fixtures.monitoring")
    )
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        ["*test_too_hungry*peak RSS MB 3* > limit 150*", "*test_too_slow*wall s 0.3* > limit 0.1*"]
    )
    summary = json.loads((pytester.path / "out" / "summary.json").read_text())
    assert summary["monitor"]["samples"] >= 1
    tests = summary["suites"]["unmarked"]["tests"]
    assert all("resources" in t for t in tests)
    monitor_runs = list((pytester.path / "out" / "monitor").glob("*.jsonl"))
    marks = [r for r in read_run(monitor_runs[0]) if r["type"] == "mark"]
    assert len(marks) == 8  # start and end of each test


def test_retention_by_age_removes_old_runs_and_their_companions(tmp_path):
    now = time.time()
    for index, age_days in enumerate((40, 20, 1)):
        path = tmp_path / f"2026010{index}T000000-aaaaaa.jsonl"
        for companion in (path, path.with_suffix(".html"), path.with_suffix(".summary.json")):
            companion.write_text("{}")
            os.utime(companion, (now - age_days * 86400,) * 2)
    removed = prune_runs(tmp_path, keep=10, max_age_days=30, now=now)
    assert [p.name for p in removed] == ["20260100T000000-aaaaaa.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"2026010{i}T000000-aaaaaa.{ext}"
        for i in (1, 2)
        for ext in ("jsonl", "html", "summary.json")
    )


def test_a_sample_lists_the_busiest_processes_and_counts_them():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        sampler = Sampler(gpu=False, top=3, host=True)
        sampler.sample()
        time.sleep(0.5)
        sampler._host_at = -1e9  # the next sample rescans the process table
        sample = sampler.sample()
    finally:
        busy.kill()
        busy.wait()
    assert "process" not in sample  # the machine only
    assert sample["system"]["processes"] >= 2
    assert busy.pid in [row["pid"] for row in sample["top"]["cpu"]]
    assert len(sample["top"]["memory"]) == 3
    assert metric_value(sample, "system.processes") == sample["system"]["processes"]


def test_summary_lists_each_span_once_with_its_duration_and_series_figures():
    records = [
        {"type": "run", "run_id": "r", "time": 100.0, "label": "job"},
        *(
            {"type": "sample", "time": 100.0 + i, "cpu": {"total": float(i)}, "disk": {"/": 50.0}}
            for i in range(21)
        ),
        {"type": "mark", "time": 101.0, "kind": "test", "name": "t::a", "edge": "start"},
        {
            "type": "mark",
            "time": 103.5,
            "kind": "test",
            "name": "t::a",
            "edge": "end",
            "outcome": "passed",
        },
        {"type": "mark", "time": 104.0, "kind": "step", "name": "train", "edge": "start"},
        {
            "type": "alert",
            "time": 105.0,
            "rule": "hot",
            "state": "firing",
            "value": 1,
            "message": "m",
        },
        {"type": "exit", "time": 120.0, "exit_status": 3},
        {"type": "end", "time": 120.5, "samples": 21, "errors": []},
    ]
    summary = summarize(records)
    assert summary["duration_s"] == 20.5 and summary["exit_status"] == 3 and summary["complete"]
    assert summary["series"]["cpu.total"] == {"unit": "%", "mean": 10.0, "peak": 20.0, "p95": 19.0}
    assert summary["series"]["disk./"]["peak"] == 50.0
    assert [(s["name"], s["duration_s"], s["outcome"]) for s in summary["spans"]] == [
        ("t::a", 2.5, "passed"),
        ("train", None, "unfinished"),
    ]
    assert summary["alerts_fired"] == ["hot"]
    page = render(records, "run")
    assert page.index("<h2>Summary</h2>") < page.index("<svg")
    assert page.count("<td>t::a</td>") == 1  # listed once, with its duration


def test_watch_of_the_host_writes_a_summary(tmp_path):
    (tmp_path / "proofyard.yaml").write_text("target: {root: .}\n")
    result = subprocess.run(
        watch_argv("--host", "--duration", "0.6", "--reports-dir", "out"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    (summary_path,) = (tmp_path / "out" / "monitor").glob("*.summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["label"] == "host" and summary["samples"] >= 3
    assert "process.rss_mb" not in summary["series"] and "system.processes" in summary["series"]
