"""The quality commands: `sciseek train` and `sciseek tune`, and the eval/train/tune parsers."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from sciseek.cli import arguments
from sciseek.index.models import document_text
from sciseek.ingest.readers import ReadError, read_papers
from sciseek.search.engine import Engine, default_data_dir
from sciseek.search.relevance import save_calibration
from sciseek.search.settings import RETRIEVERS

from .common import UsageError, _engine, _prf, _progress, _work_dir


def _index_corpus(engine: Engine, source: Path) -> None:
    papers = []
    for item in read_papers(source, "auto"):
        if isinstance(item, ReadError):
            print(f"warning: {item}", file=sys.stderr)
        else:
            papers.append(item)
    with _progress(len(papers), "indexing corpus") as bar:
        engine.add(papers, bar.update)
        bar.update(len(papers) - bar.n)


def _texts(engine: Engine) -> dict[str, str]:
    return {p.id: document_text(p) for batch in engine.store.iter_batches() for _, _, p in batch}


def cmd_train(args: argparse.Namespace) -> int:
    from sciseek.quality import train, training_data

    source = Path(args.source)
    if not source.exists():
        raise UsageError(f"{source}: no such file or directory")
    if args.unsupervised and args.cross_encoder:
        raise UsageError("--unsupervised trains the bi-encoder; it cannot train a cross-encoder")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: exists and is not empty; choose a new --out")
    beir = source.is_dir()
    # judged pairs from a JSONL file refer to the papers of the user's data dir
    data_dir = args.data_dir or (None if beir or args.unsupervised else str(default_data_dir()))
    with (
        _work_dir(data_dir, "sciseek-train-") as work,
        Engine.open(work, model=args.model) as engine,
    ):
        if beir or args.unsupervised:
            _index_corpus(engine, source)
        else:
            engine.sync()
        texts = _texts(engine)
        if not texts:
            raise UsageError(f"no papers in {work} to train on or mine negatives from")
        if args.unsupervised:
            papers = [p for batch in engine.store.iter_batches() for _, _, p in batch]
            pairs = training_data.corpus_pairs(papers)
            kind = "unsupervised (title -> abstract)"
        elif beir:
            pairs = training_data.judged_pairs(source, args.split, texts)
            kind = _judged(source.name, args.split)
        else:
            pairs = training_data.jsonl_pairs(source, texts)
            kind = f"judged ({source.name})"
        if not pairs and args.unsupervised:
            raise UsageError(
                f"{source}: no paper has both a title and an abstract of "
                f"{training_data.MIN_ABSTRACT_WORDS}+ words, and "
                "unsupervised adaptation learns from title -> abstract pairs (pseudo-queries cut "
                "from untitled text lowered quality where we measured them); train on judged "
                "query/paper pairs instead"
            )
        if not pairs:
            raise UsageError(f"{source}: no training pairs found")
        print(f"{len(pairs)} {kind} pairs; mining negatives", file=sys.stderr)
        # a cross-encoder sees each pair once, so it gets three negatives per pair
        rounds = 3 if args.cross_encoder else 1
        with _progress(len(pairs) * rounds, "mining negatives", unit="pair") as bar:
            mined = [
                training_data.mine_negatives(
                    engine, pairs, texts, seed=args.seed + r, progress=bar.update
                )
                for r in range(rounds)
            ]
        rows = mined[0]
        base = engine.dense.encoder  # the model the index was built with, already loaded
        # judged queries' hybrid candidates, to fit the trained model's relevance calibration
        candidates = (
            []
            if args.unsupervised or args.cross_encoder
            else training_data.calibration_candidates(engine, pairs, seed=args.seed)
        )
    settings = {
        "command": "sciseek " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "sciseek train",
        "data": kind,
    }
    progress = sys.stderr.isatty()
    if args.cross_encoder:
        from sciseek.quality.train import train_cross_encoder

        negatives: dict[tuple[str, str], list[str]] = {}
        for q, p, n in (row for rows_of_round in mined for row in rows_of_round):
            if n not in negatives.setdefault((q, p), []):
                negatives[(q, p)].append(n)
        examples = [(q, p, ns) for (q, p), ns in negatives.items()]
        path = train_cross_encoder(
            examples,
            out,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            max_minutes=args.max_minutes,
            seed=args.seed,
            progress=progress,
            log=lambda m: print(m, file=sys.stderr),
        )
        print(f"cross-encoder saved to {path}; use it with --rerank {path}")
        return 0
    report = train.train_encoder(
        rows,
        out,
        base=base,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        max_minutes=args.max_minutes,
        seed=args.seed,
        progress=progress,
        merge=args.merge if args.merge is not None else (0.5 if args.unsupervised else 1.0),
        settings=settings,
    )
    summary = report.to_dict()
    if candidates:
        try:
            a, b = train.calibrate(base, candidates, texts)
        except ValueError as e:
            print(f"warning: no relevance calibration fitted: {e}", file=sys.stderr)
        else:
            save_calibration(out, a, b, queries=len(candidates), data=kind)
            summary["calibration"] = {"a": round(a, 4), "b": round(b, 4)}
    if args.json:
        print(json.dumps({"model": str(out), **summary}))
    else:
        stopped = " (stopped at --max-minutes)" if report.stopped_early else ""
        print(
            f"trained {report.steps} steps ({report.epochs:.2f} epochs) on {report.pairs} pairs"
            f" in {report.seconds / 60:.1f} min{stopped}"
        )
        if "calibration" in summary:
            print(
                f"relevance calibration fitted on {len(candidates)} judged queries "
                "(for --min-score and digests)"
            )
        print(f"model saved to {out}; use it with --model {out}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from sciseek.quality.evaluation import collect_runs, load_dataset, tune_fusion

    if args.split == "test":
        raise UsageError("refusing to tune on the test judgments; use --split train (or dev)")
    if not 0 < args.step <= 0.5:
        raise UsageError("--step must be in (0, 0.5]")
    dataset = load_dataset(args.dataset, args.split)
    with _engine(args) as engine:
        _index_corpus(engine, dataset.corpus)
        if _trained_on(engine.vectors.model_path) == _judged(dataset.name, args.split):
            print(
                f"warning: the encoder was trained on {dataset.name} {args.split}; weights tuned "
                "on the queries it learned favour it. Tune on judged queries it was not trained "
                "on (e.g. train on half of them, tune on the other half).",
                file=sys.stderr,
            )
        if "sparse" in args.retrievers:
            with _progress(None, "SPLADE index"):
                engine.sparse  # noqa: B018 - builds the sparse index on first use
        with _progress(len(dataset.queries), "retrieving", unit="query") as bar:
            runs = collect_runs(engine, dataset, args.retrievers, progress=bar.update)
        with _progress(None, "trying weights", unit="setting") as bar:
            results = tune_fusion(engine, dataset, runs, step=args.step, progress=bar.update)
        score, method, weights = results[0]
        engine.fusion, engine.weights = method, weights
        path = engine.save_config(
            tuned_on=f"{dataset.name} {args.split} ({len(dataset.queries)} queries)",
            tuned_ndcg_at_10=score,
        )
    if args.json:
        print(json.dumps({"fusion": method, "weights": weights, "ndcg@10": score}))
        return 0
    print(f"best of {len(results)} settings on {dataset.name} {args.split} (nDCG@10):")
    for s, m, w in results[:5]:
        print(f"  {s:.4f}  {m:<6}  " + ", ".join(f"{n}={v:g}" for n, v in w.items()))
    print(f"stored in {path}")
    return 0


def _judged(dataset: str, split: str) -> str:
    """How a model folder records training on a dataset's judged split."""
    return f"judged ({dataset} {split})"


def _trained_on(model_path: Path) -> str | None:
    """The training data a sciseek-trained model folder records, if any."""
    from sciseek.quality.train import TRAINING_FILE

    try:
        return json.loads((Path(model_path) / TRAINING_FILE).read_text()).get("data")
    except (OSError, ValueError, AttributeError):
        return None


def cmd_eval(args: argparse.Namespace) -> int:
    from sciseek.quality.evaluation import evaluate, load_dataset

    dataset = load_dataset(args.dataset, args.split)
    with _work_dir(args.data_dir, "sciseek-eval-") as data_dir, _engine(args, data_dir) as engine:
        papers = []
        for item in read_papers(dataset.corpus, "beir"):
            if isinstance(item, ReadError):
                print(f"warning: {item}", file=sys.stderr)
            else:
                papers.append(item)
        uses_dense = args.mode in ("dense", "hybrid")
        with _progress(len(papers), f"indexing {dataset.name}") as bar:
            engine.add(papers, bar.update if uses_dense else None, dense=uses_dense)
            bar.update(len(papers) - bar.n)
        with _progress(len(dataset.queries), "queries", unit="query") as bar:
            result = evaluate(engine, dataset, args.mode, progress=bar.update)
        result.extra = {"split": args.split, "documents": len(papers)}
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
            f"{dataset.name} ({args.split}, {result.queries} queries, {len(papers)} documents,"
            f" mode {args.mode})"
        )
        for name, value in result.metrics.items():
            print(f"  {name:<11} {value:.4f}")
        for name in ("model", "fusion", "weights", "prf", "rerank"):
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
        "--prf", type=_prf, nargs="?", const="on", metavar="SETTINGS", help="as for search"
    )
    p.add_argument("--step", type=float, default=0.1, help="weight grid step (default 0.1)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(func=cmd_tune)
