"""Sphinx (reStructuredText through docutils) and MkDocs projects: each seeded defect found,
each clean twin raising nothing; examples that explain why they failed."""

from __future__ import annotations

import json
import textwrap

import pytest

from ops.docs.links import DocSet, check_document_links
from ops.docs.parse import parse_markdown
from ops.docs.rst import parse_rst
from tests.conftest import write_tree

CONF = """
    import textwrap
    project = "demo"
    extensions = ["sphinx.ext.doctest", "sphinx.ext.intersphinx", "myext.things"]
    intersphinx_mapping = {"python": ("https://docs.python.org/3", None)}
    doctest_global_setup = textwrap.dedent('''
        import math
        ANSWER = 42
    ''')
"""

INDEX = """
    Demo
    ====

    .. toctree::
       :maxdepth: 2

       usage
       Reference <api/index>
       self
       https://example.org/elsewhere

    .. toctree::
       :glob:

       guides/*

    See :doc:`usage`, :doc:`the API </api/index>`, :ref:`install-label`,
    :ref:`Install <install-label>`, :ref:`genindex`, :ref:`python:tut-intro` and
    :class:`demo.Thing` (a domain role), :confval:`demo_option` (an extension's).
    Get :download:`the script <_static/script.py>`; read `the usage <usage.rst>`_.

    .. image:: _static/logo.*
    .. figure:: /_static/logo.png

       A caption with a link to `usage <usage.rst>`_.

    .. confval:: demo_option

       An extension's directive: its content is still checked, see :doc:`usage`.

    .. only:: html

       Sphinx-only content with :ref:`install-label`.

    .. include:: snippets/part.rst
       :start-after: start-here
       :end-before: end-here

    .. literalinclude:: _static/script.py
       :lines: 1-3
       :pyobject: Greeter.hello

    A doctest block using the global setup:

    >>> math.sqrt(16) + ANSWER
    46.0

    .. testsetup::

       items = [3, 1, 2]

    .. doctest::

       >>> sorted(items)
       [1, 2, 3]

    .. testcode::

       print(len(items))

    .. testoutput::

       3

    .. code-block:: python

       import math
       print(math.pi)

    .. code-block:: console

       $ rm -rf /
"""

USAGE = """
    .. _install-label:

    Installing
    ==========

    Back to :doc:`index`.
"""

SITE = {
    "docs/conf.py": CONF,
    "docs/index.rst": INDEX,
    "docs/usage.rst": USAGE,
    "docs/api/index.rst": "API\n===\n\nSee :doc:`../usage` and :doc:`/index`.\n",
    "docs/guides/one.rst": "One\n===\n",
    "docs/snippets/part.rst": "before\n\n.. start-here\n\nPart.\n\n.. end-here\n",
    "docs/_static/script.py": "class Greeter:\n    def hello(self):\n        return 'hi'\n",
    "docs/_static/logo.png": "png",
}

DEFECTS = {
    "docs/usage.rst": USAGE.replace(".. _install-label:", ".. _installation:"),  # label gone
    "docs/index.rst": INDEX.replace("Reference <api/index>", "Reference <api/missing>")
    .replace("start-here", "start-elsewhere", 1)
    .replace(":lines: 1-3", ":lines: 1-30")
    .replace("Greeter.hello", "Greeter.goodbye")
    .replace("<_static/script.py>", "<_static/gone.py>")
    .replace("`the usage <usage.rst>`_", "`the usage <usage.rst>`_ and `nowhere`_")
    .replace("46.0", "47.0\n    >>> undefined_name\n    1")
    .replace("       3\n", "       4\n"),
    "docs/guides/one.rst": None,  # the glob matches nothing
}


def _tree(tmp_path, defects=False):
    files = dict(SITE)
    if defects:
        for name, text in DEFECTS.items():
            if text is None:
                files.pop(name)
            else:
                files[name] = text
    return write_tree(tmp_path / ("bad" if defects else "good"), files)


def _findings(root):
    docs = DocSet(root)
    docs.load_all(sorted((root / "docs").rglob("*.rst")))
    found = []
    for path in sorted(docs.documents):
        found += check_document_links(docs.documents[path], docs).findings
    return found


def test_a_clean_sphinx_tree_raises_nothing(tmp_path):
    assert _findings(_tree(tmp_path)) == []


def test_every_seeded_sphinx_defect_is_found_at_its_line(tmp_path):
    found = {(f.rule, f.path, f.line, f.message) for f in _findings(_tree(tmp_path, True))}
    lines = textwrap.dedent(DEFECTS["docs/index.rst"]).splitlines()

    def line_of(text):
        return next(index + 1 for index, line in enumerate(lines) if text in line)

    index = "docs/index.rst"
    expected = {
        ("docs.missing-doc", index, line_of("Reference <api/missing>")),
        ("docs.missing-doc", index, line_of("guides/*")),
        ("docs.undefined-label", index, line_of(":ref:`install-label`,")),
        ("docs.undefined-label", index, line_of(":ref:`Install <install-label>`")),
        ("docs.undefined-label", index, line_of("Sphinx-only content")),
        ("docs.missing-file", index, line_of("<_static/gone.py>")),
        ("docs.undefined-reference", index, line_of("`nowhere`_")),
        ("docs.include-marker", index, line_of(".. include::")),
    }
    assert expected <= {(rule, path, line) for rule, path, line, _ in found}, sorted(found)
    messages = "\n".join(message for *_, message in found)
    assert "toctree: 'Reference <api/missing>': no document api/missing" in messages
    assert "toctree: 'guides/*' matches no document" in messages
    assert ":ref:`install-label`: no label 'install-label' in the project" in messages
    assert ":start-after: 'start-elsewhere' is not in the file" in messages
    assert ":lines: 1-30 is past the file's 3 lines" in messages
    assert ":pyobject: Greeter.goodbye is not defined" in messages
    assert "`nowhere`_ has no target of that name" in messages
    assert "python:tut-intro" not in messages  # intersphinx: another project's
    assert len(found) == 10, sorted(found)


def test_sphinx_only_markup_never_fails_the_parse(tmp_path):
    text = textwrap.dedent("""
        .. automodule:: demo
           :members:

        .. tab-set::

           .. tab-item:: One

              Text with :unknownrole:`x` and :py:meth:`~a.b`.

        .. graphviz::

           digraph { a -> b_ }

        .. productionlist::
           rule: `other`_
    """)
    doc = parse_rst(tmp_path / "x.rst", text)
    assert doc.undefined_refs == []  # the code-like contents are not read as links
    assert doc.skipped == {
        ":unknownrole: references (a domain's or an extension's)": 1,
        ":py:meth: references (a domain's or an extension's)": 1,
    }


@pytest.mark.slow
def test_sphinx_examples_run_in_groups_and_explain_their_failures(run_harness, make_target):
    config = "target: {root: ., docs: ['docs/**/*.rst']}\ndocs: {required: []}\n"
    root = make_target({k: v for k, v in SITE.items()}, config, name="clean")
    clean = run_harness(
        "-m", "docs", "-k", "code_block", f"--proofyard-config={root}/proofyard.yaml"
    )
    assert clean.returncode == 0, clean.stdout[-4000:]
    summary_line = clean.stdout.strip().splitlines()[-1]
    assert "4 passed" in summary_line, clean.stdout[-3000:]  # >>>, doctest, testcode, python
    files = {k: v for k, v in SITE.items()}
    files["docs/index.rst"] = DEFECTS["docs/index.rst"]
    bad = make_target(files, config, name="bad")
    result = run_harness(
        "-m", "docs", "-k", "code_block", f"--proofyard-config={bad}/proofyard.yaml"
    )
    assert result.returncode == 1
    out = result.stdout
    assert "Expected:\n    47.0\nGot:\n    46.0" in out
    assert "NameError" not in out  # the first failing example only, no cascade after it
    assert "output differs from the testoutput block" in out
    assert "2 failed, 2 passed" in out.splitlines()[-1]


MARKDOWN = {
    "README.md": """
        # Notes

        A model card template:

        {% raw %}Revision {{ dataset['revision'][:7] }}{% endraw %} and {{ x[0][1] }}.
        The slice `a[1][2]` is code; `data['k'][0]` too; so is cfg['a']['b'] here.

        ```python
        import asyncio
        await asyncio.sleep(0)
        print("done")
        ```
    """,
}


def test_templates_subscripts_and_top_level_await_raise_nothing(tmp_path):
    root = write_tree(tmp_path / "md", MARKDOWN)
    doc = parse_markdown(root / "README.md", (root / "README.md").read_text())
    assert doc.undefined_refs == []
    defective = parse_markdown(root / "x.md", "See the [guide][missing-label].\n")
    assert [label for label, *_ in defective.undefined_refs] == ["missing-label"]
    from ops.docs import blocks

    (fence,) = doc.fences
    assert blocks.check_syntax(fence, "README.md").ok
    outcome = blocks.run_block(fence, "run", "README.md", root, 60, [])
    assert outcome.ok, outcome.detail


def test_a_blocked_host_and_a_failing_block_explain_themselves(tmp_path):
    from ops.docs import blocks

    text = textwrap.dedent("""
        # Demo

        ```python
        import socket
        socket.create_connection(("192.0.2.10", 80), timeout=1)
        ```

        ```python
        x = 1
        y = x / 0
        ```

        ```pycon
        >>> a = 1
        >>> a + 1
        3
        >>> b + 1
        5
        ```
    """)
    doc = parse_markdown(tmp_path / "README.md", text)
    network, division, doctest_block = doc.fences
    blocked = blocks.run_block(network, "run", "README.md", tmp_path, 60, [])
    assert not blocked.ok
    assert "stopped by the network policy: the block tried to reach 192.0.2.10" in blocked.detail
    assert "<!-- proofyard: skip -->" in blocked.detail
    failed = blocks.run_block(division, "run", "README.md", tmp_path, 60, [])
    assert 'File "README.md", line 11' in failed.detail and "ZeroDivisionError" in failed.detail
    assert ">    11 | y = x / 0" in failed.detail and "     10 | x = 1" in failed.detail
    first = blocks.run_block(doctest_block, "doctest", "README.md", tmp_path, 60, [])
    assert "Expected:\n    3\nGot:\n    2" in first.detail
    assert "NameError" not in first.detail  # the cascade after the first failure is not listed


MKDOCS = {
    "mkdocs.yml": """
        site_name: Demo
        docs_dir: site-docs
        markdown_extensions:
          - attr_list
          - toc:
              permalink: true
          - pymdownx.emoji:
              emoji_index: !!python/name:material.extensions.emoji.twemoji
        extra:
          token: !ENV [DEMO_TOKEN, "none"]
        nav:
          - Home: index.md
          - Guide:
              - Start: guide/start.md
              - guide/deep.md
          - Elsewhere: https://example.org/
    """,
    "site-docs/index.md": """
        # Welcome Home

        Read [the start](guide/start.md#first-steps), [deep](guide/deep.md#custom-id),
        [top](#welcome-home) and [root link](/guide/start.md).
    """,
    "site-docs/guide/start.md": "# First steps\n\nBack [home](../index.md).\n",
    "site-docs/guide/deep.md": "# Deep dive {#custom-id}\n\nText.\n",
}


@pytest.mark.parametrize("defective", [False, True])
def test_mkdocs_nav_links_and_anchors(run_harness, make_target, tmp_path, defective):
    files = dict(MKDOCS)
    if defective:
        files["mkdocs.yml"] = files["mkdocs.yml"].replace("guide/deep.md\n", "guide/gone.md\n")
        files["site-docs/index.md"] = (
            files["site-docs/index.md"]
            .replace("start.md#first-steps", "start.md#first-step")
            .replace("(/guide/start.md)", "(/guide/missing.md)")
        )
    root = make_target(
        files,
        "target: {root: ., docs: ['site-docs/**/*.md']}\ndocs: {slug: mkdocs, required: []}\n",
    )
    result = run_harness("-m", "docs", f"--proofyard-config={root / 'proofyard.yaml'}")
    if not defective:
        assert result.returncode == 0, result.stdout[-4000:]
        assert "test_mkdocs_nav PASSED" in result.stdout or "passed" in result.stdout
        return
    assert result.returncode == 1
    sarif = json.loads((tmp_path / "reports" / "findings.sarif").read_text())
    results = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in sarif["runs"][0]["results"]
        if r.get("level") == "error"
    }
    assert results == {
        ("docs.mkdocs-nav", "mkdocs.yml"),
        ("docs.missing-anchor", "site-docs/index.md"),
        ("docs.missing-file", "site-docs/index.md"),
    }, results
    assert "nav 'Guide': guide/gone.md is not a page in docs_dir" in result.stdout


def test_init_picks_the_mkdocs_slug_and_the_doc_folders(tmp_path):
    from ops.init import detect

    root = write_tree(tmp_path / "p", {**MKDOCS, "doc/index.rst": "Title\n=====\n"})
    found = detect(root, environ={})
    assert found.config["docs"] == {"slug": "mkdocs"}
    assert "doc/**/*.rst" in found.config["target"]["docs"]
