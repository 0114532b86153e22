"""Argument types of the command line: each parses one value or raises a one-line error."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable

from sciseek.search.engine import MAX_K
from sciseek.search.settings import RETRIEVERS


def _number(
    value: str, cast: type[int] | type[float], ok: Callable[[float], bool], rule: str
) -> int | float:
    """``value`` as an int or float that satisfies ``ok``; else an error stating ``rule``."""
    try:
        x = cast(value)
    except ValueError:
        kind = "an integer" if cast is int else "a number"
        raise argparse.ArgumentTypeError(f"not {kind}: {value!r}") from None
    if not ok(x):
        raise argparse.ArgumentTypeError(rule)
    return x


def positive(value: str) -> int:
    """An integer >= 1."""
    return int(_number(value, int, lambda n: n >= 1, "must be at least 1"))


def positive_float(value: str) -> float:
    """A finite number > 0."""
    return _number(value, float, lambda x: 0 < x < float("inf"), "must be a positive number")


def fraction(value: str) -> float:
    """A number in (0, 1]."""
    return _number(value, float, lambda x: 0 < x <= 1, "must be in (0, 1]")


def probability(value: str) -> float:
    """A number strictly between 0 and 1."""
    return _number(value, float, lambda x: 0 < x < 1, "must be between 0 and 1")


def top_k(value: str) -> int:
    """A result count, 1..MAX_K."""
    return int(_number(value, int, lambda k: 1 <= k <= MAX_K, f"must be between 1 and {MAX_K}"))


def seconds(value: str) -> float:
    """A delay of 0..3600 seconds."""
    return _number(value, float, lambda s: 0 <= s <= 3600, "must be between 0 and 3600 seconds")


def retriever_list(value: str) -> list[str]:
    """Two or three distinct retriever names, comma-separated."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    bad = [n for n in names if n not in RETRIEVERS]
    if bad or len(set(names)) < 2:
        raise argparse.ArgumentTypeError("name two or three of bm25, dense, sparse")
    return list(dict.fromkeys(names))


def day(value: str) -> str:
    """An ISO date, YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def moment(value: str) -> dt.datetime:
    """An ISO date or time, as an aware UTC datetime (naive input is taken as UTC)."""
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or time (YYYY-MM-DD[THH:MM]): {value!r}"
        ) from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def set_spec(value: str) -> str:
    """An OAI-PMH set spec such as ``cs`` or ``physics:hep-ex``."""
    from sciseek.ingest.oai import SET_SPEC

    spec = value.strip()
    if not SET_SPEC.match(spec):
        raise argparse.ArgumentTypeError(
            f"not an OAI set spec (e.g. cs, physics:hep-ex): {value!r}"
        )
    return spec


def category_list(value: str) -> list[str]:
    """One or more comma-separated arXiv categories."""
    categories = [c.strip() for c in value.split(",") if c.strip()]
    if not categories:
        raise argparse.ArgumentTypeError("no categories given (e.g. cs.CL,cs.IR)")
    return categories
