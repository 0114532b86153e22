"""The scheduled jobs: arXiv harvesting, subscribers and email digests."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from ..engine import Engine, default_data_dir
from .common import UsageError, _engine, _progress

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
    from ..harvest import Harvester, HarvestError, ProtocolError

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
    from ..harvest import HarvestState, format_status

    data_dir = Path(args.data_dir or default_data_dir())
    state = HarvestState.load(data_dir)
    if args.json:
        print(json.dumps({"data_dir": str(data_dir), **state.to_dict()}, ensure_ascii=False))
    else:
        print(format_status(state))
    return 0


# -- subscribers, digest ------------------------------------------------------------------


def cmd_subscribers_add(args: argparse.Namespace) -> int:
    from ..interests import make_interests, normalise_email
    from ..optin import subscribe
    from ..subscriptions import Subscriptions

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
    from ..subscriptions import Subscriptions

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
    from ..subscriptions import Subscriptions

    with _engine(args) as engine, Subscriptions.open(engine.data_dir) as subs:
        subs.remove(args.email)
    print(f"removed {args.email.strip().lower()} and their sent-log")
    return 0


def cmd_digest_send(args: argparse.Namespace) -> int:
    from ..digest import send_digests

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
