"""A target with hostile file and config names: the real report.html, opened in headless
Chromium, must show them as text and run none of them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

pytestmark = pytest.mark.slow

DOC_NAME = "<img src=x onerror=document.body.setAttribute('data-pwned-doc',1)>.md"
FOLDER = "<svg onload=document.body.setAttribute('data-pwned-root',1)>"
METADATA = "<img src=x onerror=document.body.setAttribute('data-pwned-env',1)>"
COMMAND = "<img src=x onerror=document.body.setAttribute('data-pwned-cmd',1)>"
CONFIG = f"""
target:
  root: .
  packages: []
  docs: ["*.md"]
smoke:
  commands:
    - name: "{COMMAND}"
      run: ["{{python}}", "-c", "print('ok')"]
"""


def rendered_dom(page) -> str:
    """The page's DOM after its scripts (and image error handlers) ran."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("headless Chromium is needed: .ci/run installs the Debian package")
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_hostile_names_render_as_text_in_the_html_report(run_harness, tmp_path):
    root = tmp_path / FOLDER
    root.mkdir()
    (root / DOC_NAME).write_text("# Title\n\nSee [the top](#title).\n", encoding="utf-8")
    (root / "proofyard.yaml").write_text(CONFIG, encoding="utf-8")
    result = run_harness(
        "-m",
        "docs or smoke",
        f"--proofyard-config={root / 'proofyard.yaml'}",
        "-p",
        "no:xdist",
        "--metadata",
        "Hostile",
        METADATA,
    )
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    dom = rendered_dom(tmp_path / "reports" / "report.html")
    assert "col-testId" in dom, "the report rendered no result rows"
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0], "a script ran"
    assert "&lt;img src=x onerror=document.body.setAttribute" in dom  # shown, as text
    # the environment table's data holds the value escaped (then quoted for the attribute)
    assert "&amp;lt;img src=x onerror=document.body.setAttribute(&amp;#x27;data-pwned-env" in dom
