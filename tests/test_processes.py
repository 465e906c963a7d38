"""Hostile processes: timeouts hold when a grandchild keeps the pipe, and nothing a run
starts outlives it (setsid and double-forked children, daemons, kill -9 of the harness)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import psutil
import pytest

from ops.pipeline.execute import execute_step
from ops.proc import Limits, run_command
from ops.smoke.imports import ImportRunner
from tests.conftest import REPO, clean_env, harness_argv, write_tree

pytestmark = pytest.mark.slow


def tagged(seconds: int = 60) -> tuple[str, str]:
    """A tag and Python code that sleeps ``seconds`` with the tag on its command line."""
    tag = f"proofyard-orphan-{uuid.uuid4().hex[:10]}"
    return tag, f"import time; time.sleep({seconds})  # {tag}"


def left_running(tag: str, within_s: float = 5.0) -> list[str]:
    """Processes whose command line holds ``tag``, once ``within_s`` seconds have passed
    without them all ending."""
    deadline = time.monotonic() + within_s
    while True:
        found = []
        for process in psutil.process_iter(["cmdline", "status"]):
            try:
                cmdline = " ".join(process.info["cmdline"] or [])
                if tag in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
                    found.append(f"{process.pid}: {cmdline}")
            except psutil.Error:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def setsid_grandchild(code: str, then: str = "") -> list[str]:
    """A shell whose setsid grandchild runs ``code`` holding stdout; the shell then ``then``."""
    return ["/bin/sh", "-c", f'setsid {sys.executable} -c "{code}" & {then}']


def test_a_command_whose_setsid_grandchild_holds_stdout_ends_at_its_timeout():
    tag, code = tagged()
    started = time.monotonic()
    result = run_command(setsid_grandchild(code, "sleep 60"), timeout_s=3, isolate=False)
    assert result.timed_out
    assert time.monotonic() - started < 3 + 2  # within the timeout + 2 s
    assert left_running(tag) == []


def test_a_command_that_exits_leaving_a_setsid_child_returns_at_once():
    tag, code = tagged()
    started = time.monotonic()
    result = run_command(setsid_grandchild(code, "echo done"), timeout_s=30, isolate=False)
    assert result.returncode == 0 and not result.timed_out and "done" in result.stdout
    assert time.monotonic() - started < 3
    assert left_running(tag) == []


def test_a_pipeline_step_with_a_setsid_grandchild_ends_within_its_timeout(tmp_path):
    tag, code = tagged()
    step = {"name": "s", "run": setsid_grandchild(code, "sleep 60"), "timeout_s": 3}
    started = time.monotonic()
    outcome = execute_step({**step, "network": {"isolate": False}}, str(tmp_path))
    assert not outcome.ok and "timed out" in outcome.detail
    assert time.monotonic() - started < 3 + 2
    assert left_running(tag) == []


def test_output_is_kept_to_a_bounded_tail():
    code = "import sys; sys.stdout.write('x' * 3_000_000 + 'END')"
    result = run_command([sys.executable, "-c", code], timeout_s=30, output_limit=1000)
    assert result.stdout.endswith("x" * 997 + "END")
    assert "[proofyard: 2999003 earlier bytes of output dropped]" in result.stdout


def test_an_import_that_double_forks_leaves_nothing(tmp_path):
    tag, code = tagged()
    write_tree(
        tmp_path,
        {
            "spawner.py": f"""
                import os, subprocess, sys
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        subprocess.Popen([sys.executable, "-c", {code!r}])
                    os._exit(0)
            """
        },
    )
    with ImportRunner([tmp_path], tmp_path, isolate=False) as runner:
        answer = runner.run("spawner", timeout_s=20)
        assert answer["status"] == "ok", answer
        assert left_running(tag) == []


def _service_config(tag: str, code: str) -> str:
    return textwrap.dedent(f"""
        target: {{root: ., packages: []}}
        smoke:
          services:
            - name: daemon
              run: ["{sys.executable}", "daemon.py"]
              ready_port: 1
              timeout_s: 20
            - name: never-ready
              run: ["{sys.executable}", "-c", "{code}"]
              ready_port: 2
              timeout_s: 60
    """)


DAEMON = """
    import os, subprocess, sys
    if os.fork() == 0:
        os.setsid()
        subprocess.Popen([sys.executable, "-c", {code!r}]).wait()
    os._exit(0)
"""


def test_services_leave_nothing_even_when_pytest_is_killed(tmp_path):
    daemon_tag, daemon_code = tagged()
    tag, code = tagged()
    root = write_tree(
        tmp_path / "target",
        {
            "daemon.py": DAEMON.format(code=daemon_code),
            "proofyard.yaml": _service_config(tag, code),
        },
    )
    process = subprocess.Popen(
        harness_argv(
            "-m",
            "smoke",
            "-k",
            "service",
            f"--proofyard-config={root / 'proofyard.yaml'}",
            f"--reports-dir={tmp_path / 'r'}",
        ),
        cwd=REPO,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not left_running(tag, within_s=0) and time.monotonic() < deadline:
            time.sleep(0.2)  # the never-ready service is running: the daemon one went before
        assert left_running(tag, within_s=0), "the second service never started"
        assert left_running(daemon_tag) == [], "the daemonized service's child outlived it"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert left_running(tag) == []
    finally:
        if process.poll() is None:
            process.kill()


CALL_STEPS = """
    import subprocess, sys

    def spawn():
        subprocess.Popen([sys.executable, "-c", {code!r}])
        return True

    def hang():
        import time
        time.sleep(120)
"""


def _pipeline_target(tmp_path, code: str, steps: str):
    return write_tree(
        tmp_path,
        {
            "steps_mod.py": CALL_STEPS.format(code=code),
            "proofyard.yaml": f"""
                target: {{root: .}}
                pipelines:
                  p:
                    workers: 2
                    steps:
{textwrap.indent(textwrap.dedent(steps).strip(), " " * 22)}
            """,
        },
    )


def test_a_call_step_spawning_a_child_leaves_nothing_after_the_run(tmp_path):
    tag, code = tagged()
    root = _pipeline_target(tmp_path, code, '- {name: spawn, call: "steps_mod:spawn"}')
    result = subprocess.run(
        [sys.executable, "-m", "ops", "pipeline", "run", "p"],
        cwd=root,
        env=clean_env(PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert left_running(tag) == []


def test_a_killed_pipeline_runner_leaves_no_worker_forkserver_or_child(tmp_path):
    tag, code = tagged()
    root = _pipeline_target(
        tmp_path,
        code,
        """
        - {name: spawn, call: "steps_mod:spawn"}
        - {name: hang, call: "steps_mod:hang", needs: [spawn]}
        - {name: run, run: ["/bin/sh", "-c", "setsid sleep 120 & sleep 120"]}
        """,
    )
    runner = subprocess.Popen(
        [sys.executable, "-m", "ops", "pipeline", "run", "p"],
        cwd=root,
        env=clean_env(PYTHONPATH=str(REPO)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not left_running(tag, within_s=0):
            time.sleep(0.2)
        time.sleep(1.0)  # the hang step is running in a worker
        tree = psutil.Process(runner.pid).children(recursive=True)
        assert tree, "the runner started no processes"
        runner.kill()
        runner.wait()
        _, alive = psutil.wait_procs(tree, timeout=5)
        assert [
            " ".join(p.cmdline()) for p in alive if p.is_running() and p.status() != "zombie"
        ] == []
        assert left_running(tag) == []
    finally:
        if runner.poll() is None:
            runner.kill()


HELPERS_THEN_EXIT = """
import json, psutil
from ops.proc import become_subreaper, end_descendants, worker_pool
become_subreaper()
pool = worker_pool(1, "forkserver")
pool.submit(abs, -1).result()
pool.shutdown(wait=True)
helpers = [p.pid for p in psutil.Process().children(recursive=True)]
print(json.dumps({"helpers": helpers, "ended": end_descendants()}))
"""


def test_multiprocessing_helpers_are_not_waited_on_and_end_with_the_process(tmp_path):
    # the resource tracker ignores SIGTERM: signalling it cost the whole grace at every exit
    result = subprocess.run(
        [sys.executable, "-c", HELPERS_THEN_EXIT],
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["helpers"], "the pool started no resource tracker or forkserver"
    assert report["ended"] == 0, report
    _, alive = psutil.wait_procs(
        [p for p in map(_process_or_none, report["helpers"]) if p], timeout=5
    )
    assert [p.pid for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


def _process_or_none(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


ALLOCATE = "x = bytearray({mb} << 20); x[::4096] = b'1' * len(x[::4096])"


def test_a_command_past_its_memory_or_cpu_ceiling_fails_saying_which():
    limits = Limits(memory_mb=150, cpu_s=1)
    big = run_command([sys.executable, "-c", ALLOCATE.format(mb=300)], timeout_s=60, limits=limits)
    assert big.returncode != 0
    assert big.describe().startswith("exceeded the memory limit (150 MB)"), big.describe()
    small = run_command([sys.executable, "-c", ALLOCATE.format(mb=50)], timeout_s=60, limits=limits)
    assert small.returncode == 0 and small.exceeded is None, small.stderr
    spin = run_command([sys.executable, "-c", "while True: pass"], timeout_s=60, limits=limits)
    assert spin.describe().startswith("exceeded the CPU-time limit (1 s)"), spin.describe()


def test_an_import_past_its_memory_ceiling_fails_alone(tmp_path):
    write_tree(tmp_path, {"hog.py": ALLOCATE.format(mb=300), "fine.py": ALLOCATE.format(mb=20)})
    with ImportRunner([tmp_path], tmp_path, isolate=False, limits=Limits(memory_mb=150)) as runner:
        hog = runner.run("hog", timeout_s=60)
        fine = runner.run("fine", timeout_s=60)
    assert hog["status"] == "error" and hog["type"] == "MemoryError", hog
    assert hog["message"] == "exceeded the memory limit (150 MB)"
    assert fine["status"] == "ok", fine


def test_pipeline_steps_past_their_memory_ceiling_fail_alone(tmp_path):
    write_tree(tmp_path, {"hog.py": f"def run():\n    {ALLOCATE.format(mb=300)}\n"})
    limits = {"memory_mb": 150, "cpu_s": None}
    base = {"timeout_s": 60, "limits": limits, "pythonpath": [str(tmp_path)]}
    call = execute_step({**base, "call": "hog:run"}, str(tmp_path))  # in this main thread
    assert not call.ok and call.detail == "exceeded the memory limit (150 MB)"
    run = execute_step(
        {
            **base,
            "run": [sys.executable, "-c", ALLOCATE.format(mb=300)],
            "network": {"isolate": False},
        },
        str(tmp_path),
    )
    assert not run.ok and run.detail.startswith("exceeded the memory limit (150 MB)"), run.detail
    fine = execute_step({**base, "call": "os:getcwd"}, str(tmp_path))
    assert fine.ok  # the ceiling was lifted again after the failing step


POLICY_PROBE = """
import os
from ops import netguard

def policy():
    return os.environ.get(netguard.ALLOW_ENV), netguard.install.cache_info().currsize
"""

POOL_AFTER_AN_EARLY_FORKSERVER = """
import json
from multiprocessing import forkserver
from ops import netguard
from ops.proc import prestart_forkserver, worker_pool
prestart_forkserver(preload=["policy_probe"])
forkserver.ensure_running()  # running, before any policy is in force
with netguard.enforced(["pypi.org"]):
    with worker_pool(1, "forkserver") as pool:
        print(json.dumps(pool.submit(__import__("policy_probe").policy).result()))
"""


def test_a_forkserver_started_before_the_policy_gives_its_workers_the_policy(tmp_path):
    # started early, to overlap the config's load, the forkserver holds the environment of
    # then: without the pool's own, call steps went unguarded
    (tmp_path / "policy_probe.py").write_text(POLICY_PROBE)
    result = subprocess.run(
        [sys.executable, "-c", POOL_AFTER_AN_EARLY_FORKSERVER],
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=os.pathsep.join([str(REPO), str(tmp_path)])),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    allowed, guards = json.loads(result.stdout)
    assert json.loads(allowed) == ["pypi.org"] and guards == 1
