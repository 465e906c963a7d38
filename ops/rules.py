"""What each finding rule means: the short and full descriptions SARIF rules carry, and
the section of docs/configuration.md that configures it."""

# ruff: noqa: E501 - a table of sentences reads best one rule per line

from __future__ import annotations

from pathlib import Path

CONFIGURATION = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"

# rule -> (short description, full description)
RULES: dict[str, tuple[str, str]] = {
    "smoke.import": (
        "A module fails to import",
        "Importing the module in a fresh child of the project's interpreter raised, hung or ran past its limits.",
    ),
    "smoke.entry-point": (
        "A console script fails",
        "A [project.scripts] entry point did not exit 0 with smoke.entry_points.args.",
    ),
    "smoke.command": (
        "A smoke command fails",
        "A smoke.commands entry exited with another code, printed no match for its pattern, or timed out.",
    ),
    "smoke.service": (
        "A service is not ready or answers wrongly",
        "A smoke.services entry did not become ready, exited early, or failed a probe after readiness.",
    ),
    "smoke.probe": ("A health probe fails", "A smoke.probes callable raised or returned False."),
    "smoke.artifacts": (
        "Expected artifacts are missing",
        "A smoke.artifacts glob matched nothing, or only empty files.",
    ),
    "smoke.python-version": (
        "The interpreter does not satisfy requires-python",
        "The project's interpreter is outside the project's declared requires-python.",
    ),
    "smoke.free-disk": (
        "Too little free disk",
        "A smoke.environment.disk_paths folder has less free space than min_free_disk_mb.",
    ),
    "smoke.required-env": (
        "Required variables are not set",
        "A smoke.environment.required_env variable is unset or empty (names only are reported).",
    ),
    "smoke.gpu": (
        "A required GPU is missing or too small",
        "smoke.environment.require_gpu or min_gpu_memory_mb is not met by any GPU.",
    ),
    "docs.missing-file": (
        "A link names a file that does not exist",
        "A relative link resolves to no file or folder (or, in Sphinx, to no built page).",
    ),
    "docs.missing-image": (
        "An image does not exist",
        "An image, figure or ![image] names a file that does not exist.",
    ),
    "docs.missing-anchor": (
        "A #fragment names no heading or anchor",
        "The fragment matches no heading slug (by docs.slug) or explicit anchor of its document.",
    ),
    "docs.undefined-reference": (
        "A reference has no definition",
        "A [text][label] (Markdown) or `name`_ (reStructuredText) reference has no target.",
    ),
    "docs.undefined-label": (
        "A :ref: names no label",
        "A :ref: or :numref: target is no label of the Sphinx project.",
    ),
    "docs.missing-doc": (
        "A :doc: or toctree entry names no document",
        "A :doc: role or toctree entry (or glob) names no document of the Sphinx project.",
    ),
    "docs.missing-include": (
        "An included file does not exist",
        "An include or literalinclude names a file that does not exist or cannot be read.",
    ),
    "docs.include-marker": (
        "An include's marker or lines are gone",
        "A start-after / end-before / start-at / end-at marker, :lines: or :pyobject: of an include is not in the file.",
    ),
    "docs.mkdocs-nav": (
        "An MkDocs nav entry names no page",
        "A nav entry of mkdocs.yml names no page of docs_dir.",
    ),
    "docs.escapes-root": (
        "A link points outside the target",
        "A relative link resolves outside the target root.",
    ),
    "docs.empty-link": ("A link has an empty target", "A link or image has an empty target."),
    "docs.unreadable": (
        "A document cannot be read",
        "A document is not UTF-8 text, is binary, unreadable or a dangling link.",
    ),
    "docs.block-run": (
        "A code block fails",
        "A python block (or reST code-block) raised, timed out or was stopped by the network policy.",
    ),
    "docs.block-doctest": (
        "A doctest fails",
        "An example's output differs from the expected output, or it raised.",
    ),
    "docs.block-syntax": (
        "A code block is not valid Python",
        "Compiling the block (docs.python_blocks: syntax) failed.",
    ),
    "docs.generated-drift": (
        "A generated section is out of date",
        "The text between BEGIN/END generated markers differs from its command's output.",
    ),
    "docs.generated-command": (
        "A generated section's command fails",
        "The docs.generated command exited with another code or timed out.",
    ),
    "docs.generated-unknown": (
        "A generated section has no command",
        "A generated:NAME section has no docs.generated.NAME entry.",
    ),
    "docs.generated-markers": (
        "Generated markers are unpaired",
        "A BEGIN generated marker has no END, or the other way round.",
    ),
    "docs.required-missing": (
        "A required document is missing",
        "A docs.required glob matches no file.",
    ),
    "docs.required-empty": (
        "A required document is empty",
        "A file matched by docs.required is empty.",
    ),
    "deps.missing": (
        "A declared dependency is not installed",
        "A requirement that applies to this environment is not installed.",
    ),
    "deps.version-mismatch": (
        "An installed version does not satisfy its requirement",
        "The installed version is outside the declared specifier.",
    ),
    "deps.pin-drift": (
        "An installed version differs from its pin",
        "The environment does not hold the pinned version.",
    ),
    "deps.pin-conflict": ("Pins conflict", "Two pins of one distribution disagree."),
    "deps.env-conflict": (
        "Installed distributions conflict",
        "An installed distribution's requirement is not met (as pip check reports).",
    ),
    "deps.env-missing": (
        "A requirement of an installed distribution is missing",
        "An installed distribution requires one that is not installed.",
    ),
    "deps.cycle": (
        "Dependencies form a cycle",
        "Installed distributions require each other in a cycle.",
    ),
    "deps.import-missing": (
        "An import has no declared distribution",
        "Production code imports a module no declared distribution provides.",
    ),
    "deps.import-misplaced": (
        "Production code imports a development dependency",
        "The module's distribution is declared only in a development group.",
    ),
    "deps.unused": (
        "A dependency is never imported",
        "A main dependency is imported nowhere (deps.allow_unused lists the deliberate ones).",
    ),
    "deps.license-denied": (
        "A license is denied",
        "A distribution's license matches deps.licenses.deny.",
    ),
    "deps.license-not-allowed": (
        "A license is not allowed",
        "A distribution's license is outside deps.licenses.allow.",
    ),
    "deps.license-unknown": (
        "A license is unknown",
        "A distribution declares no license the check can read.",
    ),
    "deps.vulnerable": (
        "A version has a known advisory",
        "An installed version is affected by an advisory of deps.advisories.",
    ),
    "deps.declaration": (
        "A declaration cannot be read",
        "A requirement line or pyproject entry is not a valid requirement.",
    ),
    "quality.complexity": (
        "A function is too complex",
        "Cyclomatic complexity (radon's rule) above quality.complexity.max_complexity.",
    ),
    "quality.maintainability": (
        "A file's maintainability index is low",
        "Maintainability index below quality.maintainability.min_index.",
    ),
    "quality.type-hints": (
        "Parameters or returns lack type hints",
        "Type-hint coverage below quality.type_hints.",
    ),
    "quality.docstring": (
        "A public object has no docstring",
        "Docstring coverage below quality.docstrings.",
    ),
    "quality.marker": (
        "A work-left marker comment",
        "A comment tag of quality.markers.tags left in the code.",
    ),
    "quality.print": (
        "print() in library code",
        "A print call outside CLI modules and __main__ blocks.",
    ),
    "quality.size": ("A file, function or class is too long", "Lines above quality.size limits."),
    "quality.layering": (
        "An import breaks a layering rule",
        "An import from a layer quality.layering forbids.",
    ),
    "quality.import-cycle": (
        "Modules import each other in a cycle",
        "A runtime import cycle between the project's modules.",
    ),
    "quality.duplication": (
        "Duplicated lines",
        "A block of lines repeated across files above quality.duplication.",
    ),
    "quality.coverage": (
        "Coverage below its threshold",
        "Line or branch coverage below quality.coverage.min_line / min_branch.",
    ),
    "quality.parse-error": (
        "A file does not parse",
        "A Python file of the target is not valid Python.",
    ),
    "kpi.alert": (
        "A KPI rule fails",
        "A kpi.rules entry: a bound, band, trend, rate or at_least not met, or its run crashed.",
    ),
    "kpi.corrupt-history": (
        "A KPI run record is corrupt",
        "A file of the KPI history is not a readable run record.",
    ),
    "compression.gate": (
        "A compression gate fails",
        "Ratio, error or throughput beyond its bound or baseline tolerance.",
    ),
    "compression.codec-error": (
        "A codec fails",
        "A codec raised, or its round trip did not restore the data.",
    ),
    "compression.lossless-property": (
        "A lossless codec loses data",
        "A generated input did not survive the codec's round trip.",
    ),
    "benchmark.gate": (
        "A benchmark regressed or exceeds its budget",
        "A confirmed regression against the baseline, or a time or memory budget exceeded.",
    ),
    "pipeline.step": (
        "A pipeline step fails",
        "A step exited with another code, raised, or timed out after its retries.",
    ),
    "pipeline.invalid": (
        "A pipeline is not a DAG",
        "Unknown needs, a cycle or duplicate step names.",
    ),
}

# the heading anchors of docs/configuration.md (GitHub slugs of "### `smoke`", ...)
SECTIONS = {
    "smoke": "smoke",
    "docs": "docs",
    "deps": "deps",
    "quality": "quality",
    "kpi": "kpi",
    "compression": "compression",
    "benchmark": "benchmark",
    "pipeline": "pipelinesname",
}


def describe(rule: str) -> tuple[str, str]:
    """(short, full) description of ``rule``; for a rule not listed, its suite's words."""
    if rule in RULES:
        return RULES[rule]
    suite, _, name = rule.partition(".")
    words = name.replace("-", " ").replace("_", " ") or rule
    return f"{suite} check: {words}", f"A finding of the {suite} suite's {words} check."


def help_uri(rule: str) -> str:
    """The section of docs/configuration.md that configures ``rule``'s suite."""
    anchor = SECTIONS.get(rule.partition(".")[0], "top-level")
    return f"{CONFIGURATION.as_uri()}#{anchor}"
