"""Dependency checks on synthetic environments and generated targets, with clean twins."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from ops.deps import advisories, checks, licenses, wheelhouse
from ops.deps import environment as environment_module
from ops.deps.declared import from_pyproject, from_requirements, from_setup_cfg
from ops.deps.environment import from_snapshot, read_environment
from ops.deps.imports import collect_imports, file_imports, import_findings
from ops.importnames import stdlib_for
from ops.target import Target
from tests.conftest import write_tree
from tests.fakes import fake_venv

STDLIB = frozenset({"os", "sys", "json", "typing", "importlib", "tomllib", "distutils"})
MARKERS = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_version": "",
    "implementation_version": "3.11.7",
}


def make_env(dists):
    return from_snapshot(
        {
            "python": "3.11.7",
            "executable": "/py",
            "markers": MARKERS,
            "stdlib": sorted(STDLIB),
            "distributions": [
                {
                    "name": name,
                    "version": version,
                    "requires": requires,
                    "license_expression": lic,
                    "license": None,
                    "classifiers": [],
                    "top_level": top,
                }
                for name, version, requires, lic, top in dists
            ],
        }
    )


ENV = make_env(
    [
        ("PyYAML", "6.0.1", [], "MIT", ["yaml"]),
        ("requests", "2.31.0", ["urllib3<3,>=1.21", "idna>=2.5"], "Apache-2.0", ["requests"]),
        ("urllib3", "2.0.7", [], "MIT", ["urllib3"]),
        ("idna", "3.6", [], "BSD-3-Clause", ["idna"]),
        ("pytest", "8.0.0", ["pluggy>=1.5"], "MIT", ["pytest", "_pytest"]),
        ("pluggy", "1.4.0", ["pytest ; extra == 'dev'"], "MIT", ["pluggy"]),
        ("cyc-a", "1.0", ["cyc-b"], "GPL-3.0-only", ["cyc_a"]),
        ("cyc-b", "1.0", ["cyc-a"], None, ["cyc_b"]),
        ("rich", "13.0", ["markdown-it-py>=2.2 ; extra == 'md'"], "MIT", ["rich"]),
    ]
)

PYPROJECT = """
    [project]
    name = "demo"
    requires-python = ">=3.8"
    dependencies = [
        "pyyaml>=6",
        "requests>=2.31",
        "win-only ; sys_platform == 'win32'",
        "rich[md]",
    ]
    [project.optional-dependencies]
    fast = ["orjson>=3"]
    [dependency-groups]
    test = ["pytest>=8", {include-group = "lint"}]
    lint = ["ruff"]
"""


def test_pyproject_requirements_and_setup_cfg_are_read(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "requirements.txt": "-r base.txt\n-c constraints.txt\nrequests==2.31.0 \\\n"
            "    --hash=sha256:abc\n# comment\n-e .\nbad==\n",
            "base.txt": "pyyaml==6.0.1  # pinned\n",
            "constraints.txt": "urllib3<2\n",
            "setup.cfg": "[options]\ninstall_requires =\n    idna>=3\n"
            "[options.extras_require]\nsocks = pysocks\n",
        },
    )
    errors = []
    items = from_requirements(root, "requirements.txt", "requirements", errors)
    assert [(i.name, i.group, i.source, i.line, i.pinned) for i in items] == [
        ("pyyaml", "requirements", "base.txt", 1, "6.0.1"),
        ("urllib3", "constraints", "constraints.txt", 1, None),
        ("requests", "requirements", "requirements.txt", 3, "2.31.0"),
    ]
    assert [(e.source, e.line) for e in errors] == [("requirements.txt", 7)]
    cfg = from_setup_cfg(root, errors)
    assert [(i.name, i.group) for i in cfg] == [("idna", "main"), ("pysocks", "extra:socks")]


def _declared(tmp_path):
    root = write_tree(tmp_path, {"pyproject.toml": PYPROJECT})
    return from_pyproject(root, Target(root).pyproject, [])


def test_groups_include_other_groups(tmp_path):
    groups = {(i.name, i.group) for i in _declared(tmp_path) if i.group.startswith("group")}
    assert groups == {("pytest", "group:test"), ("ruff", "group:test"), ("ruff", "group:lint")}


def test_declared_vs_installed_evaluates_markers_and_extras(tmp_path):
    main = [i for i in _declared(tmp_path) if i.group == "main"]
    inspected, found = checks.declared_vs_installed(main, ENV)
    assert inspected == 3  # the win32-only requirement does not apply here
    assert [(f.rule, f.message) for f in found] == [
        ("deps.missing", "rich[md]: extra [md] needs markdown-it-py>=2.2 (not installed)")
    ]
    old = make_env([("PyYAML", "5.4", [], "MIT", ["yaml"])])
    _, found = checks.declared_vs_installed(main[:1], old)
    assert found[0].rule == "deps.version-mismatch" and "installed PyYAML 5.4" in found[0].message


def test_clean_declarations_raise_nothing(tmp_path):
    root = write_tree(
        tmp_path,
        {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["pyyaml>=6", "requests"]\n'},
    )
    inspected, found = checks.declared_vs_installed(
        from_pyproject(root, Target(root).pyproject, []), ENV
    )
    assert (inspected, found) == (2, [])


def test_pin_drift_and_conflicting_pins(tmp_path):
    root = write_tree(
        tmp_path, {"a.txt": "requests==2.30.0\nidna==3.6\n", "b.txt": "requests==2.31.0\n"}
    )
    items = from_requirements(root, "a.txt", "requirements", []) + from_requirements(
        root, "b.txt", "requirements", []
    )
    inspected, found = checks.pin_drift(items, ENV)
    assert inspected == 2
    assert sorted((f.rule, f.path, f.line) for f in found) == [
        ("deps.pin-conflict", "a.txt", 1),
        ("deps.pin-drift", "a.txt", 1),
    ]


def test_environment_conflicts_and_cycles_are_separate():
    broken = make_env(
        [
            ("requests", "2.31.0", ["urllib3<2", "idna>=2.5", "certifi"], None, ["requests"]),
            ("urllib3", "2.0.7", [], None, []),
            ("idna", "3.6", [], None, []),
        ]
    )
    _, found = checks.environment_conflicts(broken)
    assert sorted(f.rule for f in found) == ["deps.env-conflict", "deps.env-missing"]
    assert checks.dependency_cycles(ENV) == [["cyc-a", "cyc-b"]]
    _, clean = checks.environment_conflicts(make_env([("idna", "3.6", [], None, [])]))
    assert clean == []


SOURCE = textwrap.dedent("""
    import os
    import yaml
    import tomllib
    from typing import TYPE_CHECKING
    import importlib.util
    try:
        import orjson as json_impl
    except ImportError:
        import json as json_impl
    if TYPE_CHECKING:
        import mypy_types_only
    if importlib.util.find_spec("numpy"):
        import numpy
    import pytest
    import undeclared_thing
    from . import sibling
    from demo import other
""")


def test_import_analysis_finds_missing_misplaced_and_unused(tmp_path):
    uses = collect_imports("demo/core.py", SOURCE)
    optional = {u.module: u.reason for u in uses if u.optional}
    assert optional == {
        "orjson": "guarded by try/except ImportError",  # not the fallback
        "mypy_types_only": "only under TYPE_CHECKING",
        "numpy": "checked with find_spec",
    }
    declared = _declared(tmp_path)
    found = import_findings(
        uses,
        own={"demo"},
        stdlib=stdlib_for(STDLIB, (3, 8), (3, 11)),
        declared={i.name for i in declared},
        dev_only={"pytest", "ruff"},
        main={i.name for i in declared if i.group == "main"},
        owners=ENV.import_owners(),
        allow_unused={"rich"},
        dist_modules={},
    )
    assert [(f.message.split(":")[0], f.line) for f in found["missing"]] == [
        ("import tomllib", 4),
        ("import undeclared_thing", 16),
    ]  # tomllib is 3.11+, target 3.8+
    assert [f.line for f in found["misplaced"]] == [15]
    assert [f.context for f in found["unused"]] == ["requests", "win-only"]


def test_clean_imports_raise_nothing():
    uses = collect_imports("demo/core.py", "import os\nimport yaml\nimport requests\n")
    found = import_findings(
        uses,
        own={"demo"},
        stdlib=STDLIB,
        declared={"pyyaml", "requests"},
        dev_only=set(),
        main={"pyyaml", "requests"},
        owners=ENV.import_owners(),
        allow_unused=set(),
        dist_modules={},
    )
    assert found == {"missing": [], "misplaced": [], "unused": []}


@pytest.mark.parametrize(
    ("expression", "verdict"),
    [
        ("MIT", "ALLOWED"),
        ("MIT OR GPL-3.0-only", "ALLOWED"),
        ("GPL-3.0-only OR MIT", "ALLOWED"),
        ("MIT AND GPL-3.0-only", "DENIED"),
        ("(MIT OR Apache-2.0) AND BSD-3-Clause", "ALLOWED"),
        ("Apache-2.0 WITH LLVM-exception", "ALLOWED"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "ALLOWED"),
        ("LGPL-2.1-only", "NOT_ALLOWED"),
        ("EPL-2.0 OR LGPL-2.1-only", "NOT_ALLOWED"),
    ],
)
def test_spdx_expressions(expression, verdict):
    allow = {"mit", "apache-2.0", "bsd-3-clause", "gpl-2.0-only with classpath-exception-2.0"}
    deny = {"gpl-3.0-only"}
    assert licenses.evaluate(expression, allow, deny).name == verdict


def test_license_sources_and_unknowns():
    results = {
        r.name: r
        for r in licenses.check_licenses(
            ENV.installed.values(), ["MIT", "Apache-2.0", "BSD-3-Clause"], ["GPL-3.0-only"]
        )
    }
    assert results["cyc-a"].verdict == licenses.Verdict.DENIED
    assert results["cyc-b"].verdict == licenses.Verdict.UNKNOWN
    assert results["requests"].verdict == licenses.Verdict.ALLOWED
    classified = make_env([("x", "1", [], None, [])]).installed["x"]
    object.__setattr__(classified, "classifiers", ("License :: OSI Approved :: BSD License",))
    assert licenses.license_of(classified) == ("BSD-3-Clause", "classifiers")


OSV = [
    {
        "id": "PYSEC-1",
        "modified": "2026-01-02T00:00:00Z",
        "summary": "bad yaml",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "pyyaml"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "6.0.2"}]}
                ],
            }
        ],
    },
    {
        "id": "PYSEC-2",
        "modified": "2026-03-04T00:00:00Z",
        "summary": "old requests",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "2.31.0"}]}
                ],
            }
        ],
    },
    {
        "id": "GHSA-3",
        "modified": "2025-05-05T00:00:00Z",
        "summary": "listed version",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "idna"}, "versions": ["3.6"]}],
    },
    {
        "id": "NPM-4",
        "affected": [{"package": {"ecosystem": "npm", "name": "pyyaml"}, "versions": ["6.0.1"]}],
    },
    {
        "id": "PYSEC-5",
        "modified": "2026-01-01T00:00:00Z",
        "summary": "last affected",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "urllib3"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "1.0"}, {"last_affected": "2.0.6"}],
                    }
                ],
            }
        ],
    },
]


def test_osv_matching_is_deterministic(tmp_path):
    folder = tmp_path / "osv"
    folder.mkdir()
    for advisory in OSV:
        (folder / f"{advisory['id']}.json").write_text(json.dumps(advisory))
    (folder / "broken.json").write_text("{nope")
    database = advisories.load_database(folder)
    assert len(database.advisories) == 5 and database.date == "2026-03-04T00:00:00Z"
    assert len(database.errors) == 1
    hits = advisories.match(database, ENV.installed.values())
    assert [(h.name, h.advisory_id, h.fixed) for h in hits] == [
        ("idna", "GHSA-3", ()),
        ("pyyaml", "PYSEC-1", ("6.0.2",)),
    ]


def test_wheelhouse_manifest_both_ways(tmp_path):
    (tmp_path / "a-1.0-py3-none-any.whl").write_bytes(b"a")
    (tmp_path / "b-1.0-py3-none-any.whl").write_bytes(b"b")
    (tmp_path / "c-1.0-py3-none-any.whl").write_bytes(b"c")
    hashes = {
        name: wheelhouse.sha256_of(tmp_path / name)
        for name in ("a-1.0-py3-none-any.whl", "b-1.0-py3-none-any.whl", "c-1.0-py3-none-any.whl")
    }
    manifest = tmp_path / "SHA256SUMS"
    manifest.write_text(wheelhouse.format_manifest(hashes))
    assert wheelhouse.verify(tmp_path, manifest) == (3, [])
    (tmp_path / "b-1.0-py3-none-any.whl").write_bytes(b"tampered")
    (tmp_path / "c-1.0-py3-none-any.whl").unlink()
    (tmp_path / "d-1.0-py3-none-any.whl").write_bytes(b"d")
    _, problems = wheelhouse.verify(tmp_path, manifest)
    assert sorted((p.rule, p.file) for p in problems) == [
        ("deps.wheel-hash", "b-1.0-py3-none-any.whl"),
        ("deps.wheel-missing", "c-1.0-py3-none-any.whl"),
        ("deps.wheel-unlisted", "d-1.0-py3-none-any.whl"),
    ]


def test_the_real_environment_is_described():
    env = read_environment()
    assert "pytest" in env.installed and "yaml" in env.import_owners()
    assert env.markers["python_version"].startswith("3.")


DEPS_TARGET = {
    "pyproject.toml": """
        [project]
        name = "demo"
        requires-python = ">=3.8"
        dependencies = ["alpha>=1", "beta==2.0", "gamma"]
        [project.optional-dependencies]
        dev = ["delta"]
        [tool.setuptools]
        packages = ["demo"]
    """,
    "requirements.txt": "alpha==1.0\n",
    "demo/__init__.py": "import alpha\nimport beta\nimport gamma\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("defective", [False, True], ids=["clean", "defects"])
def test_deps_suite_end_to_end(run_harness, make_target, tmp_path, defective):
    dists = [
        ("alpha", "1.0", [], "MIT"),
        ("beta", "2.0", ["alpha>=1"], "Apache-2.0"),
        ("gamma", "0.1", [], "BSD-3-Clause"),
        ("delta", "1.0", [], "MIT"),
    ]
    files = dict(DEPS_TARGET)
    if defective:
        dists[1] = ("beta", "2.1", ["alpha>=2", "missing-dep"], "GPL-3.0-only")
        files["demo/extra.py"] = "import delta\nimport nowhere_declared\n"
    python = fake_venv(tmp_path / "venv", dists)
    root = make_target(
        files,
        f"""
        target: {{root: ., python: {python}}}
        deps:
          licenses: {{allow: [MIT, Apache-2.0, BSD-3-Clause], deny: [GPL-3.0-only]}}
    """,
    )
    result = run_harness("-m", "deps", f"--proofyard-config={root / 'proofyard.yaml'}")
    sarif = json.loads((tmp_path / "reports" / "findings.sarif").read_text())
    rules = sorted(r["ruleId"] for r in sarif["runs"][0]["results"])
    if not defective:
        assert result.returncode == 0, result.stdout[-3000:]
        assert rules == []
        return
    assert result.returncode == 1
    assert rules == [
        "deps.env-conflict",
        "deps.env-missing",
        "deps.import-misplaced",
        "deps.import-missing",
        "deps.license-denied",
        "deps.pin-drift",
        "deps.version-mismatch",
    ]


@pytest.mark.slow
def test_a_pathological_file_is_a_finding_for_that_file_only(run_harness, make_target, tmp_path):
    chain = "import os\nx = 1" + "+1" * 500_000 + "\n"  # 1 MB: ast recursion gives out
    root = make_target(
        {
            "pyproject.toml": '[project]\nname = "deep"\nversion = "0.1"\ndependencies = []\n',
            "pkg/__init__.py": "",
            "pkg/chain.py": chain,
            "pkg/ok.py": "import json\n",
        },
        "target:\n  packages: [pkg]\n",
    )
    result = run_harness(
        "-m", "smoke or deps", "-k", "import", f"--proofyard-config={root / 'proofyard.yaml'}"
    )
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    outcomes = {
        t["nodeid"].split("::")[-1]: t["outcome"]
        for suite in summary["suites"].values()
        for t in suite["tests"]
    }
    assert outcomes["test_import[pkg.ok]"] == "passed", result.stdout[-3000:]
    assert outcomes["test_import[pkg.chain]"] == "failed"
    assert "pkg/chain.py: [deps.unparsable] too deeply nested to analyse" in result.stdout
    assert "INTERNALERROR" not in result.stdout and "RecursionError" not in result.stderr


def test_a_latin1_file_with_its_cookie_is_read_as_latin1(tmp_path):
    path = tmp_path / "old.py"
    path.write_bytes(
        "# -*- coding: latin-1 -*-\nimport json\nNAME = 'M\xfcller'\n".encode("latin-1")
    )
    uses, problem = file_imports(path, "old.py")
    assert problem is None and [use.module for use in uses] == ["json"]


GUARDED = """
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

if sys.version_info < (3, 11):
    import tomli
else:
    import tomllib

try:
    import simplejson
    has_simplejson = True
except ImportError:
    has_simplejson = False

if has_simplejson:
    import simplejson as json
"""


def test_version_and_flag_guarded_imports_are_no_false_alarm():
    uses = collect_imports("guarded.py", GUARDED)
    found = import_findings(
        uses,
        own=set(),
        stdlib=stdlib_for(frozenset({"sys", "tomllib"}), (3, 8), (3, 12)),
        stdlib_since=lambda since: stdlib_for(frozenset({"sys", "tomllib"}), since, (3, 12)),
        declared={"tomli"},
        dev_only=set(),
        main={"tomli"},
        owners={},
        allow_unused=set(),
        dist_modules={},
    )
    assert found["missing"] == [], [str(f) for f in found["missing"]]
    flagged = [u for u in uses if u.dotted == "simplejson"]
    assert [u.optional for u in flagged] == [True, True]
    assert "has_simplejson" in flagged[1].reason
    # the twin without guards: tomllib on 3.8 and an unguarded simplejson are real findings
    bare = collect_imports("bare.py", "import tomllib\nimport simplejson\n")
    found = import_findings(
        bare,
        own=set(),
        stdlib=stdlib_for(frozenset({"tomllib"}), (3, 8), (3, 12)),
        declared=set(),
        dev_only=set(),
        main=set(),
        owners={},
        allow_unused=set(),
        dist_modules={},
    )
    assert sorted(f.context for f in found["missing"]) == ["simplejson", "tomllib"]


def test_pins_of_groups_not_selected_need_not_be_installed():
    from packaging.requirements import Requirement

    from ops.deps.declared import Declared

    env = read_environment()
    test_pin = Declared(Requirement("not-installed-xyz==1.0"), "pyproject.toml", 9, "group:test")
    constraint = Declared(Requirement("absent-abc==2.0"), "constraints.txt", 1, "constraints")
    _, unselected = checks.pin_drift([test_pin, constraint], env, [constraint])
    assert unselected == []  # the test group was not chosen; a constraint binds only installs
    _, selected = checks.pin_drift([test_pin], env, [test_pin])
    assert [f.message for f in selected] == ["not-installed-xyz==1.0 is pinned but not installed"]


def test_a_kept_environment_is_used_only_while_its_interpreter_is_unchanged(tmp_path, monkeypatch):
    python = fake_venv(tmp_path / "venv", [("alpha", "1.0", [], "MIT")])
    site = next((tmp_path / "venv").glob("lib/python*/site-packages"))
    settle = os.stat(site).st_mtime_ns - 10**10  # as if installed 10 s before
    os.utime(site, ns=(settle, settle))
    cache = tmp_path / "cache"
    assert sorted(read_environment(str(python), cache=cache).installed) == ["alpha"]
    assert len(list(cache.iterdir())) == 1

    runs = []
    real_run = environment_module.subprocess.run
    monkeypatch.setattr(
        environment_module.subprocess, "run", lambda *a, **k: runs.append(a) or real_run(*a, **k)
    )
    assert sorted(read_environment(str(python), cache=cache).installed) == ["alpha"]
    assert runs == []  # unchanged: the kept description, the interpreter not run

    info = site / "beta-2.0.dist-info"  # an install: its folder's time changes
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: beta\nVersion: 2.0\n")
    assert sorted(read_environment(str(python), cache=cache).installed) == ["alpha", "beta"]
    assert len(runs) == 1
    # changed under 2 s ago: described again next time (a coarse clock may hide a change)
    assert sorted(read_environment(str(python), cache=cache).installed) == ["alpha", "beta"]
    assert len(runs) == 2


def test_an_unreadable_or_stale_kept_environment_is_described_again(tmp_path):
    python = fake_venv(tmp_path / "venv", [("alpha", "1.0", [], "MIT")])
    site = next((tmp_path / "venv").glob("lib/python*/site-packages"))
    settle = os.stat(site).st_mtime_ns - 10**10
    os.utime(site, ns=(settle, settle))
    cache = tmp_path / "cache"
    read_environment(str(python), cache=cache)
    (kept,) = cache.iterdir()
    kept.write_text("{not json")
    assert sorted(read_environment(str(python), cache=cache).installed) == ["alpha"]
    data = json.loads(kept.read_text())  # written again
    data["distributions"] = []
    data["stamps"] = [[str(site), settle + 1]]  # a time the folder no longer has
    kept.write_text(json.dumps(data))
    assert sorted(read_environment(str(python), cache=cache).installed) == ["alpha"]
