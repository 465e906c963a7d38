"""Device check of the monitor's GPU sampling: load the GPU for a few seconds while
`python -m ops monitor watch` samples it, then read the series back and print what the
GPU figures did (utilisation, memory, temperature, power), idle versus loaded.

Run on a machine with an NVIDIA GPU and torch:  python benchmarks/gpu_monitor_check.py OUTDIR
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

LOAD = """
import time, torch
x = torch.randn(8192, 8192, device="cuda")
time.sleep(1.5)                      # idle first, with memory held
end = time.time() + 5
while time.time() < end:
    y = x @ x
torch.cuda.synchronize()
time.sleep(1.0)
"""


def main(out: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops",
            "monitor",
            "watch",
            "--interval",
            "0.25",
            f"--reports-dir={out}",
            "--",
            sys.executable,
            "-c",
            LOAD,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    print("watch exit", result.returncode, result.stderr.strip().splitlines()[-2:])
    run = sorted((out / "monitor").glob("*.jsonl"))[-1]
    samples = [json.loads(line) for line in run.read_text().splitlines()]
    samples = [s for s in samples if s.get("type") == "sample"]
    gpu = [s["gpu"] for s in samples]
    if not gpu or not gpu[0].get("available"):
        print("no GPU seen:", gpu[:1])
        return
    devices = [g["devices"][0] for g in gpu]
    util = [d["utilisation"] for d in devices]
    print(
        f"samples {len(samples)}; gpu0 utilisation min {min(util)} median "
        f"{statistics.median(util)} max {max(util)}"
    )
    print(
        "memory used MB min/max",
        min(d["memory_used_mb"] for d in devices),
        max(d["memory_used_mb"] for d in devices),
        "of",
        devices[0]["memory_total_mb"],
    )
    print("temperature C", [d["temperature_c"] for d in devices][::4])
    print("power W", [d["power_w"] for d in devices][::4])
    print("dashboard", run.with_suffix(".html").exists())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
