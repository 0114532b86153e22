"""The scheduled jobs (arXiv harvesting, subscribers, email digests) and their parsers."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from sciseek.cli import arguments
from sciseek.digests.interests import FREQUENCIES, make_interests, normalise_email
from sciseek.search.engine import Engine, default_data_dir

from .common import INTERRUPTED, UsageError, encode_backlog, open_engine, progress_bar

# -- harvest -------------------------------------------------------------------------------

DEMO_SET = "cs"
DEMO_CATEGORIES = ("cs.CL", "cs.IR", "cs.LG")
DEMO_DAYS = 3


def run_harvest(
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
    encode: bool = True,
) -> int:
    """Harvest OAI-PMH sets into ``engine``, a summary line per set; returns the exit code.

    Harvested papers are searchable by BM25 at once; their embeddings are computed after the
    harvest (``encode``; else left for later)."""
    from sciseek.harvest.harvester import Harvester
    from sciseek.ingest.oai import HarvestError, ProtocolError

    def log(message: str) -> None:
        tqdm.write(message, file=sys.stderr)

    try:
        with Harvester(engine, endpoint=endpoint, delay=delay, log=log, encode=False) as harvester:
            for spec in dict.fromkeys(sets):
                with progress_bar(None, f"harvesting {spec}", unit="record") as bar:
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
    if encode and encode_backlog(engine):
        return INTERRUPTED
    return 0


def cmd_harvest_arxiv(args: argparse.Namespace) -> int:
    if args.date_from and args.until and args.date_from > args.until:
        raise UsageError(f"--from {args.date_from} is after --until {args.until}")
    if args.endpoint and not args.endpoint.startswith(("http://", "https://")):
        raise UsageError(f"--endpoint must be an http:// or https:// URL: {args.endpoint!r}")
    with open_engine(args) as engine:
        return run_harvest(
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
    from sciseek.harvest.state import HarvestState, format_status

    data_dir = Path(args.data_dir or default_data_dir())
    state = HarvestState.load(data_dir)
    if args.json:
        print(json.dumps({"data_dir": str(data_dir), **state.to_dict()}, ensure_ascii=False))
    else:
        print(format_status(state))
    return 0


# -- subscribers, digest ------------------------------------------------------------------


def cmd_subscribers_add(args: argparse.Namespace) -> int:
    from sciseek.digests.optin import subscribe
    from sciseek.digests.subscriptions import Subscriptions

    email = normalise_email(args.email)
    interests = make_interests(args.queries, args.papers, args.categories)
    with open_engine(args) as engine, Subscriptions.open(engine.data_dir) as subs:
        subs.check_papers(interests)
        if args.confirmed:
            sub = subs.add(email, interests, args.frequency)
            print(f"{sub.email}: active, {sub.frequency} digests")
        else:
            sub = subscribe(subs, engine.data_dir, email, interests, args.frequency)
            print(f"{sub.email}: confirmation link sent; digests start once it is followed")
    return 0


def cmd_subscribers_list(args: argparse.Namespace) -> int:
    from sciseek.digests.subscriptions import Subscriptions

    with open_engine(args) as engine, Subscriptions.open(engine.data_dir) as subs:
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
    from sciseek.digests.subscriptions import Subscriptions

    with open_engine(args) as engine, Subscriptions.open(engine.data_dir) as subs:
        subs.remove(args.email)
    print(f"removed {args.email.strip().lower()} and their sent-log")
    return 0


def _print_previews(engine: Engine, now: dt.datetime | None, threshold: float | None) -> None:
    """Each active subscriber's last week, as the digest would have seen it."""
    from sciseek.digests.preview import preview
    from sciseek.digests.subscriptions import Subscriptions

    with Subscriptions.open(engine.data_dir) as subs:
        active = [s for s in subs.all() if s.state == "active"]
    for sub in active:
        shown = preview(engine, sub.interests, now=now, threshold=threshold)
        print(f"{sub.email}: {shown.summary()}")


def cmd_digest_send(args: argparse.Namespace) -> int:
    from sciseek.digests.digest import send_digests
    from sciseek.library.tagsend import send_tag_digests

    output = Path(args.output) if args.output else None
    with open_engine(args) as engine:
        report = send_digests(
            engine,
            now=args.now,
            dry_run=args.dry_run,
            max_papers=args.max_papers,
            threshold=args.threshold,
            output=output,
            log=print,
        )
        tags = send_tag_digests(
            engine,
            now=args.now,
            dry_run=args.dry_run,
            max_papers=args.max_papers,
            output=output,
            log=print,
        )
        if args.dry_run:
            _print_previews(engine, args.now, args.threshold)
    print(report.summary(dry_run=args.dry_run))
    print(tags.summary(dry_run=args.dry_run))
    for email, why in [*report.failed, *tags.failed]:
        print(f"error: digest for {email} not sent: {why}", file=sys.stderr)
    return 1 if report.failed or tags.failed else 0


# -- parsers -------------------------------------------------------------------------------


def add_job_commands(
    sub: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    model: argparse.ArgumentParser,
) -> None:
    """Add the harvest, subscribers and digest commands to ``sub``."""
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
    s.add_argument("--frequency", choices=tuple(FREQUENCIES), default="daily")
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
        "paper reaches each subscriber at most once; failed sends are retried next run. "
        "--dry-run also shows what each subscriber's interests brought over the last week. "
        "Then the same for the readers' tag digests: the new papers their tag's model scores "
        "above its calibrated threshold (--threshold applies to query digests only).",
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
        help="calibrated relevance a paper needs, for every query (default: the measured "
        "one of each query's kind, short phrase or longer text)",
    )
    d.add_argument(
        "--output", metavar="DIR", help="with --dry-run: write each digest's HTML and text here"
    )
    d.set_defaults(func=cmd_digest_send)
