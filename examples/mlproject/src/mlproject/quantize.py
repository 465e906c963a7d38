"""An int8 weight quantiser with one scale per output row (a proofyard compressor plugin)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QuantizedWeights:
    """Packed weights: int8 codes and one float32 scale per row."""

    codes: np.ndarray
    scales: np.ndarray
    shape: tuple[int, ...]

    def size_of(self) -> int:
        """Bytes this payload occupies."""
        return int(self.codes.nbytes + self.scales.nbytes)


class WeightQuantizer:
    """Symmetric per-row int8 quantisation: ``q = round(w / s)``, ``s = max|row| / 127``."""

    lossy = True

    def __init__(self, bits: int = 8) -> None:
        if bits != 8:
            raise ValueError("only 8-bit codes are supported")
        self.levels = 2 ** (bits - 1) - 1

    def compress(self, weights: np.ndarray) -> QuantizedWeights:
        matrix = np.asarray(weights, dtype=np.float32).reshape(np.shape(weights)[0], -1)
        scales = np.abs(matrix).max(axis=1, keepdims=True) / self.levels
        scales[scales == 0] = 1.0
        codes = np.clip(np.rint(matrix / scales), -self.levels, self.levels).astype(np.int8)
        return QuantizedWeights(codes, scales.astype(np.float32), tuple(np.shape(weights)))

    def decompress(self, payload: QuantizedWeights) -> np.ndarray:
        return (payload.codes.astype(np.float32) * payload.scales).reshape(payload.shape)


def relative_error(original: np.ndarray, restored: np.ndarray) -> float:
    """Frobenius norm of the error over the norm of the original."""
    return float(np.linalg.norm(original - restored) / np.linalg.norm(original))
