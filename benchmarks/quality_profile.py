"""Where a cold quality analysis spends its CPU time, phase by phase, on one core.

Runs the engine's per-file phases in this process over a tree (default: the CPython
standard library of the running interpreter) as the engine's workers run them (the cycle
collector off), timing each with the thread's CPU clock so
the breakdown does not depend on what else the machine runs; then times the pieces the
engine adds around them (result transfer, cache writing). Prints seconds and shares.

Usage: python benchmarks/quality_profile.py [ROOT]
"""

from __future__ import annotations

import ast
import gc
import json
import pickle
import sys
import sysconfig
import time
import warnings
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ops.quality import analysis  # noqa: E402
from ops.quality.lexer import scan  # noqa: E402
from ops.quality.walk import walk  # noqa: E402


class Clock:
    """Thread CPU seconds per phase."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)

    def time(self, phase, function, *args, **kwargs):
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            self.spent[phase] += time.thread_time() - start


def profile_file(clock: Clock, root: Path, path: Path) -> analysis.FileResult | None:
    raw = clock.time("read", path.read_bytes)
    relative = path.relative_to(root).as_posix()
    try:
        source = clock.time("decode", analysis.decode, raw)
        tree, _ = clock.time("parse (ast, oldest Python's rules)", _parse, source, relative)
        clock.time("compile (the compiler's checks)", _compile, tree, relative)
    except (SyntaxError, ValueError, UnicodeDecodeError, LookupError):
        return None
    tokens = clock.time("token scan (raw counts, markers, code tokens)", scan, source)
    facts = clock.time("tree walk (structure, complexity, Halstead)", walk, tree)
    result = analysis.FileResult(relative, size=len(raw), lines=source.count("\n"))
    facts.give_structure(result)
    result.markers = tokens.markers
    result.packed_fingerprints = clock.time(
        "duplication fingerprints", analysis._fingerprints, tokens.code, tokens.code_lines
    )
    return result


def _parse(source: str, path: str) -> tuple[ast.Module, str | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source, filename=path, feature_version=(3, 8)), None
        except SyntaxError as refused:
            return ast.parse(source, filename=path), str(refused)


def _compile(tree: ast.Module, path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compile(tree, path, "exec", dont_inherit=True)


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    clock = Clock()
    results = []
    gc.disable()  # as the engine's workers analyse
    for path in files:
        result = profile_file(clock, root, path)
        if result is not None:
            results.append(result)
    dicts = clock.time("result to plain data (to_dict)", lambda: [r.to_dict() for r in results])
    clock.time("result transfer (pickle both ways)", lambda: pickle.loads(pickle.dumps(dicts)))
    text = clock.time("cache write (json.dumps)", json.dumps, dicts, separators=(",", ":"))
    loaded = clock.time("cache read (json.loads)", json.loads, text)
    clock.time("cache read (from_dict)", lambda: [analysis.FileResult.from_dict(d) for d in loaded])
    total = sum(clock.spent.values())
    lines = sum(r.lines for r in results)
    print(f"corpus: {root}: {len(files)} files, {len(results)} analysed")
    print(f"{'phase':<66} {'CPU s':>7} {'share':>6}")
    for phase, seconds in sorted(clock.spent.items(), key=lambda item: -item[1]):
        print(f"{phase:<66} {seconds:7.2f} {seconds / total:6.1%}")
    print(f"{'total (one core)':<66} {total:7.2f}   ({lines} lines)")


if __name__ == "__main__":
    main()
