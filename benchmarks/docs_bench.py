"""Docs suite speed: 250 Markdown files with 3,000 links checked offline (goal: at most 1 s).

Generates the corpus in a temporary folder (file links, same-page and cross-file anchors,
images, references, a few broken ones), then times parsing and checking every link, three
runs, and prints the best and median; the whole `pytest -m docs` run on the corpus is timed
too, for the per-item overhead.

Usage: python benchmarks/docs_bench.py [--files 250] [--links 3000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from suite_run import run_suite

from ops.docs.links import DocSet, check_document_links


def make_corpus(root: Path, files: int, links: int) -> int:
    rng = random.Random(7)
    per_file = links // files
    (root / "img").mkdir(parents=True)
    (root / "img" / "a.png").write_bytes(b"png")
    written = 0
    for index in range(files):
        lines = [f"# Page {index}", ""]
        for section in range(6):
            lines += [f"## Section {section} of page {index}", "", "Some text here.", ""]
        for link in range(per_file):
            other = rng.randrange(files)
            kind = link % 5
            if kind == 0:
                lines.append(f"- [page](page{other}.md)")
            elif kind == 1:
                lines.append(
                    f"- [anchor](page{other}.md#section-{rng.randrange(6)}-of-page-{other})"
                )
            elif kind == 2:
                lines.append(f"- [here](#section-{rng.randrange(6)}-of-page-{index})")
            elif kind == 3:
                lines.append("- ![img](img/a.png)")
            else:
                lines.append(f"- [ref][r{link}]\n\n[r{link}]: page{other}.md")
            written += 1
        lines.append("- [broken](missing.md)")
        written += 1
        (root / f"page{index}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written


def check_corpus(root: Path) -> tuple[int, int]:
    docs = DocSet(root)
    docs.load_all(sorted(root.glob("*.md")))
    inspected = findings = 0
    for doc in docs.documents.values():
        report = check_document_links(doc, docs)
        inspected += sum(report.inspected.values())
        findings += len(report.findings)
    return inspected, findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=250)
    parser.add_argument("--links", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        written = make_corpus(root, args.files, args.links)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            inspected, findings = check_corpus(root)
            times.append(time.perf_counter() - start)
        print(
            f"corpus: {args.files} files, {written} links written; "
            f"{inspected} links/anchors/images inspected, {findings} findings "
            f"(expected {args.files} seeded broken links)"
        )
        median = statistics.median(times)
        print(
            f"parse + check offline: best {min(times):.3f} s, median {median:.3f} s "
            f"(goal <= 1 s: ratio {median / 1.0:.2f}) -> {'OK' if median <= 1.0 else 'OVER'}"
        )
        (root / "proofyard.yaml").write_text(
            "target:\n  root: .\n  docs: ['*.md']\ndocs:\n  required: []\n", encoding="utf-8"
        )
        wall, _, tail = run_suite(
            "docs", root / "reports", "-n", "0", f"--proofyard-config={root / 'proofyard.yaml'}"
        )
        print(
            f"pytest -m docs on the corpus (one item per file, reports written): "
            f"{wall:.2f} s wall; {tail}"
        )


if __name__ == "__main__":
    main()
