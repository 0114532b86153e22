"""What the compressed dense index costs in quality: the same queries with it forced on and
with exact fp32 search, on SciFact (test judgments) and on the shared arXiv papers (a seeded
sample of titles as queries, the paper itself the answer, as in the speed benchmarks).

python benchmarks/compressed_quality.py [--work DIR] [--arxiv-dir DIR] [--titles 1000]
    [--sets scifact,arxiv] [--budget N]

SciFact is indexed once into WORK/scifact; the arXiv papers come from ``--arxiv-dir``, a
complete data dir of ../shared/data/arxiv/papers.jsonl.gz (``sciseek index``; default
WORK/real75k). SciFact runs through ``Engine.search``; the title queries are scored on the
retrievers' fused ranking without the exact-title pin, which would answer each of them by
itself in every mode. Prints a Markdown table of nDCG@10 and MRR@10 for dense and hybrid.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import ir_measures

from sciseek import Engine, Paper, read_papers
from sciseek.index import compressed, vectors
from sciseek.quality.evaluation import Dataset, evaluate, evaluate_run, load_dataset

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODES = ("dense", "hybrid")


def unpinned(engine: Engine, dataset: Dataset, mode: str) -> dict[str, float]:
    """``dataset``'s metrics for the retrievers' fused ranking itself, without the search
    path's exact-title pin (which alone answers every title query)."""
    names = ["dense"] if mode == "dense" else ["bm25", "dense"]
    run = {}
    for qid, text in dataset.queries.items():
        runs = engine.runs(text, names)
        if mode == "dense":
            run[qid] = sorted(runs["dense"].items(), key=lambda x: -x[1])[:10]
        else:
            run[qid] = engine.fuse(runs, 10, complete={"dense"})
    return evaluate_run(run, dataset)


def scored(
    data_dir: Path, dataset: Dataset, compressed: bool, pinned: bool
) -> dict[str, dict[str, float]]:
    """Per mode, the metrics of ``dataset``'s queries with the compressed index on or off."""
    vectors.COMPRESS_ABOVE = 0 if compressed else 10**12
    with Engine.open(data_dir, log=lambda m: print(f"  {m}", file=sys.stderr)) as engine:
        engine.dense.refresh()
        assert engine.dense.compressed == compressed
        if pinned:
            return {mode: evaluate(engine, dataset, mode).metrics for mode in MODES}
        return {mode: unpinned(engine, dataset, mode) for mode in MODES}


def title_queries(data_dir: Path, n: int) -> Dataset:
    """``n`` seeded random papers' titles, each judged to be answered by its paper."""
    with Engine.open(data_dir, log=lambda m: None) as engine:
        sample = engine.store.rowid_sample(engine.store.count())
        picks = random.Random(7).sample(sample, n)
        papers = engine.store.get_by_rowids(picks)
    # query ids differ from paper ids: a paper never counts as the answer to its own id
    queries = {f"title:{p.id}": p.title for p in papers.values()}
    qrels = [ir_measures.Qrel(qid, qid.removeprefix("title:"), 1) for qid in queries]
    return Dataset("arxiv-titles", data_dir, queries, qrels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/sciseek-bench"))
    parser.add_argument("--arxiv-dir", type=Path)
    parser.add_argument("--titles", type=int, default=1000)
    parser.add_argument("--sets", default="scifact,arxiv", help="comma-separated")
    parser.add_argument(
        "--budget",
        type=int,
        help="codes scanned a query (compressed.SCAN_BUDGET; smaller mimics a larger store)",
    )
    args = parser.parse_args()
    if args.budget:
        compressed.SCAN_BUDGET = args.budget
    sets = args.sets.split(",")
    runs = []
    if "scifact" in sets:
        scifact_dir, scifact = args.work / "scifact", load_dataset(SHARED / "scifact")
        if not (scifact_dir / "sciseek.db").exists():
            with Engine.open(scifact_dir) as engine:
                engine.add(p for p in read_papers(scifact.corpus) if isinstance(p, Paper))
        runs.append(("scifact", scifact_dir, scifact, True))
    if "arxiv" in sets:
        arxiv_dir = args.arxiv_dir or args.work / "real75k"
        queries = title_queries(arxiv_dir, args.titles)
        runs.append(("arxiv titles, no title pin", arxiv_dir, queries, False))
    print("| set | mode | metric | exact fp32 | compressed | change |")
    print("|---|---|---|---:|---:|---:|")
    for name, data_dir, dataset, pinned in runs:
        exact = scored(data_dir, dataset, False, pinned)
        packed = scored(data_dir, dataset, True, pinned)
        for mode in MODES:
            for metric in ("ndcg@10", "mrr@10"):
                a, b = exact[mode][metric], packed[mode][metric]
                print(f"| {name} | {mode} | {metric} | {a:.4f} | {b:.4f} | {b - a:+.4f} |")


if __name__ == "__main__":
    main()
