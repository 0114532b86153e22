"""sciseek's lexical index (tantivy) against bm25s, in one run on the same data and one core.

Measures indexing throughput, single-thread query throughput and the cost of adding 100 papers
to an existing index. Run: python benchmarks/lexical_vs_bm25s.py [--shared ../shared/data]
Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import bm25s
import Stemmer

from sciseek import Engine
from sciseek.ingest.papers import Paper
from sciseek.ingest.readers import read_valid


def _timeit(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _load(shared: Path, name: str) -> tuple[list[Paper], list[str]]:
    if name == "scifact":
        papers = list(read_valid(shared / "scifact", "beir"))
        with open(shared / "scifact" / "queries.jsonl") as f:
            queries = [json.loads(line)["text"] for line in f]
    else:
        papers = list(read_valid(shared / "arxiv" / "papers.jsonl.gz"))
        rng = random.Random(0)
        queries = [p.title for p in rng.sample(papers, 1000)]
    return papers, queries


def bench_bm25s(papers: list[Paper], queries: list[str]) -> dict:
    stemmer = Stemmer.Stemmer("english")
    texts = [f"{p.title}\n{p.abstract}" for p in papers]

    def build():
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
        retriever = bm25s.BM25(k1=0.9, b=0.4)
        retriever.index(tokens, show_progress=False)
        return retriever

    start = time.perf_counter()
    retriever = build()
    index_s = time.perf_counter() - start

    def one_by_one():
        for q in queries:
            qt = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False)
            retriever.retrieve(qt, k=10, show_progress=False, n_threads=1)

    def batched():
        qt = bm25s.tokenize(queries, stopwords="en", stemmer=stemmer, show_progress=False)
        retriever.retrieve(qt, k=10, show_progress=False, n_threads=1)

    return {
        "index_docs_per_s": len(papers) / index_s,
        "qps": len(queries) / _timeit(one_by_one),
        "qps_batched": len(queries) / _timeit(batched),
        "add_100_s": index_s * (len(papers) + 100) / len(papers),  # a full rebuild
    }


def bench_sciseek(papers: list[Paper], queries: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp, Engine.open(tmp, log=lambda m: None) as engine:
        start = time.perf_counter()
        engine.store.upsert(papers[:-100])
        store_s = time.perf_counter() - start
        start = time.perf_counter()
        engine.lexical.sync()
        index_s = time.perf_counter() - start
        start = time.perf_counter()
        engine.add(papers[-100:])
        add_s = time.perf_counter() - start
        n = len(papers) - 100

        def lexical_only():
            for q in queries:
                engine.lexical.search(q, 10)

        def with_ids():
            for q in queries:
                engine.search_ids(q, k=10)

        return {
            "index_docs_per_s": n / index_s,
            "store_and_index_docs_per_s": n / (store_s + index_s),
            "qps": len(queries) / _timeit(lexical_only),
            "qps_with_ids": len(queries) / _timeit(with_ids),
            "add_100_s": add_s,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core for both
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        f"(pinned to 1), Python {platform.python_version()}, bm25s {bm25s.__version__}"
    )
    rows = []
    for name in ("scifact", "arxiv"):
        papers, queries = _load(Path(args.shared), name)
        ours, theirs = bench_sciseek(papers, queries), bench_bm25s(papers, queries)
        rows.append((name, len(papers), len(queries), ours, theirs))
    print("\n| corpus | docs | queries | metric | sciseek (tantivy) | bm25s | ratio |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for name, n, nq, ours, theirs in rows:

        def row(metric, a, b, fmt="{:,.0f}", name=name, n=n, nq=nq):
            ratio = b / a if metric.startswith("add 100") else a / b
            print(
                f"| {name} | {n:,} | {nq:,} | {metric} | {fmt.format(a)} | {fmt.format(b)} |"
                f" {ratio:.2f}x |"
            )

        row("index docs/s (index only)", ours["index_docs_per_s"], theirs["index_docs_per_s"])
        row(
            "index docs/s (store + index)",
            ours["store_and_index_docs_per_s"],
            theirs["index_docs_per_s"],
        )
        row("queries/s, one at a time (top-10)", ours["qps"], theirs["qps"])
        row(
            "queries/s, ours with id lookup vs bm25s batched",
            ours["qps_with_ids"],
            theirs["qps_batched"],
        )
        row(
            "add 100 papers (s; bm25s: full rebuild)",
            ours["add_100_s"],
            theirs["add_100_s"],
            "{:.3f}",
        )
    print(
        f"\nsciseek median over corpora of QPS ratio: "
        f"{statistics.median(r[3]['qps'] / r[4]['qps'] for r in rows):.2f}x"
    )


if __name__ == "__main__":
    main()
