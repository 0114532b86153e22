"""``sciseek search --file``: search with a whole draft read from a file or standard input."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sciseek.search.draft import search_draft
from sciseek.search.engine import Hit

from .common import UsageError, filters_of, open_engine


def read_draft(name: str) -> str:
    """The text of a draft file (``-``: standard input); UsageError if it cannot be read."""
    try:
        if name == "-":
            return sys.stdin.read()
        return Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such file: {name}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not UTF-8 text") from None
    except OSError as e:
        raise UsageError(f"cannot read {name}: {e.strerror or e}") from None


def search_file(args: argparse.Namespace, query: str) -> tuple[str, list[Hit]]:
    """The draft of ``--file`` and the papers related to it as a whole."""
    if query:
        raise UsageError("give a query or --file, not both")
    if args.min_score is not None:
        raise UsageError("--min-score applies to a query, not to --file")
    text = read_draft(args.file)
    filters = filters_of(args)
    with open_engine(args) as engine:
        return text, search_draft(engine, text, mode=args.mode, k=args.k, filters=filters)
