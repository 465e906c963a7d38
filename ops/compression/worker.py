"""Measure one plugin codec in the project's interpreter (``python -I worker.py``).

Reads one JSON request on stdin, writes one JSON answer on stdout. The codec, its input and
the zlib reference it is paired with all live in this process, so the timings are the
project's own; the harness computes ratio and fidelity from the restored data this writes.
Standard library only (numpy is imported when the input is an array, from the project's
environment); the harness's modules are loaded by path, under private names, so the
project's own packages (an ``ops`` of its own, say) win on ``sys.path``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import traceback
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def _resolve(spec: str):
    """The object ``module:attr`` names, imported from the project's path."""
    module_name, _, attr = spec.partition(":")
    found = importlib.import_module(module_name)
    for part in attr.split("."):
        found = getattr(found, part)
    return found


def _lossless(obj) -> bool:
    return bool(getattr(obj, "lossless", False)) and not getattr(obj, "lossy", False)


def _sample(spec: str, out: str) -> dict:
    """Call the project's sample function and save what it returns for the harness."""
    value = _resolve(spec)()
    if type(value).__module__ == "numpy":
        import numpy

        with open(out, "wb") as handle:
            numpy.save(handle, value, allow_pickle=False)
        return {"sample": "array"}
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{spec} returned {type(value).__name__}: return bytes or a numpy array")
    with open(out, "wb") as handle:
        handle.write(bytes(value))
    return {"sample": "bytes"}


def _measure(request: dict, portable) -> dict:
    if "sample" in request:
        return _sample(request["sample"], request["out"])
    codec = _resolve(request["codec"])(**request["kwargs"])
    if request.get("describe"):
        return {"lossless": _lossless(codec)}
    if "property" in request:
        found = portable.counterexample(
            codec, request["property"]["seed"], request["property"]["count"]
        )
        return {"counterexample": found}
    if request["array"]:
        import numpy

        data = numpy.load(request["data"], allow_pickle=False)
    else:
        with open(request["data"], "rb") as handle:
            data = handle.read()
    with open(request["reference"], "rb") as handle:
        reference = handle.read()
    packed = zlib.compress(reference, 1)
    repeats, warmup = request["repeats"], request["warmup"]
    payload, compress = portable.timed(
        lambda: codec.compress(data), repeats, warmup, reference=lambda: zlib.compress(reference, 1)
    )
    restored, decompress = portable.timed(
        lambda: codec.decompress(payload),
        repeats,
        warmup,
        reference=lambda: zlib.decompress(packed),
    )
    if type(restored).__module__ == "numpy":
        import numpy

        with open(request["restored"], "wb") as handle:
            numpy.save(handle, restored, allow_pickle=False)
        kind = "array"
    else:
        with open(request["restored"], "wb") as handle:
            handle.write(bytes(restored))
        kind = "bytes"
    return {
        "lossless": _lossless(codec),
        "payload_bytes": portable.payload_size(payload),
        "compress": [compress.seconds, compress.relative, compress.ratios, compress.reference_s],
        "decompress": [
            decompress.seconds,
            decompress.relative,
            decompress.ratios,
            decompress.reference_s,
        ],
        "restored": kind,
    }


def main() -> None:
    if "PROOFYARD_NETWORK_ALLOW" in os.environ:  # -I ignores PYTHONPATH: install it here
        _load(os.path.join(os.path.dirname(HERE), "netguard.py"), "_proofyard_netguard").install()
    portable = _load(os.path.join(HERE, "portable.py"), "_proofyard_portable")
    request = json.loads(sys.stdin.read())
    sys.path[:0] = request["roots"]
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what the codec prints goes to stderr, not into the answer
    try:
        answer = _measure(request, portable)
    except BaseException as exc:  # the codec's own failure, reported to the harness in full
        answer = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    answers.write(json.dumps(answer) + "\n")
    answers.flush()


if __name__ == "__main__":
    main()
