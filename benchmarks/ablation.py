"""Ablation of the quality techniques on SciFact test and the classic sets (cacm, cranfield, npl;
cisi, med and adi for the unsupervised rows).

python benchmarks/ablation.py --rows ROW[,ROW...] [--datasets ...] [--work DIR]
    [--supervised MODEL_DIR] [--unsupervised NAME=MODEL_DIR ...] [--reranker CE_DIR]
    [--tuned CONFIG_JSON]

Rows (each is also a `sciseek eval` configuration):
  bm25, dense, hybrid           the zero-shot baselines (hybrid: BM25 + dense, z-score 0.4/0.6)
  prf                           hybrid with RM3 (BM25) and Rocchio (dense) feedback (--prf)
  splade                        hybrid + SPLADE-tiny, weights from --tuned (sciseek tune output)
  unsup, unsup-dense            hybrid / dense with the encoder adapted on the set's own corpus
  sup, sup-dense                hybrid / dense with the encoder trained on SciFact train
  sup+splade, unsup+sup         trained encoders with SPLADE and the --tuned-sup weights
  rerank, rerank+sup            the zero-shot / trained hybrid + the --reranker cross-encoder

Every dataset is indexed once per encoder into DIR/NAME-MODELTAG (kept between runs); each row
is evaluated with the same code path as `sciseek eval` and appended as JSON to DIR/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sciseek import Engine
from sciseek.ingest.readers import read_valid
from sciseek.quality.evaluation import evaluate, load_dataset
from sciseek.search.feedback import PRF
from sciseek.search.settings import Settings

DATASETS = ("scifact", "cacm", "cranfield", "npl")
ALL_DATASETS = (*DATASETS, "cisi", "med", "adi")  # the table's order


def _engine(work: Path, dataset, model: str | None, tag: str, sparse: bool, **options) -> Engine:
    engine = Engine.open(work / f"{dataset.name}-{tag}", model=model, **options)
    papers = list(read_valid(dataset.corpus, "beir"))
    start = time.perf_counter()
    engine.add(papers)
    if sparse:
        engine.sparse  # noqa: B018 - builds the SPLADE index
    took = time.perf_counter() - start
    if took > 1:
        print(f"  indexed {dataset.name} ({tag}) in {took:.0f} s", flush=True)
    return engine


LABELS = {
    "bm25": "BM25 (zero-shot)",
    "dense": "dense MiniLM (zero-shot)",
    "hybrid": "hybrid BM25 + dense (zero-shot, default)",
    "prf": "hybrid + PRF (RM3 + Rocchio)",
    "splade": "hybrid + SPLADE, weights tuned on SciFact train",
    "unsup-dense": "dense, encoder adapted on the set's corpus (unsupervised)",
    "unsup": "hybrid, encoder adapted on the set's corpus (unsupervised)",
    "sup-dense": "dense, encoder trained on SciFact train (trained)",
    "sup": "hybrid, encoder trained on SciFact train (trained)",
    "sup+splade": "hybrid + SPLADE, encoder trained on SciFact train, weights tuned on held-out"
    " train queries (trained)",
    "unsup+sup": "hybrid + SPLADE, encoder adapted on SciFact corpus then trained (trained)",
    "rerank": "hybrid + cross-encoder re-ranker trained on SciFact train (trained)",
    "rerank+sup": "trained hybrid + SPLADE + cross-encoder re-ranker (trained)",
}


def print_table(path: Path) -> None:
    """The last result of every (dataset, row) as a Markdown table."""
    last: dict[tuple[str, str], dict] = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        last[(r["dataset"], r["row"])] = r
    print("| set | configuration | nDCG@10 | Recall@100 | MRR@10 | query time (s) |")
    print("|---|---|---:|---:|---:|---:|")
    for name in ALL_DATASETS:
        for row in LABELS:
            r = last.get((name, row))
            if r:
                print(
                    f"| {name} | {LABELS[row]} | {r['ndcg@10']:.3f} | {r['recall@100']:.3f} "
                    f"| {r['mrr@10']:.3f} | {r['seconds']:.1f} |"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--rows", default="bm25,dense,hybrid,prf")
    parser.add_argument("--work", default=tempfile.gettempdir() + "/sciseek-ablation")
    parser.add_argument("--supervised", metavar="DIR", help="encoder trained on SciFact train")
    parser.add_argument(
        "--unsupervised",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="encoder adapted on dataset NAME's corpus",
    )
    parser.add_argument(
        "--supervised-after-unsup",
        metavar="DIR",
        help="encoder adapted on SciFact's corpus, then trained on SciFact train",
    )
    parser.add_argument(
        "--tuned-sup",
        metavar="JSON",
        help="config.json tuned (sciseek tune) for a trained encoder on held-out train queries",
    )
    parser.add_argument("--reranker", metavar="DIR", help="cross-encoder for the rerank row")
    parser.add_argument("--rerank-depth", type=int, default=50)
    parser.add_argument("--tuned", metavar="JSON", help="config.json written by sciseek tune")
    parser.add_argument("--prf", default="", help="PRF settings for the prf row")
    parser.add_argument(
        "--table", action="store_true", help="print DIR/results.jsonl as Markdown and exit"
    )
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.table:
        print_table(work / "results.jsonl")
        return
    unsup = dict(item.split("=", 1) for item in args.unsupervised)
    tuned = json.loads(Path(args.tuned).read_text()) if args.tuned else None
    tuned_sup = json.loads(Path(args.tuned_sup).read_text()) if args.tuned_sup else tuned
    from sciseek.search.feedback import parse

    prf = parse(args.prf) if args.prf else PRF()
    for name in args.datasets.split(","):
        dataset = load_dataset(Path(args.shared) / name, "test")
        for row in args.rows.split(","):
            model, tag, mode, label = None, "minilm", "hybrid", row
            fusion, weights, use_prf, rerank = "zscore", {"bm25": 0.4, "dense": 0.6}, None, None
            if row in ("bm25", "dense"):
                mode = row
            elif row == "prf":
                use_prf = prf
            elif row == "splade":
                if tuned is None:
                    raise SystemExit("the splade row needs --tuned")
                fusion, weights = tuned["fusion"], tuned["weights"]
            elif row in ("unsup", "unsup-dense"):
                if name not in unsup:
                    continue
                model = unsup[name]
                tag = f"unsup-{Path(model).name}"  # one index per adapted model
                mode = "dense" if row == "unsup-dense" else mode
            elif row == "sup-dense":
                if name != "scifact" or not args.supervised:
                    continue
                model, tag, mode = args.supervised, f"sup-{Path(args.supervised).name}", "dense"
            elif row in ("sup", "sup+splade", "unsup+sup", "rerank+sup"):
                if name != "scifact" or not args.supervised:
                    continue
                model = args.supervised_after_unsup if row == "unsup+sup" else args.supervised
                tag = f"sup-{Path(model).name}"
                if row != "sup":
                    fusion, weights = tuned_sup["fusion"], tuned_sup["weights"]
                if row == "rerank+sup":
                    rerank = args.reranker
            elif row == "rerank":
                rerank = args.reranker
            elif row != "hybrid":
                raise SystemExit(f"unknown row {row}")
            reranker = None
            if rerank:
                from sciseek.search.rerank import Reranker

                reranker = Reranker(rerank)
            engine = _engine(
                work,
                dataset,
                model,
                tag,
                "sparse" in weights,
                settings=Settings(fusion, weights, use_prf),
                reranker=reranker,
                rerank_depth=args.rerank_depth,
            )
            result = evaluate(engine, dataset, mode)
            record = {
                "dataset": name,
                "row": label,
                "mode": mode,
                "model": engine.dense.model_name if mode != "bm25" else None,
                "fusion": fusion if mode == "hybrid" else None,
                "weights": weights if mode == "hybrid" else None,
                "prf": use_prf.to_dict() if use_prf else None,
                "rerank": rerank,
                **result.metrics,
                "seconds": round(result.seconds, 1),
                "date": time.strftime("%Y-%m-%d"),
            }
            engine.close()
            print(json.dumps(record), flush=True)
            with open(work / "results.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
