"""The docs checks on real Sphinx trees from the package registry, in one run:

- the Sphinx sdist's ``doc/`` as shipped: documents, references resolved, findings, time;
- the same tree with seeded defects (a label removed, a document renamed, an include's
  marker changed, a literalinclude's lines past the file): each must be found;
- the tree's examples (``>>>`` blocks, ``doctest``, ``testcode``, python code blocks) run by
  ``pytest -m docs`` in this interpreter, with how many passed and why the others failed;
- optionally another project's ``docs/`` (``--project NAME``, e.g. packaging), the same.

Usage: python benchmarks/docs_sites_bench.py [--cache DIR] [--project NAME]
(``pip download`` fetches the sdists once into the cache folder.)
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from ops.docs.links import DocSet, check_document_links  # noqa: E402


def sdist(name: str, cache: Path) -> Path:
    """The unpacked sdist of ``name`` (downloaded once)."""
    cache.mkdir(parents=True, exist_ok=True)
    archives = sorted(cache.glob(f"{name}-*.tar.gz"))
    if not archives:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             name, "-d", str(cache)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        archives = sorted(cache.glob(f"{name}-*.tar.gz"))
    folder = cache / archives[-1].name[: -len(".tar.gz")]
    if not folder.is_dir():
        with tarfile.open(archives[-1]) as bundle:
            bundle.extractall(cache, filter="data")
    return folder


def check_tree(root: Path, docs_folder: str) -> tuple[list, collections.Counter, float, int]:
    start = time.perf_counter()
    docs = DocSet(root)
    docs.load_all(sorted((root / docs_folder).rglob("*.rst")))
    findings, inspected = [], collections.Counter()
    for path in sorted(docs.documents):
        report = check_document_links(docs.documents[path], docs)
        findings += report.findings
        inspected.update(report.inspected)
    return findings, inspected, time.perf_counter() - start, len(docs.documents)


def seed(tree: Path) -> dict[str, str]:
    """Seeded defects in a copy of the Sphinx doc tree: what was done -> the rule expected."""
    doc = tree / "doc"
    seeded = {}
    basics = doc / "usage" / "restructuredtext" / "basics.rst"
    basics.write_text(basics.read_text().replace(".. _rst-primer:", ".. _rst-primer-gone:"))
    seeded["label rst-primer removed"] = "docs.undefined-label"
    (doc / "usage" / "installation.rst").rename(doc / "usage" / "installing.rst")
    seeded["usage/installation.rst renamed"] = "docs.missing-doc"
    for path in sorted(doc.rglob("*.rst")):
        text = path.read_text()
        if ":start-after:" in text or ":end-before:" in text:
            option = ":start-after:" if ":start-after:" in text else ":end-before:"
            line = next(li for li in text.splitlines() if option in li)
            path.write_text(text.replace(line, line + "-renamed", 1))
            seeded[f"{path.relative_to(doc)}: {option} marker changed"] = "docs.include-marker"
            break
    for path in sorted(doc.rglob("*.rst")):
        text = path.read_text()
        if ".. literalinclude::" in text and ":lines:" in text:
            line = next(li for li in text.splitlines() if ":lines:" in li)
            path.write_text(text.replace(line, line.split(":lines:")[0] + ":lines: 1-9999", 1))
            seeded[f"{path.relative_to(doc)}: literalinclude :lines: past the end"] = (
                "docs.include-marker"
            )
            break
    return seeded


def run_examples(root: Path, docs_glob: str, timeout: int = 900) -> str:
    """``pytest -m docs -k code_block`` on ``root``: the last lines and the failures' kinds."""
    config = f"target: {{root: ., docs: ['{docs_glob}']}}\ndocs: {{required: []}}\n"
    (root / "proofyard.yaml").write_text(config + "kpi: {record: false}\n")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "docs", "-k",
         "code_block", "-q", "-p", "no:xdist", f"--proofyard-config={root / 'proofyard.yaml'}",
         f"--reports-dir={root / '.reports'}"],
        cwd=HERE, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    lines = result.stdout.splitlines()
    network = result.stdout.count("stopped by the network policy")
    return f"{lines[-1] if lines else result.stderr[-300:]} ({elapsed:.1f} s; {network} network)"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "proofyard-sdists"))
    parser.add_argument("--project", help="another sdist whose docs/ (or doc/) to check")
    args = parser.parse_args()
    cache = Path(args.cache)
    sphinx = sdist("sphinx", cache)
    findings, inspected, seconds, count = check_tree(sphinx, "doc")
    print(f"{sphinx.name} doc/: {count} .rst documents checked in {seconds:.2f} s")
    print(f"  inspected: {dict(inspected)}")
    print(f"  findings on the tree as shipped: {len(findings)}")
    for finding in findings:
        print(f"    {finding.rule} {finding.path}:{finding.line} {finding.message[:120]}")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / sphinx.name
        shutil.copytree(sphinx, copy)
        seeded = seed(copy)
        found, _, _, _ = check_tree(copy, "doc")
        rules = collections.Counter(f.rule for f in found)
        for what, rule in seeded.items():
            print(f"  seeded: {what}: {'FOUND' if rules[rule] else 'MISSED'} ({rule})")
        print(f"  findings with the seeded defects: {len(found)} (as shipped: {len(findings)})")
        print(f"  examples of doc/: {run_examples(copy, 'doc/**/*.rst')}")
    if args.project:
        other = sdist(args.project, cache)
        folder_name = "docs" if (other / "docs").is_dir() else "doc"
        findings, inspected, seconds, count = check_tree(other, folder_name)
        print(f"{other.name} {folder_name}/: {count} documents in {seconds:.2f} s, "
              f"{len(findings)} findings; inspected {dict(inspected)}")  # fmt: skip
        for finding in findings:
            print(f"    {finding.rule} {finding.path}:{finding.line} {finding.message[:120]}")
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / other.name
            shutil.copytree(other, copy)
            print(f"  examples of {folder_name}/: {run_examples(copy, f'{folder_name}/**/*.rst')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
