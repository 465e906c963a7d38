"""A plugin codec of a project with its own interpreter, measured there by ``worker.py``."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ops.compression.codecs import BUILTIN, CodecError
from ops.compression.measure import CaseResult, Reference, case_result
from ops.compression.portable import Timing
from ops.interpreter import Interpreter
from ops.lazy import lazy_module
from ops.proc import NO_LIMITS, Limits, run_command

np = lazy_module("numpy")

WORKER = Path(__file__).with_name("worker.py")


def runs_remotely(spec: str, python: Interpreter) -> bool:
    """A ``module:attr`` codec runs in the project's interpreter when that is not the
    harness's; built-in codecs are the harness's own code."""
    return spec not in BUILTIN and not python.own


def _ask(python: str, request: dict[str, Any], roots: Sequence[Path], **run: Any) -> dict:
    result = run_command(
        [python, "-I", str(WORKER)],
        input_text=json.dumps({**request, "roots": [str(r) for r in roots]}),
        **run,
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise CodecError(
            f"codec {request['codec']!r} in {python}: {result.describe()}\n"
            f"{result.stderr.strip()[-2000:]}"
        )
    answer = json.loads(lines[-1])
    if "error" in answer:
        raise CodecError(
            f"codec {request['codec']!r} in {python}: {answer['error']}\n{answer['traceback']}"
        )
    return answer


def _timing(values: list[Any]) -> Timing:
    seconds, relative, ratios, reference_s = values
    return Timing(seconds, relative, tuple(ratios), reference_s)


def declared_lossless_in(python: str, roots: Sequence[Path], spec: str, kwargs: dict) -> bool:
    """The plugin's ``lossless`` flag, asked of the project's interpreter; a plugin that
    cannot be built there counts as lossy (its cases then fail with the reason)."""
    try:
        request = {"codec": spec, "kwargs": kwargs, "describe": True}
        return bool(_ask(python, request, roots, timeout_s=60, isolate=False)["lossless"])
    except CodecError:
        return False


def sample_in(python: str, roots: Sequence[Path], spec: str, **run: Any) -> Any:
    """What the project's ``module:function`` returns (bytes or an array), called in the
    project's interpreter."""
    with tempfile.TemporaryDirectory(prefix="proofyard-sample-") as folder:
        out = Path(folder, "sample")
        answer = _ask(python, {"codec": spec, "sample": spec, "out": str(out)}, roots, **run)
        if answer["sample"] == "array":
            return np.load(out, allow_pickle=False)
        return out.read_bytes()


def counterexample_in(
    python: str, roots: Sequence[Path], spec: str, kwargs: dict, seed: int, count: int, **run: Any
) -> tuple[int, int, str] | None:
    """``portable.counterexample`` for a project's codec, in the project's interpreter."""
    request = {"codec": spec, "kwargs": kwargs, "property": {"seed": seed, "count": count}}
    found = _ask(python, request, roots, **run)["counterexample"]
    return tuple(found) if found else None


def measure_in(
    python: str,
    roots: Sequence[Path],
    spec: str,
    kwargs: dict,
    data: Any,
    *,
    lossless: bool | None,
    repeats: int,
    warmup: int,
    reference: Reference,
    timeout_s: float = 600,
    allow_hosts: Sequence[str] = (),
    isolate: bool = True,
    limits: Limits = NO_LIMITS,
) -> CaseResult:
    """Measure the codec ``spec`` on ``data`` in ``python``; ``lossless`` None: the codec's flag."""
    with tempfile.TemporaryDirectory(prefix="proofyard-codec-") as folder:
        base = Path(folder)
        array = isinstance(data, np.ndarray)
        if array:
            np.save(base / "data.npy", data, allow_pickle=False)
        else:
            (base / "data.npy").write_bytes(bytes(data))
        (base / "reference").write_bytes(bytes(reference.data))
        request = {
            "codec": spec,
            "kwargs": kwargs,
            "data": str(base / "data.npy"),
            "array": array,
            "reference": str(base / "reference"),
            "restored": str(base / "restored"),
            "repeats": repeats,
            "warmup": warmup,
        }
        answer = _ask(
            python,
            request,
            roots,
            timeout_s=timeout_s,
            allow_hosts=allow_hosts,
            isolate=isolate,
            limits=limits,
        )
        restored_path = base / "restored"
        if answer["restored"] == "array":
            restored: Any = np.load(restored_path, allow_pickle=False)
        else:
            restored = restored_path.read_bytes()
    return case_result(
        data,
        answer["payload_bytes"],
        restored,
        _timing(answer["compress"]),
        _timing(answer["decompress"]),
        lossless=answer["lossless"] if lossless is None else lossless,
        reference_size=reference.size,
    )
