"""Is a model's hybrid nDCG@10 really different from the bundled model's? Per-query comparison.

python benchmarks/paired.py NAME=MODEL_DIR [NAME=MODEL_DIR ...] [--work DIR] [--mode hybrid]

For each shared dataset NAME, runs its judged test queries with the bundled encoder and with
MODEL_DIR (default hybrid: BM25 + dense, z-score 0.4 / 0.6) and prints the mean nDCG@10 of each,
how many queries gained, lost or tied, a paired t-test p-value and a 95 % bootstrap interval of
the mean difference. Indexes are kept in DIR/NAME-TAG, as benchmarks/ablation.py names them.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import ir_measures
from scipy import stats

from sciseek import Engine
from sciseek.quality.evaluation import load_dataset, run_queries
from sciseek.search.indexing import index_files
from sciseek.search.settings import Settings

NDCG = ir_measures.nDCG @ 10


def per_query(work: Path, dataset, model: str | None, tag: str, mode: str) -> dict[str, float]:
    """nDCG@10 of every judged query (0 for a query with no hit)."""
    settings = Settings("zscore", {"bm25": 0.4, "dense": 0.6})
    engine = Engine.open(work / f"{dataset.name}-{tag}", model=model, settings=settings)
    index_files(engine, [dataset.corpus], "beir")
    run = [
        ir_measures.ScoredDoc(qid, d, s)
        for qid, hits in run_queries(engine, dataset, mode).items()
        for d, s in hits
    ]
    engine.close()
    scores = {qid: 0.0 for qid in dataset.queries}
    for m in ir_measures.iter_calc([NDCG], dataset.qrels, run):
        scores[m.query_id] = m.value
    return scores


def bootstrap(diffs: list[float], rounds: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the mean of ``diffs``."""
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="NAME=MODEL_DIR")
    parser.add_argument(
        "--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser.add_argument("--work", default=tempfile.gettempdir() + "/sciseek-ablation")
    parser.add_argument("--mode", default="hybrid")
    args = parser.parse_args()
    work = Path(args.work)
    print("| set | bundled | adapted | difference | gained / lost / tied | t-test p | 95 % CI |")
    print("|---|---:|---:|---:|---|---:|---|")
    for item in args.models:
        name, model = item.split("=", 1)
        dataset = load_dataset(Path(args.shared) / name, "test")
        base = per_query(work, dataset, None, "minilm", args.mode)
        new = per_query(work, dataset, model, f"unsup-{Path(model).name}", args.mode)
        diffs = [new[q] - base[q] for q in dataset.queries]
        gained = sum(d > 1e-9 for d in diffs)
        lost = sum(d < -1e-9 for d in diffs)
        p = stats.ttest_rel(list(new.values()), list(base.values())).pvalue
        lo, hi = bootstrap(diffs)
        n = len(diffs)
        print(
            f"| {name} | {sum(base.values()) / n:.4f} | {sum(new.values()) / n:.4f} "
            f"| {sum(diffs) / n:+.4f} | {gained} / {lost} / {n - gained - lost} | {p:.2f} "
            f"| {lo:+.4f} .. {hi:+.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
