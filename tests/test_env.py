"""Environment manager: env check, artifacts against a loopback server, wheels offline."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import threading
import time
import zipfile

import pytest
import yaml

from ops.config.schema import Artifact, AuthHeader
from ops.env import wheels
from ops.env.artifacts import ArtifactError, Fetcher, cache_path
from ops.env.facts import GpuInfo, gpu_problem
from ops.env.unpack import UnpackLimits
from tests.conftest import REPO, run_ops
from tests.fakes import venv_with

PAYLOAD = bytes(range(256)) * 400  # 102400 bytes
SIZE = len(PAYLOAD)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Server(http.server.BaseHTTPRequestHandler):
    hits: dict[str, int] = {}
    ranges: list[str] = []

    def do_GET(self):
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        body = PAYLOAD
        if self.path == "/corrupted":
            body = PAYLOAD[:-1] + b"!"
        status, start = 200, 0
        requested = self.headers.get("Range")
        if requested and self.path in ("/good", "/truncated-once"):
            self.ranges.append(requested)
            start = int(requested.split("=")[1].split("-")[0])
            status = 206
        if self.path == "/missing":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if self.path == "/truncated-once" and self.hits[self.path] == 1:
            self.wfile.write(body[:40000])  # then the connection closes early
            return
        if self.path == "/drip":  # 100 bytes every 0.2 s: each read succeeds, the whole never ends
            for index in range(0, len(body), 100):
                self.wfile.write(body[index : index + 100])
                self.wfile.flush()
                threading.Event().wait(0.2)
            return
        if self.path == "/slow":
            for index in range(0, len(body), 20000):
                self.wfile.write(body[index : index + 20000])
                self.wfile.flush()
                threading.Event().wait(0.05)
            return
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Server.hits, _Server.ranges = {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def art(url, name="model", sha=SHA, size=SIZE, destination="models/model.bin", **extra):
    return Artifact(name=name, url=url, sha256=sha, size=size, destination=destination, **extra)


def fetcher(tmp_path, **kwargs):
    return Fetcher(tmp_path / "cache", tmp_path / "target", backoff_s=0.01, **kwargs)


def test_good_download_is_cached_and_placed(server, tmp_path):
    fetch = fetcher(tmp_path)
    first = fetch.fetch(art(f"{server}/good"))
    assert first.downloaded and first.path.read_bytes() == PAYLOAD
    again = fetch.fetch(art(f"{server}/good"))
    assert not again.downloaded and _Server.hits["/good"] == 1


def test_wrong_checksum_is_a_clear_error_and_leaves_nothing(server, tmp_path):
    with pytest.raises(ArtifactError, match=f"checksum mismatch: expected sha256 {SHA}"):
        fetcher(tmp_path).fetch(art(f"{server}/corrupted"))
    assert not (tmp_path / "target" / "models" / "model.bin").exists()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.suffix != ".lock"]


def test_truncated_download_resumes_with_a_range_request(server, tmp_path):
    fetched = fetcher(tmp_path).fetch(art(f"{server}/truncated-once"))
    assert fetched.path.read_bytes() == PAYLOAD
    assert _Server.ranges == ["bytes=40000-"]


def test_slow_download_completes_and_parallel_fetches_work(server, tmp_path):
    items = [
        art(f"{server}/slow", name="slow", destination="a.bin"),
        art(f"{server}/good", name="good", destination="b.bin"),
    ]
    progress = []
    results = fetcher(tmp_path, progress=lambda n, d, t: progress.append((n, d))).fetch_all(items)
    assert [r.path.read_bytes() == PAYLOAD for r in results] == [True, True]
    assert ("slow", len(PAYLOAD)) in progress


def test_corrupted_cache_is_detected_and_fetched_again(server, tmp_path):
    item = art(f"{server}/good")
    fetch = fetcher(tmp_path)
    fetch.fetch(item)
    cache_path(tmp_path / "cache", item).write_bytes(b"bit rot")
    again = fetch.fetch(item)
    assert again.downloaded and again.path.read_bytes() == PAYLOAD


def test_http_errors_and_network_policy(server, tmp_path):
    with pytest.raises(ArtifactError, match="failed after 1 attempt"):
        fetcher(tmp_path).fetch(art(f"{server}/missing"))  # a 404 is not retried
    with pytest.raises(ArtifactError, match="192.0.2.1 is not loopback"):
        fetcher(tmp_path).fetch(art("http://192.0.2.1/model.bin"))


def test_file_urls_and_disk_space_check(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    assert fetcher(tmp_path).fetch(art(source.as_uri())).path.read_bytes() == PAYLOAD
    huge = art("http://127.0.0.1:9/huge", name="huge", size=10**15, destination="h.bin")
    with pytest.raises(ArtifactError, match="not enough disk space"):
        fetcher(tmp_path).fetch_all([huge])


def _tar_member(bundle, name, data=b"", symlink=None, hardlink=None):
    info = tarfile.TarInfo(name)
    if symlink is not None:
        info.type, info.linkname = tarfile.SYMTYPE, symlink
    elif hardlink is not None:
        info.type, info.linkname = tarfile.LNKTYPE, hardlink
    else:
        info.size = len(data)
    bundle.addfile(info, io.BytesIO(data) if info.isreg() else None)


def _archive_artifact(tmp_path, kind, members, destination="unpacked"):
    """``members``: (name, data) pairs, or (name, "symlink"|"hardlink", link target)."""
    path = tmp_path / f"bundle.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, data in members:
                bundle.writestr(name, data)
    else:
        with tarfile.open(path, "w:gz") as bundle:
            for name, *spec in members:
                if spec[0] in ("symlink", "hardlink"):
                    _tar_member(bundle, name, **{spec[0]: spec[1]})
                else:
                    _tar_member(bundle, name, spec[0])
    data = path.read_bytes()
    return art(
        path.as_uri(),
        sha=hashlib.sha256(data).hexdigest(),
        size=len(data),
        destination=destination,
        unpack=kind,
    )


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_unpacking_places_files_and_refetches_into_its_own_folder(tmp_path, kind):
    good = _archive_artifact(tmp_path, kind, [("weights/a.bin", b"a")])
    placed = fetcher(tmp_path).fetch(good).path
    assert (placed / "weights" / "a.bin").read_bytes() == b"a"
    assert fetcher(tmp_path).fetch(good).path == placed  # its own earlier unpacking: replaced
    evil = _archive_artifact(tmp_path, kind, [("../../escape.txt", b"x")])
    with pytest.raises(ArtifactError, match="would escape the destination"):
        fetcher(tmp_path).fetch(evil)
    assert not (tmp_path / "escape.txt").exists()


HOSTILE_TARS = {
    "symlink chain": [
        ("s", "symlink", "."),
        ("s2", "symlink", "s/s/s/../.."),
        ("s2/escaped.txt", b"x"),
    ],
    "link resolved through a later link": [
        ("a", "symlink", "b/.."),
        ("b", "symlink", "."),
        ("a/escaped.txt", b"x"),
    ],
    "hard link out, then overwrite": [
        ("h", "hardlink", "../outside.txt"),
        ("h", b"overwritten"),
    ],
    "hard link in, then overwrite through it": [
        ("first.txt", b"first"),
        ("h", "hardlink", "first.txt"),
        ("h", b"overwritten"),
    ],
    "absolute symlink": [("abs", "symlink", "/etc"), ("abs/escaped.txt", b"x")],
}


@pytest.mark.parametrize("case", HOSTILE_TARS)
def test_crafted_tar_is_refused_with_nothing_written_outside(tmp_path, case):
    target = tmp_path / "target"
    target.mkdir()
    outside = tmp_path / "target" / "outside.txt"
    outside.write_text("original")
    artifact = _archive_artifact(tmp_path, "tar", HOSTILE_TARS[case])
    before = _tree(tmp_path)
    with pytest.raises(ArtifactError, match="nothing was placed"):
        fetcher(tmp_path).fetch(artifact)
    assert outside.read_text() == "original"
    assert not (target / "unpacked").exists()
    assert [p for p in _tree(tmp_path) if not p.startswith("cache")] == before


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_a_decompression_bomb_is_refused_early(tmp_path, kind):
    zeros = b"\0" * (1 << 20)
    path = tmp_path / f"bomb.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
            with bundle.open("zeros.bin", "w", force_zip64=True) as handle:
                for _ in range(100):
                    handle.write(zeros)
    else:
        with tarfile.open(path, "w:gz") as bundle:
            info = tarfile.TarInfo("zeros.bin")
            info.size = 100 * len(zeros)
            bundle.addfile(info, io.BytesIO(zeros * 100))
    data = path.read_bytes()
    assert len(data) < 1 << 20  # 100 MiB in well under 1 MiB: ratio past 100
    artifact = art(
        path.as_uri(),
        sha=hashlib.sha256(data).hexdigest(),
        size=len(data),
        destination="bomb",
        unpack=kind,
    )
    with pytest.raises(ArtifactError, match="decompression bomb"):
        fetcher(tmp_path).fetch(artifact)
    assert not (tmp_path / "target" / "bomb").exists()
    assert not [p for p in (tmp_path / "target").iterdir() if p.name.startswith(".bomb")]


@pytest.mark.parametrize("destination", [".", "./", "/abs/models", "../outside", "a/../../b", ""])
def test_a_destination_outside_or_at_the_root_is_a_config_error(destination):
    with pytest.raises(ValueError, match="target root"):
        art("file:///x.tar", destination=destination, unpack="tar")


def test_a_destination_with_foreign_files_is_refused_before_fetching(server, tmp_path):
    folder = tmp_path / "target" / "data"
    folder.mkdir(parents=True)
    (folder / "mine.txt").write_text("keep")
    artifact = art(f"{server}/good", destination="data", unpack="tar")
    with pytest.raises(ArtifactError, match="did not unpack: choose a new or empty folder"):
        fetcher(tmp_path).fetch_all([artifact])
    assert (folder / "mine.txt").read_text() == "keep" and not _Server.hits
    (tmp_path / "target" / "escape").symlink_to(tmp_path)
    with pytest.raises(ArtifactError, match="not a path inside the target root"):
        fetcher(tmp_path).fetch(art(f"{server}/good", destination="escape/m.bin"))


def test_a_slow_drip_download_stops_at_the_deadline(server, tmp_path):
    started = time.monotonic()
    with pytest.raises(ArtifactError, match="not downloaded within env.deadline_s"):
        fetcher(tmp_path, deadline_s=1.0).fetch(art(f"{server}/drip"))
    assert time.monotonic() - started < 4


def env_check(folder, config, **env):
    """``python -m ops env check`` in ``folder`` with ``config`` as its proofyard.yaml."""
    (folder / "proofyard.yaml").write_text(config)
    return subprocess.run(
        [sys.executable, "-m", "ops", "env", "check"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env},
    )


def test_env_check_reports_json(tmp_path):
    result = env_check(
        tmp_path, "target: {root: .}\nenv: {tools: [valgrind]}\n", API_TOKEN="s3cret"
    )
    data = json.loads(result.stdout)
    assert data["python"]["version"].startswith("3.")
    assert "pytest" in data["packages"] and data["cpu"]["count"] >= 1
    assert set(data["tools"]) == {"valgrind"}
    assert data["gpu"]["available"] in (True, False) and data["gpu"]["detail"]
    assert "s3cret" not in result.stdout
    assert result.returncode == (1 if data["problems"] else 0)


def _tiny_wheel(folder, name="tinypkg", version="1.0"):
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "VALUE = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as bundle:
        for path, text in {**files, f"{info}/RECORD": record}.items():
            bundle.writestr(path, text)
    return wheel


@pytest.mark.slow
def test_wheels_fetch_approves_verifies_and_installs_into_the_project_env(tmp_path):
    source = tmp_path / "index"
    source.mkdir()
    _tiny_wheel(source)
    _tiny_wheel(source, "otherpkg")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinypkg==1.0\notherpkg==1.0\n")
    house = tmp_path / "wheelhouse"
    offline = ["--no-index", "--find-links", str(source)]
    fetched = wheels.fetch(house, [requirements], offline, approve=["TinyPkg"])
    assert fetched.refused == ("otherpkg-1.0-py3-none-any.whl",)  # reported, never blessed
    assert sorted(p.name for p in house.iterdir()) == [
        "SHA256SUMS",
        "tinypkg-1.0-py3-none-any.whl",
    ]
    assert fetched.manifest.read_text().endswith("  tinypkg-1.0-py3-none-any.whl\n")
    assert wheels.check(house) == (1, [])
    project = venv_with(tmp_path / "venv", ["pip"])
    requirements.write_text("tinypkg==1.0\n")
    wheels.install(house, [requirements], python=str(project))
    probe = [str(project), "-c", "import tinypkg, sys; print(tinypkg.__file__)"]
    placed = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    assert placed.startswith(str(tmp_path / "venv"))
    assert importlib.util.find_spec("tinypkg") is None  # never in the harness's environment
    (house / "tinypkg-1.0-py3-none-any.whl").write_bytes(b"tampered")
    with pytest.raises(wheels.WheelsError, match="does not match its manifest"):
        wheels.install(house, [requirements], python=str(project))


def test_identical_artifacts_fetch_concurrently_and_honour_the_umask(server, tmp_path):
    previous = os.umask(0o022)
    try:
        for attempt in range(10):  # a cold cache each time
            folder = tmp_path / f"run{attempt}"
            twins = [
                art(f"{server}/slow", name=f"twin{index}", destination=f"m{index}.bin")
                for index in range(2)
            ]
            results = fetcher(folder).fetch_all(twins)
            assert [r.path.read_bytes() == PAYLOAD for r in results] == [True, True]
    finally:
        os.umask(previous)
    assert stat.S_IMODE(results[0].path.stat().st_mode) == 0o644


def test_env_check_fails_on_unmet_disk_and_gpu_requirements(tmp_path):
    needs = "smoke:\n  environment: {min_free_disk_mb: 99999999, require_gpu: true}\n"
    result = env_check(tmp_path, "target: {root: .}\n" + needs)
    problems = json.loads(result.stdout)["problems"]
    assert result.returncode == 1
    assert any("below smoke.environment.min_free_disk_mb (99999999 MB)" in p for p in problems)
    gpu_missing = any("a GPU is required but none is usable" in p for p in problems)
    assert gpu_missing == (not json.loads(result.stdout)["gpu"]["available"])


def test_gpu_requirements_judge_every_device():
    none = GpuInfo(False, "no GPU: NVML unavailable")
    small = GpuInfo(True, "1 GPU", ({"index": 0, "memory_free_mb": 900.0},))
    two = GpuInfo(True, "2 GPUs", (*small.devices, {"index": 1, "memory_free_mb": 40000.0}))
    assert gpu_problem(none, False, None) is None  # nothing asked, nothing to say
    assert "a GPU is required but none is usable: no GPU" in gpu_problem(none, True, None)
    assert "none is usable" in gpu_problem(none, False, 1000)  # a floor implies a GPU
    assert gpu_problem(small, False, 1000) == (
        "no GPU has 1000 MB free (smoke.environment.min_gpu_memory_mb); the most free is 900 MB"
    )
    assert gpu_problem(two, True, 1000) is None


class _Hub(http.server.BaseHTTPRequestHandler):
    """A loopback stand-in for the Hub and its CDN: records who asked with which headers."""

    seen: list[tuple[str, str | None]] = []
    cdn_port = 0

    def do_GET(self):
        self.seen.append((self.path, self.headers.get("Authorization")))
        if self.path == "/owner/model/resolve/abc123/weights/model.bin":
            self.send_response(302)  # the Hub serves large files from another host
            self.send_header("Location", f"http://localhost:{self.cdn_port}/blob")
            self.end_headers()
            return
        if self.path == "/away":
            self.send_response(302)
            self.send_header("Location", "http://192.0.2.7/blob")  # never connected to
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(SIZE))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub():
    _Hub.seen = []
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub) for _ in range(2)]
    for httpd in servers:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _Hub.cdn_port = servers[1].server_address[1]
    yield f"http://127.0.0.1:{servers[0].server_address[1]}"
    for httpd in servers:
        httpd.shutdown()


def test_hub_files_and_auth_headers_stay_with_their_host(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_TOKEN", "s3cret")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    auth = [AuthHeader(host="127.0.0.1", env="MODEL_TOKEN")]
    fetch = fetcher(tmp_path, auth=auth, hub_endpoint=hub + "/")
    item = art("hf://owner/model@abc123/weights/model.bin")
    assert fetch.fetch(item).path.read_bytes() == PAYLOAD
    assert _Hub.seen == [
        ("/owner/model/resolve/abc123/weights/model.bin", "Bearer s3cret"),
        ("/blob", None),  # the redirect left the host: the token stayed behind
    ]
    with pytest.raises(ArtifactError, match="redirect refused: 192.0.2.7 is not loopback"):
        fetcher(tmp_path, retries=0).fetch(art(f"{hub}/away", name="away", destination="a.bin"))
    assert [path for path, _ in _Hub.seen][-1] == "/away"


@pytest.mark.parametrize("kind", ["gz", "tar.gz", "tar.zst"])
def test_compressed_artifacts_unpack_with_the_umask(tmp_path, kind):
    import gzip
    import io
    import tarfile

    import zstandard

    if kind == "gz":
        archive = gzip.compress(PAYLOAD)
    else:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as bundle:
            info = tarfile.TarInfo("weights/model.bin")
            info.size = SIZE
            bundle.addfile(info, io.BytesIO(PAYLOAD))
        raw = buffer.getvalue()
        archive = gzip.compress(raw) if kind == "tar.gz" else zstandard.compress(raw)
    source = tmp_path / f"model.{kind}"
    source.write_bytes(archive)
    digest = hashlib.sha256(archive).hexdigest()
    destination = "models/model.bin" if kind == "gz" else "models/unpacked"
    item = art(source.as_uri(), sha=digest, size=len(archive), destination=destination, unpack=kind)
    previous = os.umask(0o022)
    try:
        placed = fetcher(tmp_path).fetch(item).path
    finally:
        os.umask(previous)
    data = placed if kind == "gz" else placed / "weights" / "model.bin"
    assert data.read_bytes() == PAYLOAD
    assert stat.S_IMODE(data.stat().st_mode) == 0o644 or kind != "gz"
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (80 << 20)))
    small = UnpackLimits(max_bytes=1 << 20, max_ratio=10)
    with pytest.raises(ArtifactError, match="expands past"):
        fetcher(tmp_path, limits=small).fetch(
            art(
                bomb.as_uri(),
                name="bomb",
                sha=hashlib.sha256(bomb.read_bytes()).hexdigest(),
                size=None,
                destination="bomb.bin",
                unpack="gz",
            )
        )
    assert not (tmp_path / "target" / "bomb.bin").exists()


def test_env_fetch_reads_and_writes_manifests(tmp_path):
    source = tmp_path / "weights.bin"
    source.write_bytes(PAYLOAD)
    root = tmp_path / "project"
    root.mkdir()
    (root / "proofyard.yaml").write_text("target: {root: .}\n")
    manifest = tmp_path / "artifacts.yaml"
    manifest.write_text(
        f"artifacts:\n  - name: weights\n    url: {source.as_uri()}\n    sha256: {SHA}\n"
        "    destination: models/weights.bin\n"
    )
    written = tmp_path / "written.yaml"
    result = run_ops(
        root, "env", "fetch", "--manifest", str(manifest), "--write-manifest", str(written)
    )
    assert result.returncode == 0, result.stderr
    assert (root / "models" / "weights.bin").read_bytes() == PAYLOAD
    (entry,) = yaml.safe_load(written.read_text())["artifacts"]
    assert entry == {
        "name": "weights",
        "url": source.as_uri(),
        "sha256": SHA,
        "size": SIZE,
        "destination": "models/weights.bin",
    }
    manifest.write_text("artifacts:\n  - name: w\n    url: ftp://x/y\n")
    bad = run_ops(root, "env", "fetch", "--manifest", str(manifest))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert f"{manifest}: artifacts[0].url: String should match pattern" in bad.stderr


def test_a_tool_version_is_asked_again_only_when_the_tool_changed(tmp_path, monkeypatch):
    from ops.env.check import _tool_versions

    bin_dir, runs = tmp_path / "bin", tmp_path / "runs.txt"
    bin_dir.mkdir()
    tool = bin_dir / "faketool"
    tool.write_text(f"#!/bin/sh\necho run >> {runs}\necho 'faketool 1.0'\n")
    tool.chmod(0o755)
    settled = time.time_ns() - 10**10
    os.utime(tool, ns=(settled, settled))
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    kept = tmp_path / "cache" / "tools.json"
    wanted = {"faketool": "faketool 1.0", "no-such-tool-here": "not found"}
    assert _tool_versions(["faketool", "no-such-tool-here"], kept) == wanted
    assert _tool_versions(["faketool", "no-such-tool-here"], kept) == wanted
    assert runs.read_text().count("run") == 1  # the second time from the kept answer
    tool.write_text(f"#!/bin/sh\necho run >> {runs}\necho 'faketool 2.0'\n")  # an upgrade
    os.utime(tool, ns=(settled + 10**9, settled + 10**9))
    assert _tool_versions(["faketool"], kept) == {"faketool": "faketool 2.0"}
    assert runs.read_text().count("run") == 2
