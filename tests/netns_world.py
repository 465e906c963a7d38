"""Runs inside a network namespace the test made (``unshare --user --map-root-user --net``):
loopback plus two fake "outside" addresses on it, a listener on one of them, and every
runner of the harness pointed at it, under three allow-lists. Prints, as JSON, which runners
reached the listener under each. Nothing here can leave the machine: the namespace has no
other interface.

Usage: ``python netns_world.py REPO WORKDIR``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

OUTSIDE, OTHER, PORT = "192.0.2.1", "192.0.2.2", 8765
REACH = (
    "import socket\n"
    "try:\n"
    f"    s = socket.create_connection(({OUTSIDE!r}, {PORT}), timeout=3)\n"
    "    s.sendall({tag!r}.encode()); s.close()\n"
    "except OSError:\n"
    "    pass\n"
)


SERVE = (
    "import http.server\n"
    "http.server.HTTPServer(('127.0.0.1', 18765), http.server.BaseHTTPRequestHandler)"
    ".serve_forever()\n"
)


def reach(tag: str) -> str:
    return REACH.replace("{tag!r}", repr(tag))


def listen(seen: set[str]) -> None:
    server = socket.create_server((OUTSIDE, PORT))

    def serve() -> None:
        while True:
            connection, _ = server.accept()
            with connection:
                connection.settimeout(3)
                try:
                    data = connection.recv(200).decode(errors="replace")
                except OSError:
                    continue
                if data.startswith("GET /"):  # an HTTP client: the path is its tag
                    seen.add(data.split()[1].strip("/"))
                    connection.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                else:
                    seen.add(data)

    threading.Thread(target=serve, daemon=True).start()


def target(root: Path, allow: list[str], python: str) -> Path:
    files = {
        "pkg/__init__.py": "",
        "pkg/netimport.py": reach("smoke-import"),
        "pkg/netprobe.py": "def probe():\n"
        + textwrap.indent(reach("smoke-probe"), "    ")
        + "    return True\n",
        "pkg/steps.py": "def call():\n"
        + textwrap.indent(reach("pipeline-call"), "    ")
        + "    return True\n\n\ndef dask_call():\n"
        + textwrap.indent(reach("dask-call"), "    ")
        + "    return True\n",
        "pkg/codec.py": "import subprocess, sys, zlib\n\n\nclass NetCodec:\n"
        "    lossless = True\n\n    def __init__(self):\n"
        + textwrap.indent(reach("codec-inprocess"), " " * 8)
        + "\n    def compress(self, data):\n"
        f"        subprocess.run([sys.executable, '-c', {reach('codec-subprocess')!r}])\n"
        "        return zlib.compress(bytes(data))\n\n"
        "    def decompress(self, blob):\n        return zlib.decompress(blob)\n",
        "cover.py": reach("coverage"),
        "README.md": f"# Net\n\n```python\n{reach('docs-block')}```\n",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    config = {
        "target": {"root": ".", "packages": ["pkg"], "docs": ["README.md"]},
        "network": {"allow_hosts": allow},
        "smoke": {
            "commands": [
                {"name": "py", "run": [python, "-c", reach("smoke-command")]},
                {
                    "name": "bash",
                    "run": ["bash", "-c", f"echo -n smoke-bash > /dev/tcp/{OUTSIDE}/{PORT}"],
                },
            ],
            "probes": ["pkg.netprobe:probe"],
            "services": [
                {
                    "name": "svc",
                    "run": [python, "-c", reach("smoke-service") + SERVE],
                    "ready_port": 18765,
                }
            ],
            "artifacts": [
                {
                    "name": "art",
                    "run": [python, "-c", reach("smoke-artifacts") + "open('made.txt','w')"],
                    "expect": ["made.txt"],
                }
            ],
        },
        "compression": {
            "repeats": 1,
            "property_inputs": 2,  # each compress call starts a process
            "datasets": [{"name": "bytes", "kind": "bytes", "path": "cover.py"}],
            "codecs": [{"name": "net", "codec": "pkg.codec:NetCodec", "min_ratio": 0.01}],
        },
        "quality": {"coverage": {"enabled": True, "command": ["cover.py"]}},
        "pipelines": {
            "p": {
                "steps": [
                    {"name": "call", "call": "pkg.steps:call"},
                    {"name": "run", "run": [python, "-c", reach("pipeline-run")]},
                ]
            },
            "d": {"steps": [{"name": "call", "call": "pkg.steps:dask_call"}]},
        },
        "env": {
            "retries": 0,
            "artifacts": [
                {
                    "name": "model",
                    "url": f"http://{OUTSIDE}:{PORT}/env-fetch",
                    "sha256": "0" * 64,
                    "destination": "models/m.bin",
                }
            ],
        },
    }
    (root / "proofyard.yaml").write_text(json.dumps(config))  # JSON is YAML
    return root


def run_every_runner(repo: Path, root: Path, reports: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{repo}:{root}"}
    config = f"--proofyard-config={root / 'proofyard.yaml'}"
    suites = "smoke or docs or compression or quality"
    commands = [
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-m",
            suites,
            "-k",
            "import or command or probe or service or artifacts or block or compression "
            "or coverage",
            config,
            f"--reports-dir={reports}",
        ],
        [sys.executable, "-m", "ops", "pipeline", "run", "p"],
        [sys.executable, "-m", "ops", "env", "fetch"],
    ]
    try:
        import distributed  # noqa: F401

        commands.append([sys.executable, "-m", "ops", "pipeline", "run", "d", "--executor", "dask"])
    except ImportError:
        pass
    for argv in commands:
        cwd = repo if "pytest" in argv else root
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=300, check=False)


def main(repo: Path, work: Path) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for address in (OUTSIDE, OTHER):
        subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
    seen: set[str] = set()
    listen(seen)
    reached = {}
    for name, allow in (("empty", []), ("listed", [OUTSIDE]), ("other", [OTHER])):
        root = target(work / name, allow, sys.executable)
        run_every_runner(repo, root, work / f"reports-{name}")
        reached[name] = sorted(seen)
        seen.clear()
    print(json.dumps(reached))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
