"""The ``sciseek`` command line.

Exit codes: 0 success, 2 bad usage or bad input, 1 any other failure. Errors are one line on
stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from . import __version__
from .digest import DigestLocked
from .encoder import ModelNotFound
from .engine import DEFAULT_MODE, MAX_K, MODES, Engine, default_data_dir
from .fusion import FUSIONS
from .mail import MailError, MailNotConfigured
from .papers import Filters, InvalidPaper, Paper
from .readers import FORMATS, ReadError, UnreadableSource, read_papers
from .subscriptions import InvalidSubscription, RateLimited, UnknownSubscriber
from .vectors import ModelMismatch

BATCH = 2000
RETRIEVERS = ("bm25", "dense", "sparse")
ERROR_CAP = 20


class UsageError(Exception):
    """Bad usage or bad input: exit code 2."""


def _progress(total: int | None, desc: str, unit: str = "paper") -> tqdm:
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not sys.stderr.isatty(),
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
    )


def _engine(args: argparse.Namespace, data_dir: str | Path | None = None) -> Engine:
    engine = Engine.open(
        data_dir or args.data_dir or default_data_dir(), model=getattr(args, "model", None)
    )
    if getattr(args, "fusion", None):
        engine.fusion = args.fusion
    if getattr(args, "weights", None):
        engine.weights = args.weights
    return engine


def _weights(value: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in value.split(","):
        name, _, number = part.partition("=")
        name = name.strip()
        if name not in RETRIEVERS:
            raise argparse.ArgumentTypeError(
                f"unknown retriever {name!r}; use {', '.join(RETRIEVERS)}"
            )
        try:
            weights[name] = float(number)
        except ValueError:
            raise argparse.ArgumentTypeError(f"weight of {name} is not a number") from None
        if weights[name] < 0:
            raise argparse.ArgumentTypeError("weights must not be negative")
    if not any(weights.values()):
        raise argparse.ArgumentTypeError("at least one weight must be positive")
    return weights


def _filters(args: argparse.Namespace) -> Filters | None:
    try:
        f = Filters(
            date_from=args.date_from,
            date_to=args.date_to,
            categories=tuple(args.category or ()),
            authors=tuple(args.author or ()),
        )
    except InvalidPaper as e:
        raise UsageError(str(e)) from None
    return f or None


# -- index ---------------------------------------------------------------------------------


class _ErrorPrinter:
    def __init__(self, cap: int = ERROR_CAP):
        self.cap = cap
        self.count = 0
        self.reasons: Counter[str] = Counter()

    def __call__(self, error: ReadError | str) -> None:
        self.count += 1
        if isinstance(error, ReadError):
            self.reasons[error.reason.split(" (")[0].split(":")[0]] += 1
        if self.count <= self.cap:
            tqdm.write(f"error: {error}", file=sys.stderr)

    def finish(self) -> None:
        if self.count > self.cap:
            print(f"error: ... and {self.count - self.cap} more bad records", file=sys.stderr)


def _validate_all(paths: Sequence[str], fmt: str, errors: _ErrorPrinter) -> int:
    valid = 0
    for path in paths:
        try:
            for item in read_papers(path, fmt):
                if isinstance(item, ReadError):
                    errors(item)
                else:
                    valid += 1
        except UnreadableSource as e:
            errors(str(e))
    return valid


def _index_file(
    engine: Engine,
    path: str,
    fmt: str,
    errors: _ErrorPrinter,
    seen: set[str],
    bar: tqdm,
    verbose: bool,
    batch_size: int,
) -> Counter[str]:
    counts: Counter[str] = Counter()
    batch: list[Paper] = []

    def flush() -> None:
        if not batch:
            return
        encoded = [0]

        def progress(n: int) -> None:
            encoded[0] += n
            bar.update(n)

        result = engine.add(batch, progress)
        counts["new"] += result.inserted
        counts["updated"] += result.updated
        counts["unchanged"] += result.unchanged
        bar.update(max(0, len(batch) - encoded[0]))
        if verbose:
            tqdm.write(
                f"committed {len(batch)} papers from {path} (store generation {result.generation})",
                file=sys.stderr,
            )
        batch.clear()

    for item in read_papers(path, fmt):
        counts["read"] += 1
        if isinstance(item, ReadError):
            counts["skipped"] += 1
            errors(item)
            continue
        if item.id in seen:
            counts["duplicates"] += 1
        seen.add(item.id)
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    flush()
    return counts


def index_paths(
    engine: Engine,
    paths: Sequence[str],
    fmt: str = "auto",
    *,
    strict: bool = False,
    verbose: bool = False,
    batch_size: int = BATCH,
) -> int:
    """Index paper files into ``engine`` with a per-file summary; returns the exit code."""
    errors = _ErrorPrinter()
    if strict:
        valid = _validate_all(paths, fmt, errors)
        errors.finish()
        if errors.count:
            print(
                f"aborted (--strict): {errors.count} bad records; nothing was written",
                file=sys.stderr,
            )
            return 2
        if not valid:
            print("error: no valid papers found", file=sys.stderr)
            return 2
    totals: Counter[str] = Counter()
    unusable = False
    seen: set[str] = set()
    with _progress(None, "indexing") as bar:
        for path in paths:
            try:
                counts = _index_file(engine, path, fmt, errors, seen, bar, verbose, batch_size)
            except UnreadableSource as e:
                errors(str(e))
                unusable = True
                continue
            if not counts["read"]:
                tqdm.write(f"error: {path}: no papers found (empty file)", file=sys.stderr)
            indexed = counts["new"] + counts["updated"] + counts["unchanged"]
            line = (
                f"{path}: read {counts['read']} records, indexed {indexed} "
                f"({counts['new']} new, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged), skipped {counts['skipped']}"
            )
            if counts["duplicates"]:
                line += f", {counts['duplicates']} duplicate ids (last one kept)"
            tqdm.write(line, file=sys.stdout)
            totals.update(counts)
    errors.finish()
    if errors.reasons:
        reasons = ", ".join(f"{n} {r}" for r, n in errors.reasons.most_common())
        print(f"skipped records by reason: {reasons}", file=sys.stderr)
    valid = totals["new"] + totals["updated"] + totals["unchanged"]
    print(f"store now holds {engine.store.count()} papers")
    if not valid:
        print("error: no valid papers found", file=sys.stderr)
        return 2
    return 2 if unusable else 0


def cmd_index(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        return index_paths(
            engine,
            args.paths,
            args.format,
            strict=args.strict,
            verbose=args.verbose,
            batch_size=args.batch_size,
        )


# -- search, get, delete, stats ------------------------------------------------------------


def _print_hits(hits: list) -> None:
    out = sys.stdout
    if not hits:
        print("no results", file=out)
    for rank, hit in enumerate(hits, 1):
        p = hit.paper
        print(f"{rank:3d}. [{hit.score:7.3f}] {p.id}  {p.title}", file=out)
        meta = [
            ", ".join(p.authors[:3]) + (" et al." if len(p.authors) > 3 else ""),
            p.published or "",
            " ".join(p.categories[:4]),
        ]
        print("      " + " | ".join(m for m in meta if m), file=out)


def cmd_search(args: argparse.Namespace) -> int:
    query = " ".join(args.query).strip()
    if not query:
        raise UsageError("empty query")
    filters = _filters(args)
    with _engine(args) as engine:
        hits = engine.search(query, mode=args.mode, k=args.k, filters=filters)
    if args.json:
        print(
            json.dumps(
                {"query": query, "mode": args.mode, "hits": [h.to_dict() for h in hits]},
                ensure_ascii=False,
            )
        )
    else:
        _print_hits(hits)
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    filters = _filters(args)
    with _engine(args) as engine:
        if engine.get(args.id) is None:
            raise UsageError(f"no paper with id {args.id!r}")
        hits = engine.similar(args.id, k=args.k, filters=filters)
    if args.json:
        print(json.dumps({"id": args.id, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False))
    else:
        _print_hits(hits)
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or default_data_dir())
    dense_dir = data_dir / "dense"
    if dense_dir.exists():
        shutil.rmtree(dense_dir)
    with _engine(args, data_dir) as engine, _progress(engine.store.count(), "encoding") as bar:
        engine.sync(bar.update)
        stats = engine.stats()
    print(
        f"dense index rebuilt with {stats['dense']['model']}: {stats['dense']['documents']} papers"
    )
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        paper = engine.get(args.id)
    if paper is None:
        raise UsageError(f"no paper with id {args.id!r}")
    print(json.dumps(paper.to_dict(), ensure_ascii=False, indent=None if args.json else 2))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        deleted = engine.delete(args.ids)
    missing = [i for i in dict.fromkeys(args.ids) if i not in set(deleted)]
    print(f"deleted {len(deleted)} papers")
    for pid in missing:
        print(f"warning: no paper with id {pid!r}", file=sys.stderr)
    if not deleted:
        raise UsageError("none of the given ids exist")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
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
    return 0


# -- harvest -------------------------------------------------------------------------------

DEMO_SET = "cs"
DEMO_CATEGORIES = ("cs.CL", "cs.IR", "cs.LG")
DEMO_DAYS = 3


def _harvest(
    engine: Engine,
    sets: Sequence[str],
    *,
    date_from: str | None = None,
    until: str | None = None,
    categories: Sequence[str] = (),
    endpoint: str | None = None,
    delay: float | None = None,
    debug: bool = False,
    hint: str = "",
) -> int:
    """Harvest OAI-PMH sets into ``engine``, a summary line per set; returns the exit code."""
    from .harvest import Harvester, HarvestError, ProtocolError

    def log(message: str) -> None:
        tqdm.write(message, file=sys.stderr)

    try:
        with Harvester(engine, endpoint=endpoint, delay=delay, log=log) as harvester:
            for spec in dict.fromkeys(sets):
                with _progress(None, f"harvesting {spec}", unit="record") as bar:
                    report = harvester.harvest_set(
                        spec,
                        date_from=date_from,
                        until=until,
                        categories=categories,
                        progress=bar.update,
                    )
                print(report.summary())
    except HarvestError as e:
        if e.report is not None and e.report.pages:
            print(e.report.summary())
        if debug:
            traceback.print_exc()
        print(f"error: {e}{hint}", file=sys.stderr)
        return 2 if isinstance(e, ProtocolError) else 1
    print(f"store now holds {engine.store.count()} papers")
    return 0


def cmd_harvest_arxiv(args: argparse.Namespace) -> int:
    if args.date_from and args.until and args.date_from > args.until:
        raise UsageError(f"--from {args.date_from} is after --until {args.until}")
    if args.endpoint and not args.endpoint.startswith(("http://", "https://")):
        raise UsageError(f"--endpoint must be an http:// or https:// URL: {args.endpoint!r}")
    with _engine(args) as engine:
        return _harvest(
            engine,
            args.sets,
            date_from=args.date_from,
            until=args.until,
            categories=args.categories or (),
            endpoint=args.endpoint,
            delay=args.delay,
            debug=args.debug,
        )


def cmd_harvest_status(args: argparse.Namespace) -> int:
    from .harvest import HarvestState, format_status

    data_dir = Path(args.data_dir or default_data_dir())
    state = HarvestState.load(data_dir)
    if args.json:
        print(json.dumps({"data_dir": str(data_dir), **state.to_dict()}, ensure_ascii=False))
    else:
        print(format_status(state))
    return 0


# -- eval, demo ----------------------------------------------------------------------------


@contextmanager
def _eval_dir(data_dir: str | None) -> Iterator[Path]:
    if data_dir:
        yield Path(data_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="sciseek-eval-") as tmp:
            yield Path(tmp)


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, load_dataset

    dataset = load_dataset(args.dataset, args.split)
    with _eval_dir(args.data_dir) as data_dir, _engine(args, data_dir) as engine:
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
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(
            f"{dataset.name} ({args.split}, {result.queries} queries, {len(papers)} documents,"
            f" mode {args.mode})"
        )
        for name, value in result.metrics.items():
            print(f"  {name:<11} {value:.4f}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or default_data_dir())
    with Engine.open(data_dir) as engine:
        if args.file:
            code = index_paths(engine, [args.file], "auto")
        else:
            since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=DEMO_DAYS)
            print(
                f"harvesting arXiv {DEMO_SET} since {since} ({', '.join(DEMO_CATEGORIES)});"
                " this takes a few minutes"
            )
            code = _harvest(
                engine,
                [DEMO_SET],
                date_from=since.isoformat(),
                categories=DEMO_CATEGORIES,
                debug=args.debug,
                hint="; offline, use sciseek demo --file PAPERS.jsonl[.gz]",
            )
        if code:
            return code
        query = "retrieval augmented generation for question answering"
        hits = engine.search(query, k=5)
        print(f"\nsample search: {query!r}")
        _print_hits(hits)
    where = "" if args.data_dir is None else f" --data-dir {data_dir}"
    print(f"\nready: {data_dir.resolve()}\ntry:   sciseek search 'your question'{where}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .web import serve

    with _engine(args) as engine:
        print(
            f"serving {engine.store.count()} papers on http://{args.host}:{args.port}/ "
            "(Ctrl-C stops)",
            file=sys.stderr,
        )
        serve(engine, host=args.host, port=args.port)
    return 0


# -- subscribers, digest ------------------------------------------------------------------


def cmd_subscribers_add(args: argparse.Namespace) -> int:
    from .subscriptions import Subscriptions, make_interests, normalise_email, subscribe

    email = normalise_email(args.email)
    interests = make_interests(args.queries, args.papers, args.categories)
    with _engine(args) as engine, Subscriptions.open(engine.data_dir) as subs:
        subs.check_papers(interests)
        if args.confirmed:
            sub = subs.add(email, interests, args.frequency)
            print(f"{sub.email}: active, {sub.frequency} digests")
        else:
            sub = subscribe(subs, engine.data_dir, email, interests, args.frequency)
            print(f"{sub.email}: confirmation link sent; digests start once it is followed")
    return 0


def cmd_subscribers_list(args: argparse.Namespace) -> int:
    from .subscriptions import Subscriptions

    with _engine(args) as engine, Subscriptions.open(engine.data_dir) as subs:
        found = subs.all()
    if args.json:
        print(json.dumps({"subscribers": [s.to_dict() for s in found]}, ensure_ascii=False))
        return 0
    if not found:
        print("no subscribers")
    for s in found:
        wants = [f'"{q}"' for q in s.interests.queries] + [f"like {p}" for p in s.interests.papers]
        where = f" in {','.join(s.interests.categories)}" if s.interests.categories else ""
        print(
            f"{s.id:4d}  {s.email}  {s.state}  {s.frequency}  "
            f"last digest {s.last_digest or '-'}  {'; '.join(wants)}{where}"
        )
    return 0


def cmd_subscribers_remove(args: argparse.Namespace) -> int:
    from .subscriptions import Subscriptions

    with _engine(args) as engine, Subscriptions.open(engine.data_dir) as subs:
        subs.remove(args.email)
    print(f"removed {args.email.strip().lower()} and their sent-log")
    return 0


def cmd_digest_send(args: argparse.Namespace) -> int:
    from .digest import send_digests

    with _engine(args) as engine:
        report = send_digests(
            engine,
            now=args.now,
            dry_run=args.dry_run,
            max_papers=args.max_papers,
            threshold=args.threshold,
            output=Path(args.output) if args.output else None,
            log=print,
        )
    print(report.summary(dry_run=args.dry_run))
    for email, why in report.failed:
        print(f"error: digest for {email} not sent: {why}", file=sys.stderr)
    return 1 if report.failed else 0


# -- parser --------------------------------------------------------------------------------


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _k(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_K}")
    return k


def _day(value: str) -> str:
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _moment(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or time (YYYY-MM-DD[THH:MM]): {value!r}"
        ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _probability(value: str) -> float:
    try:
        p = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < p < 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return p


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return seconds


def _set_spec(value: str) -> str:
    from .harvest import SET_SPEC

    spec = value.strip()
    if not SET_SPEC.match(spec):
        raise argparse.ArgumentTypeError(
            f"not an OAI set spec (e.g. cs, physics:hep-ex): {value!r}"
        )
    return spec


def _category_list(value: str) -> list[str]:
    categories = [c.strip() for c in value.split(",") if c.strip()]
    if not categories:
        raise argparse.ArgumentTypeError("no categories given (e.g. cs.CL,cs.IR)")
    return categories


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
        type=_positive,
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
    p.add_argument("-k", type=_k, default=10, help=f"number of results (1..{MAX_K})")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "similar",
        parents=[common, model, filters],
        help="papers nearest to a paper by embedding",
        description="The papers closest to ID in the dense embedding space (ID excluded).",
    )
    p.add_argument("id")
    p.add_argument("-k", type=_k, default=10, help=f"number of results (1..{MAX_K})")
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
        type=_set_spec,
        metavar="SET",
        help="OAI set, e.g. cs or physics:hep-ex (repeatable)",
    )
    h.add_argument(
        "--from",
        dest="date_from",
        type=_day,
        metavar="DATE",
        help="records changed on/after DATE, instead of continuing from the last harvest",
    )
    h.add_argument("--until", type=_day, metavar="DATE", help="records changed on/before DATE")
    h.add_argument("--endpoint", metavar="URL", help="OAI-PMH base URL (default: arXiv's)")
    h.add_argument(
        "--delay",
        type=_seconds,
        metavar="SECONDS",
        help="pause between requests (default 3, as arXiv asks)",
    )
    h.add_argument(
        "--categories",
        type=_category_list,
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
        "serve",
        parents=[common],
        help="run the web app and JSON API",
        description="Serve the search page, paper pages, new and trending lists and the JSON "
        "API (OpenAPI docs at /docs) from the data dir.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=_positive, default=8000, help="port (default 8000)")
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
        "--now", type=_moment, metavar="DATE", help="act as if it were DATE (UTC; default: now)"
    )
    d.add_argument(
        "--max-papers", type=_k, default=20, metavar="N", help="papers per email (default 20)"
    )
    d.add_argument(
        "--threshold",
        type=_probability,
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
