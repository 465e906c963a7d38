"""The network policy in every runner, proven where nothing can leave the machine: a
network namespace this test makes, holding loopback and two fake outside addresses, with a
listener on one (see ``netns_world.py``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, clean_env

pytestmark = pytest.mark.slow

PYTHON_RUNNERS = {
    "smoke-import",
    "smoke-command",
    "smoke-probe",
    "smoke-service",
    "smoke-artifacts",
    "docs-block",
    "codec-inprocess",
    "codec-subprocess",
    "coverage",
    "pipeline-call",
    "pipeline-run",
    "env-fetch",
}


@pytest.fixture(scope="module")
def reached(tmp_path_factory):
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip to make a network namespace")
    made = [unshare, "--user", "--map-root-user", "--net"]
    if subprocess.run([*made, "true"], capture_output=True).returncode != 0:
        pytest.skip("user and network namespaces are not available here")
    work = tmp_path_factory.mktemp("world")
    result = subprocess.run(
        [*made, sys.executable, str(REPO / "tests" / "netns_world.py"), str(REPO), str(work)],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_nothing_reaches_an_outside_host_with_an_empty_allow_list(reached):
    assert reached["empty"] == []


def test_a_listed_host_is_reached_by_every_runner(reached):
    expected = PYTHON_RUNNERS | {"smoke-bash"}
    try:
        import distributed  # noqa: F401

        expected.add("dask-call")
    except ImportError:
        pass
    assert set(reached["listed"]) == expected


def test_an_unlisted_host_is_refused_while_another_is_listed(reached):
    # Python code, in the harness and in every Python child, is held to the exact list; a
    # non-Python child runs without the namespace while allow_hosts is set (documented)
    assert set(reached["other"]) - {"smoke-bash"} == set()
