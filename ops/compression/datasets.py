"""Datasets: seeded synthetic tensors, .npy/.npz and safetensors files, bytes of files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.lazy import lazy_module

np = lazy_module("numpy")


@dataclass(frozen=True)
class Dataset:
    name: str
    load: Callable[[], Any]
    is_tensor: bool


def synthetic(kind: str, shape: tuple[int, ...], seed: int, dtype: str = "float32") -> np.ndarray:
    """Gaussian, or heavy-tailed (Student t, 3 degrees of freedom) like real weights."""
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        values = rng.standard_normal(shape)
    elif kind == "heavy-tailed":
        values = rng.standard_t(3, shape)
    else:
        raise ValueError(f"unknown synthetic kind {kind!r}")
    return (values * 0.02).astype(dtype)


def load_tensor_file(path: Path) -> dict[str, np.ndarray]:
    """Arrays in a .npy, .npz or .safetensors file, by name."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return {path.stem: np.load(path, allow_pickle=False)}
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    if suffix == ".safetensors":
        from safetensors.numpy import load_file

        return load_file(str(path))
    raise ValueError(f"{path}: not a .npy, .npz or .safetensors file")


class DatasetError(Exception):
    """A dataset that cannot be loaded as configured; the message says why."""


def tensor_of(path: Path, array: str | None = None) -> np.ndarray:
    """One array of a tensor file with its own dtype and shape: the one named, the only
    one, or (several of one dtype) all of them raveled and concatenated."""
    arrays = load_tensor_file(path)
    if array is not None:
        if array not in arrays:
            raise DatasetError(f"{path.name}: no array {array!r} (it holds {', '.join(arrays)})")
        return arrays[array]
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    dtypes = {str(value.dtype) for value in arrays.values()}
    if len(dtypes) > 1:
        raise DatasetError(
            f"{path.name}: arrays of several dtypes ({', '.join(sorted(dtypes))}): name one "
            f"with array: (one of {', '.join(arrays)})"
        )
    return np.concatenate([np.asarray(value).ravel() for value in arrays.values()])


def bytes_of(paths: list[Path]) -> bytes:
    return b"".join(path.read_bytes() for path in paths)


def nbytes(x: Any) -> int:
    return int(x.nbytes) if isinstance(x, np.ndarray) else len(x)
