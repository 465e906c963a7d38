"""Run documentation examples in the project's interpreter (standard library only, any
Python 3.8+; its text is passed with ``-c``, so its folder never joins ``sys.path``).

``python -c "$(cat example_runner.py)" RESULTS.json < SPEC.json``. The spec holds ``setup`` and
``cleanup`` code and a list of ``examples`` that share one namespace, in order:
``{"kind": "doctest"|"code", "source", "expected"?, "line", "filename", "flags"}``. Each
example's outcome (``ok`` and ``detail``) is written to RESULTS.json, so what the examples
print never mixes with the results. A doctest reports its first failing example only
(``REPORT_ONLY_FIRST_FAILURE``), not the errors that follow from it; code is compiled with
top-level ``await`` allowed (as the asyncio REPL does) and run in an event loop, with the
document's own line numbers in its traceback.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import sys
import traceback
import types

# asyncio and doctest are imported where an example needs them: together they cost ~90 ms of
# a ~140 ms run, and most code blocks need neither (measured, Python 3.11).


# this runner's frames: "<string>" when passed with -c, its path when the server loads it
OWN_FILES = {"<string>", globals().get("__file__", "<string>")}


def _flags(names: list[str]) -> int:
    """Doctest option flags: ``+NAME`` (or ``NAME``) sets one, ``-NAME`` clears it."""
    import doctest

    flags = doctest.ELLIPSIS | doctest.REPORT_ONLY_FIRST_FAILURE
    for name in (n.strip() for n in names):
        value = doctest.OPTIONFLAGS_BY_NAME.get(name.lstrip("+-"), 0)
        flags = flags & ~value if name.startswith("-") else flags | value
    return flags


def _compile(source: str, filename: str, line: int):
    padded = "\n" * max(0, line - 1) + source
    return compile(padded, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _run_code(source: str, filename: str, line: int, namespace: dict) -> str:
    """Run ``source``; what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = eval(_compile(source, filename, line), namespace)  # noqa: S307 - the example
        if isinstance(result, types.CoroutineType):  # the block awaits at its top level
            import asyncio

            asyncio.run(result)
    return printed.getvalue()


def _doctest(example: dict, namespace: dict) -> tuple[bool, str]:
    import doctest

    test = doctest.DocTestParser().get_doctest(
        example["source"], namespace, example["filename"], example["filename"], example["line"] - 1
    )
    test.globs = namespace  # DocTest copies its globals; the group shares one namespace
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=_flags(example.get("flags", [])))
    runner.run(test, out=report.write, clear_globs=False)
    return not runner.failures, report.getvalue()


def _failure() -> str:
    """The traceback of the exception being handled, without this runner's own frames."""
    kind, value, trace = sys.exc_info()
    frames = [frame for frame in traceback.extract_tb(trace) if frame.filename not in OWN_FILES]
    listed = "".join(traceback.format_list(frames))
    head = "Traceback (most recent call last):\n" if frames else ""
    return head + listed + "".join(traceback.format_exception_only(kind, value))


def _code(example: dict, namespace: dict) -> tuple[bool, str]:
    try:
        printed = _run_code(example["source"], example["filename"], example["line"], namespace)
    except BaseException:  # the example's own failure, SystemExit included
        return False, _failure()
    expected = example.get("expected")
    if expected is None:
        return True, ""
    import doctest

    checker = doctest.OutputChecker()
    flags = _flags(example.get("flags", []))
    if checker.check_output(expected.rstrip() + "\n", printed.rstrip() + "\n", flags):
        return True, ""
    return False, "output differs from the testoutput block:\n" + checker.output_difference(
        doctest.Example("", expected.rstrip() + "\n"), printed.rstrip() + "\n", flags
    )


def run_spec(spec: dict) -> list[dict]:
    """Each example's outcome (``ok``, ``detail``), the examples sharing one namespace."""
    namespace: dict = {"__name__": "__main__"}
    outcomes = []
    setup_error = ""
    if spec.get("setup"):
        try:
            _run_code(spec["setup"], "<setup>", 1, namespace)
        except BaseException:
            setup_error = "the examples' setup failed:\n" + _failure()
    for example in spec["examples"]:
        if setup_error:
            outcomes.append({"ok": False, "detail": setup_error})
            continue
        run = _doctest if example["kind"] == "doctest" else _code
        ok, detail = run(example, namespace)
        outcomes.append({"ok": ok, "detail": detail})
    if spec.get("cleanup") and not setup_error:
        with contextlib.suppress(BaseException):
            _run_code(spec["cleanup"], "<cleanup>", 1, namespace)
    return outcomes


def write_outcomes(spec: dict, results_path: str) -> None:
    outcomes = run_spec(spec)
    with open(results_path, "w", encoding="utf-8") as handle:
        json.dump(outcomes, handle)


def main(results_path: str) -> int:
    write_outcomes(json.load(sys.stdin), results_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
