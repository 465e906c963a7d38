"""The docs checks on a corpus with known defects, its clean twin and the known traps."""

from __future__ import annotations

import http.server
import json
import socket
import textwrap
import threading
import types

import pytest

from fixtures.docs import docs_may_run, runs_on_the_examples_server
from ops.docs import blocks, generated
from ops.docs.links import DocSet, check_document_links, required_documents
from ops.docs.online import LinkCache, check_urls
from ops.docs.parse import parse_markdown
from ops.docs.slugs import Slugger, github_slug, gitlab_slug, mkdocs_slug
from ops.smoke.imports import ImportRunner
from tests.conftest import write_tree

CLEAN = {
    "README.md": """
        # Project

        <a id="custom-anchor"></a>

        ## Usage
        ## Usage
        ## What's new? (v2)

        Jump to [usage](#usage), [the second usage](#usage-1), [news](#whats-new-v2),
        [custom](#custom-anchor), the [guide](docs/guide.md#details) and
        ![logo](img/logo.png), a [folder](docs/) and a [reference][guide].
        Text in `[code][spans]` is no reference. External: <https://example.org/page>.

        ```pycon
        >>> 40 + 2
        42
        ```

        ```python
        >>> print("prompt inside a python fence")
        prompt inside a python fence
        ```

        ```python
        total = sum(range(4))
        assert total == 6
        ```

        ```bash
        touch SHOULD_NOT_EXIST
        ```

        <!-- BEGIN generated:greeting -->
        hello
        <!-- END generated:greeting -->

        [guide]: docs/guide.md
    """,
    "docs/guide.md": """
        # Guide

        ## Details {#details-attr}

        Back to [usage](../README.md#usage) and [custom](../README.md#custom-anchor)
        and the [attribute anchor](#details-attr).
    """,
    "img/logo.png": "png",
    "LICENSE": "MIT",
}

DEFECTS = {
    **CLEAN,
    "README.md": """
        # Project

        ## Usage

        See [missing file](docs/missing.md), [missing anchor](docs/guide.md#nonexistent),
        [same page](#no-such-section), ![missing image](img/missing.png), an
        [undefined reference][nope] and [outside](../../etc/passwd).

        ```python
        raise SystemExit("failing python block")
        ```

        ```pycon
        >>> 1 + 1
        3
        ```

        <!-- BEGIN generated:greeting -->
        hello from last year
        <!-- END generated:greeting -->
    """,
    "LICENSE": "  \n",
}


def _load(root):
    docs = DocSet(root)
    for path in sorted(root.rglob("*.md")):
        docs.load(path)
    return docs


def _findings(docs):
    found = []
    for doc in docs.documents.values():
        found += check_document_links(doc, docs).findings
    return found


def test_slug_rules():
    assert github_slug("What's new? (v2)") == "whats-new-v2"
    assert github_slug("snake_case API") == "snake_case-api"
    assert github_slug("Héllo wörld") == "héllo-wörld"
    assert gitlab_slug("a -- b") == "a-b"
    assert mkdocs_slug("Héllo wörld!") == "hello-world"
    slugger = Slugger("github")
    assert [slugger.slug("Usage") for _ in range(3)] == ["usage", "usage-1", "usage-2"]
    mk = Slugger("mkdocs")
    assert [mk.slug("Usage") for _ in range(2)] == ["usage", "usage_1"]


def test_clean_twin_raises_nothing(tmp_path):
    root = write_tree(tmp_path / "clean", CLEAN)
    docs = _load(root)
    assert _findings(docs) == []
    report = check_document_links(docs.documents[(root / "README.md").resolve()], docs)
    assert report.inspected == {"anchors": 5, "links": 3, "images": 1}
    assert report.external == [("https://example.org/page", 13, 53)]
    assert required_documents(root, ["README.md", "LICENSE"]) == []


def test_every_seeded_link_defect_is_found_with_its_position(tmp_path):
    root = write_tree(tmp_path / "defects", DEFECTS)
    found = {(f.rule, f.line, f.column): f.message for f in _findings(_load(root))}
    assert set(found) == {
        ("docs.missing-file", 6, 20),
        ("docs.missing-anchor", 6, 55),
        ("docs.missing-anchor", 7, 13),
        ("docs.missing-image", 7, 49),
        ("docs.undefined-reference", 8, 1),
        ("docs.escapes-root", 8, 43),
        ("docs.missing-anchor", 6, 50),  # docs/guide.md -> ../README.md#custom-anchor
    }
    assert (
        "no anchor #nonexistent in docs/guide.md (closest: #details-attr)"
        in found[("docs.missing-anchor", 6, 55)]
    )
    assert (
        "#no-such-section: no such anchor in this file (closest: #"
        in found[("docs.missing-anchor", 7, 13)]
    )
    empty = required_documents(root, ["LICENSE", "CHANGELOG.md"])
    assert [f.rule for f in empty] == ["docs.required-empty", "docs.required-missing"]


def _fences(root, name="README.md"):
    doc = parse_markdown(root / name, (root / name).read_text())
    return doc.fences


def _outcomes(root, mode="run"):
    results = []
    for fence in _fences(root):
        plan = blocks.plan_block(fence, mode)
        if plan.action in ("run", "doctest"):
            outcome = blocks.run_block(fence, plan.action, "README.md", root, 30, [])
        elif plan.action == "syntax":
            outcome = blocks.check_syntax(fence, "README.md")
        else:
            outcome = None
        results.append((fence.language, plan.action, outcome))
    return results


def test_clean_blocks_pass_and_the_shell_block_never_runs(tmp_path):
    root = write_tree(tmp_path / "clean", CLEAN)
    results = _outcomes(root)
    assert [(lang, action) for lang, action, _ in results] == [
        ("pycon", "doctest"),
        ("python", "doctest"),
        ("python", "run"),
        ("bash", "skip"),
    ]
    assert all(outcome.ok for _, _, outcome in results if outcome is not None)
    assert not (root / "SHOULD_NOT_EXIST").exists()


def test_failing_python_block_and_wrong_pycon_output_fail(tmp_path):
    root = write_tree(tmp_path / "defects", DEFECTS)
    (python, _, ran), (pycon, _, doctested) = _outcomes(root)
    assert python == "python" and not ran.ok and "failing python block" in ran.detail
    assert pycon == "pycon" and not doctested.ok
    assert "Expected:\n    3\nGot:\n    2" in doctested.detail


def test_closing_fence_is_never_expected_output(tmp_path):
    root = write_tree(tmp_path, {"a.md": "```pycon\n>>> print('x')\nx\n```\n"})
    (fence,) = _fences(root, "a.md")
    assert blocks.run_block(fence, "doctest", "a.md", root, 30, []).ok


def test_directive_comments_skip_or_xfail_a_block(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "a.md": (
                '<!-- proofyard: skip reason="needs a GPU" -->\n```python\nimport cuda\n```\n\n'
                '<!-- proofyard: xfail reason="known bug" -->\n```python\nraise ValueError\n```\n'
            )
        },
    )
    skipped, xfailed = _fences(root, "a.md")
    assert blocks.plan_block(skipped, "run") == blocks.BlockPlan("skip", "needs a GPU")
    assert (xfailed.directive, xfailed.reason) == ("xfail", "known bug")


def test_syntax_mode_checks_without_running(tmp_path):
    root = write_tree(
        tmp_path, {"a.md": "```python\nopen('/nope').read()\n```\n\n```python\ndef broken(:\n```\n"}
    )
    good, bad = _fences(root, "a.md")
    assert blocks.check_syntax(good, "a.md").ok
    outcome = blocks.check_syntax(bad, "a.md")
    assert not outcome.ok and outcome.detail.startswith("line 6")


def test_generated_section_drift_diff_and_rewrite(tmp_path):
    root = write_tree(tmp_path / "defects", DEFECTS)
    path = root / "README.md"
    (section,) = parse_markdown(path, path.read_text()).generated
    difference = generated.diff(section, "hello", "README.md")
    assert "-hello from last year" in difference and "+hello" in difference
    generated.rewrite(path, section, "hello")
    (again,) = parse_markdown(path, path.read_text()).generated
    assert generated.diff(again, "hello", "README.md") == ""
    assert "<!-- END generated:greeting -->" in path.read_text()


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def _answer(self):
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if self.path == "/ok":
            self.send_response(200)
        elif self.path == "/flaky" and self.hits[self.path] < 2:
            self.send_response(503)
        elif self.path == "/flaky":
            self.send_response(200)
        elif self.path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
        elif self.path == "/no-head":
            self.send_response(405 if self.command == "HEAD" else 200)
        else:
            self.send_response(404)
        self.end_headers()

    do_HEAD = do_GET = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.hits = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_online_outcomes_retries_and_cache(server, tmp_path):
    dead = f"http://127.0.0.1:{_closed_port()}/"
    urls = [
        f"{server}/ok",
        f"{server}/missing",
        f"{server}/flaky",
        f"{server}/to-file",
        f"{server}/no-head",
        dead,
    ]
    cache = LinkCache(tmp_path / "links.json", ttl_s=3600)
    results = check_urls(urls, cache=cache, retries=2, backoff_s=0.01, timeout_s=5)
    outcomes = {
        url.rsplit("/", 1)[-1] or "dead": (r.outcome, r.status) for url, r in results.items()
    }
    assert outcomes == {
        "ok": ("ok", 200),
        "missing": ("http-error", 404),
        "flaky": ("ok", 200),
        "to-file": ("http-error", 302),
        "no-head": ("ok", 200),
        "dead": ("unreachable", None),
    }
    saved = json.loads((tmp_path / "links.json").read_text())
    assert set(saved) == {f"{server}/ok", f"{server}/flaky", f"{server}/no-head"}
    hits_before = dict(_Handler.hits)
    again = check_urls(urls, cache=LinkCache(tmp_path / "links.json", 3600), retries=0, timeout_s=5)
    assert again[f"{server}/ok"].cached and _Handler.hits["/ok"] == hits_before["/ok"]
    assert _Handler.hits["/missing"] == hits_before["/missing"] + 1  # failures never cached
    expired = check_urls(
        [f"{server}/ok"], cache=LinkCache(tmp_path / "links.json", 0.0), timeout_s=5
    )
    assert not expired[f"{server}/ok"].cached


DOCS_CONFIG = """
    target:
      root: .
      docs: ["**/*.md"]
    docs:
      required: [README.md, LICENSE]
      generated:
        greeting:
          run: ["{python}", "-c", "print('hello')"]
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("files", "failed", "rules"),
    [
        (CLEAN, 0, []),
        (
            DEFECTS,
            6,
            [
                "docs.block-doctest",
                "docs.block-run",
                "docs.escapes-root",
                "docs.generated-drift",
                "docs.missing-anchor",
                "docs.missing-file",
                "docs.missing-image",
                "docs.required-empty",
                "docs.undefined-reference",
            ],
        ),
    ],
    ids=["clean", "defects"],
)
def test_docs_suite_end_to_end(run_harness, make_target, tmp_path, files, failed, rules):
    root = make_target(files, DOCS_CONFIG)
    result = run_harness("-m", "docs", f"--proofyard-config={root / 'proofyard.yaml'}")
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    docs = summary["suites"]["docs"]
    assert docs["counts"].get("failed", 0) == failed, result.stdout[-4000:]
    assert result.returncode == (1 if failed else 0)
    sarif = json.loads((tmp_path / "reports" / "findings.sarif").read_text())
    assert sorted({r["ruleId"] for r in sarif["runs"][0]["results"]}) == rules
    assert docs["inspected"]["code blocks"] >= 2
    shell_blocks = sum("```bash" in text for text in files.values())
    assert docs["skipped_items"].get("shell blocks are never executed", 0) == shell_blocks
    assert not (root / "SHOULD_NOT_EXIST").exists()


def test_markers_quoted_in_code_are_not_sections(tmp_path):
    text = "Use `<!-- BEGIN generated:NAME -->` and\n\n```html\n<!-- END generated:NAME -->\n```\n"
    doc = parse_markdown(tmp_path / "a.md", text)
    assert doc.generated == [] and doc.problems == []


@pytest.mark.slow
def test_unreadable_documents_fail_naming_the_file(run_harness, make_target, tmp_path):
    root = make_target({"README.md": "# Top\n\nSee [top](#top).\n"}, "target:\n  docs: ['*.md']\n")
    (root / "latin1.md").write_bytes("# Caf\xe9\n".encode("latin-1"))
    (root / "binary.md").write_bytes(b"\x00\xff\xfe" * 100)
    (root / "dangling.md").symlink_to(root / "gone.md")
    result = run_harness(
        "-m", "docs", "-k", "test_links", f"--proofyard-config={root / 'proofyard.yaml'}"
    )
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    outcomes = {
        t["nodeid"].split("[")[-1].rstrip("]"): t["outcome"]
        for t in summary["suites"]["docs"]["tests"]
    }
    assert outcomes == {
        "README.md": "passed",
        "binary.md": "failed",
        "dangling.md": "failed",
        "latin1.md": "failed",
    }, result.stdout[-3000:]
    assert (
        "cannot read latin1.md: not UTF-8 text (byte 5: invalid continuation byte)" in result.stdout
    )
    assert "cannot read dangling.md: No such file or directory" in result.stdout


@pytest.mark.parametrize(
    ("markexpr", "may_run"),
    [
        ("", True),
        ("docs", True),
        ("smoke", False),
        ("not docs", False),
        ("smoke or not kpi", True),
        ("docs or deps or quality", True),
        ("quality and not slow", False),
    ],
)
def test_other_suites_do_not_read_the_documents(markexpr, may_run):
    config = types.SimpleNamespace(option=types.SimpleNamespace(markexpr=markexpr))
    assert docs_may_run(config) is may_run


HOSTILE_BLOCKS = textwrap.dedent("""
    ```python
    import colorsys
    print("before")
    ```

    ```python
    import time
    time.sleep(60)
    ```

    ```python
    import os
    os._exit(3)
    ```

    ```python
    import socket
    socket.create_connection(("192.0.2.10", 80), timeout=5)
    ```

    ```python
    import sys
    assert "colorsys" not in sys.modules, "an earlier block's import leaked"
    ```

    ```python
    import os, signal
    os.kill(os.getppid(), signal.SIGKILL)
    ```

    ```python
    1 / 0
    ```

    ```python
    import pathlib, sys
    assert pathlib.Path.cwd().name == "hostile" and "colorsys" not in sys.modules
    pathlib.Path("ran.txt").write_text("after")
    ```
""")


def test_code_blocks_forked_from_the_warm_server_fail_alone(tmp_path):
    root = write_tree(tmp_path / "hostile", {"README.md": HOSTILE_BLOCKS})
    server = ImportRunner([], root)
    details = []
    try:
        for fence in _fences(root):
            if not server.alive:  # as the docs fixture does: a server a block killed is replaced
                server.close()
                server = ImportRunner([], root)
            outcome = blocks.run_block(fence, "run", "README.md", root, 3, [], server=server)
            details.append("" if outcome.ok else outcome.detail)
    finally:
        server.close()
    clean, hang, exits, network, fresh, parent, division, after = details
    assert fresh == ""
    assert clean == "" and after == "" and (root / "ran.txt").read_text() == "after"
    assert "timed out after 3.0 s and was killed" in hang
    assert "ended with wait status 768 before reporting" in exits  # exit status 3
    assert "stopped by the network policy: the block tried to reach 192.0.2.10" in network
    assert "the examples' server failed" in parent
    assert "ZeroDivisionError" in division and 'File "README.md", line 33' in division
    assert "example_runner" not in division  # the runner's own frames are not shown


def test_the_examples_server_starts_early_only_for_blocks_that_run_on_it():
    def item(action=None):
        params = {} if action is None else {"block": (None, None, blocks.BlockPlan(action))}
        return types.SimpleNamespace(callspec=types.SimpleNamespace(params=params))

    assert runs_on_the_examples_server(item("run")) and runs_on_the_examples_server(item("doctest"))
    assert not any(runs_on_the_examples_server(item(a)) for a in ("syntax", "skip", None))
    assert not runs_on_the_examples_server(types.SimpleNamespace())  # an item with no parameters
