"""Pipeline steps: prepare weights, compress them, evaluate the error, write a report.

Each step reads and writes files under ``build/``; ``evaluate`` also appends its figures
to ``build/metrics.jsonl`` for proofyard's KPI history.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlproject.quantize import WeightQuantizer, relative_error

BUILD = Path("build")


def prepare(rows: int = 256, cols: int = 512, seed: int = 0) -> None:
    """Seeded synthetic weights, heavy-tailed like trained ones."""
    BUILD.mkdir(exist_ok=True)
    weights = np.random.default_rng(seed).standard_t(4, (rows, cols)).astype(np.float32) * 0.02
    np.save(BUILD / "weights.npy", weights)


def compress() -> None:
    weights = np.load(BUILD / "weights.npy")
    packed = WeightQuantizer().compress(weights)
    np.savez(BUILD / "packed.npz", codes=packed.codes, scales=packed.scales)


def evaluate() -> None:
    weights = np.load(BUILD / "weights.npy")
    with np.load(BUILD / "packed.npz") as packed:
        codes, scales = packed["codes"], packed["scales"]
    restored = (codes.astype(np.float32) * scales).reshape(weights.shape)
    figures = {
        "compression_ratio": weights.nbytes / (codes.nbytes + scales.nbytes),
        "relative_error": relative_error(weights, restored),
    }
    (BUILD / "evaluation.json").write_text(json.dumps(figures))
    with (BUILD / "metrics.jsonl").open("a", encoding="utf-8") as out:
        for name, value in figures.items():
            out.write(json.dumps({"name": name, "value": value}) + "\n")


def report() -> None:
    figures = json.loads((BUILD / "evaluation.json").read_text())
    lines = [f"{name}: {value:.4f}" for name, value in sorted(figures.items())]
    (BUILD / "report.txt").write_text("\n".join(lines) + "\n")
