"""KPIs on synthetic histories, live ingestion from a watched process, and the kpi suite."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from ops.config.observe import KpiRule, KpiScore
from ops.kpi import prometheus
from ops.kpi.history import History, RunRecord, metric_key
from ops.kpi.ingest import JsonLinesTail, Reading, parse_prometheus, scrape
from ops.kpi.live import LiveKpi
from ops.kpi.rules import evaluate, judge_latest, judge_together, references
from ops.kpi.scores import with_scores
from tests.conftest import REPO, run_ops, watch_argv

DAY = 86400.0
RULE = KpiRule.model_validate(
    {"name": "ratio", "metric": "ratio", "trend": {"runs": 20, "days": 7, "max_worse": 0.15}}
)


def history(values, spacing=3600.0, start=0.0):
    runs = []
    for index, value in enumerate(values):
        run = RunRecord(f"r{index:03d}", start + index * spacing, "test")
        run.add("ratio", value)
        runs.append(run)
    return runs


def judge(runs, rule=RULE):
    return evaluate(rule, "ratio", runs[-1], runs)


def test_a_sudden_regression_alerts():
    verdict = judge(history([4.0] * 10 + [3.0]))
    assert verdict.status == "alert" and verdict.reference == 4.0
    assert "25.0% worse than the reference" in verdict.describe()
    assert len(verdict.runs) == 10 and "r010" not in verdict.runs  # never its own reference


def test_a_slow_drift_past_the_trend_rule_alerts():
    drift = [4.0 * (1 - 0.02 * index) for index in range(15)]  # 2% worse every run
    verdicts = [judge(history(drift[: n + 1])) for n in range(1, 15)]
    first_alert = next(i for i, v in enumerate(verdicts, 1) if v.status == "alert")
    assert 12 <= first_alert <= 14  # the median lags, so it fires once the drift is large


def test_a_noisy_but_stable_series_does_not_alert():
    rng = random.Random(5)
    noisy = [4.0 * (1 + rng.uniform(-0.08, 0.08)) for _ in range(40)]
    assert all(judge(history(noisy[: n + 1])).status == "pass" for n in range(1, 40))


def test_the_window_ignores_runs_older_than_its_days():
    old = history([2.0] * 5, spacing=DAY / 4, start=0.0)
    recent = history([4.0] * 3, spacing=DAY / 4, start=20 * DAY)
    for index, run in enumerate(recent):
        run.run_id = f"n{index}"
    current = recent[-1]
    verdict = evaluate(RULE, "ratio", current, old + recent)
    assert verdict.status == "pass" and verdict.reference == 4.0 and len(verdict.runs) == 2
    lonely = evaluate(RULE, "ratio", recent[0], old + recent[:1])
    assert lonely.status == "no-history"  # 20 days of gap: nothing in the window


def test_absolute_bounds_apply_without_history():
    rule = KpiRule(name="floor", metric="ratio", min=3.9)
    assert evaluate(rule, "ratio", history([3.5])[0], []).status == "alert"
    assert evaluate(rule, "ratio", history([4.2])[0], []).status == "pass"


def test_history_prunes_by_count_and_age(tmp_path):
    store = History(tmp_path, keep_runs=3, max_age_days=10)
    for run in history([1, 2, 3, 4, 5], spacing=DAY, start=1_000_000.0):
        store.append(run)
    assert [r.run_id for r in store.runs()] == ["r002", "r003", "r004"]
    late = RunRecord("late", 1_000_000.0 + 30 * DAY, "test")
    late.add("ratio", 9)
    store.append(late)
    assert [r.run_id for r in store.runs()] == ["late"]


def test_ingestion_formats(tmp_path):
    path = tmp_path / "m.jsonl"
    tail = JsonLinesTail(path)
    assert tail.read() == []
    path.write_text('{"name": "fitness", "value": 0.5, "step": 1}\nnot json\n{"name": "x"')
    first = tail.read()
    assert [(r.name, r.value, r.step) for r in first] == [("fitness", 0.5, 1.0)]
    assert len(tail.errors) == 1
    with path.open("a") as handle:
        handle.write(', "value": 2, "tags": {"task": "a"}}\n')
    assert [(metric_key(r.name, r.tags), r.value) for r in tail.read()] == [("x{task=a}", 2.0)]
    readings = parse_prometheus('# TYPE acc gauge\nacc{task="b"} 0.93\n')
    assert [(r.name, r.tags, r.value) for r in readings] == [("acc", {"task": "b"}, 0.93)]
    with pytest.raises(PermissionError, match="not loopback"):
        scrape("http://192.0.2.9:9100/metrics")


EXPORTER = textwrap.dedent("""
    import http.server, json, sys, time
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"# TYPE success_rate gauge\\nsuccess_rate{agent=\\"a\\"} 0.4\\n"
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    with open("metrics.jsonl", "a") as out:
        for generation in range(5):
            out.write(json.dumps({"name": "fitness", "value": generation / 4,
                                  "step": generation}) + "\\n")
            out.flush()
            server.handle_request()
""")


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_a_watched_process_reports_through_a_file_and_a_loopback_endpoint(tmp_path):
    port = _free_port()
    (tmp_path / "exporter.py").write_text(EXPORTER)
    (tmp_path / "proofyard.yaml").write_text(
        textwrap.dedent(f"""
        target: {{root: .}}
        kpi:
          metrics_file: metrics.jsonl
          metrics_url: http://127.0.0.1:{port}/metrics
          rules:
            - {{name: success, metric: "success_rate*", min: 0.5}}
    """)
    )
    result = subprocess.run(
        watch_argv("--", sys.executable, "exporter.py", str(port)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert (
        "alert kpi:success firing: success_rate{agent=a} = 0.4: below the minimum 0.5"
        in result.stderr
    )
    runs = list((tmp_path / ".proofyard" / "kpi").glob("*.json"))
    record = json.loads(runs[0].read_text())
    assert record["metrics"]["fitness"]["series"][-1] == [4.0, 1.0]
    assert record["metrics"]["success_rate{agent=a}"]["value"] == 0.4
    shown = subprocess.run(
        [sys.executable, "-m", "ops", "metrics", "export", "--format", "prometheus"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert 'proofyard_success_rate{agent="a"} 0.4' in shown.stdout


@pytest.mark.slow
def test_kpi_suite_skips_without_history_and_judges_the_latest_run(
    run_harness, make_target, tmp_path
):
    root = make_target(
        {},
        """
        target: {root: .}
        kpi:
          rules:
            - name: ratio
              metric: ratio
              trend: {runs: 5, days: 7, max_worse: 0.15}
    """,
    )
    args = ("-m", "kpi", f"--proofyard-config={root / 'proofyard.yaml'}")
    first = run_harness(*args)
    assert "no history yet" in first.stdout and first.returncode == 0
    store = History(root / ".proofyard" / "kpi")
    for run in history([4.0, 4.1, 3.9, 3.0], start=1_700_000_000.0):
        store.append(run)
    failing = run_harness(*args)
    assert failing.returncode == 1
    assert "rule ratio: ratio = 3 (reference 4, median of 3 earlier runs)" in failing.stdout
    for _ in range(2):  # the verdicts are not written back as metrics: the items stay the same
        last = run_harness(*args).stdout.splitlines()[-1]
        assert " 1 failed" in last and "passed" not in last, last
    assert len(store.runs()) == 4


def test_prometheus_export_escapes_hostile_names_and_labels():
    text = prometheus.render(
        {
            'acc{task=a"} 1\nproofyard_injected 9\n#}': 0.5,
            "fitness{agent=magi}{rule=fitness,run=r1}": 0.56,
            "loss": 1.25,
            "label": "not a number",
        }
    )
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "proofyard_injected" not in families  # no line was injected
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert samples == {
        ("proofyard_acc", (("task", 'a"} 1\nproofyard_injected 9\n#'),)): 0.5,
        ("proofyard_fitness", (("agent", "magi"), ("rule", "fitness"), ("run", "r1"))): 0.56,
        ("proofyard_loss", ()): 1.25,
    }


@pytest.mark.slow
def test_a_corrupt_run_record_fails_once_and_is_moved_aside(run_harness, make_target, tmp_path):
    root = make_target(
        {},
        """
        target: {root: .}
        kpi:
          rules:
            - {name: ratio, metric: ratio, min: 1.0}
    """,
    )
    store = History(root / ".proofyard" / "kpi")
    for run in history([4.0, 4.1], start=time.time() - 7200):
        store.append(run)
    torn = root / ".proofyard" / "kpi" / "torn.json"
    torn.write_text('{"run_id": "torn", "time": ')
    args = ("-m", "kpi", f"--proofyard-config={root / 'proofyard.yaml'}")
    first = run_harness(*args)
    assert first.returncode == 1, first.stdout[-3000:]
    assert "1 failed, 1 passed" in first.stdout
    assert "torn.json: not a readable run record; moved aside to torn.json.corrupt-" in first.stdout
    assert not torn.exists() and list(torn.parent.glob("torn.json.corrupt-*"))
    second = run_harness(*args)
    assert second.returncode == 0 and "1 passed" in second.stdout, second.stdout[-3000:]


def job_run(run_id, at, values, exit_status=0, job="python train.py"):
    run = RunRecord(run_id, at, "watch", job=job, exit_status=exit_status)
    for name, value in values.items():
        run.add(name, value)
    return run


FLOOR = KpiRule(name="fitness", metric="fitness", min=0.5)


def test_a_crashed_run_is_judged_and_never_a_reference():
    runs = [job_run("ok1", 1.0, {"fitness": 0.9}), job_run("boom", 2.0, {"fitness": 0.9}, 1)]
    verdict = judge_latest(FLOOR, "fitness", runs)
    assert verdict.status == "alert"
    assert "run boom exited with status 1" in verdict.describe()
    later = job_run("ok2", 3.0, {"fitness": 0.9})
    assert [r.run_id for r in references([*runs, later], later, "fitness")] == ["ok1"]


def test_the_newest_run_of_the_job_is_judged_even_without_the_metric():
    runs = [job_run("ok", 1.0, {"fitness": 0.9}), job_run("partial", 2.0, {"loss": 3.0}, 1)]
    verdict = judge_latest(FLOOR, "fitness", runs)
    assert verdict.status == "alert"
    assert verdict.describe() == (
        "fitness: run partial exited with status 1; run partial did not report fitness"
    )
    other_job = job_run("eval", 3.0, {"loss": 1.0}, job="python eval.py")
    assert judge_latest(FLOOR, "fitness", [*runs[:1], other_job]).status == "pass"


def test_live_trend_compares_the_same_step_of_earlier_runs():
    rule = KpiRule.model_validate(
        {"name": "fit", "metric": "fitness", "trend": {"runs": 5, "max_worse": 0.1}}
    )
    earlier = []
    for index in range(3):
        run = RunRecord(f"e{index}", float(index), "watch", job="train")
        for step in range(5):
            run.add("fitness", step / 4, step=step)
        earlier.append(run)
    live = LiveKpi([rule], earlier, RunRecord("now", 10.0, "watch", job="train"))
    events = []
    for step in range(5):  # the same curve as every earlier run: nothing fires
        events += live.feed([Reading("fitness", step / 4, float(step))])
    events += live.finish(0)
    assert events == []
    worse = LiveKpi([rule], earlier, RunRecord("bad", 11.0, "watch", job="train"))
    fired = worse.feed([Reading("fitness", 0.25, 0.0), Reading("fitness", 0.1, 1.0)])
    assert [(e.rule, e.state) for e in fired] == [("kpi:fit", "firing")]
    assert "reference 0.25, median of 3 earlier runs" in fired[0].message


@pytest.mark.slow
def test_a_watched_run_reads_only_its_own_metrics_and_records_its_exit(tmp_path):
    (tmp_path / "proofyard.yaml").write_text(
        textwrap.dedent("""
        target: {root: .}
        monitor: {fail_on_alert: true}
        kpi:
          metrics_file: metrics.jsonl
          rules:
            - {name: fitness, metric: fitness, min: 0.5, trend: {runs: 5, max_worse: 0.1}}
        """)
    )
    (tmp_path / "train.py").write_text(
        textwrap.dedent("""
        import json, os, sys
        with open("metrics.jsonl", "a") as out:
            if os.environ.get("MODE") == "crash":  # reports another metric, then crashes
                print(json.dumps({"name": "loss", "value": 9.0}), file=out)
                sys.exit(1)
            for step in range(5):
                print(json.dumps({"name": "fitness", "value": step / 4, "step": step}), file=out)
        """)
    )
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}

    def watch(*command, **extra):
        return subprocess.run(
            watch_argv("--", *command),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**env, **extra},
        )

    for _ in range(2):  # identical healthy runs: no alert, even with fail_on_alert
        healthy = watch(sys.executable, "train.py")
        assert healthy.returncode == 0 and "alert" not in healthy.stderr, healthy.stderr
    idle = watch("sleep", "0.3")  # writes nothing: the file's old lines are not its own
    assert idle.returncode == 0 and "alert" not in idle.stderr, idle.stderr
    crashed = watch(sys.executable, "train.py", MODE="crash")
    assert crashed.returncode == 1
    runs = History(tmp_path / ".proofyard" / "kpi").runs()
    assert [(list(r.metrics), r.exit_status) for r in runs] == [
        (["fitness"], 0),
        (["fitness"], 0),
        ([], 0),
        (["loss"], 1),
    ]
    assert runs[0].job == runs[1].job == runs[3].job != runs[2].job
    assert judge_latest(FLOOR, "fitness", runs[:3]).status == "pass"  # sleep is another job
    verdict = judge_latest(FLOOR, "fitness", runs)
    assert verdict.describe() == (
        f"fitness: run {runs[3].run_id} exited with status 1; "
        f"run {runs[3].run_id} did not report fitness"
    )


def test_metrics_show_writes_one_svg_document_per_chart(tmp_path):
    from xml.etree import ElementTree

    (tmp_path / "proofyard.yaml").write_text("target: {root: .}\n")
    store = History(tmp_path / ".proofyard" / "kpi")
    for index in range(2):
        run = RunRecord(f"r{index}", time.time() - 100 + index, "watch", job="train")
        for step in range(3):
            run.add("fitness", step / 2, step=step)
        store.append(run)
    shown = run_ops(tmp_path, "metrics", "show", "fitness", "--chart", "fit.svg")
    assert shown.returncode == 0, shown.stderr
    charts = sorted(p.name for p in tmp_path.glob("*.svg"))
    assert charts == ["fit-steps.svg", "fit.svg"]
    for name in charts:  # a second root element would make this raise
        assert ElementTree.parse(tmp_path / name).getroot().tag.endswith("svg")


def _rule(**fields):
    return KpiRule.model_validate({"name": "r", "metric": "fitness", **fields})


def test_status_bands_pass_amber_and_alert_on_red():
    rule = _rule(bands={"green": 0.8, "amber": 0.6})
    verdicts = {
        v: evaluate(rule, "fitness", job_run("now", 1.0, {"fitness": v}), [])
        for v in (0.9, 0.7, 0.5)
    }
    assert [(verdicts[v].status, verdicts[v].band) for v in (0.9, 0.7, 0.5)] == [
        ("pass", "green"),
        ("pass", "amber"),
        ("alert", "red"),
    ]
    assert "in the red band (green ≥ 0.8, amber ≥ 0.6)" in verdicts[0.5].describe()
    with pytest.raises(ValidationError, match="amber .0.9. must be below green"):
        _rule(bands={"green": 0.8, "amber": 0.9})


def test_a_slope_rule_catches_a_slow_drift_the_median_lags_behind():
    drift = [4.0 * (1 - 0.03 * index) for index in range(6)]  # 3% worse every run
    runs = history(drift)
    median = judge(
        runs,
        KpiRule.model_validate(
            {"name": "m", "metric": "ratio", "trend": {"runs": 5, "max_worse": 0.1}}
        ),
    )
    slope = judge(
        runs,
        KpiRule.model_validate(
            {
                "name": "s",
                "metric": "ratio",
                "trend": {"method": "slope", "runs": 5, "max_worse": 0.02},
            }
        ),
    )
    assert median.status == "pass" and slope.status == "alert"
    assert "drifting 3.2% per run for the worse (allowed 2%)" in slope.describe()
    steady = history([4.0, 4.1, 3.9, 4.05, 3.95, 4.0])
    assert (
        judge(
            steady,
            slope_rule := KpiRule.model_validate(
                {"name": "s", "metric": "ratio", "trend": {"method": "slope", "max_worse": 0.02}}
            ),
        ).status
        == "pass"
    )
    assert "slope needs 3 runs, has 2" in judge(history([4.0, 3.0]), slope_rule).describe()


def test_success_rate_counts_crashed_and_silent_runs_as_failures():
    rule = KpiRule.model_validate(
        {"name": "rate", "metric": "ok", "rate": {"runs": 4, "min": 0.75}}
    )
    runs = [
        job_run("a", 1.0, {"ok": 1.0}),
        job_run("b", 2.0, {}, exit_status=1),  # crashed before reporting
        job_run("c", 3.0, {"ok": 1.0}),
        job_run("d", 4.0, {"ok": 1.0}),
    ]
    verdict = judge_latest(rule, "ok", runs)
    assert verdict.status == "pass" and "success rate 75% over 4 run(s)" in verdict.describe()
    worse = judge_latest(rule, "ok", [*runs, job_run("e", 5.0, {"ok": 0.0})])
    assert worse.status == "alert" and "success rate 50% over 4 run(s)" in worse.describe()


def test_at_least_n_of_m_and_weighted_scores():
    rule = KpiRule.model_validate({"name": "stages", "metric": "step_succeeded{*}", "at_least": 2})
    run = job_run("p", 1.0, {}, job="pipeline p")
    for step, ok in (("a", 1.0), ("b", 0.0), ("c", 1.0)):
        run.add("step_succeeded", ok, tags={"step": step})
    assert (
        judge_together(rule, [run]).describe()
        == "step_succeeded{*} (together) = 2; 2 of 3 non-zero: ok"
    )
    strict = rule.model_copy(update={"at_least": 3})
    assert "only 2 of 3 are non-zero (at least 3)" in judge_together(strict, [run]).describe()
    score = KpiScore.model_validate(
        {"name": "health", "parts": {"step_succeeded{*}": 3, "fitness": 1}}
    )
    run.add("fitness", 0.2)
    (scored,) = with_scores([run], [score])
    assert scored.metrics["health"]["value"] == pytest.approx((3 * 2 / 3 + 0.2) / 4)
    assert "health" not in run.metrics  # the stored record is left alone
    assert "health" not in with_scores([job_run("x", 1.0, {"fitness": 1.0})], [score])[0].metrics


@pytest.mark.slow
def test_kpi_suite_judges_scores_and_at_least_rules(run_harness, make_target):
    root = make_target(
        {},
        """
        target: {root: .}
        kpi:
          scores:
            - {name: health, parts: {"step_succeeded{*}": 1}}
          rules:
            - {name: stages, metric: "step_succeeded{*}", at_least: 3}
            - {name: health, metric: health, bands: {green: 0.9, amber: 0.5}}
    """,
    )
    run = job_run("p1", time.time() - 60, {}, job="pipeline p")
    for step, ok in (("a", 1.0), ("b", 1.0), ("c", 0.0)):
        run.add("step_succeeded", ok, tags={"step": step})
    History(root / ".proofyard" / "kpi").append(run)
    result = run_harness("-m", "kpi", f"--proofyard-config={root / 'proofyard.yaml'}")
    assert result.returncode == 1
    assert "test_kpi[stages:together]" in result.stdout
    assert "only 2 of 3 are non-zero (at least 3)" in result.stdout
    assert "health" not in result.stdout.split("short test summary")[-1]  # amber passes
    assert "2 failed" not in result.stdout and "1 failed, 1 passed" in result.stdout


def test_a_trend_chart_draws_the_rules_reference_and_band(tmp_path):
    from ops.kpi.charts import write_trends
    from ops.kpi.rules import reference_band

    runs = history([4.0, 4.1, 3.9, 4.0])
    band = reference_band(RULE, "ratio", runs)
    assert band == (4.0, (pytest.approx(3.4), 4.0))  # 15% worse allowed below the median
    (path,) = write_trends(tmp_path, runs, ["ratio"], {"ratio": band})
    svg = path.read_text()
    assert "allowed by the trend rule" in svg and "baseline" in svg
    assert write_trends(tmp_path / "one", history([4.0]), ["ratio"]) == []  # one run: no chart
