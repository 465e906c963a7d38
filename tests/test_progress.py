"""Progress of long work: lines in a log (every few seconds), nothing under -q."""

from __future__ import annotations

PROGRESSING = """
    from fixtures.progress import Progress

    def test_long_work(pytestconfig):
        progress = Progress(pytestconfig, "work: items", every_s=0)
        for done in range(1, 4):
            progress(done, 3)

    def test_quick_work(pytestconfig):
        progress = Progress(pytestconfig, "quick", every_s=60)
        for done in range(1, 4):
            progress(done, 3)
"""


def test_progress_lines_in_a_log_and_silence_under_quiet(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(__import__("tests.conftest").conftest.REPO))
    pytester.makepyfile(test_work=PROGRESSING)
    shown = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    shown.assert_outcomes(passed=2)
    lines = [line for line in shown.outlines if line.startswith("work: items")]
    assert lines == ["work: items: 1/3 (33%)", "work: items: 2/3 (66%)", "work: items: 3/3 (100%)"]
    assert not [line for line in shown.outlines if line.startswith("quick")]  # too quick to say
    quiet = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    quiet.assert_outcomes(passed=2)
    assert not [line for line in quiet.outlines if line.startswith("work")]
