"""Fake environments for dependency tests and benchmarks: a bare virtualenv whose
site-packages holds hand-written distributions (METADATA, top_level.txt, RECORD)."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

# A service on port 0 that prints its address, answers 503 for WARM_S seconds (1), then
# STATUS (200): what smoke's ready_pattern and readiness are tested on.
PORT_ZERO_SERVICE = """\
import http.server
import os
import time

started = time.monotonic()
warm_s, status = float(os.environ.get("WARM_S", "1")), int(os.environ.get("STATUS", "200"))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503 if time.monotonic() - started < warm_s else status)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(f"serving on http://127.0.0.1:{server.server_port}/", flush=True)
server.serve_forever()
"""


def fake_venv(folder: Path, dists: Iterable[tuple[str, str, list[str], str]]) -> Path:
    """Create a venv without pip holding ``(name, version, requires, license)`` distributions;
    each provides a module named like the distribution. Returns its python."""
    python, site = _bare_venv(folder)
    for name, version, requires, license_expression in dists:
        module = name.replace("-", "_").lower()
        info = site / f"{module}-{version}.dist-info"
        info.mkdir(parents=True)
        lines = [
            "Metadata-Version: 2.4",
            f"Name: {name}",
            f"Version: {version}",
            f"License-Expression: {license_expression}",
        ]
        lines += [f"Requires-Dist: {requirement}" for requirement in requires]
        (info / "METADATA").write_text("\n".join(lines) + "\n")
        (info / "top_level.txt").write_text(module + "\n")
        (info / "RECORD").write_text(f"{module}/__init__.py,,\n{info.name}/METADATA,,\n")
        (site / module).mkdir()
        (site / module / "__init__.py").write_text(f"__version__ = {version!r}\n")
    return python


def fake_wheel(folder: Path, name: str, version: str, source: str = "") -> Path:
    """A pure-Python wheel of module ``name`` (``__version__`` set), built by hand: pip
    installs it offline from ``folder`` (a wheelhouse)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"__version__ = {version!r}\n{source}",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: proofyard-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def venv_with(folder: Path, distributions: Iterable[str]) -> Path:
    """A bare virtualenv holding links to the harness's own copies of ``distributions``
    (their files and metadata): an offline stand-in for ``pip install`` of those pins."""
    import importlib.metadata

    python, site = _bare_venv(folder)
    for name in distributions:
        dist = importlib.metadata.distribution(name)
        tops = {Path(str(entry)).parts[0] for entry in dist.files or ()}
        for top in tops:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (site / top).exists() and top != "..":
                (site / top).symlink_to(source)
    return python


def _bare_venv(folder: Path) -> tuple[Path, Path]:
    """A virtualenv without pip: its python and its site-packages folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    return python, site
