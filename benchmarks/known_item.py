"""Known-item search on the shared arXiv papers: method names, acronyms, authors, title prefixes.

python benchmarks/known_item.py [--sample N | --full] [--seed S] [--per-kind Q] [--work DIR]

A seeded sample of the shared arXiv set (default 5,000 of its 74,728 papers; ``--full`` for
all) is indexed once into ``--work`` (kept, so reruns skip encoding). Queries are built from the
sample itself, deterministically (``--seed``), ``--per-kind`` of each kind:

- ``method``: a name from a title with a capital inside a word ("DiffuseSlide", "Time-MoE",
  "VoxCPM2") that appears, lower-cased, in exactly one title of the sample; the answer is that
  paper.
- ``acronym``: an all-capitals token from a title ("UWM", "KAME") in exactly one
  title; the answer is that paper.
- ``author``: "papers by FIRST LAST" for an author whose last name is on at most 5 papers; the
  answers are every paper listing that exact name.
- ``author-year``: "LAST YEAR" for the same kind of author; the answers are the papers with an
  author of that last name published that year.
- ``prefix``: the first four words of a title (of at least seven words) that no other title
  starts with; the answer is that paper.
- ``question``: a paraphrase stand-in, made without a model: the abstract's second sentence (or
  first) with every word of the title removed, cut to 24 words. Limits: it is still the paper's
  own wording, minus its most telling words, not a question a person would write; it contrasts
  topical queries with the navigational kinds above, it does not measure paraphrase robustness.

Each query is run in four ways: ``bm25``, ``dense``, ``hybrid`` (z-score fusion with fixed
weights, as before query-adaptive fusion) and ``default`` (what ``sciseek search`` runs). The
figure is MRR@10 per kind; prints a Markdown table (``--json`` for one JSON line per cell).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sciseek import Engine, Paper
from sciseek.search.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("method", "acronym", "author", "author-year", "prefix", "question")
METHODS = ("bm25", "dense", "hybrid", "default")
_TOKEN = re.compile(r"[\w][\w\-]*[\w]|\w")
_METHOD = re.compile(r"^(?=.*[a-z])[\w-]*(?:[a-z0-9][A-Z]|[A-Z]{2}[a-z])[\w-]*$")
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")
_STOP_TITLE = {"a", "an", "the", "of", "and", "for", "in", "on", "to", "with", "via", "by"}


@dataclass(frozen=True)
class Query:
    """One known-item query and the ids of the papers that answer it."""

    kind: str
    text: str
    answers: frozenset[str]


def load_sample(path: Path, sample: int | None, seed: int) -> list[Paper]:
    """The shared arXiv papers, or a seeded sample of ``sample`` of them, in id order."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    if sample is not None and sample < len(records):
        records = random.Random(seed).sample(records, sample)
    records.sort(key=lambda r: r["id"])
    return [
        Paper(
            r["id"],
            r["title"],
            r.get("abstract") or "",
            list(r.get("authors") or []),
            list(r.get("categories") or []),
            r.get("published"),
        )
        for r in records
    ]


def title_tokens(title: str) -> list[str]:
    """A title's tokens as written (hyphenated words kept whole)."""
    return _TOKEN.findall(title)


def build_queries(papers: list[Paper], per_kind: int, seed: int) -> list[Query]:
    """``per_kind`` queries of each kind, drawn deterministically from the papers."""
    rng = random.Random(seed)
    in_titles: Counter[str] = Counter()
    for p in papers:
        in_titles.update({t.lower() for t in title_tokens(p.title)})
    by_kind: dict[str, list[Query]] = defaultdict(list)
    for p in papers:
        for t in dict.fromkeys(title_tokens(p.title)):
            if in_titles[t.lower()] != 1:
                continue
            if _ACRONYM.match(t) and sum(c.isalpha() for c in t) >= 2:
                by_kind["acronym"].append(Query("acronym", t, frozenset([p.id])))
            elif _METHOD.match(t) and len(t) >= 4:
                by_kind["method"].append(Query("method", t, frozenset([p.id])))
    by_kind["author"], by_kind["author-year"] = author_queries(papers)
    prefixes: Counter[str] = Counter()
    for p in papers:
        prefixes[" ".join(p.title.lower().split()[:4])] += 1
    for p in papers:
        words = p.title.split()
        if len(words) >= 7 and prefixes[" ".join(w.lower() for w in words[:4])] == 1:
            by_kind["prefix"].append(Query("prefix", " ".join(words[:4]), frozenset([p.id])))
    for p in papers:
        text = question(p)
        if text:
            by_kind["question"].append(Query("question", text, frozenset([p.id])))
    out = []
    for kind in KINDS:
        pool = by_kind[kind]
        out += rng.sample(pool, min(per_kind, len(pool)))
    return out


def author_queries(papers: list[Paper]) -> tuple[list[Query], list[Query]]:
    """'papers by FIRST LAST' and 'LAST YEAR' queries for authors with a rare last name."""
    by_name: dict[str, set[str]] = defaultdict(set)
    by_last: dict[str, set[str]] = defaultdict(set)
    for p in papers:
        for a in p.authors:
            parts = a.split()
            if len(parts) >= 2 and parts[-1].isalpha() and len(parts[-1]) >= 3:
                by_name[a].add(p.id)
                by_last[parts[-1].lower()].add(p.id)
    year = {p.id: (p.published or "")[:4] for p in papers}
    full, dated, seen = [], [], set()
    for name in sorted(by_name):
        last = name.split()[-1]
        if len(by_last[last.lower()]) > 5 or last.lower() in seen:
            continue
        seen.add(last.lower())
        full.append(Query("author", f"papers by {name}", frozenset(by_name[name])))
        pid = min(by_name[name])
        if year[pid]:
            answers = frozenset(i for i in by_last[last.lower()] if year[i] == year[pid])
            dated.append(Query("author-year", f"{last} {year[pid]}", answers))
    return full, dated


def question(p: Paper) -> str:
    """An abstract sentence with the title's words removed, or '' when too little is left."""
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", p.abstract) if len(s.split()) >= 8]
    if not sentences:
        return ""
    sentence = sentences[1] if len(sentences) > 1 else sentences[0]
    drop = {w.lower() for w in re.findall(r"\w+", p.title)} - _STOP_TITLE
    words = [w for w in re.findall(r"[\w'-]+", sentence) if w.lower() not in drop]
    return " ".join(words[:24]) if len(words) >= 6 else ""


def mrr_at_10(ranked: Iterable[str], answers: frozenset[str]) -> float:
    """1 / rank of the first answer in the top ten, else 0."""
    for rank, pid in enumerate(list(ranked)[:10], 1):
        if pid in answers:
            return 1.0 / rank
    return 0.0


def index(work: Path, papers: list[Paper]) -> Path:
    """The data dir for these papers under ``work``, built (and encoded) on the first run."""
    data_dir = work / f"arxiv-{len(papers)}-{papers[0].id}-{papers[-1].id}"
    with Engine.open(data_dir, log=lambda m: None) as engine:
        if engine.store.count() != len(papers):
            start = time.perf_counter()
            for i in range(0, len(papers), 2000):
                engine.add(papers[i : i + 2000])
            seconds = time.perf_counter() - start
            print(f"indexed {len(papers)} papers in {seconds:.0f} s", flush=True)
        engine.dense  # noqa: B018 - catches the dense index up
    return data_dir


def evaluate(data_dir: Path, queries: list[Query]) -> dict[tuple[str, str], float]:
    """MRR@10 of every (kind, method)."""
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    fixed = Settings(adaptive=False)
    with (
        Engine.open(data_dir, log=lambda m: None) as default,
        Engine.open(data_dir, log=lambda m: None, settings=fixed) as hybrid,
    ):
        for q in queries:
            for method in METHODS:
                engine = hybrid if method == "hybrid" else default
                mode = "hybrid" if method in ("hybrid", "default") else method
                ranked = [pid for pid, _ in engine.search_ids(q.text, mode, k=10)]
                scores[(q.kind, method)].append(mrr_at_10(ranked, q.answers))
    return {key: sum(v) / len(v) for key, v in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work", default=tempfile.gettempdir() + "/sciseek-known-item")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--sample", type=int, default=5000, help="papers in the seeded sample")
    size.add_argument("--full", action="store_true", help="all 74,728 papers")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--per-kind", type=int, default=100, help="queries of each kind")
    parser.add_argument("--json", action="store_true", help="one JSON line per kind x method")
    args = parser.parse_args()
    source = Path(args.shared) / "arxiv" / "papers.jsonl.gz"
    papers = load_sample(source, None if args.full else args.sample, args.seed)
    queries = build_queries(papers, args.per_kind, args.seed)
    data_dir = index(Path(args.work), papers)
    start = time.perf_counter()
    mrr = evaluate(data_dir, queries)
    counts = Counter(q.kind for q in queries)
    if args.json:
        for (kind, method), value in sorted(mrr.items()):
            print(json.dumps({"kind": kind, "method": method, "mrr@10": round(value, 4)}))
        return
    print(f"{len(papers)} papers, {len(queries)} queries, {time.perf_counter() - start:.0f} s\n")
    print("| kind | queries | " + " | ".join(METHODS) + " |")
    print("|---|---:|" + "---:|" * len(METHODS))
    for kind in KINDS:
        if counts[kind]:
            cells = " | ".join(f"{mrr[(kind, m)]:.3f}" for m in METHODS)
            print(f"| {kind} | {counts[kind]} | {cells} |")


if __name__ == "__main__":
    main()
