"""Compression suite: ratio, fidelity and normalised throughput of every (codec, dataset)."""

from __future__ import annotations

import pytest

from fixtures.compression import (
    TABLE,
    compression_cases,
    load_dataset,
    lossless_codecs,
    property_seed,
)
from fixtures.recording import inconclusive
from ops.compression.codecs import CodecError, is_lossless, load_codec
from ops.compression.datasets import DatasetError
from ops.compression.gates import absolute_failures, tracked_values
from ops.compression.measure import measure
from ops.compression.portable import counterexample
from ops.compression.remote import counterexample_in, measure_in, runs_remotely
from ops.findings import Finding
from ops.proc import Limits

pytestmark = pytest.mark.compression


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "lossless_codec" in metafunc.fixturenames:
        codecs = lossless_codecs(metafunc.config)
        metafunc.parametrize(
            "lossless_codec",
            [pytest.param(c, id=c.name) for c in codecs]
            or [pytest.param(None, marks=pytest.mark.skip(reason="no lossless codec configured"))],
        )
    if "case" in metafunc.fixturenames:
        cases = compression_cases(metafunc.config)
        metafunc.parametrize(
            "case",
            [pytest.param(c, id=f"{c[0].name}-{c[1].name}") for c in cases]
            or [
                pytest.param(
                    None, marks=pytest.mark.skip(reason="no (codec, dataset) case configured")
                )
            ],
        )


def test_lossless_property(lossless_codec, target, proofyard_config, pytestconfig, check):
    spec = lossless_codec
    section = proofyard_config.config.compression
    count = section.property_inputs if spec.property_inputs is None else spec.property_inputs
    if not count:
        pytest.skip(f"{spec.name}: no random inputs configured (compression.property_inputs)")
    seed = property_seed(pytestconfig)
    where = f"compression.codecs[{spec.name}]"
    try:
        if runs_remotely(spec.codec, proofyard_config.python):
            found = counterexample_in(
                proofyard_config.python.path, target.import_roots(), spec.codec, spec.kwargs,
                seed, count, timeout_s=600, isolate=False,
            )  # fmt: skip
        else:
            found = counterexample(load_codec(spec.codec, spec.kwargs), seed, count)
    except CodecError as exc:
        check.require(False, Finding("compression.codec-error", str(exc), context=where))
    check.inspected("random inputs", count)
    check.metric("property_seed", seed, codec=spec.name)
    if found is not None:
        failing, size, what = found
        check.require(
            False,
            Finding(
                "compression.lossless-property",
                f"{spec.name}: the random input of seed {failing} ({size} bytes) {what}; "
                f"reproduce: --set compression.property_seed={failing} "
                "--set compression.property_inputs=1",
                context=spec.name,
            ),
        )


def _measure_case(spec, data, proofyard_config, target, reference):
    """Measure in the harness, or in the project's interpreter for a project's plugin codec."""
    section = proofyard_config.config.compression
    if runs_remotely(spec.codec, proofyard_config.python):
        config = proofyard_config.config
        return measure_in(
            proofyard_config.python.path,
            target.import_roots(),
            spec.codec,
            spec.kwargs,
            data,
            lossless=spec.lossless,
            repeats=section.repeats,
            warmup=section.warmup,
            reference=reference,
            allow_hosts=config.network.allow_hosts,
            isolate=config.network.isolate_subprocesses,
            limits=Limits.for_config(config.limits),
        )
    codec = load_codec(spec.codec, spec.kwargs)
    return measure(
        codec,
        data,
        lossless=spec.lossless if spec.lossless is not None else is_lossless(codec),
        repeats=section.repeats,
        warmup=section.warmup,
        reference=reference,
    )


def test_compression_case(
    case,
    target,
    proofyard_config,
    compression_reference,
    baselines,
    throughput,
    measuring,
    imported_baselines,
    request,
    check,
):
    spec, dataset = case
    section = proofyard_config.config.compression
    where = f"compression.codecs[{spec.name}]"
    try:
        data = load_dataset(dataset, proofyard_config, target)
    except (DatasetError, CodecError) as exc:
        pytest.fail(f"compression.datasets[{dataset.name}]: {exc}", pytrace=False)
    try:
        with measuring():
            result = _measure_case(spec, data, proofyard_config, target, compression_reference)
    except CodecError as exc:
        check.require(False, Finding("compression.codec-error", str(exc), context=where))
    except Exception as exc:  # the plugin's own failure fails this case only, shown in full
        check.require(
            False,
            Finding(
                "compression.codec-error",
                f"{spec.name} on {dataset.name} raised {exc!r}",
                context=where,
            ),
        )
    check.inspected("bytes", result.original_bytes)
    row = {
        "codec": spec.name,
        "dataset": dataset.name,
        **result.as_row(),
        **{key: result.fidelity.get(key) for key in ("rel_frobenius", "snr_db", "cosine")},
    }
    check.row(TABLE, **row)
    for name, value, unit in result.metrics():
        check.metric(name, value, unit, codec=spec.name, dataset=dataset.name)

    failures = absolute_failures(spec, result, result.lossless)
    key = f"{spec.name}/{dataset.name}"
    imported_baselines(key)
    comparisons = [
        baselines.compare(
            f"{key}/{t.name}",
            t.value,
            higher_is_better=t.higher_is_better,
            tolerance=t.tolerance,
        )
        for t in tracked_values(spec, section, result)
    ]
    failures += [c.describe() for c in comparisons if c.verdict == "regression"]
    speeds = throughput(spec, key, result)
    for direction, verdict in speeds:
        if verdict is not None:
            check.metric(f"{direction}_time_ratio", verdict.ratio, "x", low=verdict.low,
                         high=verdict.high, codec=spec.name, dataset=dataset.name)  # fmt: skip
    failures += [
        f"{direction} throughput regression: {verdict.detail}"
        for direction, verdict in speeds
        if verdict is not None and verdict.verdict == "regression"
    ]
    check.require(
        not failures,
        Finding(
            "compression.gate",
            f"{spec.name} on {dataset.name}: " + "; ".join(failures),
            context=key,
        ),
    )
    undecided = [
        f"{direction} throughput: {verdict.detail}"
        for direction, verdict in speeds
        if verdict is not None and verdict.verdict == "inconclusive"
    ]
    if undecided:
        inconclusive(
            request.node,
            f"{key}: absolute gates passed; " + "; ".join(undecided),
            section.inconclusive == "fail",
        )
    missing = [c.key for c in comparisons if c.verdict == "no-baseline"]
    missing += [f"{key}/{direction}" for direction, verdict in speeds if verdict is None]
    if missing and not baselines.update:
        pytest.skip(
            f"absolute gates passed; no baseline yet for {', '.join(missing)} in "
            f"{baselines.store.path} (run with --update-baselines)"
        )
