"""The ``sciseek`` command line: the parser and the entry point.

Exit codes: 0 success, 2 bad usage or bad input (a ``BadInput``), 1 any other failure (an
``OperationalError`` or anything unexpected). Errors are one line on stderr; ``--debug`` shows
the traceback."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from sciseek.cli import arguments
from sciseek.errors import BadInput, SciseekError
from sciseek.ingest.readers import FORMATS
from sciseek.search.engine import DEFAULT_MODE, MAX_K, MODES, RERANK_DEPTH
from sciseek.search.fusion import FUSIONS
from sciseek.search.relevance import THRESHOLD

from .. import __version__
from .commands import (
    cmd_delete,
    cmd_demo,
    cmd_get,
    cmd_index,
    cmd_reindex,
    cmd_search,
    cmd_serve,
    cmd_similar,
    cmd_stats,
)
from .common import BATCH, _prf, _weights
from .jobs import add_job_commands
from .training import add_training_commands

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

    add_training_commands(sub, common, model, retrieval)
    add_job_commands(sub, common, model)
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
    except BadInput as e:
        if args.debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SciseekError as e:
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
