"""report.html and the monitor dashboard in a real (headless) browser: the scripts run
without errors, nothing is fetched, hostile names stay text, the overview is in the DOM."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.test_harness_e2e import DEFECTIVE, HOSTILE

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
# nothing can leave the browser: every name resolves nowhere, every request goes to a
# closed loopback port, and Chromium's own background traffic is off
OFFLINE = [
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-features=Translate,OptimizationHints,MediaRouter,SpareRendererForSitePerProcess",
]
OWN_TRAFFIC = re.compile(r"https?://[^/]*(google|gstatic|googleapis|gvt1)\.com/")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no headless Chromium installed")


def _open(page, tmp_path, name):
    """The DOM after the page's scripts ran, the console's errors, the URLs requested."""
    net_log = tmp_path / f"{name}-net.json"
    result = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", *OFFLINE,
         "--enable-logging=stderr", "--v=0", f"--log-net-log={net_log}",
         "--virtual-time-budget=5000",
         f"--screenshot={tmp_path / (name + '.png')}", "--window-size=1400,1600",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    errors = [line for line in result.stderr.splitlines() if "Uncaught" in line]
    logged = net_log.read_text() if net_log.exists() else ""
    requested = [  # the page's own requests (Chromium's background ones are blocked above)
        url for url in re.findall(r'"url":"(https?://[^"]+)"', logged) if not OWN_TRAFFIC.match(url)
    ]
    return result.stdout, errors, requested


@pytest.mark.slow
def test_the_report_and_the_dashboard_render_inert_and_offline(run_harness, make_target, tmp_path):
    root = make_target(DEFECTIVE, "target:\n  root: .\n")
    run_harness("-m", "smoke", "--monitor", f"--proofyard-config={root / 'proofyard.yaml'}")
    reports = tmp_path / "reports"
    (dashboard,) = (reports / "monitor").glob("*.html")
    for name, page in (("report", reports / "report.html"), ("dashboard", dashboard)):
        dom, errors, requested = _open(page, tmp_path, name)
        assert errors == [], errors
        assert requested == []  # nothing left the page
        assert not re.search(r"<img[^>]*onerror", dom)  # the hostile name stayed text
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
        if name == "report":
            assert "Not ready to merge: smoke failed" in dom
            assert "proofyard-overview" in dom and "HOSTILE" not in json.dumps(HOSTILE)
        else:
            assert "main-svg" in dom  # plotly.js, embedded, drew the charts
