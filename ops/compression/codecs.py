"""Codecs: anything with ``compress(x) -> payload`` and ``decompress(payload) -> x``.

Built-in references: lossless zlib, bz2, lzma, zstd; lossy numpy tensor codecs fp16,
int8 per-channel symmetric, int4 group-wise (two values per byte) and ternary absmean
(2 bits per weight). Every payload is real packed data; its size is measured from its bytes.
"""

from __future__ import annotations

import bz2
import importlib
import lzma
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ops.lazy import lazy_module

np = lazy_module("numpy")


class Codec(Protocol):
    def compress(self, x: Any) -> Any: ...

    def decompress(self, payload: Any) -> Any: ...


# --- lossless -----------------------------------------------------------------------------

_HEADER = struct.Struct("<B16sB")  # kind (0 bytes, 1 array), dtype string, ndim


def _frame(x: Any) -> tuple[bytes, bytes]:
    """A header describing ``x`` (bytes or an array) and its raw bytes."""
    if isinstance(x, np.ndarray):
        array = np.ascontiguousarray(x)
        header = _HEADER.pack(1, array.dtype.str.encode(), array.ndim) + struct.pack(
            f"<{array.ndim}Q", *array.shape
        )
        return header, array.tobytes()
    return _HEADER.pack(0, b"", 0), bytes(x)


def _unframe(header: bytes, raw: bytes) -> Any:
    kind, dtype, ndim = _HEADER.unpack_from(header)
    if kind == 0:
        return raw
    shape = struct.unpack_from(f"<{ndim}Q", header, _HEADER.size)
    return np.frombuffer(raw, dtype=np.dtype(dtype.rstrip(b"\0").decode())).reshape(shape)


@dataclass
class LosslessCodec:
    """Frames the input (dtype and shape for arrays) and compresses its bytes."""

    name: str
    level: int
    _compress: Callable[[bytes, int], bytes]
    _decompress: Callable[[bytes], bytes]
    lossless = True

    def compress(self, x: Any) -> bytes:
        header, raw = _frame(x)
        return struct.pack("<I", len(header)) + header + self._compress(raw, self.level)

    def decompress(self, payload: bytes) -> Any:
        (length,) = struct.unpack_from("<I", payload)
        header = payload[4 : 4 + length]
        return _unframe(header, self._decompress(payload[4 + length :]))


def zlib_codec(level: int = 6) -> LosslessCodec:
    return LosslessCodec("zlib", level, lambda b, lv: zlib.compress(b, lv), zlib.decompress)


def bz2_codec(level: int = 9) -> LosslessCodec:
    return LosslessCodec("bz2", level, lambda b, lv: bz2.compress(b, lv), bz2.decompress)


def lzma_codec(level: int = 6) -> LosslessCodec:
    return LosslessCodec("lzma", level, lambda b, lv: lzma.compress(b, preset=lv), lzma.decompress)


def zstd_codec(level: int = 3) -> LosslessCodec:
    import zstandard

    return LosslessCodec(
        "zstd",
        level,
        lambda b, lv: zstandard.ZstdCompressor(level=lv).compress(b),
        lambda b: zstandard.ZstdDecompressor().decompress(b),
    )


# --- lossy tensor codecs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Packed:
    """A lossy payload: packed arrays plus the original shape and dtype."""

    arrays: dict[str, np.ndarray]
    shape: tuple[int, ...]
    dtype: str

    def size_of(self) -> int:
        header = 8 * len(self.shape) + len(self.dtype)
        return header + sum(int(array.nbytes) for array in self.arrays.values())


def _as_matrix(x: np.ndarray) -> np.ndarray:
    array = np.asarray(x, dtype=np.float32)
    return array.reshape(array.shape[0], -1) if array.ndim > 1 else array.reshape(1, -1)


class Fp16Codec:
    lossy = True

    def compress(self, x: np.ndarray) -> Packed:
        return Packed(
            {"values": np.asarray(x).astype(np.float16)}, np.shape(x), np.asarray(x).dtype.str
        )

    def decompress(self, payload: Packed) -> np.ndarray:
        return payload.arrays["values"].astype(np.dtype(payload.dtype)).reshape(payload.shape)


class Int8Codec:
    """Symmetric int8 per output channel (row): q = round(x / s), s = max|row| / 127."""

    lossy = True

    def compress(self, x: np.ndarray) -> Packed:
        matrix = _as_matrix(x)
        scales = np.abs(matrix).max(axis=1, keepdims=True) / 127.0
        scales[scales == 0] = 1.0
        q = np.clip(np.rint(matrix / scales), -127, 127).astype(np.int8)
        return Packed(
            {"q": q, "scales": scales.astype(np.float32)}, np.shape(x), np.asarray(x).dtype.str
        )

    def decompress(self, payload: Packed) -> np.ndarray:
        values = payload.arrays["q"].astype(np.float32) * payload.arrays["scales"]
        return values.reshape(payload.shape).astype(np.dtype(payload.dtype))


class Int4Codec:
    """Symmetric int4 per group of ``group_size`` values, two values packed per byte."""

    lossy = True

    def __init__(self, group_size: int = 64) -> None:
        if group_size < 2 or group_size % 2:
            raise ValueError("group_size must be an even number >= 2")
        self.group_size = group_size

    def compress(self, x: np.ndarray) -> Packed:
        flat = np.asarray(x, dtype=np.float32).ravel()
        padded = np.zeros(-(-flat.size // self.group_size) * self.group_size, np.float32)
        padded[: flat.size] = flat
        groups = padded.reshape(-1, self.group_size)
        scales = np.abs(groups).max(axis=1, keepdims=True) / 7.0
        scales[scales == 0] = 1.0
        q = (np.clip(np.rint(groups / scales), -8, 7).astype(np.int8) + 8).astype(np.uint8).ravel()
        packed = (q[0::2] | (q[1::2] << 4)).astype(np.uint8)
        return Packed(
            {"packed": packed, "scales": scales.astype(np.float16).ravel()},
            np.shape(x),
            np.asarray(x).dtype.str,
        )

    def decompress(self, payload: Packed) -> np.ndarray:
        packed = payload.arrays["packed"]
        q = np.empty(packed.size * 2, np.int8)
        q[0::2] = (packed & 0x0F).astype(np.int8) - 8
        q[1::2] = (packed >> 4).astype(np.int8) - 8
        scales = payload.arrays["scales"].astype(np.float32)
        values = (q.reshape(-1, self.group_size) * scales[:, None]).ravel()
        size = int(np.prod(payload.shape))
        return values[:size].reshape(payload.shape).astype(np.dtype(payload.dtype))


class TernaryCodec:
    """{-1, 0, +1} x absmean scale per tensor (BitNet b1.58 style), 2 bits per weight."""

    lossy = True

    def compress(self, x: np.ndarray) -> Packed:
        flat = np.asarray(x, dtype=np.float32).ravel()
        scale = float(np.abs(flat).mean()) or 1.0
        trits = (np.clip(np.rint(flat / scale), -1, 1).astype(np.int8) + 1).astype(np.uint8)
        padded = np.zeros(-(-trits.size // 4) * 4, np.uint8)
        padded[: trits.size] = trits
        quads = padded.reshape(-1, 4)
        packed = quads[:, 0] | (quads[:, 1] << 2) | (quads[:, 2] << 4) | (quads[:, 3] << 6)
        return Packed(
            {"packed": packed.astype(np.uint8), "scale": np.array([scale], np.float32)},
            np.shape(x),
            np.asarray(x).dtype.str,
        )

    def decompress(self, payload: Packed) -> np.ndarray:
        packed = payload.arrays["packed"]
        trits = np.stack([(packed >> shift) & 0b11 for shift in (0, 2, 4, 6)], axis=1).ravel()
        size = int(np.prod(payload.shape))
        values = (trits[:size].astype(np.float32) - 1.0) * payload.arrays["scale"][0]
        return values.reshape(payload.shape).astype(np.dtype(payload.dtype))


BUILTIN: dict[str, Callable[..., Any]] = {
    "zlib": zlib_codec,
    "bz2": bz2_codec,
    "lzma": lzma_codec,
    "zstd": zstd_codec,
    "fp16": Fp16Codec,
    "int8": Int8Codec,
    "int4": Int4Codec,
    "ternary": TernaryCodec,
}


class CodecError(Exception):
    """A codec that cannot be loaded or built."""


def load_codec(spec: str, kwargs: Mapping[str, Any] | None = None) -> Any:
    """A built-in codec by name, or ``module:attr`` (a class or factory) called with kwargs."""
    kwargs = dict(kwargs or {})
    if spec in BUILTIN:
        factory = BUILTIN[spec]
    elif ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            factory = importlib.import_module(module_name)
            for part in attr.split("."):
                factory = getattr(factory, part)
        except (ImportError, AttributeError) as exc:
            raise CodecError(f"cannot load codec {spec!r}: {exc}") from exc
    else:
        raise CodecError(f"unknown codec {spec!r}: use one of {', '.join(BUILTIN)} or module:attr")
    try:
        codec = factory(**kwargs)
    except Exception as exc:  # a plugin's own constructor error, shown for its cases only
        raise CodecError(f"cannot build codec {spec!r} with {kwargs}: {exc!r}") from exc
    for method in ("compress", "decompress"):
        if not callable(getattr(codec, method, None)):
            raise CodecError(f"codec {spec!r} has no {method}() method")
    return codec


LOSSLESS_BUILTINS = frozenset({"zlib", "bz2", "lzma", "zstd"})


def declared_lossless(spec: str) -> bool:
    """Whether a codec spec is lossless, without building it (for choosing its datasets).

    A plugin that cannot even be imported counts as lossy here; its cases then fail with
    the import error when they run.
    """
    if spec in BUILTIN:
        return spec in LOSSLESS_BUILTINS
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception:  # reported by the case itself, not at collection
        return False
    return bool(getattr(obj, "lossless", False)) and not getattr(obj, "lossy", False)


def is_lossless(codec: Any) -> bool:
    return bool(getattr(codec, "lossless", False)) and not getattr(codec, "lossy", False)
