"""The ``sciseek`` command line: the parser and the entry point.

Exit codes: 0 success, 2 bad usage or bad input (a ``BadInput``), 1 any other failure (an
``OperationalError`` or anything unexpected), 3 partial input (``sciseek index`` read a damaged
file and indexed what it could). Errors are one line on stderr; ``--debug`` shows
the traceback."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from sciseek.cli import arguments
from sciseek.errors import BadInput, SciseekError
from sciseek.search.engine import DEFAULT_MODE, MODES, RERANK_DEPTH
from sciseek.search.fusion import FUSIONS

from .. import __version__
from .commands import add_core_commands
from .common import prf_option, weights_option
from .demo import add_demo_command
from .export import add_export_command
from .jobs import add_job_commands
from .training import add_training_commands

# -- parser --------------------------------------------------------------------------------


def _global_options(default: object = None) -> argparse.ArgumentParser:
    """--data-dir and --debug, accepted before or after the command name.

    The command's own copy defaults to SUPPRESS, so that a value given before the command
    name is not overwritten by the command's default."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--data-dir",
        metavar="DIR",
        default=default,
        help="data directory (default: $SCISEEK_HOME or ./sciseek-data)",
    )
    options.add_argument(
        "--debug",
        action="store_true",
        default=False if default is None else default,
        help="show tracebacks on errors",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sciseek command."""
    top, common = _global_options(), _global_options(argparse.SUPPRESS)
    model = argparse.ArgumentParser(add_help=False)
    model.add_argument(
        "--model",
        metavar="NAME|DIR",
        help="dense encoder: 'minilm' (default, bundled), 'mpnet' (extra packages) or a local "
        "sentence-transformers folder; default: the one the data dir was built with",
    )
    model.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the encoder runs: auto (a CUDA GPU when torch sees one, else the CPU), "
        "cpu, or cuda (fails when there is no GPU)",
    )
    model.add_argument(
        "--backend",
        choices=("local", "milvus"),
        help="where BM25 and dense retrieval run: local (tantivy and FAISS in the data dir) or "
        "milvus (a Milvus server mirroring the data dir; needs --milvus-uri); given to index "
        "or sync it is stored in the data dir; default: the stored one, else local",
    )
    model.add_argument(
        "--milvus-uri",
        metavar="URI",
        help="the Milvus server for --backend milvus, e.g. http://127.0.0.1:19530",
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
        type=weights_option,
        metavar="NAME=W,...",
        help="hybrid weights, e.g. bm25=0.5,dense=0.5 (sparse too)",
    )
    retrieval.add_argument(
        "--prf",
        type=prf_option,
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
        prog="sciseek",
        description="Search engine for scientific papers.",
        epilog="Exit status: 0 success, 1 failure, 2 bad usage or bad input, 3 partial input "
        "(index read a damaged file and indexed what it could).",
        parents=[top],
    )
    parser.add_argument("--version", action="version", version=f"sciseek {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    add_core_commands(sub, common, model, retrieval, filters)
    add_demo_command(sub, common, model)
    add_training_commands(sub, common, model, retrieval)
    add_job_commands(sub, common, model)
    add_export_command(sub, common)
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
