"""Helpers shared by the command modules: errors, progress bars, engine options."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from sciseek.errors import BadInput
from sciseek.ingest.papers import Filters, InvalidFilter
from sciseek.search.engine import Engine, default_data_dir
from sciseek.search.feedback import PRF
from sciseek.search.settings import RETRIEVERS

BATCH = 2000
ERROR_CAP = 20


class UsageError(BadInput):
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


@contextmanager
def _work_dir(data_dir: str | None, prefix: str) -> Iterator[Path]:
    """``data_dir`` if given, else a temporary directory removed afterwards."""
    if data_dir:
        yield Path(data_dir)
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield Path(tmp)


def _engine(args: argparse.Namespace, data_dir: str | Path | None = None) -> Engine:
    engine = Engine.open(
        data_dir or args.data_dir or default_data_dir(), model=getattr(args, "model", None)
    )
    if getattr(args, "fusion", None):
        engine.fusion = args.fusion
    if getattr(args, "weights", None):
        engine.weights = args.weights
    if getattr(args, "prf", None):
        engine.prf = None if args.prf == "off" else args.prf
    if getattr(args, "rerank", None):
        from sciseek.search.rerank import Reranker

        engine.reranker = Reranker(args.rerank)
        engine.rerank_depth = args.rerank_depth
    return engine


def _prf(value: str) -> PRF | str:
    from sciseek.search.feedback import parse

    if value.strip() == "off":
        return "off"
    try:
        return parse(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
    except InvalidFilter as e:
        raise UsageError(str(e)) from None
    return f or None
