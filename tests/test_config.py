"""Configuration layering, provenance and every bad-config case."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ops.config import ConfigError, load_config
from ops.config.loader import effective_values
from tests.conftest import REPO, run_ops


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "proofyard.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


BASE = """\
    target:
      root: .
    smoke:
      imports:
        timeout_s: 11
    environments:
      ci:
        smoke:
          imports:
            timeout_s: 33
          entry_points:
            timeout_s: 44
    """


def test_defaults_apply_without_a_file(tmp_path):
    loaded = load_config(environ={}, cwd=tmp_path)
    assert loaded.path is None
    assert loaded.config.smoke.imports.timeout_s == 20.0
    assert loaded.target_root == tmp_path.resolve()


def test_layers_in_order_with_provenance(tmp_path):
    path = write(tmp_path, BASE)
    file_only = load_config(path, environ={}, cwd=tmp_path)
    assert file_only.config.smoke.imports.timeout_s == 11
    assert file_only.origin_of(("smoke", "imports", "timeout_s")) == f"{path}:5"
    assert file_only.origin_of(("smoke", "entry_points", "timeout_s")) == "default"

    overlay = load_config(path, env_name="ci", environ={}, cwd=tmp_path)
    assert overlay.config.smoke.imports.timeout_s == 33
    assert overlay.config.smoke.entry_points.timeout_s == 44
    assert overlay.origin_of(("smoke", "imports", "timeout_s")) == f"{path}:10 (environments.ci)"

    environ = {"PROOFYARD_ENV": "ci", "PROOFYARD__SMOKE__IMPORTS__TIMEOUT_S": "55"}
    env_layer = load_config(path, environ=environ, cwd=tmp_path)
    assert env_layer.env_name == "ci"
    assert env_layer.config.smoke.imports.timeout_s == 55
    assert env_layer.config.smoke.entry_points.timeout_s == 44
    assert (
        env_layer.origin_of(("smoke", "imports", "timeout_s"))
        == "env PROOFYARD__SMOKE__IMPORTS__TIMEOUT_S"
    )

    top = load_config(
        path,
        environ=environ,
        cwd=tmp_path,
        sets=["smoke.imports.timeout_s=66", "network.allow_hosts=[example.org]"],
    )
    assert top.config.smoke.imports.timeout_s == 66
    assert top.config.network.allow_hosts == ["example.org"]
    assert top.origin_of(("smoke", "imports", "timeout_s")) == "--set smoke.imports.timeout_s"


def test_env_vars_reach_keys_with_underscores(tmp_path):
    loaded = load_config(
        environ={
            "PROOFYARD__SMOKE__ENVIRONMENT__MIN_FREE_DISK_MB": "5",
            "PROOFYARD__NETWORK__ISOLATE_SUBPROCESSES": "false",
        },
        cwd=tmp_path,
    )
    assert loaded.config.smoke.environment.min_free_disk_mb == 5
    assert loaded.config.network.isolate_subprocesses is False


def test_defaults_do_not_leak_between_loads(tmp_path):
    first = load_config(environ={}, cwd=tmp_path, sets=["target.exclude=[a]"])
    first.config.target.exclude.append("mutated")
    second = load_config(environ={}, cwd=tmp_path)
    assert second.config.target.exclude == []


def test_target_option_is_relative_to_cwd_and_wins(tmp_path):
    (tmp_path / "other").mkdir()
    path = write(tmp_path, BASE)
    loaded = load_config(path, environ={}, cwd=tmp_path, target="other")
    assert loaded.target_root == (tmp_path / "other").resolve()
    assert loaded.origin_of(("target", "root")) == "--target"


def test_effective_values_list_every_leaf_with_origin(tmp_path):
    path = write(tmp_path, BASE)
    rows = {
        key: origin
        for key, _, origin in effective_values(load_config(path, environ={}, cwd=tmp_path))
    }
    assert rows["smoke.imports.timeout_s"] == f"{path}:5"
    assert rows["reports.dir"] == "default"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "smoke:\n  imprts:\n    timeout_s: 5\n",
            [":2: smoke.imprts: unknown key 'imprts' (did you mean 'imports'?)"],
        ),
        (
            "smoke:\n  imports:\n    timeout_s: soon\n",
            [":3: smoke.imports.timeout_s: Input should be a valid number"],
        ),
        (
            "smoke:\n  imports:\n    timeout_s: -1\n",
            [":3: smoke.imports.timeout_s: Input should be greater than 0 (got -1)"],
        ),
        (
            "baselines:\n  history: 0\n",
            [":2: baselines.history: Input should be greater than or equal to 1"],
        ),
        (
            "target:\n  root: missing-dir\n",
            [":2: target.root: directory", "missing-dir does not exist"],
        ),
        ("target:\n  root: [unclosed\n", [":3:1: malformed YAML: expected ',' or ']'"]),
        ("- just\n- a list\n", [":1:1: expected a mapping of sections, got list"]),
        ("tagret:\n  root: .\n", [":1: tagret: unknown key 'tagret' (did you mean 'target'?)"]),
        (
            "monitor:\n  alerts:\n    - {name: hot, metric: cpu.totl, above: 90}\n",
            [
                "monitor.alerts.0.metric: Value error, unknown metric 'cpu.totl' "
                "(did you mean 'cpu.total'?)"
            ],
        ),
        (
            "monitor:\n  alerts:\n    - {name: full, metric: disk./data, above: 90}\n",
            ["monitor: Value error, alert full: disk./data reads disk '/data', which is not in"],
        ),
    ],
)
def test_bad_config_names_file_line_and_key(tmp_path, text, expected):
    path = tmp_path / "proofyard.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={}, cwd=tmp_path)
    message = str(info.value)
    assert str(path) in message
    for piece in expected:
        assert piece in message


def test_unknown_environment_lists_the_known_ones(tmp_path):
    path = write(tmp_path, BASE)
    with pytest.raises(ConfigError, match=r"environments.prod: no such environment \(ci\)"):
        load_config(path, env_name="prod", environ={}, cwd=tmp_path)


def test_bad_env_var_and_set_values_name_their_source(tmp_path):
    with pytest.raises(
        ConfigError,
        match="env PROOFYARD__SMOKE__IMPORTS__TIMEOUT_S: "
        "smoke.imports.timeout_s: Input should be greater",
    ):
        load_config(environ={"PROOFYARD__SMOKE__IMPORTS__TIMEOUT_S": "0"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="--set nonsense: expected KEY=VALUE"):
        load_config(environ={}, cwd=tmp_path, sets=["nonsense"])


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config("nope.yaml", environ={}, cwd=tmp_path)


def _laughs(levels: int = 9) -> str:
    """A billion-laughs document whose aliases sit in valid list keys."""
    text = 'target:\n  root: .\n  docs: &l0 ["a", "a", "a", "a", "a", "a", "a", "a", "a", "a"]\n'
    text += "environments:\n"
    for level in range(1, levels + 1):
        items = ", ".join([f"*l{level - 1}"] * 10)
        text += f"  e{level}:\n    target:\n      exclude: &l{level} [{items}]\n"
    return text


def test_a_billion_laughs_config_is_refused_fast_and_small(tmp_path):
    path = tmp_path / "proofyard.yaml"
    path.write_text(_laughs(), encoding="utf-8")
    code = (
        "import resource, sys, time\n"
        "from ops.config import ConfigError, load_config\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "start = time.process_time()\n"
        "try:\n"
        f"    load_config({str(path)!r}, environ={{}})\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
        "print(time.process_time() - start)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    message, cpu_s, peak_kb = result.stdout.strip().splitlines()
    assert "refused YAML: expands to more than 100000 values through aliases" in message
    assert f"{path}:" in message
    assert float(cpu_s) < 1.0  # CPU time: the machine's load does not move it
    assert int(peak_kb) < 50 * 1024  # what refusing it added to the peak, imports aside


def test_deep_nesting_is_a_config_error_not_a_recursion_error(tmp_path):
    path = tmp_path / "proofyard.yaml"
    path.write_text("target:\n  packages: " + "[" * 20000 + "]" * 20000 + "\n")
    with pytest.raises(ConfigError, match=r"proofyard.yaml:2:\d+: refused YAML: nested deeper"):
        load_config(path, environ={})


def test_duplicate_keys_are_an_error_naming_both_lines(tmp_path):
    path = write(
        tmp_path,
        """\
        target:
          root: .
        smoke:
          imports:
            timeout_s: 5
            timeout_s: 6
        """,
    )
    with pytest.raises(
        ConfigError, match=r"proofyard.yaml:6:5: .*duplicate key 'timeout_s' \(first at line 5\)"
    ):
        load_config(path, environ={})


def test_anchors_and_merge_keys_within_bounds_still_load(tmp_path):
    path = write(
        tmp_path,
        """\
        target:
          root: .
          docs: &docs ["README.md"]
          exclude: *docs
        """,
    )
    assert load_config(path, environ={}).config.target.exclude == ["README.md"]


def test_config_validate_checks_every_overlay(tmp_path):
    write(
        tmp_path,
        """\
        target:
          root: .
        environments:
          ci:
            smoke: {imports: {timeout_s: 60}}
          nightly:
            smoke: {imports: {timeout_s: -1}}
        """,
    )
    result = run_ops(tmp_path, "config", "validate", "proofyard.yaml")
    assert result.returncode == 2
    assert "with --env nightly:" in result.stderr
    assert "proofyard.yaml:7 (environments.nightly): smoke.imports.timeout_s" in result.stderr
    assert "--env ci" not in result.stderr and "Traceback" not in result.stderr
