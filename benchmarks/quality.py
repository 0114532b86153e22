"""Retrieval quality of every mode on every shared BEIR-format dataset, plus fusion variants.

python benchmarks/quality.py [--datasets scifact,cacm,...] [--work DIR]

Each dataset is indexed once into DIR/NAME (kept, so reruns skip encoding); every mode is
evaluated with the same code path as ``sciseek eval``. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sciseek import Engine
from sciseek.quality.evaluation import evaluate, load_dataset
from sciseek.search.indexing import index_files
from sciseek.search.settings import Settings

DATASETS = ("scifact", "cacm", "cranfield", "npl", "cisi", "med", "adi")
FUSION_VARIANTS = [
    ("minmax", {"bm25": 0.5, "dense": 0.5}),
    ("minmax", {"bm25": 0.4, "dense": 0.6}),
    ("zscore", {"bm25": 0.5, "dense": 0.5}),
    ("zscore", {"bm25": 0.4, "dense": 0.6}),
    ("zscore", {"bm25": 0.3, "dense": 0.7}),
    ("rrf", {"bm25": 0.5, "dense": 0.5}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--work", default=tempfile.gettempdir() + "/sciseek-quality")
    parser.add_argument("--no-fusion", action="store_true", help="skip the fusion variants")
    args = parser.parse_args()
    modes: dict[str, dict[str, dict]] = {}
    fusions: dict[str, list] = {}
    for name in args.datasets.split(","):
        ds = load_dataset(Path(args.shared) / name)
        with Engine.open(Path(args.work) / name, log=lambda m: None) as engine:
            start = time.perf_counter()
            index_files(engine, [ds.corpus], "beir")
            engine.sparse  # noqa: B018 - builds the SPLADE index
            build = time.perf_counter() - start
            modes[name] = {}
            for mode in ("bm25", "dense", "sparse", "hybrid"):
                r = evaluate(engine, ds, mode)
                modes[name][mode] = {**r.metrics, "seconds": r.seconds}
        fusions[name] = []
        for method, weights in [] if args.no_fusion else FUSION_VARIANTS:
            settings = Settings(method, weights)
            with Engine.open(Path(args.work) / name, log=lambda m: None, settings=settings) as e:
                r = evaluate(e, ds, "hybrid")
            fusions[name].append((method, weights, r.metrics))
        print(f"{name}: indexed (first run encodes) in {build:.0f} s", flush=True)
        for mode, m in modes[name].items():
            print(
                f"  {mode:<7} nDCG@10 {m['ndcg@10']:.4f}  R@100 {m['recall@100']:.4f}  "
                f"MRR@10 {m['mrr@10']:.4f}  ({m['seconds']:.1f} s)",
                flush=True,
            )

    print("\n| dataset | mode | nDCG@10 | Recall@100 | MRR@10 | queries/s |")
    print("|---|---|---:|---:|---:|---:|")
    for name, rows in modes.items():
        nq = len(load_dataset(Path(args.shared) / name).queries)
        for mode, m in rows.items():
            print(
                f"| {name} | {mode} | {m['ndcg@10']:.3f} | {m['recall@100']:.3f} | "
                f"{m['mrr@10']:.3f} | {nq / max(m['seconds'], 1e-9):.0f} |"
            )
    fusions = {name: rows for name, rows in fusions.items() if rows}
    if not fusions:
        return
    print("\nFusion (hybrid nDCG@10):\n")
    header = " | ".join(f"{m} {w['bm25']}/{w['dense']}" for m, w in FUSION_VARIANTS)
    print(f"| dataset | {header} |\n|---|" + "---:|" * len(FUSION_VARIANTS))
    for name, rows in fusions.items():
        print(f"| {name} | " + " | ".join(f"{r[2]['ndcg@10']:.3f}" for r in rows) + " |")
    means = [
        sum(fusions[n][i][2]["ndcg@10"] for n in fusions) / len(fusions)
        for i in range(len(FUSION_VARIANTS))
    ]
    print("| mean | " + " | ".join(f"{m:.3f}" for m in means) + " |")


if __name__ == "__main__":
    main()
