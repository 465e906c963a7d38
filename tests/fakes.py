"""Fake environments for dependency tests and benchmarks: a bare virtualenv whose
site-packages holds hand-written distributions (METADATA, top_level.txt, RECORD)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path


def fake_venv(folder: Path, dists: Iterable[tuple[str, str, list[str], str]]) -> Path:
    """Create a venv without pip holding ``(name, version, requires, license)`` distributions;
    each provides a module named like the distribution. Returns its python."""
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
