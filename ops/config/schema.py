"""The pydantic schema of ``proofyard.yaml``: every key, its type, range and default."""

from __future__ import annotations

import itertools
import re
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ops.config.observe import KpiConfig, MonitorConfig
from ops.config.section import Section
from ops.graphs import cycle_path, strongly_connected_cycles


class TargetConfig(Section):
    """The project under test."""

    root: str = Field(".", description="Project root, relative to the config file.")
    packages: list[str] = Field(
        default_factory=list,
        description="Import names of the source packages; auto-detected when empty.",
    )
    docs: list[str] = Field(
        default_factory=lambda: [
            "*.md",
            "*.rst",
            "docs/**/*.md",
            "docs/**/*.rst",
            "doc/**/*.md",
            "doc/**/*.rst",
        ],
        description="Globs of documentation (Markdown and reStructuredText).",
    )
    exclude: list[str] = Field(
        default_factory=list, description="Extra glob patterns excluded from every scan."
    )
    use_gitignore: bool = Field(True, description="Also exclude what the target's .gitignore does.")
    python: str | None = Field(
        None,
        description="The project's interpreter (path relative to root, or a name on PATH); "
        "runs every piece of the project's code. Default: the harness's.",
    )
    venv: str | None = Field(
        None, description="The project's virtualenv folder (instead of python)."
    )

    @model_validator(mode="after")
    def _one_interpreter(self) -> TargetConfig:
        if self.python is not None and self.venv is not None:
            raise ValueError("give target.python or target.venv, not both")
        return self


class ReportsConfig(Section):
    """Where results are written."""

    dir: str = Field(
        ".proofyard/reports",
        description="Output folder for every report file, relative to the target root.",
    )
    junit: bool = Field(True, description="Write junit.xml (metrics as properties).")
    html: bool = Field(True, description="Write a self-contained report.html.")
    allure: bool = Field(True, description="Write allure results to allure-results/.")
    summary: bool = Field(True, description="Write summary.json.")
    sarif: bool = Field(True, description="Write findings.sarif (SARIF 2.1.0).")


class BaselinesConfig(Section):
    """The baseline store shared by quality, compression and benchmark gates."""

    dir: str = Field(".proofyard/baselines", description="Folder, relative to the target root.")
    history: int = Field(20, ge=1, le=10_000, description="Entries of history kept per baseline.")


class NetworkConfig(Section):
    """Hermetic-by-default network policy."""

    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts, IP addresses or CIDR networks reachable besides loopback.",
    )
    isolate_subprocesses: bool = Field(
        True, description="Run harness subprocesses in a network namespace with loopback only."
    )


class LimitsConfig(Section):
    """Ceilings for each item that runs the target's code in a process of its own (smoke
    imports, commands, entry points and probes, docs code blocks, pipeline steps): an item
    past one fails alone ("exceeded the memory limit") and the run goes on."""

    memory_mb: float | None = Field(
        None,
        gt=0,
        description="Private memory (RLIMIT_DATA) of each process; default: half the "
        "machine's memory, at most 2048.",
    )
    cpu_s: float | None = Field(
        None,
        gt=0,
        description="CPU time of each process (default: none beyond each item's timeout; "
        "CPU time, unlike the timeout, does not grow when the machine is busy).",
    )


class LoggingConfig(Section):
    """The one logging set-up of the harness."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class ImportsCheck(Section):
    """Import every module of the target's packages in a fresh interpreter."""

    enabled: bool = True
    timeout_s: float = Field(20.0, gt=0, le=3600, description="Per-module import time limit.")
    exclude: list[str] = Field(
        default_factory=lambda: ["*.__main__"],
        description="Module names (fnmatch patterns) not imported; __main__ modules run on import.",
    )
    slowest: int = Field(5, ge=0, le=1000, description="How many slowest imports to list.")
    preload: bool = Field(
        True,
        description="Import the target's third-party dependencies once in the warm parent, "
        "so each module's import time is its own.",
    )


class EntryPointsCheck(Section):
    """Run every console/gui script of the target with harmless arguments."""

    enabled: bool = True
    args: list[str] = Field(default_factory=lambda: ["--help"])
    timeout_s: float = Field(20.0, gt=0, le=3600)


class CommandCheck(Section):
    """An extra command with its expected exit code and output pattern."""

    name: str
    run: list[str] | str = Field(
        description="argv list ({python} is the harness's interpreter); a string only with "
        "shell: true."
    )
    shell: bool = False
    expect_exit: int = 0
    expect_output: str | None = Field(None, description="Regular expression searched in output.")
    timeout_s: float = Field(30.0, gt=0, le=3600)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)


class ProbeCheck(Section):
    """A request made against a running service."""

    method: str = "GET"
    path: str = "/"
    expect_status: int = Field(200, ge=100, le=599)
    expect_json: dict[str, object] = Field(
        default_factory=dict, description="Fields the JSON body must contain, with their values."
    )
    max_latency_ms: float = Field(2000.0, gt=0)


class ServiceCheck(Section):
    """A service started, polled for readiness, probed, and stopped."""

    name: str
    run: list[str]
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    ready_url: str | None = Field(
        None,
        description="HTTP URL on loopback polled until it answers; with ready_pattern, a path "
        "such as /health on the address the service printed.",
    )
    ready_port: int | None = Field(None, ge=1, le=65535, description="TCP port on loopback.")
    ready_pattern: str | None = Field(
        None,
        description="Regex with a group named url or port, matched against the service's "
        "output: the address of a service started on port 0.",
    )
    ready_status: int | None = Field(
        None,
        ge=100,
        le=599,
        description="The answer of ready_url that means ready (default: the first probe's "
        "expect_status, else any answer below 500: a warming-up 503 is not ready).",
    )
    timeout_s: float = Field(15.0, gt=0, le=600)
    stop_grace_s: float = Field(3.0, ge=0, le=120)
    probes: list[ProbeCheck] = Field(default_factory=list)

    @field_validator("ready_pattern")
    @classmethod
    def _address_group(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        try:
            groups = re.compile(pattern).groupindex
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if "url" not in groups and "port" not in groups:
            raise ValueError("needs a named group (?P<url>...) or (?P<port>...)")
        return pattern


class ArtifactsCheck(Section):
    """Files a dry-run command must produce."""

    name: str
    run: list[str]
    expect: list[str] = Field(min_length=1, description="Globs, relative to the target root.")
    timeout_s: float = Field(60.0, gt=0, le=3600)


class EnvironmentCheck(Section):
    """Properties of the environment the target runs in."""

    min_free_disk_mb: float = Field(100.0, ge=0)
    disk_paths: list[str] = Field(default_factory=lambda: ["."])
    required_env: list[str] = Field(default_factory=list, description="Variable names only.")
    require_gpu: bool = False
    min_gpu_memory_mb: float | None = Field(
        None, gt=0, description="Free memory at least one GPU must have (implies require_gpu)."
    )


class SmokeConfig(Section):
    """The smoke suite."""

    imports: ImportsCheck = Field(default_factory=ImportsCheck)
    entry_points: EntryPointsCheck = Field(default_factory=EntryPointsCheck)
    commands: list[CommandCheck] = Field(default_factory=list)
    services: list[ServiceCheck] = Field(default_factory=list)
    probes: list[str] = Field(
        default_factory=list, description="module:callable health functions (runs code)."
    )
    artifacts: list[ArtifactsCheck] = Field(default_factory=list)
    environment: EnvironmentCheck = Field(default_factory=EnvironmentCheck)
    strict: bool = Field(
        False,
        description="A readiness skip fails instead (an import whose optional dependency "
        "is missing).",
    )


class GeneratedCommand(Section):
    """The command whose output a generated section must equal."""

    run: list[str] | str = Field(description="argv list ({python} is the harness's interpreter).")
    shell: bool = False
    fence: str | None = Field(None, description="Wrap the output in a code fence of this language.")
    timeout_s: float = Field(30.0, gt=0, le=3600)
    env: dict[str, str] = Field(
        default_factory=lambda: {"COLUMNS": "100"},
        description="Environment for the command (fixed width by default).",
    )


class DocsConfig(Section):
    """The docs suite (documents are chosen by target.docs)."""

    slug: Literal["github", "gitlab", "mkdocs"] = "github"
    online: bool = Field(False, description="Check external links (also --docs-online).")
    online_timeout_s: float = Field(10.0, gt=0, le=300)
    online_concurrency: int = Field(8, ge=1, le=64)
    online_per_host: int = Field(2, ge=1, le=16)
    online_retries: int = Field(2, ge=0, le=10)
    cache_ttl_s: float = Field(86400.0, ge=0, description="How long a successful check is reused.")
    python_blocks: Literal["run", "syntax", "off"] = "run"
    block_timeout_s: float = Field(30.0, gt=0, le=3600)
    generated: dict[str, GeneratedCommand] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=lambda: ["README*"])


class LicensePolicy(Section):
    allow: list[str] = Field(default_factory=list, description="SPDX ids allowed (empty: any).")
    deny: list[str] = Field(default_factory=list, description="SPDX ids never allowed.")
    fail_on_unknown: bool = Field(False, description="Fail when a license cannot be determined.")


class DepsConfig(Section):
    """The deps suite (it checks the environment of ``target.python``)."""

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "python" in data:
            raise ValueError("deps.python moved to target.python (it now runs every suite)")
        return data

    requirements: list[str] = Field(
        default_factory=lambda: ["requirements*.txt"],
        description="Globs of requirements files (-r/-c followed).",
    )
    constraints: list[str] = Field(default_factory=list, description="Globs of constraints files.")
    extras: list[str] = Field(
        default_factory=list, description="Extras whose dependencies must be installed ('*': all)."
    )
    groups: list[str] = Field(
        default_factory=list, description="Dependency groups that must be installed ('*': all)."
    )
    dev_groups: list[str] = Field(
        default_factory=lambda: ["dev", "test", "tests", "testing", "lint", "docs", "typing"],
        description="Extras and groups that hold development-only dependencies.",
    )
    allow_unused: list[str] = Field(
        default_factory=list, description="Declared distributions allowed to go unimported."
    )
    fail_on_cycles: bool = False
    wheelhouse: str | None = Field(None, description="Folder of vendored wheels.")
    wheelhouse_manifest: str = Field("SHA256SUMS", description="Manifest inside the wheelhouse.")
    licenses: LicensePolicy = Field(default_factory=LicensePolicy)
    advisories: str | None = Field(None, description="Folder of OSV JSON advisories (offline).")


class CompressionDataset(Section):
    """A dataset: synthetic tensors, tensor files, or the bytes of files (lossless only)."""

    name: str
    kind: Literal["gaussian", "heavy-tailed", "tensor-file", "bytes", "callable"]
    shape: list[int] | None = Field(None, description="For synthetic kinds.")
    seed: int = 0
    dtype: Literal["float32", "float16", "float64"] = "float32"
    path: str | None = Field(None, description="Glob relative to the target root (file kinds).")
    array: str | None = Field(
        None, description="tensor-file: the array to take (default: the only one, or all "
        "of one dtype concatenated); its dtype and shape are kept.",
    )  # fmt: skip
    call: str | None = Field(
        None,
        pattern=r"^[\w.]+:[\w.]+$",
        description="callable: module:function returning bytes or a numpy array, run in the "
        "project's interpreter.",
    )
    returns: Literal["tensor", "bytes"] = Field(
        "tensor", description="callable: what it returns (lossy codecs get tensors only)."
    )

    @model_validator(mode="after")
    def _source(self) -> CompressionDataset:
        if self.kind == "callable" and not self.call:
            raise ValueError("kind callable needs call: module:function")
        if self.kind in ("tensor-file", "bytes") and not self.path:
            raise ValueError(f"kind {self.kind} needs path: a glob of files")
        return self


class CompressionCodec(Section):
    """A codec: a built-in name (zlib, bz2, lzma, zstd, fp16, int8, int4, ternary) or
    ``module:attr`` (runs code), with kwargs and per-codec gates."""

    name: str
    codec: str
    kwargs: dict[str, object] = Field(default_factory=dict)
    lossless: bool | None = Field(None, description="Default: the codec's own 'lossless' flag.")
    min_ratio: float | None = Field(None, gt=0)
    max_rel_error: float | None = Field(None, ge=0)
    max_abs_error: float | None = Field(None, ge=0)
    min_snr_db: float | None = None
    min_cosine: float | None = Field(None, ge=-1, le=1)
    ratio_regression: float | None = Field(None, ge=0, le=1)
    error_regression: float | None = Field(None, ge=0)
    throughput_regression: float | None = Field(None, ge=0, le=1)
    property_inputs: int | None = Field(
        None, ge=0, description="This codec's share of compression.property_inputs."
    )


def _default_datasets() -> list[CompressionDataset]:
    return [
        CompressionDataset(name=f"{kind}-{rows}x{cols}", kind=kind, shape=[rows, cols], seed=seed)
        for seed, (rows, cols) in enumerate(((256, 512), (512, 1024), (1024, 2048)))
        for kind in ("gaussian", "heavy-tailed")
    ]


def _default_codecs() -> list[CompressionCodec]:
    return [
        CompressionCodec(name=name, codec=name)
        for name in ("zlib", "bz2", "lzma", "zstd", "fp16", "int8", "int4", "ternary")
    ]


class CompressionConfig(Section):
    """The compression suite: every codec on every compatible dataset is a case."""

    repeats: int = Field(
        10, ge=1, le=1000, description="Timed pairs (codec and reference) after warm-up."
    )
    warmup: int = Field(1, ge=0, le=100)
    datasets: list[CompressionDataset] = Field(default_factory=_default_datasets)
    codecs: list[CompressionCodec] = Field(default_factory=_default_codecs)
    lossless_on_tensors: bool = Field(False, description="Also run lossless codecs on tensors.")
    ratio_regression: float = Field(0.01, ge=0, le=1, description="Allowed ratio loss.")
    error_regression: float = Field(0.05, ge=0, description="Allowed relative error growth.")
    throughput_regression: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Smallest slowdown that counts (time relative to the paired reference); "
        "sessions of identical code differ by up to about 20% here.",
    )
    reference_mb: float = Field(1.0, gt=0, le=1024, description="Size of the reference workload.")
    store: str = Field(
        ".proofyard/compression", description="Throughput baselines and history, per machine."
    )
    property_inputs: int = Field(
        2000, ge=0, le=10_000_000, description="Random inputs each lossless codec must restore."
    )
    import_baseline: str | None = Field(
        None,
        description="JSON of baselines the project already keeps (CODEC/DATASET: ratio, "
        "rel_frobenius or sizes per sample), imported once per case.",
    )
    property_seed: int | None = Field(
        None, ge=0, description="First seed of the property check (default: new each run)."
    )
    inconclusive: Literal["report", "fail"] = Field(
        "report", description="An undecidable throughput comparison: its own outcome, or a failure."
    )


class Gate(Section):
    """What every quality gate shares."""

    enabled: bool = True
    mode: Literal["absolute", "ratchet"] = Field(
        "absolute", description="ratchet: fail only on what is new or worse than the baseline."
    )
    severity: Literal["error", "warning"] = "error"
    include: list[str] = Field(default_factory=list, description="Globs; empty means all files.")
    exclude: list[str] = Field(default_factory=list)


class LintGate(Gate):
    max_total: int = Field(0, ge=0, description="Most ruff violations allowed in total.")
    per_rule: dict[str, int] = Field(
        default_factory=dict, description="Most violations per rule code or prefix."
    )
    args: list[str] = Field(default_factory=list, description="Extra ruff check arguments.")


class ComplexityGate(Gate):
    max_complexity: int = Field(10, ge=1, description="Per function (radon cc rule).")
    max_over: int = Field(0, ge=0, description="Functions allowed over max_complexity.")
    max_average: float | None = Field(None, gt=0)


class MaintainabilityGate(Gate):
    min_index: float = Field(20.0, ge=0, le=100, description="Per file (radon mi formula).")


class TypeHintsGate(Gate):
    min_functions_percent: float = Field(
        0.0, ge=0, le=100, description="Public functions fully annotated."
    )
    min_annotations_percent: float = Field(
        0.0, ge=0, le=100, description="Parameters and returns annotated."
    )


class DocstringsGate(Gate):
    min_percent: float = Field(0.0, ge=0, le=100)
    public_only: bool = Field(
        False, description="Count public objects only (default: interrogate's default counting)."
    )


class MarkersGate(Gate):
    max_markers: int = Field(0, ge=0)
    tags: list[str] = Field(default_factory=lambda: ["TODO", "FIXME", "XXX"])


class ErrorHandlingGate(Gate):
    max_findings: int = Field(0, ge=0)


TEST_FILES = [
    "tests/*", "test/*", "*/tests/*", "*/test/*", "test_*.py", "*/test_*.py", "*_test.py",
    "conftest.py", "*/conftest.py",
]  # fmt: skip


class PrintGate(Gate):
    cli_modules: list[str] = Field(
        default_factory=list, description="Globs of command-line modules that may print."
    )
    max_calls: int = Field(0, ge=0)
    exclude: list[str] = Field(
        default_factory=lambda: list(TEST_FILES),
        description="Globs; by default test files, which are not library code.",
    )


class SizeGate(Gate):
    max_file_lines: int = Field(1000, ge=1)
    max_function_lines: int = Field(100, ge=1)
    max_class_methods: int = Field(30, ge=1)
    max_class_lines: int = Field(800, ge=1)


class LayerRule(Section):
    source: str = Field(description="Module prefix, e.g. pkg.core")
    forbid: list[str] = Field(description="Module prefixes it must not import.")


class LayeringGate(Gate):
    rules: list[LayerRule] = Field(default_factory=list)
    allow_cycles: bool = False


class DuplicationGate(Gate):
    max_percent: float = Field(10.0, ge=0, le=100)


class CoverageGate(Gate):
    enabled: bool = False
    command: list[str] | None = Field(None, description="Test command run under coverage.")
    data_file: str | None = Field(None, description="An existing .coverage data file instead.")
    min_line: float = Field(80.0, ge=0, le=100)
    min_branch: float | None = Field(None, ge=0, le=100)
    timeout_s: float = Field(600.0, gt=0)


class QualityConfig(Section):
    """The quality suite: one item per gate."""

    files: list[str] = Field(default_factory=lambda: ["**/*.py"], description="Globs analysed.")
    max_file_bytes: int = Field(2_000_000, ge=1000, description="Larger files are only counted.")
    file_time_limit_s: float = Field(
        20.0, gt=0, description="Per-file analysis limit, in CPU seconds (load-independent)."
    )
    workers: int | None = Field(None, ge=1, le=64, description="Default: available cores.")
    max_notes: int = Field(1000, ge=0, description="Notes listed per gate (the rest counted).")
    cache: str = Field(
        ".proofyard/cache/quality.json",
        description="Per-file results by content hash (relative to the target).",
    )
    lint: LintGate = Field(default_factory=LintGate)
    complexity: ComplexityGate = Field(default_factory=ComplexityGate)
    maintainability: MaintainabilityGate = Field(default_factory=MaintainabilityGate)
    type_hints: TypeHintsGate = Field(default_factory=TypeHintsGate)
    docstrings: DocstringsGate = Field(default_factory=DocstringsGate)
    markers: MarkersGate = Field(default_factory=MarkersGate)
    error_handling: ErrorHandlingGate = Field(default_factory=ErrorHandlingGate)
    prints: PrintGate = Field(default_factory=PrintGate)
    size: SizeGate = Field(default_factory=SizeGate)
    layering: LayeringGate = Field(default_factory=LayeringGate)
    duplication: DuplicationGate = Field(default_factory=DuplicationGate)
    parse_health: Gate = Field(default_factory=Gate)
    coverage: CoverageGate = Field(default_factory=CoverageGate)


class PipelineStep(Section):
    """One step: ``run`` (argv; a shell only with ``shell: true``) or ``call``
    (``module:function`` with ``kwargs``; naming one runs its code)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    run: list[str] | str | None = None
    shell: bool = False
    call: str | None = Field(None, pattern=r"^[\w.]+:[\w.]+$")
    kwargs: dict[str, object] = Field(default_factory=dict)
    needs: list[str] = Field(default_factory=list)
    inputs: list[str] = Field(default_factory=list, description="Globs, relative to cwd.")
    outputs: list[str] = Field(default_factory=list, description="Globs, relative to cwd.")
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = Field(None, description="Relative to the target root.")
    timeout_s: float = Field(3600.0, gt=0)
    retries: int = Field(0, ge=0, le=100)
    backoff_s: float = Field(1.0, ge=0, le=3600, description="First retry delay; doubles.")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Hints such as cpu or memory_mb."
    )
    matrix: dict[str, list[str | int | float]] | None = Field(
        None,
        description="Fan out: one step per combination, named NAME[key=value,...], each "
        "resumable on its own; {matrix.KEY} in run, kwargs, env, cwd, inputs and outputs.",
    )

    @field_validator("matrix")
    @classmethod
    def _matrix_keys(cls, matrix: dict[str, list] | None) -> dict[str, list] | None:
        for key, values in (matrix or {}).items():
            if not re.fullmatch(r"[A-Za-z0-9_]+", key):
                raise ValueError(f"matrix key {key!r}: letters, digits and _ only")
            if not values:
                raise ValueError(f"matrix key {key!r} has no values")
            if len({str(v) for v in values}) != len(values):
                raise ValueError(f"matrix key {key!r} repeats a value")
        return matrix

    def expanded(self) -> list[PipelineStep]:
        """This step once per matrix combination (itself when it has no matrix)."""
        if not self.matrix:
            return [self]
        keys = list(self.matrix)
        steps = []
        for values in itertools.product(*(self.matrix[key] for key in keys)):
            chosen = {key: str(value) for key, value in zip(keys, values, strict=True)}
            label = ",".join(f"{key}={value}" for key, value in chosen.items())
            data = _substitute(self.model_dump(exclude={"matrix", "name"}), chosen)
            steps.append(
                PipelineStep.model_construct(
                    **{**self.model_dump(), **data, "name": f"{self.name}[{label}]", "matrix": None}
                )
            )
        return steps

    @field_validator("inputs", "outputs")
    @classmethod
    def _relative_globs(cls, globs: list[str]) -> list[str]:
        for glob in globs:
            if PurePosixPath(glob).is_absolute():
                raise ValueError(f"{glob!r} is absolute: give a glob relative to the step's cwd")
        return globs

    @model_validator(mode="after")
    def _one_action(self) -> PipelineStep:
        if (self.run is None) == (self.call is None):
            raise ValueError("give exactly one of run or call")
        if isinstance(self.run, str) and not self.shell:
            raise ValueError("run is a string: give an argv list or set shell: true")
        return self


def _substitute(value: object, chosen: dict[str, str]) -> object:
    """``{matrix.KEY}`` replaced by the chosen values in every string of ``value``."""
    if isinstance(value, str):
        for key, text in chosen.items():
            value = value.replace("{matrix." + key + "}", text)
        return value
    if isinstance(value, list):
        return [_substitute(item, chosen) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, chosen) for key, item in value.items()}
    return value


class Pipeline(Section):
    """A DAG of steps, validated before anything runs. Matrix steps are fanned out here:
    a step that needs one needs every one of its combinations."""

    workers: int = Field(2, ge=1, le=256)
    policy: Literal["stop", "keep-going"] = "stop"
    steps: list[PipelineStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _fan_out(self) -> Pipeline:
        if not any(step.matrix for step in self.steps):
            return self
        fanned = {step.name: [s.name for s in step.expanded()] for step in self.steps}
        steps = []
        for step in self.steps:
            for concrete in step.expanded():
                needs = [name for need in concrete.needs for name in fanned.get(need, [need])]
                steps.append(concrete.model_copy(update={"needs": needs}))
        self.steps = steps
        return self

    def graph_problem(self) -> str | None:
        """What keeps the steps from forming a DAG, in one line, or ``None``.

        Not a validation error: one broken pipeline fails its own items, never the config
        (and so every suite) as a whole.
        """
        names = [step.name for step in self.steps]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            return f"duplicate step names: {', '.join(duplicates)}"
        for step in self.steps:
            unknown = [need for need in step.needs if need not in names]
            if unknown:
                return f"step {step.name!r} needs unknown step(s): {', '.join(unknown)}"
        graph = {step.name: list(step.needs) for step in self.steps}
        cycles = strongly_connected_cycles(graph)
        if cycles:
            return "dependency cycle: " + " -> ".join(cycle_path(graph, cycles[0]))
        return None


class Artifact(Section):
    """A model or dataset file: fetched once, verified by SHA-256, placed atomically."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(
        pattern=r"^(https?|file|hf)://",
        description="http(s)://, file://, or hf://[datasets/]OWNER/REPO[@REVISION]/PATH for a "
        "file of a Hugging Face Hub repository (the 'hub' extra).",
    )
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    size: int | None = Field(None, ge=0, description="Bytes; checked when given.")
    destination: str = Field(
        description="Path inside the target root (never the root itself); with unpack, a new "
        "or empty folder."
    )
    unpack: Literal["zip", "tar", "tar.gz", "tar.zst", "gz"] | None = Field(
        None,
        description="Extract into destination (a folder; tar reads any compression tarfile "
        "knows); gz decompresses one file to destination (a file).",
    )

    @field_validator("destination")
    @classmethod
    def _inside_the_root(cls, value: str) -> str:
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or not value.strip():
            raise ValueError(f"{value!r} must be a relative path inside the target root")
        if all(part == "." for part in path.parts):
            raise ValueError(f"{value!r} is the target root itself: name a folder inside it")
        return value


class AuthHeader(Section):
    """A header sent only to ``host`` (never to a host a redirect leads to), its value read
    from the variable ``env`` when a request is made; values are never logged."""

    host: str = Field(pattern=r"^[A-Za-z0-9.-]+$")
    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Variable name only.")
    header: str = Field("Authorization", pattern=r"^[A-Za-z0-9-]+$")
    scheme: str = Field("Bearer", description="Put before the value ('' for none).")


class EnvConfig(Section):
    """The environment manager (``python -m ops env``)."""

    cache_dir: str = Field(".proofyard/artifacts", description="Download cache (target-relative).")
    cache_dirs: list[str] = Field(
        default_factory=lambda: [".proofyard/cache"], description="Folders that must be writable."
    )
    tools: list[str] = Field(
        default_factory=lambda: ["node", "java", "valgrind"],
        description="Optional tools reported when present.",
    )
    artifacts: list[Artifact] = Field(default_factory=list)
    auth: list[AuthHeader] = Field(
        default_factory=list, description="Headers for authenticated hosts, from variables."
    )
    hub_endpoint: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Hugging Face Hub endpoint for hf:// artifacts (default: huggingface_hub's,"
        " which reads HF_ENDPOINT); a mirror, say.",
    )
    retries: int = Field(3, ge=0, le=20)
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Per request.")
    deadline_s: float = Field(
        3600.0, gt=0, le=86400, description="Whole download of one artifact, retries included."
    )
    max_unpacked_mb: float = Field(
        10240.0, gt=0, description="Most bytes one archive may expand to (MiB)."
    )
    max_unpack_ratio: float = Field(
        200.0,
        gt=1,
        description="Most unpacked bytes per archive byte (applies past 64 MiB unpacked).",
    )
    concurrency: int = Field(4, ge=1, le=32)
    wheelhouse: str = Field("wheelhouse", description="Folder for offline wheels.")
    requirements: list[str] = Field(
        default_factory=lambda: ["requirements.txt"],
        description="Pinned requirements the wheels come from.",
    )
    approve: list[str] | None = Field(
        None,
        description="Distributions that may enter the wheelhouse; anything else pip brings "
        "is reported and left out (null: all).",
    )


class BenchmarkCallable(Section):
    """A function benchmarked from the config (naming one runs its code)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    call: str = Field(pattern=r"^[\w.]+:[\w.]+$")
    args: list[object] = Field(default_factory=list)
    kwargs: dict[str, object] = Field(default_factory=dict)
    setup: str | None = Field(
        None,
        pattern=r"^[\w.]+:[\w.]+$",
        description="module:function returning (args, kwargs) per round.",
    )


class BenchmarkConfig(Section):
    """The benchmark suite's regression gate (pytest-benchmark measures)."""

    paths: list[str] = Field(
        default_factory=list, description="The target's benchmark folders, also collected."
    )
    callables: list[BenchmarkCallable] = Field(default_factory=list)
    min_effect: float = Field(0.05, ge=0, le=10, description="Smallest change that counts.")
    noise_floor_s: float = Field(1e-7, ge=0, description="Medians below this are inconclusive.")
    confidence: float = Field(0.99, gt=0.5, lt=1)
    rounds: int = Field(
        400,
        ge=10,
        le=100_000,
        description="Calibrated samples per benchmark; this VM's speed drifts over seconds, "
        "so more rounds (a longer span) make sessions agree better.",
    )
    max_sampling_s: float = Field(
        8.0, gt=0, description="Stop taking those samples after this long (at least 20)."
    )
    calibration_tolerance: float = Field(
        1.25,
        gt=1,
        description="How many times faster or slower the calibration may run than in the "
        "baseline's session before a comparison on this machine is inconclusive (the machine "
        "is in another state).",
    )
    store: str = Field(".proofyard/benchmarks", description="Baselines and history, per machine.")
    history: int = Field(50, ge=1, le=10_000)
    inconclusive: Literal["report", "fail"] = Field(
        "report",
        description="An undecidable comparison (busy machine, wide noise): its own outcome, "
        "or a failure (strict CI).",
    )
    max_time_s: float | None = Field(None, gt=0, description="Default budget: median per call.")
    max_memory_mb: float | None = Field(None, gt=0, description="Default budget: traced peak.")
    max_rss_growth_mb: float | None = Field(
        None, gt=0, description="Default budget: growth of the process's peak RSS during a test."
    )


class ProofyardConfig(Section):
    """The whole configuration file."""

    target: TargetConfig = Field(default_factory=TargetConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    baselines: BaselinesConfig = Field(default_factory=BaselinesConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    smoke: SmokeConfig = Field(default_factory=SmokeConfig)
    docs: DocsConfig = Field(default_factory=DocsConfig)
    deps: DepsConfig = Field(default_factory=DepsConfig)
    compression: CompressionConfig = Field(default_factory=CompressionConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    pipelines: dict[str, Pipeline] = Field(default_factory=dict)
    env: EnvConfig = Field(default_factory=EnvConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    kpi: KpiConfig = Field(default_factory=KpiConfig)
    benchmark: BenchmarkConfig = Field(default_factory=BenchmarkConfig)
