"""The quality gates: pure functions from per-file results to findings and measures."""

from __future__ import annotations

import fnmatch
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from ops.findings import Finding
from ops.graphs import cycle_path, strongly_connected_cycles
from ops.lazy import lazy_module
from ops.quality.analysis import FileResult

np = lazy_module("numpy")


@dataclass(frozen=True)
class Measure:
    """A gated number: passes when ``value`` is on the right side of ``threshold``."""

    name: str
    value: float
    threshold: float | None
    higher_is_better: bool = False
    unit: str = ""

    @property
    def passed(self) -> bool:
        if self.threshold is None:
            return True
        return (
            self.value >= self.threshold if self.higher_is_better else self.value <= self.threshold
        )

    def describe(self) -> str:
        sense = ">=" if self.higher_is_better else "<="
        limit = "" if self.threshold is None else f" (threshold {sense} {self.threshold:g})"
        return f"{self.name} = {self.value:g}{self.unit}{limit}"


@dataclass
class GateReport:
    inspected: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    max_notes: int | None = None  # notes made into findings; past it, counted only
    notes_kept: int = 0
    notes_counted: int = 0

    def keeps_note(self) -> bool:
        """Whether the gate's next note becomes a finding; past ``max_notes`` it is only
        counted (the stdlib has 110,000 missing docstrings and annotations: making findings
        of them, to list 1,000, was a quarter of a warm quality session)."""
        if self.max_notes is None or self.notes_kept < self.max_notes:
            self.notes_kept += 1
            return True
        self.notes_counted += 1
        return False

    @property
    def failed_measures(self) -> list[Measure]:
        return [m for m in self.measures if not m.passed]


def select(
    results: dict[str, FileResult], include: Iterable[str], exclude: Iterable[str]
) -> dict[str, FileResult]:
    include, exclude = list(include), list(exclude)
    return {
        path: result
        for path, result in results.items()
        if (not include or any(fnmatch.fnmatch(path, g) for g in include))
        and not any(fnmatch.fnmatch(path, g) for g in exclude)
    }


def analysed(results: dict[str, FileResult]) -> dict[str, FileResult]:
    return {p: r for p, r in results.items() if r.parse_error is None and r.summarised is None}


def complexity(results, gate, severity, report: GateReport) -> GateReport:
    functions = [(path, f) for path, r in analysed(results).items() for f in r.functions]
    report.inspected["functions"] = len(functions)
    over = sorted(
        ((path, f) for path, f in functions if f["complexity"] > gate.max_complexity),
        key=lambda item: -item[1]["complexity"],
    )
    for path, f in over:
        report.findings.append(
            Finding(
                "quality.complexity",
                f"{f['qualname']} has cyclomatic complexity {f['complexity']} "
                f"(threshold {gate.max_complexity}, radon cc rule)",
                path,
                f["line"],
                severity=severity,
                context=f["qualname"],
            )
        )
    values = [f["complexity"] for _, f in functions]
    report.measures += [
        Measure("functions over max_complexity", len(over), gate.max_over),
        Measure("maximum complexity", max(values, default=0), None),
        Measure(
            "average complexity",
            round(statistics.fmean(values), 3) if values else 0,
            gate.max_average,
        ),
    ]
    return report


def maintainability(results, gate, severity, report: GateReport) -> GateReport:
    files = {p: r for p, r in analysed(results).items() if r.mi is not None}
    report.inspected["files"] = len(files)
    low = sorted(((p, r.mi) for p, r in files.items() if r.mi < gate.min_index), key=lambda x: x[1])
    for path, index in low:
        report.findings.append(
            Finding(
                "quality.maintainability",
                f"maintainability index {index:.1f} "
                f"(threshold >= {gate.min_index:g}, radon mi formula)",
                path,
                1,
                severity=severity,
                context="module",
            )
        )
    report.measures += [
        Measure("files under min_index", len(low), 0),
        Measure("lowest index", round(min((r.mi for r in files.values()), default=100.0), 2), None),
    ]
    return report


def type_hints(results, gate, severity, report: GateReport) -> GateReport:
    public = [(p, f) for p, r in analysed(results).items() for f in r.functions if f["public"]]
    report.inspected["public functions"] = len(public)
    full = slots = annotated = 0
    for path, f in public:
        total = f["params"] + 1
        done = f["params_annotated"] + int(f["returns_annotated"])
        slots += total
        annotated += done
        if done == total:
            full += 1
        elif report.keeps_note():
            report.findings.append(
                Finding(
                    "quality.type-hints",
                    f"{f['qualname']}: {done} of {total} parameters and return annotated",
                    path,
                    f["line"],
                    severity="note",
                    context=f["qualname"],
                )
            )
    report.measures += [
        Measure(
            "fully annotated public functions",
            _percent(full, len(public)),
            gate.min_functions_percent,
            True,
            "%",
        ),
        Measure(
            "annotated parameters and returns",
            _percent(annotated, slots),
            gate.min_annotations_percent,
            True,
            "%",
        ),
    ]
    return report


def docstrings(results, gate, severity, report: GateReport) -> GateReport:
    nodes = [
        (p, n)
        for p, r in analysed(results).items()
        for n in r.doc_nodes
        if not gate.public_only or n["public"]
    ]
    report.inspected["modules, classes and functions"] = len(nodes)
    covered = 0
    for path, node in nodes:
        if node["documented"]:
            covered += 1
        elif report.keeps_note():
            report.findings.append(
                Finding(
                    "quality.docstring",
                    f"{node['kind']} {node['qualname']} has no docstring",
                    path,
                    node["line"],
                    severity="note",
                    context=f"{node['kind']}:{node['qualname']}",
                )
            )
    report.measures.append(
        Measure("docstring coverage", _percent(covered, len(nodes)), gate.min_percent, True, "%")
    )
    return report


def markers(results, gate, severity, report: GateReport) -> GateReport:
    files = analysed(results)
    report.inspected["files"] = len(files)
    found = [(p, m) for p, r in files.items() for m in r.markers if m["tag"] in gate.tags]
    for path, marker in found:
        report.findings.append(
            Finding(
                "quality.marker",
                f"{marker['tag']} comment: {marker['text']}",
                path,
                marker["line"],
                marker["col"],
                severity=severity,
                context=marker["text"],
            )
        )
    report.measures.append(Measure("marker comments", len(found), gate.max_markers))
    return report


def error_handling(results, gate, severity, report: GateReport) -> GateReport:
    files = analysed(results)
    report.inspected["files"] = len(files)
    for path, result in files.items():
        for handler in result.handlers:
            if handler["kind"] == "bare-except":
                message = f"bare 'except:' in {handler['scope']} catches everything, even exits"
            else:
                message = (
                    f"'except {handler['caught']}' in {handler['scope']} swallows the "
                    "error (its body only passes or continues)"
                )
            report.findings.append(
                Finding(
                    f"quality.{handler['kind']}",
                    message,
                    path,
                    handler["line"],
                    handler["col"],
                    severity=severity,
                    context=f"{handler['scope']}:{handler['kind']}",
                )
            )
    report.measures.append(
        Measure("swallowed or bare handlers", len(report.findings), gate.max_findings)
    )
    return report


def with_cli_files(gate, cli_files: list[str]):
    """The print gate with the target's command-line modules (entry points, ``__main__``)
    counted as ``cli_modules``: their output is the program's, not a library's."""
    return gate.model_copy(update={"cli_modules": [*gate.cli_modules, *cli_files]})


def prints(results, gate, severity, report: GateReport) -> GateReport:
    files = {
        p: r
        for p, r in analysed(results).items()
        if not any(fnmatch.fnmatch(p, g) for g in gate.cli_modules)
    }
    report.inspected["library files"] = len(files)
    for path, result in files.items():
        for call in result.prints:
            report.findings.append(
                Finding(
                    "quality.print",
                    f"print() in library code ({call['scope']}); use logging",
                    path,
                    call["line"],
                    call["col"],
                    severity=severity,
                    context=call["scope"],
                )
            )
    report.measures.append(Measure("print calls", len(report.findings), gate.max_calls))
    return report


def size(results, gate, severity, report: GateReport) -> GateReport:
    files = {p: r for p, r in results.items() if r.parse_error is None}
    report.inspected["files"] = len(files)

    def add(path, line, what, value, limit, context):
        report.findings.append(
            Finding(
                "quality.size",
                f"{what} {value} (threshold {limit})",
                path,
                line,
                severity=severity,
                context=context,
            )
        )

    for path, result in files.items():
        if result.lines > gate.max_file_lines:
            add(path, 1, "file has lines:", result.lines, gate.max_file_lines, "file")
        for f in result.functions:
            length = f["end_line"] - f["line"] + 1
            if length > gate.max_function_lines:
                add(
                    path,
                    f["line"],
                    f"function {f['qualname']} has lines:",
                    length,
                    gate.max_function_lines,
                    f["qualname"],
                )
        for c in result.classes:
            length = c["end_line"] - c["line"] + 1
            if c["methods"] > gate.max_class_methods:
                add(
                    path,
                    c["line"],
                    f"class {c['qualname']} has methods:",
                    c["methods"],
                    gate.max_class_methods,
                    f"{c['qualname']}:methods",
                )
            if length > gate.max_class_lines:
                add(
                    path,
                    c["line"],
                    f"class {c['qualname']} has lines:",
                    length,
                    gate.max_class_lines,
                    f"{c['qualname']}:lines",
                )
    report.measures.append(
        Measure("oversized files, functions and classes", len(report.findings), 0)
    )
    return report


def module_name(path: str) -> str:
    parts = path[:-3].split("/") if path.endswith(".py") else path.split("/")
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(current: str, is_package: bool, item: dict[str, Any], modules: set[str]) -> str:
    """The module an import statement reaches: ``from a import b`` reaches ``a.b`` when that
    is a module of the target, else ``a``; relative imports are made absolute."""
    if item["level"] == 0:
        stem = item["module"]
    else:
        base = current.split(".") if is_package else current.split(".")[:-1]
        base = base[: len(base) - (item["level"] - 1)] if item["level"] > 1 else base
        stem = ".".join([*base, item["module"]] if item["module"] else base)
    for name in item.get("names", []):
        if f"{stem}.{name}" in modules:
            return f"{stem}.{name}"
    return stem


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layering(results, gate, severity, report: GateReport) -> GateReport:
    files = analysed(results)
    modules = {module_name(p): p for p in files}
    known = set(modules)  # once: a set per import took 0.25 s of a warm run on the stdlib
    report.inspected["modules"] = len(modules)
    graph: dict[str, set[str]] = defaultdict(set)
    first_line: dict[tuple[str, str], int] = {}  # where each edge's first import is
    for path, result in files.items():
        current = module_name(path)
        for item in result.imports:
            target = _resolve(current, path.endswith("__init__.py"), item, known)
            own = next((m for m in (target, target.rsplit(".", 1)[0]) if m in modules), None)
            if own and own != current and not item.get("typing_only"):  # never runs
                graph[current].add(own)
                first_line.setdefault((current, own), item["line"])
            for rule in gate.rules:
                if _matches(current, rule.source) and any(_matches(target, f) for f in rule.forbid):
                    report.findings.append(
                        Finding(
                            "quality.layering",
                            f"{current} imports {target}, which {rule.source} must not import",
                            path,
                            item["line"],
                            severity=severity,
                            context=f"{current}->{target}",
                        )
                    )
    violations = len(report.findings)
    edges = {m: sorted(graph.get(m, ())) for m in modules}
    cycles = strongly_connected_cycles(edges)
    for members in cycles:
        path = cycle_path(edges, members)
        report.findings.append(
            Finding(
                "quality.import-cycle",
                "import cycle: " + " -> ".join(path),
                modules[path[0]],
                first_line.get((path[0], path[1]), 1),
                severity="warning" if gate.allow_cycles else severity,
                context=",".join(members),
            )
        )
    report.measures += [
        Measure("forbidden imports", violations, 0),
        Measure("import cycles", len(cycles), None if gate.allow_cycles else 0),
    ]
    return report


def duplication(results, gate, severity, report: GateReport) -> GateReport:
    files = analysed(results)
    report.inspected["files"] = len(files)
    by_hash = _repeated_fingerprints(files)
    duplicated: dict[str, set[int]] = defaultdict(set)
    pairs: dict[tuple[str, str], list[tuple[int, int, int, int]]] = defaultdict(list)
    for places in by_hash.values():
        if len(places) < 2:
            continue
        for path, first, last in places:
            duplicated[path].update(range(first, last + 1))
        origin = places[0]
        for other in places[1:]:
            pairs[(origin[0], other[0])].append((origin[1], origin[2], other[1], other[2]))
    total = sum(r.sloc for r in files.values())
    lines = sum(len(v) for v in duplicated.values())
    for (a, b), spans in sorted(pairs.items()):
        for a1, a2, b1, b2 in _merge(sorted(spans)):
            if not report.keeps_note():
                continue
            report.findings.append(
                Finding(
                    "quality.duplication",
                    f"lines {a1}-{a2} duplicate {b}:{b1}-{b2}",
                    a,
                    a1,
                    severity="note",
                    context=f"{b}:{a2 - a1}",
                )
            )
    share = _percent(min(lines, total), total)
    report.measures.append(Measure("duplicated lines", share, gate.max_percent, False, "%"))
    return report


def _merge(spans: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    merged: list[list[int]] = []
    for a1, a2, b1, b2 in spans:
        if merged and a1 <= merged[-1][1] + 1 and b1 <= merged[-1][3] + 1 and b1 >= merged[-1][2]:
            merged[-1][1] = max(merged[-1][1], a2)
            merged[-1][3] = max(merged[-1][3], b2)
        else:
            merged.append([a1, a2, b1, b2])
    return [tuple(m) for m in merged]


def parse_health(results, gate, severity, report: GateReport) -> GateReport:
    report.inspected["files"] = len(results)
    for path, result in results.items():
        if result.parse_error:
            report.findings.append(
                Finding(
                    "quality.parse-error",
                    result.parse_error,
                    path,
                    result.parse_line or 1,
                    severity=severity,
                    context=result.parse_error,
                )
            )
        if result.old_syntax_error:
            report.findings.append(
                Finding(
                    "quality.old-python-syntax",
                    result.old_syntax_error,
                    path,
                    1,
                    severity=severity,
                    context=result.old_syntax_error,
                )
            )
        if result.summarised:
            report.findings.append(
                Finding(
                    "quality.summarised",
                    result.summarised,
                    path,
                    1,
                    severity="warning",
                    context="summarised",
                )
            )
    errors = [f for f in report.findings if f.severity == "error"]
    report.measures.append(Measure("unparsable files", len(errors), 0))
    return report


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 100.0


def run_gate(
    name: str, results: dict[str, FileResult], gate: Any, max_notes: int | None = None
) -> GateReport:
    """Gate ``name`` (a key of :data:`GATES`) over ``results``; of its notes, the first
    ``max_notes`` become findings and the rest are counted (None: every one, as a ratchet
    needs each note's fingerprint)."""
    return GATES[name](results, gate, gate.severity, GateReport(max_notes=max_notes))


GATES: dict[str, Callable[..., GateReport]] = {
    "complexity": complexity,
    "maintainability": maintainability,
    "type_hints": type_hints,
    "docstrings": docstrings,
    "markers": markers,
    "error_handling": error_handling,
    "prints": prints,
    "size": size,
    "layering": layering,
    "duplication": duplication,
    "parse_health": parse_health,
}


_FINGERPRINT = [("hash", "<i8"), ("first", "<i4"), ("last", "<i4")]  # as packed (a numpy dtype)
# From this many windows numpy finds the repeats: below, counting them in Python (0.2 us a
# window) costs less than importing numpy (0.12 s of CPU), which a 40-file project paid.
NUMPY_FROM_WINDOWS = 500_000


def _repeated_fingerprints(files: dict[str, FileResult]) -> dict[int, list[tuple[str, int, int]]]:
    """Fingerprints that occur more than once, with their places. Finding the repeats with
    numpy first keeps the pure-Python work to the (few) duplicated windows: on the CPython
    standard library this took the gate from about 3 s to well under one."""
    paths = list(files)
    windows = sum(result.windows for result in files.values())
    if not windows:
        return {}
    if windows >= NUMPY_FROM_WINDOWS:
        return _repeated_by_numpy(files, paths)
    hashes = [[digest for digest, _, _ in files[path].fingerprints] for path in paths]
    repeated = {digest for digest, n in Counter(chain.from_iterable(hashes)).items() if n > 1}
    by_hash: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    for path, digests in zip(paths, hashes, strict=True):
        if not repeated.isdisjoint(digests):
            for digest, first, last in files[path].fingerprints:
                if digest in repeated:
                    by_hash[digest].append((path, first, last))
    return by_hash


def _repeated_by_numpy(
    files: dict[str, FileResult], paths: list[str]
) -> dict[int, list[tuple[str, int, int]]]:
    """As the pure-Python count, with every window's place found by numpy: only the
    repeated windows (23,000 of 590,000 on the stdlib) become Python objects."""
    packed = b"".join(files[path].packed_fingerprints for path in paths)
    ends = np.cumsum([files[path].windows for path in paths])
    if len(packed) != int(ends[-1]) * np.dtype(_FINGERPRINT).itemsize:  # else files shift
        raise ValueError("a file's packed duplication windows are not whole records")
    records = np.frombuffer(packed, dtype=_FINGERPRINT)
    _, inverse, counts = np.unique(records["hash"], return_inverse=True, return_counts=True)
    chosen = np.flatnonzero(counts[inverse] > 1)
    owners = np.searchsorted(ends, chosen, side="right").tolist()
    by_hash: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    for owner, (digest, first, last) in zip(owners, records[chosen].tolist(), strict=True):
        by_hash[digest].append((paths[owner], first, last))
    return by_hash
