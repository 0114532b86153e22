"""The quality commands: `sciseek train` and `sciseek tune`, and the eval/train/tune parsers."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from sciseek.cli import arguments
from sciseek.search.engine import default_data_dir
from sciseek.search.settings import RETRIEVERS

from .common import UsageError, open_engine, prf_option, progress_bar, work_dir


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> int:
    from sciseek.quality.pipelines import train_model

    source = Path(args.source)
    if not source.exists():
        raise UsageError(f"{source}: no such file or directory")
    if args.unsupervised and args.cross_encoder:
        raise UsageError("--unsupervised trains the bi-encoder; it cannot train a cross-encoder")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: exists and is not empty; choose a new --out")
    # judged pairs from a JSONL file refer to the papers of the user's data dir
    own_papers = not (source.is_dir() or args.unsupervised)
    data_dir = args.data_dir or (str(default_data_dir()) if own_papers else None)
    with work_dir(data_dir, "sciseek-train-") as work:
        run = train_model(
            source,
            out,
            work,
            model=args.model,
            split=args.split,
            unsupervised=args.unsupervised,
            cross_encoder=args.cross_encoder,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            max_minutes=args.max_minutes,
            merge=args.merge,
            seed=args.seed,
            command="sciseek " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "sciseek train",
            progress=sys.stderr.isatty(),
            bars=progress_bar,
            log=_warn,
        )
    if run.cross_encoder:
        print(f"cross-encoder saved to {run.model}; use it with --rerank {run.model}")
        return 0
    report = run.report
    if args.json:
        print(json.dumps(run.to_dict()))
    else:
        stopped = " (stopped at --max-minutes)" if report.stopped_early else ""
        print(
            f"trained {report.steps} steps ({report.epochs:.2f} epochs) on {report.pairs} pairs"
            f" in {report.seconds / 60:.1f} min{stopped}"
        )
        if run.calibration is not None:
            print(
                f"relevance calibration fitted on {run.calibration_queries} judged queries "
                "(for --min-score and digests)"
            )
        print(f"model saved to {out}; use it with --model {out}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from sciseek.quality.evaluation import load_dataset
    from sciseek.quality.pipelines import tune_weights

    if args.split == "test":
        raise UsageError("refusing to tune on the test judgments; use --split train (or dev)")
    if not 0 < args.step <= 0.5:
        raise UsageError("--step must be in (0, 0.5]")
    dataset = load_dataset(args.dataset, args.split)
    with open_engine(args) as engine:
        run = tune_weights(
            engine,
            dataset,
            args.split,
            retrievers=args.retrievers,
            step=args.step,
            bars=progress_bar,
            log=_warn,
        )
    score, method, weights = run.best
    if args.json:
        print(json.dumps({"fusion": method, "weights": weights, "ndcg@10": score}))
        return 0
    print(f"best of {len(run.results)} settings on {dataset.name} {args.split} (nDCG@10):")
    for s, m, w in run.results[:5]:
        print(f"  {s:.4f}  {m:<6}  " + ", ".join(f"{n}={v:g}" for n, v in w.items()))
    print(f"stored in {run.config}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from sciseek.quality.evaluation import evaluate, load_dataset
    from sciseek.quality.pipelines import index_corpus

    dataset = load_dataset(args.dataset, args.split)
    with (
        work_dir(args.data_dir, "sciseek-eval-") as data_dir,
        open_engine(args, data_dir) as engine,
    ):
        # the Milvus backend mirrors the embeddings: every mode needs them there
        uses_dense = args.mode in ("dense", "hybrid") or engine.settings.backend == "milvus"
        documents = index_corpus(
            engine,
            dataset.corpus,
            "beir",
            dense=uses_dense,
            on_error=lambda e: _warn(f"warning: {e}"),
            bars=progress_bar,
            desc=f"indexing {dataset.name}",
        )
        if engine.settings.backend == "milvus":
            with progress_bar(documents, "Milvus") as bar:
                engine.sync_mirror(bar.update)
        try:
            with progress_bar(len(dataset.queries), "queries", unit="query") as bar:
                result = evaluate(engine, dataset, args.mode, progress=bar.update)
        finally:
            if engine.mirror is not None and not args.data_dir:
                engine.mirror.drop()  # the data dir is temporary: so is its collection
        result.extra = {"split": args.split, "documents": documents}
        if engine.settings.backend == "milvus":
            result.extra["backend"] = f"milvus ({engine.settings.milvus_uri})"
        if uses_dense:
            result.extra["model"] = engine.dense.model_name
        if args.mode == "hybrid":
            result.extra["fusion"] = engine.fusion
            result.extra["weights"] = engine.weights
        if engine.prf is not None:
            result.extra["prf"] = engine.prf.to_dict()
        if engine.reranker is not None:
            result.extra["rerank"] = engine.reranker.name
            result.extra["rerank_depth"] = engine.rerank_depth
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(
            f"{dataset.name} ({args.split}, {result.queries} queries, {documents} documents,"
            f" mode {args.mode})"
        )
        for name, value in result.metrics.items():
            print(f"  {name:<11} {value:.4f}")
        for name in ("model", "fusion", "weights", "prf", "rerank", "backend"):
            if name in result.extra:
                print(f"  {name:<11} {result.extra[name]}")
    return 0


# -- parsers -------------------------------------------------------------------------------


def add_training_commands(
    sub: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    model: argparse.ArgumentParser,
    retrieval: argparse.ArgumentParser,
) -> None:
    """Add the eval, train and tune commands to ``sub``."""
    p = sub.add_parser(
        "eval",
        parents=[common, retrieval],
        help="IR metrics on a BEIR-format dataset",
        description="Index a BEIR-format dataset into a temporary data dir (or "
        "--data-dir), run its judged queries and print nDCG@10, Recall@100, "
        "MRR@10 and Recall@5 (trec_eval definitions).",
    )
    p.add_argument("dataset", metavar="DATASET_DIR")
    p.add_argument("--split", default="test", help="qrels split to evaluate (test, train, dev)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "train",
        parents=[common, model],
        help="fine-tune the dense encoder (or train a re-ranker) on your papers",
        description="Fine-tune the bi-encoder with in-batch and mined hard negatives "
        "(MultipleNegativesRankingLoss, topic-clustered batches) and save a model folder for "
        "--model. SOURCE is a BEIR dataset dir (judged pairs of --split), a JSONL file of "
        '{"query": ..., "paper": ID} pairs about the papers of --data-dir, or, with '
        "--unsupervised, any paper file or BEIR dir (title -> abstract pairs, no judgments "
        "needed). --model names the starting model (default: the bundled MiniLM).",
    )
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("--out", required=True, metavar="DIR", help="new folder for the model")
    p.add_argument(
        "--split", default="train", help="qrels split of a BEIR SOURCE (default train; not test)"
    )
    p.add_argument(
        "--unsupervised", action="store_true", help="pairs from the corpus alone, no judgments"
    )
    p.add_argument(
        "--cross-encoder",
        action="store_true",
        help="train a cross-encoder re-ranker (for --rerank) instead of the bi-encoder",
    )
    p.add_argument(
        "--epochs", type=arguments.positive_float, default=1.0, help="passes (default 1)"
    )
    p.add_argument(
        "--batch-size", type=arguments.positive, default=32, help="pairs per batch (default 32)"
    )
    p.add_argument(
        "--lr", type=arguments.positive_float, default=2e-5, help="learning rate (default 2e-5)"
    )
    p.add_argument(
        "--max-minutes",
        type=arguments.positive_float,
        metavar="N",
        help="stop training after N minutes and save the model as it is",
    )
    p.add_argument(
        "--merge",
        type=arguments.fraction,
        metavar="W",
        help="save W x trained + (1 - W) x starting weights (WiSE-FT); default 0.5 with "
        "--unsupervised (keeps more of the starting model's general skill), else 1",
    )
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "tune",
        parents=[common, model],
        help="choose hybrid fusion weights on judged queries and store them",
        description="Index a BEIR-format dataset into --data-dir (kept), run the judged "
        "queries of --split (not test) through each retriever once, try every weight split "
        "on a grid with z-score and min-max fusion, and store the best (by nDCG@10) in the "
        "data dir's config.json, where search, eval and serve pick it up.",
    )
    p.add_argument("dataset", metavar="DATASET_DIR")
    p.add_argument("--split", default="train", help="qrels split to tune on (default train)")
    p.add_argument(
        "--retrievers",
        type=arguments.retriever_list,
        default=list(RETRIEVERS),
        metavar="NAME,...",
        help="retrievers to fuse (default bm25,dense,sparse)",
    )
    p.add_argument(
        "--prf", type=prf_option, nargs="?", const="on", metavar="SETTINGS", help="as for search"
    )
    p.add_argument("--step", type=float, default=0.1, help="weight grid step (default 0.1)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(func=cmd_tune)
