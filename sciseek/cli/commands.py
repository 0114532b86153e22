"""Commands over the papers: index, search, similar, get, delete, stats, demo, serve, and
their parsers."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sciseek.cli import arguments
from sciseek.ingest.readers import FORMATS, ReadError, UnreadableSource
from sciseek.search.draft import MAX_CHARS, passages
from sciseek.search.engine import MAX_K, Engine, default_data_dir
from sciseek.search.indexing import BATCH_SIZE, Batch, FileReport, index_files
from sciseek.search.relevance import SHORT_THRESHOLD, SHORT_WORDS, THRESHOLD

from .common import (
    ERROR_CAP,
    INTERRUPTED,
    UsageError,
    encode_backlog,
    filters_of,
    open_engine,
    progress_bar,
    ray_options,
    store_backend,
)
from .drafts import search_file

# -- index ---------------------------------------------------------------------------------

PARTIAL_INPUT = 3  # exit code: an input file is damaged; its readable records were indexed


def cmd_sync(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        store_backend(args, engine)
        engine.lexical.sync()
        if encode_backlog(engine, ray_options(args, engine)):
            return INTERRUPTED
        state = engine.index_progress()
    for name, s in state.items():
        print(f"{name}: {s['documents']:,} of {s['papers']:,} papers, up to date")
    return 0


class _ErrorPrinter:
    def __init__(self, cap: int = ERROR_CAP):
        self.cap = cap
        self.count = 0
        self.reasons: Counter[str] = Counter()

    def __call__(self, error: ReadError | UnreadableSource) -> None:
        self.count += 1
        if isinstance(error, ReadError):
            self.reasons[error.reason.split(" (")[0].split(":")[0]] += 1
        if self.count <= self.cap:
            tqdm.write(f"error: {error}", file=sys.stderr)

    def finish(self) -> None:
        if self.count > self.cap:
            print(f"error: ... and {self.count - self.cap} more bad records", file=sys.stderr)


def index_paths(
    engine: Engine,
    paths: Sequence[str],
    fmt: str = "auto",
    *,
    strict: bool = False,
    verbose: bool = False,
    batch_size: int = BATCH_SIZE,
    encode: bool = True,
    stream: Any = None,
) -> int:
    """Index paper files into ``engine`` with a per-file summary; returns the exit code.

    Each batch is searchable by BM25, filters and id as soon as it is committed; the
    embeddings are computed after all files are read (``encode``; else left for later)."""
    errors = _ErrorPrinter()

    def file_done(f: FileReport) -> None:
        if not f.read:
            tqdm.write(f"error: {f.path}: no papers found (empty file)", file=sys.stderr)
        line = (
            f"{f.path}: read {f.read} records, indexed {f.indexed} "
            f"({f.new} new, {f.updated} updated, {f.unchanged} unchanged), skipped {f.skipped}"
        )
        if f.duplicates:
            line += f", {f.duplicates} duplicate ids (last one kept)"
        tqdm.write(line, file=sys.stdout)

    def batch_done(b: Batch) -> None:
        tqdm.write(
            f"committed {b.papers} papers from {b.path} (store generation {b.generation})",
            file=sys.stderr,
        )

    with progress_bar(None, "reading") as bar:
        report = index_files(
            engine,
            paths,
            fmt,
            batch_size=batch_size,
            strict=strict,
            on_error=errors,
            on_file=file_done,
            on_batch=batch_done if verbose else None,
            progress=bar.update,
            dense=False,
        )
    errors.finish()
    if report.aborted:
        print(
            f"aborted (--strict): {errors.count} bad records; nothing was written", file=sys.stderr
        )
        return 2
    if strict and not report.files:
        print("error: no valid papers found", file=sys.stderr)
        return 2
    if errors.reasons:
        reasons = ", ".join(f"{n} {r}" for r, n in errors.reasons.most_common())
        print(f"skipped records by reason: {reasons}", file=sys.stderr)
    print(f"store now holds {engine.store.count()} papers")
    if encode and encode_backlog(engine, stream):
        return INTERRUPTED
    if not report.indexed:
        print("error: no valid papers found", file=sys.stderr)
        return 2
    if report.unreadable:
        return 2
    if report.damaged:
        print(
            f"partial input: {', '.join(report.damaged)} is damaged (truncated or not UTF-8);"
            " what could be read was indexed",
            file=sys.stderr,
        )
        return PARTIAL_INPUT
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        store_backend(args, engine)
        return index_paths(
            engine,
            args.paths,
            args.format,
            strict=args.strict,
            verbose=args.verbose,
            batch_size=args.batch_size,
            stream=ray_options(args, engine),
        )


# -- search, get, delete, stats ------------------------------------------------------------


def print_hits(hits: list) -> None:
    """Print ranked hits, two lines each (the search and demo output)."""
    out = sys.stdout
    if not hits:
        print("no results", file=out)
    for rank, hit in enumerate(hits, 1):
        p = hit.paper
        rel = f" P={hit.relevance:.2f}" if hit.relevance is not None else ""
        print(f"{rank:3d}. [{hit.score:7.3f}{rel}] {p.id}  {p.title}", file=out)
        meta = [
            ", ".join(p.authors[:3]) + (" et al." if len(p.authors) > 3 else ""),
            p.published or "",
            " ".join(p.categories[:4]),
        ]
        print("      " + " | ".join(m for m in meta if m), file=out)


def cmd_search(args: argparse.Namespace) -> int:
    query = " ".join(args.query).strip()
    if args.file is not None:
        text, hits = search_file(args, query)
        head = {"file": args.file, "mode": args.mode, "passages": len(passages(text))}
    else:
        if not query:
            raise UsageError("empty query")
        filters = filters_of(args)
        with open_engine(args) as engine:
            hits = engine.search(
                query, mode=args.mode, k=args.k, filters=filters, min_score=args.min_score
            )
        head = {"query": query, "mode": args.mode}
    if args.json:
        print(json.dumps({**head, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False))
    else:
        print_hits(hits)
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    filters = filters_of(args)
    with open_engine(args) as engine:
        if engine.get(args.id) is None:
            raise UsageError(f"no paper with id {args.id!r}")
        hits = engine.similar(args.id, k=args.k, filters=filters)
    if args.json:
        print(json.dumps({"id": args.id, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False))
    else:
        print_hits(hits)
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or default_data_dir())
    dense_dir = data_dir / "dense"
    if dense_dir.exists():
        shutil.rmtree(dense_dir)
    with (
        open_engine(args, data_dir) as engine,
        progress_bar(engine.store.count(), "encoding") as bar,
    ):
        engine.sync(bar.update, stream=ray_options(args, engine))
        stats = engine.stats()
    print(
        f"dense index rebuilt with {stats['dense']['model']}: {stats['dense']['documents']} papers"
    )
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        paper = engine.get(args.id)
    if paper is None:
        raise UsageError(f"no paper with id {args.id!r}")
    print(json.dumps(paper.to_dict(), ensure_ascii=False, indent=None if args.json else 2))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        deleted = engine.delete(args.ids)
    missing = [i for i in dict.fromkeys(args.ids) if i not in set(deleted)]
    print(f"deleted {len(deleted)} papers")
    for pid in missing:
        print(f"warning: no paper with id {pid!r}", file=sys.stderr)
    if not deleted:
        raise UsageError("none of the given ids exist")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        stats = engine.stats()
    if args.json:
        print(json.dumps(stats))
    else:
        lex = stats["lexical"]
        print(f"data dir:      {stats['data_dir']}")
        print(f"papers:        {stats['papers']}")
        print(
            f"lexical index: {lex['documents']} papers, generation {lex['generation']}"
            f" ({'up to date' if lex['up_to_date'] else 'behind the store'})"
        )
        for name in ("dense", "sparse"):
            if name in stats:
                s = stats[name]
                state = "up to date" if s["up_to_date"] else "behind the store: 'sciseek sync'"
                print(f"{name + ' index:':15}{s['documents']} papers, {s['model']} ({state})")
        if "milvus" in stats:
            m = stats["milvus"]
            state = "up to date" if m["up_to_date"] else "behind: 'sciseek sync'"
            print(
                f"{'milvus:':15}{m['papers']} papers in {m['collection']} at {m['uri']} ({state})"
            )
    return 0


# -- eval, demo ----------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from sciseek.web.app import serve

    with open_engine(args, background=True) as engine:
        print(
            f"serving {engine.store.count()} papers on http://{args.host}:{args.port}/ "
            "(Ctrl-C stops)",
            file=sys.stderr,
        )
        # the encoder and its query session load while the first requests are answered
        threading.Thread(target=engine.warm_up, name="sciseek-warm-up", daemon=True).start()
        serve(engine, host=args.host, port=args.port)
    return 0


# -- parsers -------------------------------------------------------------------------------


def add_ray_arguments(p: argparse.ArgumentParser) -> None:
    """``--ray`` and ``--ray-actors``: encode on a Ray cluster."""
    p.add_argument(
        "--ray",
        metavar="auto|ADDRESS",
        help="encode on a Ray cluster ('auto': the one running on this machine or named by "
        "$RAY_ADDRESS; else HOST:PORT of its head): one encoder actor per GPU, or per CPU; "
        "finished chunks are committed as they come back (needs 'sciseek[ray]')",
    )
    p.add_argument(
        "--ray-actors",
        type=arguments.positive,
        metavar="N",
        help="encoder actors on the cluster (default: one per GPU, else one per CPU)",
    )


def add_core_commands(
    sub: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    model: argparse.ArgumentParser,
    retrieval: argparse.ArgumentParser,
    filters: argparse.ArgumentParser,
) -> None:
    """Add the index, search, similar, reindex, get, delete, stats, serve and demo commands."""
    p = sub.add_parser(
        "index",
        parents=[common, model],
        help="add paper files to the data dir",
        description="Add papers from files (JSONL, BEIR corpus, arXiv metadata "
        "JSON lines or CSV; .gz allowed). Bad records are reported with file "
        "and line and skipped; records with a known id replace the old one. Each committed "
        "batch is searchable by BM25, filters and id at once; the embeddings are computed "
        "after the files are read (Ctrl-C keeps the finished chunks: 'sciseek sync' goes on). "
        "Exit "
        "status: 0 when every file was read (bad records skipped, see the summary), 3 when a "
        "file is damaged (truncated gzip, bytes that are not UTF-8): partial input, what "
        "could be read was indexed; 2 when nothing valid was found.",
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
        default=BATCH_SIZE,
        metavar="N",
        help=f"papers committed together (default {BATCH_SIZE}); a crash loses at most one batch",
    )
    add_ray_arguments(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser(
        "search",
        parents=[common, retrieval, filters],
        help="search the papers",
        description="Search with keywords, a title, an id or a question, or with a whole "
        f"draft (--file, up to {MAX_CHARS:,} characters). The default hybrid mode fuses BM25 "
        "and dense (embedding) retrieval.",
    )
    p.add_argument("query", nargs="*", help="the query (or --file)")
    p.add_argument(
        "--file",
        metavar="DRAFT",
        help="search with the text of this file ('-': standard input), an abstract or an "
        "introduction: the papers related to it as a whole, found passage by passage",
    )
    p.add_argument("-k", type=arguments.top_k, default=10, help=f"number of results (1..{MAX_K})")
    p.add_argument(
        "--min-score",
        type=arguments.probability,
        metavar="P",
        help="keep only results whose calibrated relevance (probability, same scale in every "
        f"mode) is at least P; the digests use {THRESHOLD}, or {SHORT_THRESHOLD} for queries "
        f"of up to {SHORT_WORDS} words",
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
    add_ray_arguments(p)
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

    p = sub.add_parser(
        "sync",
        parents=[common, model],
        help="bring every index up to the store (finishes an interrupted encoding)",
        description="Encode the papers the dense (and sparse) index lack, e.g. after an "
        "'index' or 'demo' was stopped; finished chunks are never encoded again.",
    )
    add_ray_arguments(p)
    p.set_defaults(func=cmd_sync)
