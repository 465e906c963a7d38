"""Docs suite: links and anchors resolve, code blocks run, generated sections are current."""

from __future__ import annotations

import pytest

from fixtures.config import loaded_config
from fixtures.docs import docs_may_run, docset_for, example_server, grouped_outcome, target_of
from fixtures.progress import Progress
from ops.docs import blocks, generated
from ops.docs.examples import RUNNABLE
from ops.docs.links import check_document_links, required_documents, unreadable_finding
from ops.docs.mkdocs import nav_problems
from ops.docs.online import LinkCache, check_urls
from ops.findings import Finding
from ops.proc import Limits, run_command, shell_argv

pytestmark = pytest.mark.docs


def _skip_param(reason):
    return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="none")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    wanted = {"document", "block", "section"} & set(metafunc.fixturenames)
    if not wanted:
        return
    if not docs_may_run(metafunc.config):  # deselected by -m: do not read the documents
        for name in sorted(wanted):
            metafunc.parametrize(name, _skip_param("docs not selected"))
        return
    docs = docset_for(metafunc.config)
    mode = loaded_config(metafunc.config).config.docs.python_blocks
    paths = sorted(docs.documents)
    if "document" in metafunc.fixturenames:
        metafunc.parametrize(
            "document",
            [pytest.param(p, id=docs.relative(p)) for p in sorted([*paths, *docs.unreadable])]
            or _skip_param("target.docs matches no document"),
        )
    if "block" in metafunc.fixturenames:
        params = []
        for path in paths:
            for fence in docs.documents[path].fences:
                plan = blocks.plan_block(fence, mode)
                marks = (
                    [pytest.mark.xfail(reason=fence.reason or "marked xfail", strict=False)]
                    if fence.directive == "xfail"
                    else []
                )
                params.append(
                    pytest.param(
                        (path, fence, plan), marks=marks, id=f"{docs.relative(path)}:{fence.line}"
                    )
                )
        metafunc.parametrize("block", params or _skip_param("no fenced code blocks"))
    if "section" in metafunc.fixturenames:
        params = [
            pytest.param((path, section), id=f"{docs.relative(path)}:{section.name}")
            for path in paths
            for section in docs.documents[path].generated
        ]
        metafunc.parametrize("section", params or _skip_param("no generated sections"))


def test_links(document, docset, check):
    if document in docset.unreadable:
        check.finding(unreadable_finding(docset.relative(document), docset.unreadable[document]))
        check.assert_no_findings(f"{docset.relative(document)}: unreadable document")
    report = check_document_links(docset.documents[document], docset)
    for kind, number in report.inspected.items():
        check.inspected(kind, number)
    for reason, number in report.skipped.items():
        check.skipped(reason, number)
    if report.external:
        check.skipped("external links (checked by test_external_links)", len(report.external))
    check.findings(report.findings)
    if not report.inspected:
        pytest.skip(f"{docset.relative(document)} has no internal links or anchors to check")
    check.assert_no_findings(f"{docset.relative(document)}: broken links")


def test_external_links(docset, proofyard_config, pytestconfig, check):
    section = proofyard_config.config.docs
    external = [
        (path, url, line, column)
        for path, doc in sorted(docset.documents.items())
        for url, line, column in check_document_links(doc, docset).external
    ]
    if not external:
        pytest.skip("no external links in the documents")
    if not (section.online or pytestconfig.getoption("docs_online")):
        check.skipped("external links (offline; use --docs-online)", len(external))
        pytest.skip(
            f"{len(external)} external links counted, not checked offline "
            "(use --docs-online or docs.online: true)"
        )
    cache = LinkCache(proofyard_config.resolve(".proofyard/cache/links.json"), section.cache_ttl_s)
    statuses = check_urls(
        [url for _, url, _, _ in external],
        cache=cache,
        timeout_s=section.online_timeout_s,
        concurrency=section.online_concurrency,
        per_host=section.online_per_host,
        retries=section.online_retries,
        progress=Progress(pytestconfig, "docs: external links checked"),
    )
    check.inspected("external links", len(statuses))
    for path, url, line, column in external:
        status = statuses[url]
        if status.outcome != "ok":
            check.finding(
                Finding(
                    f"docs.external-{status.outcome}",
                    f"{url}: {status.detail}",
                    docset.relative(path),
                    line,
                    column,
                    context=url,
                )
            )
    check.assert_no_findings("external links")


def test_code_block(block, target, import_roots, proofyard_config, pytestconfig, check):
    path, fence, plan = block
    filename = str(path.relative_to(target.root))
    if plan.action == "skip":
        check.skipped(plan.reason)
        pytest.skip(f"{filename}:{fence.line}: {plan.reason}")
    check.inspected("code blocks")
    config = proofyard_config.config
    if plan.action == "syntax":
        outcome = blocks.check_syntax(fence, filename)
    elif fence.kind in RUNNABLE:
        outcome = grouped_outcome(pytestconfig, path, fence)
    else:
        outcome = blocks.run_block(
            fence,
            plan.action,
            filename,
            path.parent,
            config.docs.block_timeout_s,
            import_roots,
            config.network.allow_hosts,
            config.network.isolate_subprocesses,
            Limits.for_config(config.limits),
            proofyard_config.python.path,
            example_server(pytestconfig),
        )
    check.require(
        outcome.ok,
        Finding(
            f"docs.block-{plan.action}", outcome.detail, filename, fence.line, context=fence.content
        ),
    )


def test_generated_section(section, target, proofyard_config, pytestconfig, check):
    path, block = section
    filename = str(path.relative_to(target.root))
    commands = proofyard_config.config.docs.generated
    check.inspected("generated sections")
    check.require(
        block.name in commands,
        Finding(
            "docs.generated-unknown",
            f"generated:{block.name} has no command in docs.generated",
            filename,
            block.begin_line,
            context=block.name,
        ),
    )
    spec = commands[block.name]
    network = proofyard_config.config.network
    result = run_command(
        shell_argv(spec.run, spec.shell, proofyard_config.python.path),
        timeout_s=spec.timeout_s,
        cwd=target.root,
        env=spec.env,
        allow_hosts=network.allow_hosts,
        isolate=network.isolate_subprocesses,
    )
    check.require(
        result.returncode == 0 and not result.timed_out,
        Finding(
            "docs.generated-command",
            f"generated:{block.name}: command {result.describe()}\n{result.output[-2000:]}",
            filename,
            block.begin_line,
            context=block.name,
        ),
    )
    expected = generated.expected_block(result.stdout, spec.fence)
    difference = generated.diff(block, expected, filename)
    if difference and pytestconfig.getoption("update_baselines"):
        generated.rewrite(path, block, expected)
        return
    check.require(
        not difference,
        Finding(
            "docs.generated-drift",
            f"generated:{block.name} differs from its command's output "
            f"(run with --update-baselines to rewrite it):\n{difference}",
            filename,
            block.begin_line,
            context=block.name,
        ),
    )


def test_required_documents(pytestconfig, proofyard_config, check):
    names = proofyard_config.config.docs.required
    if not names:
        pytest.skip("docs.required is empty")
    check.inspected("required documents", len(names))
    for finding in required_documents(target_of(pytestconfig).root, names):
        check.finding(finding)
    check.assert_no_findings("required documents")


def test_mkdocs_nav(docset, check):
    site = docset.site
    if site is None:
        pytest.skip("no mkdocs.yml at the target root")
    where = docset.relative(site.config)
    check.inspected("nav entries", len(site.nav))
    for line, problem in nav_problems(site):
        check.finding(Finding("docs.mkdocs-nav", problem, where, line, context=problem))
    check.assert_no_findings(f"{where}: nav")
