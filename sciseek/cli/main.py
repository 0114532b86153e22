"""The ``sciseek`` command line: the parser and the entry point.

Exit codes: 0 success, 2 bad usage or bad input, 1 any other failure. Errors are one line on
stderr; ``--debug`` shows the traceback."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from .. import __version__
from ..digest import DigestLocked
from ..encoder import ModelNotFound
from ..encodings import ModelMismatch
from ..engine import DEFAULT_MODE, MAX_K, MODES, RERANK_DEPTH
from ..fusion import FUSIONS
from ..interests import InvalidSubscription
from ..mail import MailError, MailNotConfigured
from ..papers import InvalidPaper
from ..readers import FORMATS, UnreadableSource
from ..relevance import THRESHOLD
from ..subscriptions import RateLimited, UnknownSubscriber
from . import arguments
from .commands import (
    cmd_delete,
    cmd_demo,
    cmd_eval,
    cmd_get,
    cmd_index,
    cmd_reindex,
    cmd_search,
    cmd_serve,
    cmd_similar,
    cmd_stats,
)
from .common import BATCH, UsageError, _prf, _weights
from .jobs import (
    cmd_digest_send,
    cmd_harvest_arxiv,
    cmd_harvest_status,
    cmd_subscribers_add,
    cmd_subscribers_list,
    cmd_subscribers_remove,
)
from .training import cmd_train, cmd_tune

# -- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sciseek command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data directory (default: $SCISEEK_HOME or ./sciseek-data)",
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    model = argparse.ArgumentParser(add_help=False)
    model.add_argument(
        "--model",
        metavar="NAME|DIR",
        help="dense encoder: 'minilm' (default, bundled), 'mpnet' (extra packages) or a local "
        "sentence-transformers folder; default: the one the data dir was built with",
    )
    retrieval = argparse.ArgumentParser(add_help=False, parents=[model])
    retrieval.add_argument(
        "--mode", choices=MODES, default=DEFAULT_MODE, help=f"retriever (default {DEFAULT_MODE})"
    )
    retrieval.add_argument(
        "--fusion",
        choices=FUSIONS,
        help="hybrid fusion: normalised scores (minmax, zscore) or reciprocal ranks (rrf)",
    )
    retrieval.add_argument(
        "--weights",
        type=_weights,
        metavar="NAME=W,...",
        help="hybrid weights, e.g. bm25=0.5,dense=0.5 (sparse too)",
    )
    retrieval.add_argument(
        "--prf",
        type=_prf,
        nargs="?",
        const="on",
        metavar="SETTINGS",
        help="pseudo-relevance feedback: RM3 expansion for BM25 and Rocchio for dense, from the "
        "top results; optional settings docs=10,terms=10,query_weight=0.5,alpha=1,beta=0.5 "
        "(query_weight=1 turns RM3 off, beta=0 Rocchio); 'off' overrides a stored setting",
    )
    retrieval.add_argument(
        "--rerank",
        metavar="DIR",
        help="re-score the top results with a local cross-encoder folder "
        "(e.g. from sciseek train --cross-encoder)",
    )
    retrieval.add_argument(
        "--rerank-depth",
        type=arguments.top_k,
        default=RERANK_DEPTH,
        metavar="N",
        help=f"results the re-ranker re-scores (default {RERANK_DEPTH})",
    )
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--from", dest="date_from", metavar="DATE", help="published on/after")
    filters.add_argument("--to", dest="date_to", metavar="DATE", help="published on/before")
    filters.add_argument(
        "--category", action="append", help="restrict to a category (repeatable: any of them)"
    )
    filters.add_argument(
        "--author", action="append", help="restrict to an author (repeatable: all of them)"
    )

    parser = argparse.ArgumentParser(
        prog="sciseek", description="Search engine for scientific papers.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"sciseek {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "index",
        parents=[common, model],
        help="add paper files to the data dir",
        description="Add papers from files (JSONL, BEIR corpus, arXiv metadata "
        "JSON lines or CSV; .gz allowed). Bad records are reported with file "
        "and line and skipped; records with a known id replace the old one.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=FORMATS, default="auto")
    p.add_argument(
        "--strict", action="store_true", help="abort without writing anything if any record is bad"
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="print a line for every committed batch"
    )
    p.add_argument(
        "--batch-size",
        type=arguments.positive,
        default=BATCH,
        metavar="N",
        help=f"papers committed together (default {BATCH}); a crash loses at most one batch",
    )
    p.set_defaults(func=cmd_index)

    p = sub.add_parser(
        "search",
        parents=[common, retrieval, filters],
        help="search the papers",
        description="Search with keywords, a title, an id or a question. The default hybrid "
        "mode fuses BM25 and dense (embedding) retrieval.",
    )
    p.add_argument("query", nargs="+")
    p.add_argument("-k", type=arguments.top_k, default=10, help=f"number of results (1..{MAX_K})")
    p.add_argument(
        "--min-score",
        type=arguments.probability,
        metavar="P",
        help="keep only results whose calibrated relevance (probability, same scale in every "
        f"mode) is at least P; the digests use {THRESHOLD}",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "similar",
        parents=[common, model, filters],
        help="papers nearest to a paper by embedding",
        description="The papers closest to ID in the dense embedding space (ID excluded).",
    )
    p.add_argument("id")
    p.add_argument("-k", type=arguments.top_k, default=10, help=f"number of results (1..{MAX_K})")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser(
        "reindex",
        parents=[common, model],
        help="rebuild the dense index (e.g. with another --model)",
        description="Drop the dense index and encode every paper again with --model "
        "(default: minilm).",
    )
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("get", parents=[common], help="print one paper as JSON")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="one line of JSON")
    p.set_defaults(func=cmd_get)

    p = sub.add_parser("delete", parents=[common], help="delete papers by id")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("stats", parents=[common], help="counts and index state")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "harvest",
        parents=[common],
        help="keep the data dir up to date from arXiv (OAI-PMH)",
        description="Harvest new, updated and deleted papers from an OAI-PMH repository.",
    )
    harvest_sub = p.add_subparsers(dest="source", metavar="SOURCE", required=True)
    h = harvest_sub.add_parser(
        "arxiv",
        parents=[common, model],
        help="harvest arXiv sets incrementally",
        description="Harvest arXiv sets (ListRecords, arXiv metadata format). Each run "
        "continues where the last one stopped: from the saved resumption token of an "
        "interrupted run, else from the date of the last complete harvest. Every page is "
        "committed before the next is asked for; deleted records are deleted.",
    )
    h.add_argument(
        "--set",
        dest="sets",
        action="append",
        required=True,
        type=arguments.set_spec,
        metavar="SET",
        help="OAI set, e.g. cs or physics:hep-ex (repeatable)",
    )
    h.add_argument(
        "--from",
        dest="date_from",
        type=arguments.day,
        metavar="DATE",
        help="records changed on/after DATE, instead of continuing from the last harvest",
    )
    h.add_argument(
        "--until", type=arguments.day, metavar="DATE", help="records changed on/before DATE"
    )
    h.add_argument("--endpoint", metavar="URL", help="OAI-PMH base URL (default: arXiv's)")
    h.add_argument(
        "--delay",
        type=arguments.seconds,
        metavar="SECONDS",
        help="pause between requests (default 3, as arXiv asks)",
    )
    h.add_argument(
        "--categories",
        type=arguments.category_list,
        action="extend",
        metavar="CAT,...",
        help="keep only records in any of these categories, e.g. cs.CL,cs.IR",
    )
    h.set_defaults(func=cmd_harvest_arxiv)
    h = harvest_sub.add_parser(
        "status", parents=[common], help="per-set harvest state of the data dir"
    )
    h.add_argument("--json", action="store_true", help="print JSON")
    h.set_defaults(func=cmd_harvest_status)

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
        default=["bm25", "dense", "sparse"],
        metavar="NAME,...",
        help="retrievers to fuse (default bm25,dense,sparse)",
    )
    p.add_argument(
        "--prf", type=_prf, nargs="?", const="on", metavar="SETTINGS", help="as for search"
    )
    p.add_argument("--step", type=float, default=0.1, help="weight grid step (default 0.1)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser(
        "serve",
        parents=[common],
        help="run the web app and JSON API",
        description="Serve the search page, paper pages, new and trending lists and the JSON "
        "API (OpenAPI docs at /docs) from the data dir.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=arguments.positive, default=8000, help="port (default 8000)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", parents=[common], help="index papers and show a sample search")
    p.add_argument(
        "--file",
        help="paper file to index (default: harvest the last 3 days of arXiv cs.CL, cs.IR "
        "and cs.LG; needs network)",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "subscribers",
        parents=[common],
        help="manage email digest subscribers",
        description="Add, list and remove the subscribers of the email digests.",
    )
    subs_sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = subs_sub.add_parser(
        "add",
        parents=[common],
        help="add or update a subscriber",
        description="Subscribe EMAIL to digests of new papers matching the queries and/or "
        "similar to the seed papers. Without --confirmed a confirmation link is mailed "
        "(SMTP settings: SCISEEK_SMTP_*) and nothing is sent until it is followed.",
    )
    s.add_argument("email", metavar="EMAIL")
    s.add_argument(
        "--query", dest="queries", action="append", default=[], metavar="Q", help="repeatable"
    )
    s.add_argument(
        "--paper",
        dest="papers",
        action="append",
        default=[],
        metavar="ID",
        help="a seed paper: send papers like it (repeatable)",
    )
    s.add_argument(
        "--category",
        dest="categories",
        action="append",
        default=[],
        metavar="C",
        help="only papers in any of these categories (repeatable)",
    )
    s.add_argument("--frequency", choices=("daily", "weekly"), default="daily")
    s.add_argument(
        "--confirmed", action="store_true", help="make it active at once, without a confirmation"
    )
    s.set_defaults(func=cmd_subscribers_add)
    s = subs_sub.add_parser("list", parents=[common], help="list subscribers")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_subscribers_list)
    s = subs_sub.add_parser(
        "remove", parents=[common], help="delete a subscriber and their sent-log"
    )
    s.add_argument("email", metavar="EMAIL")
    s.set_defaults(func=cmd_subscribers_remove)

    p = sub.add_parser(
        "digest",
        parents=[common],
        help="email digests of new matching papers",
        description="Email digests to subscribers.",
    )
    digest_sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    d = digest_sub.add_parser(
        "send",
        parents=[common],
        help="send every due subscriber their digest",
        description="Send each due subscriber (daily: a day since the last digest, weekly: "
        "a week) one email with the papers added since the last one that match their "
        "interests above the calibrated relevance threshold; nothing when none do. Each "
        "paper reaches each subscriber at most once; failed sends are retried next run.",
    )
    d.add_argument("--dry-run", action="store_true", help="select and render, send nothing")
    d.add_argument(
        "--now",
        type=arguments.moment,
        metavar="DATE",
        help="act as if it were DATE (UTC; default: now)",
    )
    d.add_argument(
        "--max-papers",
        type=arguments.top_k,
        default=20,
        metavar="N",
        help="papers per email (default 20)",
    )
    d.add_argument(
        "--threshold",
        type=arguments.probability,
        metavar="P",
        help="calibrated relevance a paper needs (default: the measured one)",
    )
    d.add_argument(
        "--output", metavar="DIR", help="with --dry-run: write each digest's HTML and text here"
    )
    d.set_defaults(func=cmd_digest_send)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sciseek`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (
        UsageError,
        UnreadableSource,
        InvalidPaper,
        NotADirectoryError,
        ModelNotFound,
        ModelMismatch,
        InvalidSubscription,
        UnknownSubscriber,
        MailNotConfigured,
    ) as e:
        if args.debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (RateLimited, MailError, DigestLocked) as e:
        if args.debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - the contract: one line, exit 1
        if args.debug:
            traceback.print_exc()
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
