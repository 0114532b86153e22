"""Recommendations from a tag's papers (``sciseek.library.recommend``), per method, on the arXiv
papers.

python benchmarks/recommend.py --data-dir DIR [--topics N] [--seeds 3] [--sizes 5,10,20]
                               [--methods centroid,linear,tfidf-svm]

``DIR`` is a data dir that holds the shared arXiv papers with their embeddings (``sciseek index
../shared/data/arxiv/papers.jsonl.gz --data-dir DIR``); it is only read.

Topics (each topic's papers are its relevant set):

- categories: the papers whose primary (first) category is one of ``CATEGORIES``, moderate-size
  categories of this corpus (100 to 1,200 papers);
- keywords: the papers whose title contains one of ``KEYWORDS``' phrases, matched on the title
  lower-cased with hyphens read as spaces ("retrieval-augmented" = "retrieval augmented", and
  "graph neural network" also matches "...networks"). "reinforcement learning from human
  feedback" (2 titles) and "quantum error correction" (1) are too rare in this corpus to be used.

For each topic, tag size n in ``--sizes`` and seed in ``range(--seeds)``, n papers drawn at
random from the topic are the tag (positives; no negatives), ``recommend`` returns 20 papers,
and precision@20 and nDCG@20 (binary gains, the ideal over min(20, relevant)) are measured
against the topic's other papers. Caveat: keyword topics are defined by title words, which
favours the lexical TF-IDF method (it sees the very words that define the topic); category topics
are the fairer test of what a reader's tag is about. Rows: every method averaged over topics,
sizes and seeds, then per topic kind and per tag size; the shipped ``DEFAULT_METHOD`` is
marked. Timing: mean and p95 milliseconds per recommendation (fit, score all papers, top 20),
after one warm-up call; the TF-IDF matrix build (its first use) separately, with its size.
Threshold (``--threshold-size``, default 10; 0 skips it): per topic one tag of that size
(seed 0), ``fit_tag_model`` per method, and over all other papers the share of those scoring
above ``TagModel.threshold`` that are in the topic (precision), the share of the topic's other
papers above it (recall) and how many pass, averaged over topics: what a tag digest fed with
the whole corpus as new papers would send.
Prints the machine's CPU flags, then Markdown tables.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import re
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from sciseek import Engine
from sciseek.library import recommend as rec
from sciseek.library import tfidf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from encoders import cpu_flags  # noqa: E402

CATEGORIES = ("cs.GR", "cs.GT", "eess.IV", "cs.CE", "cs.RO", "cs.IR")
KEYWORDS = (
    "federated learning",
    "graph neural network",
    "retrieval augmented",
    "speculative decoding",
    "jailbreak",
    "mixture of experts",
    "gaussian splatting",
    "spiking neural",
)
TOP = 20


def normalise(title: str) -> str:
    """A title lower-cased, hyphens and runs of spaces as one space."""
    return re.sub(r"[\s\-]+", " ", title.lower())


def topics(engine: Engine) -> list[tuple[str, str, list[str]]]:
    """(kind, name, paper ids) of every topic, in ``CATEGORIES`` then ``KEYWORDS`` order."""
    by_category: dict[str, list[str]] = defaultdict(list)
    by_keyword: dict[str, list[str]] = defaultdict(list)
    for batch in engine.store.iter_batches(5000):
        for _, _, p in batch:
            if p.categories and p.categories[0] in CATEGORIES:
                by_category[p.categories[0]].append(p.id)
            title = normalise(p.title)
            for phrase in KEYWORDS:
                if phrase in title:
                    by_keyword[phrase].append(p.id)
    return [("category", c, by_category[c]) for c in CATEGORIES] + [
        ("keyword", k, by_keyword[k]) for k in KEYWORDS
    ]


def ndcg(ranked: list[str], relevant: set[str]) -> float:
    gains = [1.0 / np.log2(i + 2) for i, pid in enumerate(ranked) if pid in relevant]
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(TOP, len(relevant))))
    return sum(gains) / ideal if ideal else 0.0


def interleave(chosen: list[tuple[str, str, list[str]]], n: int) -> list[tuple[str, str, list]]:
    """The first ``n`` topics taking the two kinds in turn."""
    kinds = [[t for t in chosen if t[0] == k] for k in ("category", "keyword")]
    out = [t for pair in zip(*kinds, strict=False) for t in pair]
    out += [t for group in kinds for t in group[len(out) // 2 :]]
    return out[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="an indexed data dir with embeddings")
    parser.add_argument("--topics", type=int, help="use only the first N topics (kinds in turn)")
    parser.add_argument("--seeds", type=int, default=3, help="random tags per topic and size")
    parser.add_argument("--sizes", default="5,10,20", help="tag sizes (papers)")
    parser.add_argument("--methods", default=",".join(rec.METHODS))
    parser.add_argument("--threshold-size", type=int, default=10, help="tag size (0: skip)")
    args = parser.parse_args()
    data_dir = Path(args.data_dir)
    if not (data_dir / "sciseek.db").exists():
        parser.error(f"{data_dir} is not an indexed data dir (run sciseek index first)")
    sizes = [int(s) for s in args.sizes.split(",")]
    methods = args.methods.split(",")
    for m in methods:
        if m not in rec.METHODS:
            parser.error(f"unknown method {m!r}; choose from {', '.join(rec.METHODS)}")

    name, flags = cpu_flags()
    print(f"Machine: {name}, {len(os.sched_getaffinity(0))} cores; flags: {' '.join(flags)}")
    print(f"Date: {datetime.date.today()}; command: python {' '.join(sys.argv)}")
    with Engine.open(data_dir, log=lambda msg: None) as engine:
        state = engine.index_progress()
        print(
            f"{state['lexical']['papers']:,} papers, {state['dense']['documents']:,} encoded; "
            f"default method: {rec.DEFAULT_METHOD}"
        )
        chosen = topics(engine)
        if args.topics:
            chosen = interleave(chosen, args.topics)
        print("\n| topic | kind | papers |\n|---|---|---:|")
        for kind, topic, ids in chosen:
            print(f"| {topic} | {kind} | {len(ids)} |")

        warm = chosen[0][2][:5]
        timings: dict[str, list[float]] = defaultdict(list)
        if "tfidf-svm" in methods:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            matrix = tfidf.corpus_matrix(engine.store)
            built = time.perf_counter() - start
            x = matrix.matrix
            size = (x.data.nbytes + x.indices.nbytes + x.indptr.nbytes) / 2**20
            peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 2**10
            print(
                f"\nTF-IDF matrix: {x.shape[0]:,} papers x {x.shape[1]:,} terms, {x.nnz:,} "
                f"non-zeros, {size:.0f} MiB; built in {built:.1f} s (peak memory +{peak:.0f} MiB)"
            )
        for m in methods:
            rec.recommend(engine, warm, k=TOP, method=m)  # warm-up (caches, first fit)

        results: dict[str, list[tuple[str, int, float, float]]] = defaultdict(list)
        for kind, topic, ids in chosen:
            for size in sizes:
                if len(ids) < size + TOP:
                    continue
                for seed in range(args.seeds):
                    tag = random.Random(f"{topic}/{size}/{seed}").sample(ids, size)
                    relevant = set(ids) - set(tag)
                    for m in methods:
                        start = time.perf_counter()
                        got = rec.recommend(engine, tag, k=TOP, method=m, seed=seed)
                        timings[m].append(1000 * (time.perf_counter() - start))
                        ranked = [r.paper.id for r in got]
                        p = sum(pid in relevant for pid in ranked) / TOP
                        results[m].append((kind, size, p, ndcg(ranked, relevant)))
        report(methods, results, sizes)
        if args.threshold_size:
            thresholds(engine, chosen, methods, args.threshold_size)
        print("\n| method | ms per recommendation (mean) | p95 |\n|---|---:|---:|")
        for m in methods:
            t = timings[m]
            print(f"| {label(m)} | {np.mean(t):.0f} | {np.percentile(t, 95):.0f} |")


def thresholds(engine: Engine, chosen: list, methods: list[str], size: int) -> None:
    """Markdown: precision, recall and count of the papers above each tag model's threshold."""
    every = [p.id for batch in engine.store.iter_batches(5000) for _, _, p in batch]
    rows: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for _, topic, ids in chosen:
        if len(ids) < size + TOP:
            continue
        tag = random.Random(f"{topic}/{size}/0").sample(ids, size)
        seeds = set(tag)
        relevant, others = set(ids) - seeds, [i for i in every if i not in seeds]
        for m in methods:
            model = rec.fit_tag_model(engine, tag, method=m)
            scores = model.score(others)
            above = {i for i, s in scores.items() if s > model.threshold}
            hits = len(above & relevant)
            rows[m].append((hits / len(above) if above else 0.0, hits / len(relevant), len(above)))
    print(
        "\n| method | topics | precision above the threshold | recall | papers above (median) |"
        "\n|---|---:|---:|---:|---:|"
    )
    for m in methods:
        r = rows[m]
        if r:
            p, c = np.mean([x[0] for x in r]), np.mean([x[1] for x in r])
            mid = np.median([x[2] for x in r])
            print(f"| {label(m)} | {len(r)} | {p:.3f} | {c:.3f} | {mid:.0f} |")


def label(method: str) -> str:
    return f"{method} (default)" if method == rec.DEFAULT_METHOD else method


def report(methods: list[str], results: dict, sizes: list[int]) -> None:
    """Markdown: P@20 and nDCG@20 per method, overall, per topic kind and per tag size."""
    groups = [("all", lambda r: True)]
    groups += [(f"{k} topics", lambda r, k=k: r[0] == k) for k in ("category", "keyword")]
    groups += [(f"tag of {s}", lambda r, s=s: r[1] == s) for s in sizes]
    print(f"\n| rows | method | tags | P@{TOP} | nDCG@{TOP} |\n|---|---|---:|---:|---:|")
    for name, keep in groups:
        for m in methods:
            rows = [r for r in results[m] if keep(r)]
            if rows:
                p = np.mean([r[2] for r in rows])
                n = np.mean([r[3] for r in rows])
                print(f"| {name} | {label(m)} | {len(rows)} | {p:.3f} | {n:.3f} |")


if __name__ == "__main__":
    main()
