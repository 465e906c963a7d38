"""Compression: codecs pack for real, gates catch regressions, plugins fail alone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixtures.compression import charts
from ops.baseline import BaselineStore
from ops.benchmark.store import BenchmarkStore
from ops.compression.codecs import (
    BUILTIN,
    CodecError,
    Int4Codec,
    Packed,
    TernaryCodec,
    load_codec,
    zlib_codec,
)
from ops.compression.measure import Reference, fidelity, measure
from ops.compression.portable import payload_size
from ops.compression.throughput import judge


@pytest.fixture(scope="module")
def weights():
    return np.random.default_rng(0).standard_normal((64, 96)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_codecs_round_trip_with_expected_ratio(name, weights):
    codec = load_codec(name)
    payload = codec.compress(weights)
    restored = codec.decompress(payload)
    assert restored.shape == weights.shape and restored.dtype == weights.dtype
    ratio = weights.nbytes / payload_size(payload)
    expected = {
        "fp16": (1.99, 2.0),
        "int8": (3.8, 4.0),
        "int4": (7.3, 7.6),
        "ternary": (15.5, 16.0),
    }.get(name, (1.0, 1.2))
    assert expected[0] <= ratio <= expected[1]
    if name in ("zlib", "bz2", "lzma", "zstd"):
        assert np.array_equal(restored, weights)


def test_int4_packs_two_values_per_byte_and_keeps_every_level():
    levels = np.append(np.arange(-7, 8, dtype=np.float32), 0.0) * 0.5  # scale exactly 0.5
    codec = Int4Codec(group_size=16)
    payload = codec.compress(levels)
    assert payload.arrays["packed"].nbytes == 8
    assert np.array_equal(codec.decompress(payload), levels)


def test_ternary_uses_two_bits_per_weight():
    x = np.array([1.0, -1.0, 0.0, 0.1, -2.0, 3.0, 0.0, 0.0, 1.0], np.float32)
    payload = TernaryCodec().compress(x)
    assert payload.arrays["packed"].nbytes == 3  # 9 weights, 4 per byte
    scale = np.abs(x).mean()
    assert np.allclose(
        TernaryCodec().decompress(payload), np.clip(np.rint(x / scale), -1, 1) * scale
    )


def test_payload_sizes_come_from_real_bytes():
    assert payload_size(b"abc") == 3
    assert payload_size(memoryview(b"abcd")) == 4
    assert payload_size(np.zeros(5, np.int16)) == 10
    assert payload_size({"a": b"12", "b": [np.zeros(2, np.uint8)]}) == 4
    assert payload_size(Packed({"q": np.zeros(8, np.int8)}, (8,), "<f4")) == 8 + 8 + 3
    with pytest.raises(TypeError, match="cannot measure a payload of type object"):
        payload_size(object())


def test_fidelity_measures():
    a = np.array([1.0, 2.0, 3.0])
    scores = fidelity(a, a + np.array([0.1, -0.1, 0.0]))
    assert scores["mse"] == pytest.approx(0.02 / 3)
    assert scores["max_abs_error"] == pytest.approx(0.1)
    assert scores["rel_frobenius"] == pytest.approx((0.02 / 14) ** 0.5)
    assert scores["snr_db"] == pytest.approx(10 * np.log10(14 / 0.02))
    assert fidelity(a, a)["snr_db"] == float("inf")


def test_bad_codec_specs_are_clear():
    with pytest.raises(CodecError, match="unknown codec 'nope'"):
        load_codec("nope")
    with pytest.raises(CodecError, match="cannot load codec 'no_such_module:Codec'"):
        load_codec("no_such_module:Codec")
    with pytest.raises(CodecError, match="cannot build codec 'int4'"):
        load_codec("int4", {"group_size": 3})


class FakeClock:
    """A clock that only moves when a fake codec 'works', so timings are exact."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Workload:
    """zlib for real (so payloads are real) while charging ``cost`` seconds per call."""

    def __init__(self, clock, cost, decompress_cost=None, pad=0):
        self.clock, self.cost = clock, cost
        self.decompress_cost = decompress_cost if decompress_cost is not None else cost / 2
        self.pad = pad
        self.inner = zlib_codec(6)

    def compress(self, x):
        self.clock.now += self.cost
        return self.inner.compress(x) + b"\0" * self.pad

    def decompress(self, payload):
        self.clock.now += self.decompress_cost
        return self.inner.decompress(payload[: len(payload) - self.pad] if self.pad else payload)


DATA = bytes(range(256)) * 400


def _case(slowdown=1.0, machine=1.0, pad=0):
    clock = FakeClock()
    codec = Workload(clock, 0.010 * slowdown * machine, pad=pad)
    reference = Reference(Workload(clock, 0.004 * machine), DATA)
    return measure(
        codec, DATA, lossless=True, repeats=5, warmup=1, clock=clock, reference=reference
    )


def _store_baseline(tmp_path, result):
    store = BaselineStore(tmp_path / "compression.json")
    store.ratchet("c/ratio", result.ratio, higher_is_better=True)
    speeds = BenchmarkStore(tmp_path / "throughput")
    _throughput(speeds, result, update=True)
    return store, speeds


def _throughput(speeds, result, update=False):
    return judge(
        speeds,
        "c/compress",
        result.compress_samples,
        result.reference_s,
        machine="m",
        commit=None,
        update=update,
        min_effect=0.25,
    )


def _verdicts(stores, result):
    store, speeds = stores
    return (
        store.compare("c/ratio", result.ratio, higher_is_better=True, tolerance=0.01).verdict,
        _throughput(speeds, result).verdict,
    )


def test_a_30_percent_slower_variant_is_caught(tmp_path):
    base = _case()
    store = _store_baseline(tmp_path, base)
    slower = _case(slowdown=1.3)
    assert slower.compress_norm == pytest.approx(base.compress_norm / 1.3)
    assert _verdicts(store, slower) == ("pass", "regression")


def test_a_variant_with_10_percent_larger_output_is_caught(tmp_path):
    base = _case()
    store = _store_baseline(tmp_path, base)
    larger = _case(pad=int(base.payload_bytes * 0.1))
    assert larger.exact and larger.ratio == pytest.approx(base.ratio / 1.1, rel=2e-3)
    assert _verdicts(store, larger) == ("regression", "pass")


def test_uniformly_slower_machine_does_not_fire_the_throughput_gate(tmp_path):
    base = _case()
    store = _store_baseline(tmp_path, base)
    slow_machine = _case(machine=1.6)
    assert slow_machine.compress_mb_s == pytest.approx(base.compress_mb_s / 1.6)
    assert slow_machine.compress_norm == pytest.approx(base.compress_norm)
    assert _verdicts(store, slow_machine) == ("pass", "pass")


def test_charts_escape_names_and_draw_every_case():
    rows = [
        {
            "codec": "<script>x</script>",
            "dataset": "d",
            "ratio": 4.0,
            "rel_frobenius": 0.01,
            "compress_mb_s": 100.0,
        },
        {
            "codec": "zlib",
            "dataset": "b",
            "ratio": 3.0,
            "rel_frobenius": None,
            "compress_mb_s": 50.0,
        },
    ]
    rows.append({**rows[0], "codec": "int8 $x$", "ratio": 3.9, "rel_frobenius": 0.02})
    documents = charts(rows)
    assert set(documents) == {"compression-pareto.svg", "compression-throughput.svg"}
    for svg in documents.values():
        assert "<script>" not in svg
    assert "&lt;script&gt;" in documents["compression-pareto.svg"]
    assert "int8 $x$" in documents["compression-pareto.svg"]  # a $ is text, never mathtext
    bars = documents["compression-throughput.svg"]
    assert all(f"{label} / " in bars for label in ("&lt;script&gt;x&lt;/script&gt;", "zlib"))
    assert "MB/s" in bars
    assert charts(rows[1:2]) == {}  # one case: a table row says it, no chart


PLUGINS = '''
import zlib

class Corrupting:
    """Claims to be lossless, flips one byte in a thousand on the way back."""
    lossless = True

    def compress(self, x):
        return zlib.compress(bytes(x))

    def decompress(self, payload):
        data = bytearray(zlib.decompress(payload))
        for index in range(0, len(data), 1000):
            data[index] ^= 0xFF
        return bytes(data)

class Honest(Corrupting):
    def decompress(self, payload):
        return zlib.decompress(payload)

class Exploding(Corrupting):
    def compress(self, x):
        raise RuntimeError("codec exploded")
'''


@pytest.mark.slow
def test_plugins_corruption_is_caught_and_a_crash_fails_only_its_case(
    run_harness, make_target, tmp_path
):
    root = make_target(
        {"mycodecs.py": PLUGINS, "data/a.bin": "x" * 5000},
        """
        target: {root: .}
        compression:
          repeats: 2
          datasets:
            - {name: blob, kind: bytes, path: "data/*.bin"}
            - {name: small, kind: gaussian, shape: [8, 16]}
          codecs:
            - {name: corrupting, codec: "mycodecs:Corrupting"}
            - {name: honest, codec: "mycodecs:Honest"}
            - {name: exploding, codec: "mycodecs:Exploding"}
            - {name: int8, codec: int8, min_ratio: 2.5}  # 8x16: a scale per 16 values
    """,
    )
    result = run_harness(
        "-m",
        "compression",
        f"--proofyard-config={root / 'proofyard.yaml'}",
        "--update-baselines",
        env={"PYTHONPATH": str(root)},
    )
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    outcomes = {
        t["nodeid"].split("[")[-1].rstrip("]"): (t["outcome"], t["message"])
        for t in summary["suites"]["compression"]["tests"]
    }
    assert outcomes["corrupting-blob"][0] == "failed"
    assert "lossless round trip is not exact" in outcomes["corrupting-blob"][1]
    assert outcomes["exploding-blob"][0] == "failed"
    assert "codec exploded" in outcomes["exploding-blob"][1]
    assert outcomes["honest-blob"][0] == "passed"
    assert outcomes["int8-small"][0] == "passed"
    assert result.returncode == 1
    assert (tmp_path / "reports" / "compression-throughput.svg").is_file()  # several cases
    assert not (tmp_path / "reports" / "compression-pareto.svg").exists()  # one lossy case
    assert "<svg" in (tmp_path / "reports" / "report.html").read_text()


def test_records_cross_to_the_xdist_controller_as_plain_types():
    import numpy as np

    from ops.findings import CheckRecord, plain

    record = CheckRecord(tables={"t": [{"snr_db": np.float64(41.5), "n": np.int64(3)}]})
    row = record.to_dict()["tables"]["t"][0]
    assert type(row["snr_db"]) is float and type(row["n"]) is int
    assert plain((np.float32(1.5), "x")) == [1.5, "x"]


@pytest.mark.slow
def test_compression_runs_under_xdist(run_harness):
    result = run_harness("-m", "compression", "-k", "fp16", "-n", "2")
    assert "INTERNALERROR" not in result.stdout + result.stderr, result.stdout[-3000:]
    assert result.returncode == 0, result.stdout[-3000:]


def test_tensor_files_keep_dtype_and_shape_and_mixed_ones_say_which(tmp_path):
    from ops.compression.datasets import DatasetError, tensor_of

    np.save(tmp_path / "ints.npy", np.arange(12, dtype=np.int32).reshape(3, 4))
    ints = tensor_of(tmp_path / "ints.npy")
    assert ints.dtype == np.int32 and ints.shape == (3, 4)
    np.savez(tmp_path / "mixed.npz", a=np.zeros(3, np.float64), b=np.zeros(2, np.int8))
    with pytest.raises(DatasetError, match="several dtypes .*name one with array:"):
        tensor_of(tmp_path / "mixed.npz")
    assert tensor_of(tmp_path / "mixed.npz", "a").dtype == np.float64


def test_a_codec_corrupting_one_input_in_many_is_caught_by_the_property_check():
    from ops.compression.portable import counterexample, random_input

    class Rare:
        def compress(self, data):
            return zlib_codec(6).compress(data)

        def decompress(self, payload):
            data = zlib_codec(6).decompress(payload)
            return data[:-1] if len(data) == 4096 else data  # only the 4096-byte inputs

    found = counterexample(Rare(), 1000, 2000)
    assert found is not None and found[1] == 4096 and found[2] == "restored bytes differ"
    assert len(random_input(found[0])) == 4096  # the reported seed reproduces it
    assert counterexample(zlib_codec(6), 1000, 2000) is None


def test_a_projects_own_baselines_are_imported_once(tmp_path):
    import json

    from ops.compression import imported

    path = tmp_path / "sizes.json"
    path.write_text(
        json.dumps(
            {
                "zlib/src": {"samples": [{"original_bytes": 300, "payload_bytes": 100}] * 2},
                "int8/w": {"ratio": 3.9, "rel_frobenius": 0.02},
            }
        )
    )
    cases = imported.read(path)
    assert cases["zlib/src"] == {"ratio": 3.0}
    store = BaselineStore(tmp_path / "compression.json")
    assert imported.seed(store, cases, "zlib/src") == ["zlib/src/ratio"]
    assert store.compare("zlib/src/ratio", 2.0, higher_is_better=True).verdict == "regression"
    store.ratchet("zlib/src/ratio", 3.5, higher_is_better=True)  # the store rules from now on
    assert imported.seed(store, cases, "zlib/src") == []
    assert store.get("zlib/src/ratio")["value"] == 3.5
    path.write_text('{"x/y": {"samples": [{"original_bytes": 1}]}}')
    with pytest.raises(imported.ImportError_, match="x/y: samples must be a list of"):
        imported.read(path)
