"""Quality gates on generated targets: one seeded defect per gate, clean twins, the traps,
ratchet mode, the engine's cache and limits, and agreement with radon and interrogate."""

from __future__ import annotations

import json
import random
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from ops.config.schema import QualityConfig
from ops.findings import Finding
from ops.quality import gates
from ops.quality.analysis import analyse
from ops.quality.coverage_gate import CoverageError, run_under_coverage
from ops.quality.engine import Settings, run_analysis
from ops.quality.lint import ruff_command, run_ruff, split_by_size
from ops.quality.ratchet import fingerprint_counts, new_findings
from tests.conftest import write_tree
from tests.test_sarif import validate as validate_sarif

BRANCHY = (
    "def branchy(x):\n"
    + "".join(f"    if x == {i}:\n        return {i}\n" for i in range(12))
    + "    return -1\n"
)


def run_gate(name, files, **settings):
    root_results = {
        path: analyse(
            path, textwrap.dedent(text).encode() if isinstance(text, str) else text, oldest=(3, 8)
        )
        for path, text in files.items()
    }
    config = QualityConfig.model_validate({name: settings}) if settings else QualityConfig()
    gate = getattr(config, name)
    return gates.run_gate(name, root_results, gate)


def rules(report):
    return sorted(f.rule for f in report.findings if f.severity != "note")


def test_complexity_gate():
    report = run_gate("complexity", {"a.py": BRANCHY})
    assert rules(report) == ["quality.complexity"]
    assert "branchy has cyclomatic complexity 13" in report.findings[0].message
    assert report.failed_measures[0].name == "functions over max_complexity"
    clean = run_gate("complexity", {"a.py": "def f(x):\n    return x\n"})
    assert clean.findings == [] and not clean.failed_measures


def test_maintainability_gate():
    report = run_gate("maintainability", {"a.py": BRANCHY}, min_index=90)
    assert rules(report) == ["quality.maintainability"]
    assert not run_gate("maintainability", {"a.py": "X = 1\n"}, min_index=90).failed_measures


def test_type_hint_and_docstring_coverage():
    source = '''
        """Module doc."""
        def annotated(a: int, *, b: str = "") -> int:
            """Doc."""
            return a
        def bare(a, b):
            return a
        def _private(a):
            return a
        class Thing:
            def method(self, x: int) -> None:
                pass
    '''
    hints = run_gate("type_hints", {"m.py": source}, min_functions_percent=100)
    functions = hints.measures[0]
    assert hints.inspected == {"public functions": 3}
    assert functions.value == pytest.approx(66.67) and not functions.passed
    assert [f.context for f in hints.findings] == ["bare"]
    docs = run_gate("docstrings", {"m.py": source}, min_percent=50)
    # interrogate's default counting: module, 3 functions, class, method -> 2 of 6 documented
    assert docs.measures[0].value == pytest.approx(33.33) and not docs.measures[0].passed
    public = run_gate("docstrings", {"m.py": source}, public_only=True)
    assert public.inspected == {"modules, classes and functions": 5}


def test_markers_use_the_tokenizer():
    report = run_gate(
        "markers",
        {
            "a.py": 'x = "TODO in a string"  # FIXME: real one\n'
            "# XXX too\ny = '''TODO in docs'''\n"
        },
    )
    assert [(f.line, f.message.split(":")[0]) for f in report.findings] == [
        (1, "FIXME comment"),
        (2, "XXX comment"),
    ]
    assert run_gate("markers", {"a.py": 's = "TODO later"\n'}).findings == []


def test_error_handling_gate_and_its_traps():
    defects = """
        try:
            pass
        except:
            pass
        try:
            pass
        except (ValueError, Exception):
            continue_ = 1
        for i in range(3):
            try:
                pass
            except Exception:
                continue
    """
    report = run_gate("error_handling", {"a.py": defects})
    assert sorted(f.rule for f in report.findings) == ["quality.bare-except", "quality.swallowed"]
    clean = """
        try:
            import fast_json as json
        except ImportError:
            import json
        try:
            json.loads("{}")
        except Exception:
            log = 1
            raise
    """
    assert run_gate("error_handling", {"a.py": clean}).findings == []


def test_print_gate_skips_main_blocks_and_cli_modules():
    library = 'def f():\n    print("x")\nif __name__ == "__main__":\n    print("main")\n'
    report = run_gate("prints", {"lib.py": library, "cli.py": "print(1)\n"}, cli_modules=["cli.py"])
    assert [(f.path, f.line) for f in report.findings] == [("lib.py", 2)]


def test_size_gate():
    long_function = "def f():\n" + "    x = 1\n" * 30
    report = run_gate("size", {"a.py": long_function}, max_function_lines=20, max_file_lines=25)
    assert sorted(f.message.split(" (")[0] for f in report.findings) == [
        "file has lines: 31",
        "function f has lines: 31",
    ]


def test_layering_rules_and_cycles():
    files = {
        "pkg/__init__.py": "",
        "pkg/core/__init__.py": "from ..experimental import feature\n",
        "pkg/experimental.py": "feature = 1\n",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "from . import a\n",
    }
    report = run_gate(
        "layering", files, rules=[{"source": "pkg.core", "forbid": ["pkg.experimental"]}]
    )
    messages = [f.message for f in report.findings]
    assert messages == [
        "pkg.core imports pkg.experimental, which pkg.core must not import",
        "import cycle: pkg.a -> pkg.b -> pkg.a",
    ]
    clean = {"pkg/__init__.py": "", "pkg/core/__init__.py": "import os\n"}
    assert (
        run_gate(
            "layering", clean, rules=[{"source": "pkg.core", "forbid": ["pkg.experimental"]}]
        ).findings
        == []
    )


@pytest.mark.parametrize("name", ["docstrings", "type_hints"])
def test_notes_past_max_notes_are_counted_and_the_measures_unchanged(name):
    source = "".join(f"def bare_{n}(a):\n    return a\n" for n in range(7))
    results = {"m.py": analyse("m.py", source.encode(), oldest=(3, 8))}
    gate = getattr(QualityConfig(), name)
    every = gates.run_gate(name, results, gate)
    capped = gates.run_gate(name, results, gate, max_notes=2)
    assert len(every.findings) == every.notes_kept >= 7
    assert (len(capped.findings), capped.notes_counted) == (2, len(every.findings) - 2)
    assert capped.findings == every.findings[:2]
    assert capped.measures == every.measures


def test_duplication_gate_lists_pairs():
    block = "".join(f"def f{i}(a, b):\n    return a * {i} + b - {i}\n" for i in range(12))
    report = run_gate("duplication", {"a.py": block, "b.py": "x = 1\n" + block}, max_percent=10)
    assert report.failed_measures and report.findings
    assert report.findings[0].message.startswith("lines 1-")
    assert "duplicate b.py:2-" in report.findings[0].message
    unique = {"a.py": "def f(a):\n    return a + 1\n", "b.py": "def g(b):\n    return b * 2\n"}
    assert not run_gate("duplication", unique).failed_measures


def test_duplication_counted_in_python_and_by_numpy_agree(monkeypatch):
    # a small project's repeats are counted in Python (importing numpy cost more than that)
    block = "".join(f"def f{i}(a, b):\n    return a * {i} + b - {i}\n" for i in range(12))
    files = {
        "a.py": block,
        "empty.py": "",  # no windows: the files after it keep their own places
        "b.py": "x = 1\n" + block,
        "c.py": block[: len(block) // 2],
    }
    in_python = run_gate("duplication", files, max_percent=10)
    monkeypatch.setattr(gates, "NUMPY_FROM_WINDOWS", 1)
    by_numpy = run_gate("duplication", files, max_percent=10)
    assert in_python.findings and in_python.findings == by_numpy.findings
    assert in_python.measures == by_numpy.measures
    assert any("b.py" in finding.message for finding in by_numpy.findings)


def test_truncated_duplication_windows_are_refused_not_misread(monkeypatch):
    block = "".join(f"def f{i}(a, b):\n    return a * {i} + b - {i}\n" for i in range(12))
    results = {p: analyse(p, block.encode(), oldest=(3, 8)) for p in ("a.py", "b.py")}
    results["a.py"].packed_fingerprints = results["a.py"].packed_fingerprints[:-3]
    monkeypatch.setattr(gates, "NUMPY_FROM_WINDOWS", 1)
    with pytest.raises(ValueError, match="not whole records"):
        gates.run_gate("duplication", results, QualityConfig().duplication)


def test_parse_health_and_its_traps():
    files = {
        "syntax.py": "def broken(:\n    pass\n",
        "nul.py": b"x = 1\0\n",
        "undecodable.py": b"x = '\xff\xfe'\n",
        "walrus.py": "if (n := 3) > 2:\n    pass\n",
        "future.py": "import os\nfrom __future__ import annotations\n",
        "latin1.py": "# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n".encode("latin-1"),
    }
    results = {
        p: analyse(p, t if isinstance(t, bytes) else t.encode(), oldest=(3, 7))
        for p, t in files.items()
    }
    gate = QualityConfig().parse_health
    report = gates.run_gate("parse_health", results, gate)
    found = {f.path: f.rule for f in report.findings}
    assert found == {
        "syntax.py": "quality.parse-error",
        "nul.py": "quality.parse-error",
        "undecodable.py": "quality.parse-error",
        "walrus.py": "quality.old-python-syntax",
        "future.py": "quality.parse-error",  # a compiler check, not the parser's
    }
    assert results["latin1.py"].parse_error is None


def test_ruff_lint_honours_the_target_configuration(tmp_path):
    root = write_tree(tmp_path / "t", {"a.py": "import os\n"})
    lint = run_ruff(root, [root / "a.py"])
    assert [f.rule for f in lint.findings] == ["ruff.F401"]
    (root / "ruff.toml").write_text('[lint]\nignore = ["F401"]\n')
    assert run_ruff(root, [root / "a.py"]).findings == []


def test_ratchet_passes_unchanged_legacy_and_fails_on_new():
    legacy = [
        Finding("quality.print", "print()", "a.py", 3, context="f"),
        Finding("quality.print", "print()", "a.py", 9, context="f"),
    ]
    baseline = fingerprint_counts(legacy)
    moved = [
        Finding("quality.print", "print()", "a.py", 30, context="f"),
        Finding("quality.print", "print()", "a.py", 40, context="f"),
    ]
    assert new_findings(moved, baseline) == []
    added = [*moved, Finding("quality.print", "print()", "a.py", 50, context="f")]
    assert len(new_findings(added, baseline)) == 1
    # the same symbol's finding in a second file, beside the old ones, is new
    elsewhere = [*legacy, Finding("quality.print", "print()", "b.py", 3, context="f")]
    assert [f.path for f in new_findings(elsewhere, baseline)] == ["b.py"]
    # git mv a.py b.py: the same findings under the new name are not
    renamed = [Finding("quality.print", "print()", "b.py", f.line, context="f") for f in legacy]
    assert new_findings(renamed, baseline) == []
    assert len(new_findings([*renamed, added[-1]], baseline)) == 1


def test_engine_cache_and_time_limit(tmp_path):
    root = write_tree(
        tmp_path / "t", {f"m{i}.py": f"def f{i}(x):\n    return x\n" for i in range(40)}
    )
    files = sorted(root.glob("*.py"))
    cache = tmp_path / "cache.json"
    cold = run_analysis(root, files, settings=Settings(), cache_file=cache, workers=2)
    warm = run_analysis(root, files, settings=Settings(), cache_file=cache, workers=2)
    assert (cold.analysed, cold.cached) == (40, 0) and (warm.analysed, warm.cached) == (0, 40)
    (root / "m3.py").write_text("def changed():\n    pass\n")
    again = run_analysis(root, files, settings=Settings(), cache_file=cache, workers=1)
    assert (again.analysed, again.cached) == (1, 39)
    big = root / "big.py"
    big.write_text(
        "".join(f"v{i} = [{', '.join(str(j) for j in range(50))}]\n" for i in range(4000))
    )
    limited = run_analysis(root, [big], settings=Settings(time_limit_s=0.01), workers=1)
    assert limited.results["big.py"].summarised == "analysis stopped after 0.01 s of CPU time"
    summarised = run_analysis(root, [big], settings=Settings(max_bytes=1000), workers=1)
    assert "over the 1000-byte limit" in summarised.results["big.py"].summarised


STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _sample(count, seed=3):
    files = sorted(p for p in STDLIB.glob("*.py") if p.stat().st_size < 200_000)
    return random.Random(seed).sample(files, count)


def test_complexity_and_mi_agree_with_radon():
    radon_cc = pytest.importorskip("radon.complexity")
    radon_metrics = pytest.importorskip("radon.metrics")
    compared = 0
    for path in _sample(12):
        source = path.read_text(encoding="utf-8")
        ours = analyse(path.name, source.encode())
        mine = {f["line"]: f["complexity"] for f in ours.functions if not f["nested"]}
        for block in radon_cc.cc_visit(source):
            for item in getattr(block, "methods", None) or [block]:
                if hasattr(item, "methods"):
                    continue
                assert mine[item.lineno] == item.complexity, (path, item.name)
                compared += 1
        assert abs(ours.mi - radon_metrics.mi_visit(source, True)) <= 1.0, path
    assert compared > 100


def test_docstring_coverage_agrees_with_interrogate(tmp_path):
    coverage = pytest.importorskip("interrogate.coverage")
    config = pytest.importorskip("interrogate.config")
    for path in _sample(6, seed=11):
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        theirs = coverage.InterrogateCoverage(
            paths=[str(copy)], conf=config.InterrogateConfig()
        ).get_coverage()
        results = {path.name: analyse(path.name, path.read_bytes())}
        report = gates.run_gate("docstrings", results, QualityConfig().docstrings)
        assert abs(report.measures[0].value - theirs.perc_covered) <= 1.0, path


@pytest.mark.slow
def test_notes_past_max_notes_are_counted_in_the_run(run_harness, make_target, tmp_path):
    source = '"""Doc."""\n' + "".join(f"def bare_{n}(a):\n    return a\n" for n in range(6))
    root = make_target(
        {"pkg/__init__.py": '"""Doc."""\n', "pkg/m.py": source},
        "target: {root: ., packages: [pkg]}\nquality: {max_notes: 1}\n",
    )
    run_harness(
        "-m", "quality", "-k", "docstrings", f"--proofyard-config={root / 'proofyard.yaml'}"
    )
    suite = json.loads((tmp_path / "reports" / "summary.json").read_text())["suites"]["quality"]
    assert suite["findings"] == 1
    assert suite["skipped_items"] == {"notes counted but not listed (over quality.max_notes)": 5}


@pytest.mark.slow
def test_ratchet_mode_end_to_end(run_harness, make_target, tmp_path):
    legacy = {"pkg/__init__.py": "", "pkg/old.py": "def f():\n    print('legacy')\n"}
    config = """
        target: {root: ., packages: [pkg]}
        quality:
          prints: {mode: ratchet}
    """
    root = make_target(legacy, config)
    args = ("-m", "quality", "-k", "prints", f"--proofyard-config={root / 'proofyard.yaml'}")
    first = run_harness(*args)
    assert "no baseline yet for quality/prints" in first.stdout
    assert run_harness(*args, "--update-baselines").returncode == 0
    assert run_harness(*args).returncode == 0  # unchanged legacy tree passes
    green = _sarif_results(tmp_path)
    assert [r["level"] for r in green] == ["note"]  # code scanning shows no error
    assert green[0]["baselineState"] == "unchanged"
    assert green[0]["suppressions"][0]["status"] == "accepted"
    (root / "pkg" / "new.py").write_text("def g():\n    print('new')\n")
    failing = run_harness(*args)
    assert failing.returncode == 1
    assert "1 new finding(s) against the baseline" in failing.stdout
    assert "pkg/new.py:2:5: [quality.print]" in failing.stdout
    states = sorted((r["baselineState"], r["level"]) for r in _sarif_results(tmp_path))
    assert states == [("new", "error"), ("unchanged", "note")]
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["suites"]["quality"]["counts"] == {"failed": 1}
    refused = run_harness(*args, "--update-baselines")  # records nothing new, and says so
    assert refused.returncode == 1
    assert "1 new finding(s) not accepted into the baseline" in refused.stdout
    assert run_harness(*args).returncode == 1
    assert run_harness(*args, "--update-baselines", "--accept-new-findings").returncode == 0
    assert run_harness(*args).returncode == 0  # accepted explicitly


def _sarif_results(tmp_path):
    sarif = json.loads((tmp_path / "reports" / "findings.sarif").read_text())
    validate_sarif(sarif)
    (run,) = sarif["runs"]
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["helpUri"].split("#")[0].endswith("docs/configuration.md")
    return run["results"]


def _crashing_ruff(tmp_path, poison: str):
    """A ruff that fails (as a panic does) whenever ``poison`` is among its files."""
    real = ruff_command()
    script = tmp_path / "fake-ruff"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        f"if {poison!r} in sys.argv:\n"
        "    sys.exit('error: Ruff crashed: panicked while linting')\n"
        f"os.execv({real[0]!r}, [{real[0]!r}, *sys.argv[1:]])\n"
    )
    script.chmod(0o755)
    return [str(script)]


def test_one_file_cannot_lose_the_lint_gate_for_the_rest(tmp_path, monkeypatch):
    files = {f"m{index}.py": "import os\n" for index in range(7)}
    root = write_tree(tmp_path / "t", {**files, "poison.py": "x = 1\n"})
    (root / "dangling.py").symlink_to(root / "missing.py")
    (root / "folder.py").mkdir()
    fake = _crashing_ruff(tmp_path, "poison.py")
    monkeypatch.setattr("ops.quality.lint.ruff_command", lambda: fake)
    paths = sorted(root.glob("*.py"))
    lint = run_ruff(root, paths, argv_budget=20)  # a few files per call: batches, then halves
    by_rule = {}
    for finding in lint.findings:
        by_rule.setdefault(finding.rule, []).append(finding.path)
    assert sorted(by_rule["ruff.F401"]) == sorted(files)  # every other file still linted
    assert by_rule["quality.lint-crash"] == ["poison.py"]
    assert sorted(by_rule["quality.unreadable"]) == ["dangling.py", "folder.py"]
    assert lint.files == len(paths)
    monkeypatch.undo()
    clean = run_ruff(root, [root / "poison.py"])  # the real ruff: a clean file, no finding
    assert clean.findings == []


def test_coverage_gate_runs_python_placeholder_and_fails_on_failing_tests(tmp_path):
    root = write_tree(
        tmp_path / "t",
        {
            "mod.py": "def f(x):\n    return x + 1\n",
            "test_ok.py": "import mod\n\ndef test_f():\n    assert mod.f(1) == 2\n",
            "test_bad.py": "import mod\n\ndef test_f():\n    assert mod.f(1) == 3\n",
        },
    )
    pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:proofyard-options"]
    totals, how = run_under_coverage(["{python}", *pytest_args, "test_ok.py"], root, 120)
    assert totals.statements > 0 and how.startswith("exited 0")
    with pytest.raises(CoverageError, match="exited 1"):
        run_under_coverage([*pytest_args, "test_bad.py"], root, 120)


def test_prints_in_test_files_are_not_library_code_by_default():
    files = {
        "pkg/lib.py": "def f():\n    print('x')\n",
        "tests/test_lib.py": "def test_f():\n    print('debug')\n",
        "pkg/tests/test_inner.py": "print('x')\n",
        "conftest.py": "print('x')\n",
    }
    results = {path: analyse(path, text.encode(), oldest=(3, 8)) for path, text in files.items()}
    gate = QualityConfig().prints
    report = gates.run_gate("prints", gates.select(results, gate.include, gate.exclude), gate)
    assert [f.path for f in report.findings] == ["pkg/lib.py"]


def test_files_over_the_size_limit_are_not_linted(tmp_path):
    small, large = tmp_path / "small.py", tmp_path / "large.py"
    small.write_text("x = 1\n")
    large.write_text("x = 1\n" * 1000)
    assert split_by_size([small, large, tmp_path / "gone.py"], 100) == (
        [small, tmp_path / "gone.py"],
        [large],
    )


def test_type_checking_edges_are_not_runtime_cycles_and_cycles_name_their_line():
    typed = run_gate(
        "layering",
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg import b\n",
            "pkg/b.py": "from pkg import a\n",
        },
    )
    assert rules(typed) == []
    real = run_gate(
        "layering",
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import os\n\nfrom pkg import b\n",
            "pkg/b.py": "from pkg import a\n",
        },
    )
    cycles = [f for f in real.findings if f.rule == "quality.import-cycle"]
    assert [(f.path, f.line) for f in cycles] in ([("pkg/a.py", 3)], [("pkg/b.py", 1)])
