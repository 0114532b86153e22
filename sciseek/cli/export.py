"""``sciseek export``: papers as BibTeX, RIS or CSL-JSON on stdout, and its parser."""

from __future__ import annotations

import argparse
import sys

from sciseek.export import FORMATS, MAX_IDS, lookup

from .common import UsageError, open_engine


def cmd_export(args: argparse.Namespace) -> int:
    if len(args.ids) > MAX_IDS:
        raise UsageError(f"at most {MAX_IDS} ids in one export")
    with open_engine(args) as engine:
        papers, missing = lookup(engine, args.ids)
    if missing:
        raise UsageError(f"no paper with id {', '.join(repr(i) for i in missing)}")
    sys.stdout.write(FORMATS[args.format].render(papers))
    return 0


def add_export_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the export command."""
    p = sub.add_parser(
        "export",
        parents=[common],
        help="print papers as BibTeX, RIS or CSL-JSON",
        description="Print the papers with these ids for a reference manager: BibTeX "
        "(@misc with eprint, archivePrefix and primaryClass for arXiv papers), RIS or "
        "CSL-JSON. Ids may carry an 'arXiv:' prefix or a version. An unknown id prints "
        "nothing and exits 2.",
        epilog="example: sciseek export --format bibtex 2401.00001 hep-th/9901001 > refs.bib",
    )
    p.add_argument("ids", nargs="+", metavar="ID", help="paper ids, in the order to print them")
    p.add_argument(
        "--format",
        choices=tuple(FORMATS),
        default="bibtex",
        help="bibtex (default), ris or csl (CSL-JSON)",
    )
    p.set_defaults(func=cmd_export)
