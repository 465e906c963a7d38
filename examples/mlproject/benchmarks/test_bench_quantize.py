"""pytest-benchmark benchmarks of the quantiser (collected by proofyard's benchmark.paths)."""

import numpy as np

from mlproject.quantize import WeightQuantizer

WEIGHTS = np.random.default_rng(0).standard_normal((256, 512)).astype(np.float32)


def test_compress(benchmark):
    packed = benchmark(WeightQuantizer().compress, WEIGHTS)
    assert packed.codes.shape == (256, 512)


def test_decompress(benchmark):
    quantizer = WeightQuantizer()
    packed = quantizer.compress(WEIGHTS)
    assert benchmark(quantizer.decompress, packed).shape == (256, 512)
