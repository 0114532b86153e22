"""Draft search (split-encode-aggregate) against single-vector search, on the shared arXiv papers.

python benchmarks/draft.py --data-dir DIR [--limit N] [--queries 300] [--mixtures 100]
                           [--mix-size 5] [--latency 20] [--seed 0]

``DIR`` is a data dir that already holds the shared arXiv papers (``sciseek index
../shared/data/arxiv/papers.jsonl.gz --data-dir DIR``); with ``--limit N`` only the first N
papers of the file are read, for an index built from exactly those (a quick run).

Quality: ``--queries`` papers sampled with ``--seed`` (those with an abstract of at least 40
words); each paper's abstract, title excluded, is the draft, and the paper itself is dropped
from the results. For the top 10 of each method it reports:

- ``same cat``: the share of the 10 whose primary category is the query paper's;
- ``author``: the share of the 10 that share an author (exact name) with the query paper, over
  the queries whose paper shares an author with another paper of the set;
- ``author hit``: how often at least one such paper is in the top 10 (same queries).

Methods: ``dense`` and ``hybrid`` (``Engine.search`` with the whole abstract as one query: one
vector, cut at the encoder's 256 tokens) and ``draft-MODE-AGG`` (``search_draft`` with each
aggregation). An abstract that is one passage is searched as a plain query by ``search_draft``,
so the table also gives the figures over the multi-passage queries alone, and each draft
method's mean difference to ``dense`` with a 95 % paired bootstrap interval.

Long texts: ``--mixtures`` texts, each the abstracts of ``--mix-size`` papers of one primary
category (drawn with ``--seed``, a category as often as it has papers) joined by blank lines:
the share of those papers each method puts in its top 10 (a plain search sees the first 256
tokens only), and the share of the top 10 in the category.

Latency: ``--latency`` texts of 20,000 characters, each the abstracts of papers of one primary
category (a sampled paper's first, then others of its category in file order) joined by blank
lines and cut at the last sentence end before 20,000 characters. p50 / p95 of ``search_draft``
(k=10, encoding included) per mode, and of one plain ``dense`` search of the same text.
Prints the machine's CPU flags, then Markdown tables.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import itertools
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sciseek import Engine, Paper
from sciseek.search.draft import AGGREGATIONS, MAX_CHARS, passages, search_draft

sys.path.insert(0, str(Path(__file__).resolve().parent))

from encoders import cpu_flags  # noqa: E402

PAPERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv" / "papers.jsonl.gz"
TOP = 10
MIN_WORDS = 40

Method = Callable[[Engine, str, int], list[str]]


def load(path: Path, limit: int | None) -> list[Paper]:
    """The first ``limit`` papers of the file (all without a limit)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = itertools.islice((line for line in f if line.strip()), limit)
        records = [json.loads(line) for line in lines]
    return [
        Paper(
            r["id"],
            r.get("title") or "",
            r.get("abstract") or "",
            list(r.get("authors") or []),
            list(r.get("categories") or []),
            r.get("published"),
        )
        for r in records
    ]


def methods() -> dict[str, Method]:
    """Each compared method: (engine, text, k) -> paper ids, best first."""

    def plain(mode: str) -> Method:
        return lambda e, text, k: [h.paper.id for h in e.search(text, mode, k)]

    def draft(mode: str, agg: str) -> Method:
        return lambda e, text, k: [
            h.paper.id for h in search_draft(e, text, mode, k, aggregate=agg)
        ]

    out = {"dense": plain("dense"), "hybrid": plain("hybrid")}
    for mode in ("dense", "hybrid"):
        for agg in AGGREGATIONS:
            out[f"draft-{mode}-{agg}"] = draft(mode, agg)
    return out


def quality(engine: Engine, papers: list[Paper], queries: list[Paper]) -> None:
    """Same-category and shared-author shares in the top 10, per method."""
    by_id = {p.id: p for p in papers}
    author_papers: dict[str, set[str]] = defaultdict(set)
    for p in papers:
        for a in p.authors:
            author_papers[a].add(p.id)
    multi = {q.id for q in queries if len(passages(q.abstract)) > 1}
    rows: dict[str, dict[str, list[float]]] = {}
    for name, method in methods().items():
        cat, auth, auth_hit = {}, {}, {}
        start = time.perf_counter()
        for q in queries:
            ids = [i for i in method(engine, q.abstract, TOP + 1) if i != q.id][:TOP]
            found = [by_id[i] for i in ids if i in by_id]
            primary = q.categories[0] if q.categories else None
            cat[q.id] = sum(bool(p.categories) and p.categories[0] == primary for p in found) / TOP
            others = set().union(*(author_papers[a] for a in q.authors)) - {q.id}
            if others:
                shared = sum(p.id in others for p in found)
                auth[q.id], auth_hit[q.id] = shared / TOP, float(shared > 0)
        rows[name] = {"cat": cat, "auth": auth, "hit": auth_hit}
        print(f"  {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)

    def mean(values: dict[str, float], only: set[str] | None = None) -> str:
        kept = [v for k, v in values.items() if only is None or k in only]
        return f"{statistics.fmean(kept):.4f}" if kept else "-"

    n_auth = len(rows["dense"]["auth"])
    print(
        f"\n{len(queries)} abstracts as drafts ({len(multi)} of more than one passage; "
        f"{n_auth} whose paper shares an author with another paper), top {TOP}, own paper "
        "excluded\n"
    )
    print("| method | same cat | author | author hit | same cat, multi-passage | author, multi |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(
            f"| {name} | {mean(r['cat'])} | {mean(r['auth'])} | {mean(r['hit'])} "
            f"| {mean(r['cat'], multi)} | {mean(r['auth'], multi)} |"
        )
    print("\nmean difference to dense, 95 % paired bootstrap interval (multi-passage queries)\n")
    print("| method | same cat | author |")
    print("|---|---|---|")
    for name, r in rows.items():
        if name.startswith("draft-"):
            cells = [
                difference(r[m], rows["dense"][m], multi, random.Random(0)) for m in ("cat", "auth")
            ]
            print(f"| {name} | {cells[0]} | {cells[1]} |")


def mixtures(engine: Engine, papers: list[Paper], n: int, size: int, rng: random.Random) -> None:
    """Texts made of ``size`` abstracts of one primary category: how many of those papers
    each method puts in its top 10 (the long-text case, past one vector's 256 tokens)."""
    by_cat: dict[str, list[Paper]] = defaultdict(list)
    for p in papers:
        if p.categories and len(p.abstract.split()) >= MIN_WORDS:
            by_cat[p.categories[0]].append(p)
    pools = [group for group in by_cat.values() if len(group) >= size]
    if not pools:
        return
    weights = [len(group) for group in pools]
    cases = []
    for _ in range(n):
        group = rng.choices(pools, weights)[0]
        cases.append(rng.sample(group, size))
    texts = ["\n\n".join(p.abstract for p in case) for case in cases]
    sizes = [len(passages(t)) for t in texts]
    print(
        f"\n{len(cases)} texts of {size} abstracts of one primary category "
        f"({statistics.fmean(len(t) for t in texts):,.0f} characters, "
        f"{statistics.fmean(sizes):.1f} passages on average): share of the {size} papers in "
        f"the top {TOP}, and of the top {TOP} in the category\n"
    )
    print(f"| method | its papers@{TOP} | same cat |")
    print("|---|---:|---:|")
    by_id = {p.id: p for p in papers}
    for name, method in methods().items():
        found, cat = [], []
        for case, text in zip(cases, texts, strict=True):
            ids = method(engine, text, TOP)
            found.append(len({p.id for p in case} & set(ids)) / size)
            primary = case[0].categories[0]
            top = [by_id[i] for i in ids if i in by_id]
            cat.append(sum(bool(p.categories) and p.categories[0] == primary for p in top) / TOP)
        print(f"| {name} | {statistics.fmean(found):.4f} | {statistics.fmean(cat):.4f} |")


def difference(a: dict[str, float], b: dict[str, float], only: set[str], rng: random.Random) -> str:
    """Mean of a - b over the shared keys in ``only``, with a 95 % bootstrap interval."""
    keys = sorted(k for k in a.keys() & b.keys() if k in only)
    if not keys:
        return "-"
    d = np.array([a[k] - b[k] for k in keys])
    idx = np.array([[rng.randrange(len(d)) for _ in d] for _ in range(1000)])
    lo, hi = np.percentile(d[idx].mean(axis=1), [2.5, 97.5])
    return f"{d.mean():+.4f} [{lo:+.4f}, {hi:+.4f}]"


def long_texts(papers: list[Paper], n: int, rng: random.Random) -> list[str]:
    """``n`` texts of about ``MAX_CHARS`` characters, each abstracts of one primary category."""
    by_cat: dict[str, list[Paper]] = defaultdict(list)
    for p in papers:
        if p.categories and p.abstract:
            by_cat[p.categories[0]].append(p)
    size = {c: sum(len(p.abstract) for p in group) for c, group in by_cat.items()}
    seeds = [p for p in papers if p.categories and size.get(p.categories[0], 0) > MAX_CHARS]
    out = []
    for seed in rng.sample(seeds, min(n, len(seeds))):
        text = seed.abstract
        for other in by_cat[seed.categories[0]]:
            if len(text) >= MAX_CHARS:
                break
            if other.id != seed.id:
                text += "\n\n" + other.abstract
        cut = text[:MAX_CHARS]
        out.append(cut[: cut.rfind(". ") + 1] if ". " in cut else cut)
    return out


def latency(engine: Engine, texts: list[str]) -> None:
    """p50 / p95 milliseconds per 20,000-character text."""
    runs: dict[str, Callable[[str], object]] = {
        "draft hybrid": lambda t: search_draft(engine, t, "hybrid", TOP),
        "draft dense": lambda t: search_draft(engine, t, "dense", TOP),
        "draft bm25": lambda t: search_draft(engine, t, "bm25", TOP),
        "plain dense (one vector)": lambda t: engine.search(t, "dense", TOP),
    }
    sizes = [len(passages(t)) for t in texts]
    print(
        f"\n{len(texts)} texts of {min(map(len, texts)):,}-{max(map(len, texts)):,} characters "
        f"({min(sizes)}-{max(sizes)} passages), k={TOP}, encoding included\n"
    )
    print("| method | p50 ms | p95 ms |")
    print("|---|---:|---:|")
    for name, run in runs.items():
        run(texts[0][: MAX_CHARS // 2])  # warm up (another text: queries' vectors are cached)
        times = []
        for t in texts:
            start = time.perf_counter()
            run(t)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(f"| {name} | {statistics.median(times):.0f} | {p95:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="an indexed data dir of the papers")
    parser.add_argument("--papers", default=str(PAPERS), help="the papers file (JSONL[.gz])")
    parser.add_argument("--limit", type=int, help="read only the first N papers of the file")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--latency", type=int, default=20, help="20,000-character texts timed")
    parser.add_argument("--mixtures", type=int, default=100, help="texts of several abstracts")
    parser.add_argument("--mix-size", type=int, default=5, help="abstracts per mixture text")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data_dir = Path(args.data_dir)
    if not (data_dir / "sciseek.db").exists():
        parser.error(f"{data_dir} is not an indexed data dir (run sciseek index first)")
    papers = load(Path(args.papers), args.limit)
    rng = random.Random(args.seed)
    eligible = [p for p in papers if len(p.abstract.split()) >= MIN_WORDS]
    queries = rng.sample(eligible, min(args.queries, len(eligible)))

    name, flags = cpu_flags()
    print(f"Machine: {name}, {len(os.sched_getaffinity(0))} cores; flags: {' '.join(flags)}")
    print(f"Date: {datetime.date.today()}; command: python {' '.join(sys.argv)}")
    with Engine.open(data_dir) as engine:
        state = engine.index_progress()
        print(
            f"{len(papers):,} papers read; the data dir holds {state['lexical']['papers']:,}, "
            f"{state['dense']['documents']:,} encoded"
        )
        if not state["dense"]["up_to_date"]:
            print("warning: the dense index is behind the store (run sciseek sync)")
        engine.search("warm up the encoder", k=1)
        quality(engine, papers, queries)
        if args.mixtures:
            mixtures(engine, papers, args.mixtures, args.mix_size, rng)
        if args.latency:
            latency(engine, long_texts(papers, args.latency, rng))


if __name__ == "__main__":
    main()
