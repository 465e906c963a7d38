"""The baseline store: verdicts, ratchet, corrupt files and atomic writes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from ops.atomic import write_atomic
from ops.baseline import BaselineError, BaselineStore, compare
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("current", "baseline", "higher", "tolerance", "verdict"),
    [
        (10, None, False, 0.0, "no-baseline"),
        (10, 10, False, 0.0, "pass"),
        (9, 10, False, 0.0, "improved"),
        (11, 10, False, 0.0, "regression"),
        (10.4, 10, False, 0.05, "pass"),
        (10.6, 10, False, 0.05, "regression"),
        (4.0, 4.2, True, 0.01, "regression"),
        (4.17, 4.2, True, 0.01, "pass"),
        (4.5, 4.2, True, 0.01, "improved"),
    ],
)
def test_compare_verdicts(current, baseline, higher, tolerance, verdict):
    result = compare("k", current, baseline, higher_is_better=higher, tolerance=tolerance)
    assert result.verdict == verdict


def test_ratchet_sets_tightens_and_never_loosens(tmp_path):
    store = BaselineStore(tmp_path / "quality.json", history=3)
    assert store.ratchet("lint", 10, higher_is_better=False) is True
    assert store.ratchet("lint", 12, higher_is_better=False) is False
    assert store.get("lint")["value"] == 10
    assert store.ratchet("lint", 7, higher_is_better=False) is True
    assert store.get("lint")["value"] == 7
    store.ratchet("lint", 8, higher_is_better=False)
    history = [entry["value"] for entry in store.get("lint")["history"]]
    assert history == [12, 7, 8]  # bounded to the last 3


def test_missing_store_is_empty_and_corrupt_store_names_the_file(tmp_path):
    path = tmp_path / "b.json"
    store = BaselineStore(path)
    assert store.compare("x", 1.0, higher_is_better=True).verdict == "no-baseline"
    path.write_text('{"entries": {"x": ', encoding="utf-8")
    with pytest.raises(BaselineError, match=rf"{path}:1:\d+: corrupt baseline"):
        store.load()
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(BaselineError, match="expected an object with 'entries'"):
        store.load()


WRITER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, sys.argv[2])
    import ops.atomic
    from ops.baseline import BaselineStore
    real_fsync = os.fsync
    def slow_fsync(fd):
        print("writing", flush=True)   # the new content is half on disk: die here
        time.sleep(60)
        real_fsync(fd)
    ops.atomic.os.fsync = slow_fsync
    store = BaselineStore(sys.argv[1])
    entries = {f"key{i}": {"value": i, "history": []} for i in range(20000)}
    store._write(entries)
""")


def test_writer_killed_mid_write_leaves_previous_baseline_intact(tmp_path):
    path = tmp_path / "bench.json"
    store = BaselineStore(path)
    store.ratchet("kept", 1.5, higher_is_better=False)
    before = path.read_bytes()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(REPO)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert path.read_bytes() == before
    assert json.loads(before)["entries"]["kept"]["value"] == 1.5
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers, "the killed writer should have left its temporary file behind"
    assert store.get("kept")["value"] == 1.5


def test_concurrent_ratchets_lose_no_entry(tmp_path):
    path = tmp_path / "shared.json"
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[3])
        from ops.baseline import BaselineStore
        store = BaselineStore(sys.argv[1])
        for i in range(25):
            store.ratchet(f"{sys.argv[2]}-{i}", i, higher_is_better=True)
    """)
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path), name, str(REPO)])
        for name in ("a", "b", "c")
    ]
    deadline = time.time() + 60
    for proc in procs:
        assert proc.wait(timeout=max(1, deadline - time.time())) == 0
    assert len(BaselineStore(path).load()) == 75
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_atomic_writes_honour_the_users_umask(tmp_path, mask):
    previous = os.umask(mask)
    try:
        write_atomic(tmp_path / "summary.json", "{}\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "summary.json").stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_corrupt_store_is_moved_aside_with_one_clear_failure(run_harness, make_target, workers):
    gates = ["prints", "markers", "error_handling", "docstrings", "size"]
    config = "target:\n  packages: [pkg]\nquality:\n" + "".join(
        f"  {gate}: {{mode: ratchet}}\n" for gate in gates
    )
    root = make_target({"pkg/__init__.py": "", "pkg/a.py": "print('x')  # TODO\n"}, config)
    store = root / ".proofyard" / "baselines" / "quality.json"
    store.parent.mkdir(parents=True)
    store.write_text('{"format": 1, "entries": {"quality/prints": ')  # torn by a crash
    result = run_harness(
        "-m",
        "quality",
        "-k",
        "test_gate",
        f"--proofyard-config={root / 'proofyard.yaml'}",
        *workers,
    )
    output = result.stdout
    assert " 1 failed," in output.splitlines()[-1], output[-4000:]  # one item, the first to read it
    assert "corrupt baseline (invalid JSON" in output
    assert f"{store}:1:" in output and "re-record with --update-baselines" in output
    assert "BaselineError" not in output and "Traceback" not in output
    moved = list(store.parent.glob("quality.json.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_text().startswith('{"format": 1')
    assert not store.exists()
    assert output.count("no baseline yet for quality/") >= len(gates) - 1
