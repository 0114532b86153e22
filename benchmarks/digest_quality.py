"""Digest quality per kind of interest: simulated days of new papers through the real selection.

python benchmarks/digest_quality.py [--work DIR] [--start 2026-06-15] [--weeks 3]
    [--keyword 400] [--liked 20] [--claims 100] [--pairs FILE] [--read FILE] [--audit FILE]

For each kind of interest (``digest_judgments``: short keyword phrases, liked papers, long
category descriptions, SciFact claims) a subscriber is simulated over ``--weeks`` weeks of
daily digests: each day's new papers (the arXiv listings of that day in publication order;
for claims, the SciFact corpus dealt into 7 seeded days) go through ``digest.select``, the code
``sciseek digest send`` runs, with the shipped relevance model and threshold. Reported per kind:
papers per digest sent, precision and recall of everything sent against the judgments (micro,
unjudged papers left out of precision), and the share of interests that received nothing in a
week although judged-relevant papers arrived. For claims it also reports the calibration
benchmark's figure (precision, recall and F1 of "P >= threshold" over each SciFact test
query's top 100 hybrid candidates of the whole corpus). Keyword interests are reported twice:
on the lexical judgments of every mined phrase, and on the reading judgments (``--read``,
``digest_read.tsv``, built with ``digest_pool.py``) of a seeded sample of test phrases.

The arXiv data dir (a seeded background sample, the liked papers, the fit week and the
simulated weeks) and the SciFact one are built once under ``--work`` (minutes on 2 CPU cores).
``--pairs FILE`` also writes the candidate pairs of the fit week and SciFact train (cosine,
query words, label, kind, the short-phrase features) that ``relevance.py``'s models are
fitted on, and those of
the simulated weeks, for comparing models on held-out data (``digest_fit.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import digest_judgments as dj  # noqa: E402

from sciseek import Engine, Paper  # noqa: E402
from sciseek.digests.digest import CANDIDATES, select  # noqa: E402
from sciseek.digests.interests import Interests  # noqa: E402
from sciseek.digests.subscriptions import Subscriber  # noqa: E402
from sciseek.index.word_match import NO_MATCH, word_matches  # noqa: E402
from sciseek.ingest.papers import Filters  # noqa: E402
from sciseek.quality.evaluation import load_dataset  # noqa: E402
from sciseek.search.indexing import index_files  # noqa: E402
from sciseek.search.relevance import THRESHOLD, query_words  # noqa: E402

DAYS = 7
BACKGROUND = 1000  # stored papers sampled for the spread of an interest's cosines


def _paper(p: dict) -> Paper:
    return Paper(
        p["id"],
        p["title"],
        p["abstract"],
        authors=p["authors"],
        categories=p["categories"],
        published=p["published"],
    )


def _week(start: str, weeks: int, offset_days: int = 0) -> tuple[str, str]:
    s = dt.date.fromisoformat(start) + dt.timedelta(days=offset_days)
    return s.isoformat(), (s + dt.timedelta(days=7 * weeks)).isoformat()


def build_arxiv(args: argparse.Namespace, work: Path) -> tuple[Path, dict]:
    """The arXiv data dir and its interests {"fit": [...], "test": [...]} with the days."""
    tag = f"arxiv-{args.start}-{args.weeks}w-fit{args.fit_start}-bg{args.background}-s{args.seed}"
    data_dir = work / tag
    cache = work / f"{tag}-interests-{args.keyword}-{args.liked}-v{dj.VERSION}.json"
    built = (data_dir / "sciseek.db").exists()
    if cache.exists() and built:
        return data_dir, json.loads(cache.read_text())
    papers = dj.load_arxiv(Path(args.shared) / "arxiv" / "papers.jsonl.gz")
    fit_from, fit_to = _week(args.fit_start, 1)
    win_from, win_to = _week(args.start, args.weeks)
    if fit_to > win_from:
        raise SystemExit("the fit week must end before the simulated weeks start")
    older = [p for p in papers if p["published"] < fit_from]
    fit_week = [p for p in papers if fit_from <= p["published"] < fit_to]
    window = [p for p in papers if win_from <= p["published"] < win_to]
    out: dict = {}
    seeds: list[dict] = []
    for part, period in (("fit", fit_week), ("test", window)):
        interests, liked = dj.arxiv_interests(
            older, period, part, n_keyword=args.keyword, n_liked=args.liked, seed=args.seed
        )
        seeds += liked
        out[part] = [
            {**i.__dict__, "relevant": sorted(i.relevant), "unjudged": sorted(i.unjudged)}
            for i in interests
        ]
    out["fit_days"] = _days(fit_week)
    out["test_days"] = _days(window)
    # The judgments may change without the papers changing: then only the liked papers that
    # are new to the data dir are added.
    background = random.Random(args.seed).sample(older, args.background)
    store = {p["id"]: p for p in background + seeds + fit_week + window}
    start = time.perf_counter()
    with Engine.open(data_dir, log=lambda m: None) as engine:
        missing = [_paper(p) for p in store.values() if not built or engine.get(p["id"]) is None]
        engine.add(missing)
    took = time.perf_counter() - start
    print(f"arxiv: {len(missing)} papers indexed in {took:.0f} s", flush=True)
    cache.write_text(json.dumps(out))
    return data_dir, out


def _days(papers: list[dict]) -> list[list[str]]:
    by_day: dict[str, list[str]] = defaultdict(list)
    for p in papers:
        by_day[p["published"]].append(p["id"])
    return [by_day[d] for d in sorted(by_day)]


def build_scifact(args: argparse.Namespace, work: Path) -> tuple[Path, dict]:
    """The SciFact data dir, its claims (test: a seeded sample of ``--claims``; train: all)
    and the corpus dealt into 7 seeded days."""
    data_dir = work / "scifact"
    test = load_dataset(Path(args.shared) / "scifact", "test")
    train = load_dataset(Path(args.shared) / "scifact", "train")
    with Engine.open(data_dir, log=lambda m: None) as engine:
        if engine.store.count() == 0:
            index_files(engine, [test.corpus], "beir")
        ids = sorted(d["_id"] for d in _json_lines(test.corpus))
    rng = random.Random(args.seed)
    rng.shuffle(ids)
    days = [sorted(ids[d::DAYS]) for d in range(DAYS)]

    def claims(ds, n: int | None) -> list[dict]:
        relevant: dict[str, set[str]] = defaultdict(set)
        for q in ds.qrels:
            if q.relevance > 0:
                relevant[q.query_id].add(q.doc_id)
        qids = sorted(q for q in relevant if ds.queries.get(q, "").strip())
        if n is not None and n < len(qids):
            qids = sorted(random.Random(args.seed).sample(qids, n))
        return [
            {"kind": "claim", "text": ds.queries[q], "relevant": sorted(relevant[q] - {q})}
            for q in qids
        ]

    return data_dir, {
        "test": claims(test, args.claims),
        "fit": claims(train, None),
        "all_test": claims(test, None),
        "test_days": days,
    }


def _json_lines(path: Path) -> list[dict]:
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _subscriber(interest: dict) -> Subscriber:
    seed = interest.get("seed")
    interests = Interests(papers=(seed,)) if seed else Interests(queries=(interest["text"],))
    return Subscriber(0, "reader@example.org", interests, "daily", "active", "", None, "")


def simulate(engine: Engine, interests: list[dict], days: list[list[str]]) -> dict:
    """Per-kind figures of daily digests over ``days`` for each interest."""
    per_kind: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    for interest in interests:
        relevant, unjudged = set(interest["relevant"]), set(interest.get("unjudged", ()))
        sub = _subscriber(interest)
        k = per_kind[interest["kind"]]
        for w in range(0, len(days), DAYS):
            week = days[w : w + DAYS]
            arrived = relevant & {i for day in week for i in day}
            sent: set[str] = set()
            for day in week:
                matches, more = select(engine, sub, day)
                if matches:
                    k["digests"] += 1
                    k["papers"] += len(matches)
                sent |= {m.paper.id for m in matches}
            k.setdefault("sent_pairs", set()).update((interest["text"], i) for i in sent)
            k["interest_weeks"] += 1
            k["sent_judged"] += len(sent - unjudged)
            k["hits"] += len(sent & relevant)
            k["relevant"] += len(arrived)
            if arrived:
                k["weeks_with_relevant"] += 1
                k["weeks_empty"] += not sent
    return per_kind


def load_read(path: Path) -> dict[tuple[str, str], dict[str, int]]:
    """{(phrase, part): {paper id: 1 on topic, 0 not}} of the reading judgments."""
    judged: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        phrase, pid, on, part = line.split("\t")
        judged[(phrase, part)][pid] = int(on)
    return judged


def read_interests(interests: list[dict], judged: dict, part: str) -> list[dict]:
    """The keyword interests of ``part`` that were judged by reading, with those judgments:
    relevant = read on topic; every other paper not relevant (a paper outside the pool too,
    as in TREC pooling), none unjudged."""
    out = []
    for i in interests:
        labels = judged.get((i["text"], part)) if i["kind"] == "keyword" else None
        if labels is not None:
            on = sorted(pid for pid, v in labels.items() if v)
            out.append({**i, "relevant": on, "unjudged": [], "pool": sorted(labels)})
    return out


def outside_pool(k: dict, interests: list[dict]) -> int:
    """How many of the papers sent to ``interests`` were not in their reading pool."""
    pool = {(i["text"], pid) for i in interests for pid in i["pool"]}
    return len(k.get("sent_pairs", set()) - pool)


def lexical_misses(k: dict, lexical: list[dict], read: list[dict]) -> str:
    """How many of the papers sent to the read interests that the lexical rules judge not
    relevant are on topic by reading."""
    stated = {i["text"]: set(i["relevant"]) | set(i["unjudged"]) for i in lexical}
    on = {(i["text"], pid) for i in read for pid in i["relevant"]}
    missed = [(q, pid) for q, pid in k.get("sent_pairs", ()) if pid not in stated.get(q, ())]
    share = sum(p in on for p in missed) / len(missed) if missed else float("nan")
    return (
        f"of the {len(missed)} sent papers the lexical rules judge not relevant, "
        f"{share:.0%} are on topic by reading"
    )


def load_audit(path: Path) -> dict[tuple[str, str], int]:
    """{(phrase, paper id): 1 on topic, 0 not} of the read-and-judged sample."""
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return {(q, pid): int(on) for q, pid, on, _ in (ln.split("\t") for ln in lines)}


def audited(k: dict, audit: dict[tuple[str, str], int]) -> str:
    """How many of the papers sent that the audit covers were judged on topic by reading."""
    covered = [audit[p] for p in k.get("sent_pairs", ()) if p in audit]
    if not covered:
        return "none of the sent papers is in the audit"
    on = sum(covered)
    share = on / len(covered)
    return f"{on} of the {len(covered)} sent papers the audit covers are on topic ({share:.0%})"


def _row(kind: str, k: dict) -> str:
    precision = k["hits"] / k["sent_judged"] if k["sent_judged"] else float("nan")
    recall = k["hits"] / k["relevant"] if k["relevant"] else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    per_digest = k["papers"] / k["digests"] if k["digests"] else 0.0
    empty = k["weeks_empty"] / k["weeks_with_relevant"] if k["weeks_with_relevant"] else 0.0
    return (
        f"| {kind} | {int(k['interest_weeks'])} | {per_digest:.1f} | {precision:.3f} "
        f"| {recall:.3f} | {f1:.3f} | {empty:.1%} |"
    )


def scifact_f1(engine: Engine, claims: list[dict], depth: int = 100) -> tuple[float, ...]:
    """Precision, recall and F1 of "P >= THRESHOLD" over each claim's top ``depth`` hybrid
    candidates of the whole corpus (recall over every judged-relevant document)."""
    kept = hits = total = 0
    for c in claims:
        wanted = set(c["relevant"])
        total += len(wanted)
        found = engine.search(c["text"], mode="hybrid", k=depth, min_score=THRESHOLD)
        kept += len(found)
        hits += sum(h.paper.id in wanted for h in found)
    precision, recall = hits / kept if kept else 1.0, hits / total
    return precision, recall, 2 * precision * recall / (precision + recall), kept


def pairs(engine: Engine, interests: list[dict], days: list[list[str]], part: str) -> list:
    """Digest candidates [cosine, query words, label (-1: unjudged), kind, interest no, rank,
    part, z, bm25, coverage, phrase, acronym, query, paper id] of each interest on each day
    (for claims over the whole corpus, as in calibration); z is how many standard deviations
    the cosine stands above the query's cosines with a seeded sample of the stored papers,
    the next four are ``word_matches``'s."""
    dense = engine.dense
    count = engine.store.count()
    background = random.Random(0).sample(range(1, count + 1), min(BACKGROUND, count))
    out = []
    for n, interest in enumerate(interests):
        relevant, unjudged = set(interest["relevant"]), set(interest.get("unjudged", ()))
        seed = interest.get("seed")
        query = interest["text"]
        qvec = dense.encode_query(query)
        spread = np.array(list(dense.scores(qvec, background).values()))
        mean, std = float(spread.mean()), float(spread.std()) or 1.0
        for day in days or [None]:
            filters = Filters(ids=tuple(day)) if day else None
            k = min(len(day), CANDIDATES) if day else CANDIDATES
            if seed:
                hits = engine.similar(seed, k, filters=filters)
            else:
                hits = engine.search(query, mode="hybrid", k=k, filters=filters)
            rowids = [engine.store.rowid(h.paper.id) for h in hits]
            cos = dense.scores(qvec, [r for r in rowids if r is not None])
            titles = {r: h.paper.title for h, r in zip(hits, rowids, strict=True) if r}
            words = word_matches(engine.lexical, query, [h.paper.id for h in hits], titles)
            for rank, (h, r) in enumerate(zip(hits, rowids, strict=True)):
                if r is None or r not in cos:
                    continue
                label = -1 if h.paper.id in unjudged else int(h.paper.id in relevant)
                z = (float(cos[r]) - mean) / std
                match = words.get(r, NO_MATCH)
                kind = interest["kind"]
                out.append([float(cos[r]), query_words(query), label, kind, n, rank, part, z])
                out[-1] += [match.bm25, match.coverage, float(match.phrase), float(match.acronym)]
                out[-1] += [query, h.paper.id]
    return out


def arguments() -> argparse.ArgumentParser:
    """The command line, shared with ``digest_pool.py`` (same data dirs and interests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser.add_argument("--work", default=tempfile.gettempdir() + "/sciseek-digest")
    parser.add_argument("--start", default="2026-06-15", help="first simulated day")
    parser.add_argument("--weeks", type=int, default=3, help="simulated weeks")
    parser.add_argument("--fit-start", default="2026-06-01", help="the fit week's first day")
    parser.add_argument("--background", type=int, default=500, help="older papers in store")
    parser.add_argument(
        "--keyword", type=int, default=400, help="keyword interests per half (at most)"
    )
    parser.add_argument("--liked", type=int, default=20, help="liked-paper interests per half")
    parser.add_argument("--claims", type=int, default=100, help="SciFact test claims simulated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pairs", metavar="FILE", help="also write judged candidate pairs")
    parser.add_argument(
        "--audit",
        default=str(Path(__file__).resolve().parent / "digest_audit.tsv"),
        help="keyword-interest papers judged by reading (phrase, paper, on_topic, sample)",
    )
    parser.add_argument(
        "--read",
        default=str(Path(__file__).resolve().parent / "digest_read.tsv"),
        help="the reading judgments of a sample of keyword phrases (digest_pool.py)",
    )
    parser.add_argument(
        "--pairs-only", action="store_true", help="with --pairs: skip the simulation"
    )
    return parser


def main() -> None:
    args = arguments().parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    arxiv_dir, arxiv = build_arxiv(args, work)
    scifact_dir, scifact = build_scifact(args, work)
    print(f"data ready in {time.perf_counter() - start:.0f} s\n", flush=True)
    print(f"the shipped thresholds; {args.weeks} week(s) from {args.start}\n")
    print("| kind | interest-weeks | papers per digest | precision | recall | F1 | nothing |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    all_pairs: list = []
    with Engine.open(arxiv_dir, log=lambda m: None) as engine:
        if not args.pairs_only:
            figures = simulate(engine, arxiv["test"], arxiv["test_days"])
            for kind in ("keyword", "liked", "description"):
                print(_row(kind, figures[kind]), flush=True)
            audit = load_audit(Path(args.audit))
            keyword_audit = audited(figures["keyword"], audit)
            read = read_interests(arxiv["test"], load_read(Path(args.read)), "test")
            by_reading = simulate(engine, read, arxiv["test_days"])["keyword"]
            print(_row("keyword, judged by reading", by_reading), flush=True)
            read_note = (
                f"{len(read)} of the test phrases; {outside_pool(by_reading, read)} sent "
                "papers outside their pool, counted as not relevant; "
                + lexical_misses(by_reading, arxiv["test"], read)
            )
        if args.pairs:
            all_pairs += pairs(engine, arxiv["fit"], arxiv["fit_days"], "fit")
            all_pairs += pairs(engine, arxiv["test"], arxiv["test_days"], "test")
    with Engine.open(scifact_dir, log=lambda m: None) as engine:
        if not args.pairs_only:
            figures = simulate(engine, scifact["test"], scifact["test_days"])
            print(_row("claim", figures["claim"]), flush=True)
            print(f"\nkeyword, judged by reading ({args.read}): {read_note}")
            print(f"keyword, read and judged ({args.audit}): {keyword_audit}")
            precision, recall, f1, kept = scifact_f1(engine, scifact["all_test"])
            print(
                f"\nSciFact test, top-100 hybrid candidates of each of "
                f"{len(scifact['all_test'])} claims, P >= {THRESHOLD}: {kept} kept, "
                f"precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}"
            )
        if args.pairs:
            all_pairs += pairs(engine, scifact["fit"], [], "fit")
            all_pairs += pairs(engine, scifact["all_test"], [], "test")
    if args.pairs:
        Path(args.pairs).write_text(json.dumps(all_pairs))
        print(f"\nwrote {len(all_pairs)} pairs to {args.pairs}")
    print(f"\n{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
