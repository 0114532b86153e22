"""Helpers shared by the command modules: errors, progress bars, engine options."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from sciseek.errors import BadInput
from sciseek.ingest.papers import Filters, InvalidFilter
from sciseek.search.engine import RERANK_DEPTH, Engine, default_data_dir
from sciseek.search.feedback import PRF
from sciseek.search.settings import RETRIEVERS, Settings, load_settings

from .progress import Progress

ERROR_CAP = 20
INTERRUPTED = 130  # exit code: Ctrl-C


class UsageError(BadInput):
    """Bad usage or bad input: exit code 2."""


def progress_bar(total: int | None, desc: str, unit: str = "paper") -> Progress:
    """A progress display for a long phase (see ``progress.Progress``)."""
    return Progress(total, desc, unit)


@contextmanager
def work_dir(data_dir: str | None, prefix: str) -> Iterator[Path]:
    """``data_dir`` if given, else a temporary directory removed afterwards."""
    if data_dir:
        yield Path(data_dir)
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield Path(tmp)


def open_engine(
    args: argparse.Namespace, data_dir: str | Path | None = None, *, background: bool = False
) -> Engine:
    """The engine of the command's data dir, with its retrieval options applied
    (``background``: index work off the query path, for servers)."""
    path = Path(data_dir or args.data_dir or default_data_dir())
    fusion, weights, prf = (getattr(args, name, None) for name in ("fusion", "weights", "prf"))
    settings = None
    if fusion or weights or prf:
        stored = load_settings(path) if path.is_dir() else Settings()
        settings = replace(
            stored,
            fusion=fusion or stored.fusion,
            weights=weights or stored.weights,
            prf=stored.prf if not prf else None if prf == "off" else prf,
        )
    reranker = None
    if getattr(args, "rerank", None):
        from sciseek.search.rerank import Reranker

        reranker = Reranker(args.rerank)
    return Engine.open(
        path,
        model=getattr(args, "model", None),
        settings=settings,
        reranker=reranker,
        rerank_depth=getattr(args, "rerank_depth", RERANK_DEPTH),
        background=background,
        device=getattr(args, "device", "auto") or "auto",
        backend=getattr(args, "backend", None),
        milvus_uri=getattr(args, "milvus_uri", None),
    )


def prf_option(value: str) -> PRF | str:
    from sciseek.search.feedback import parse

    if value.strip() == "off":
        return "off"
    try:
        return parse(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def weights_option(value: str) -> dict[str, float]:
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


def filters_of(args: argparse.Namespace) -> Filters | None:
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


def store_backend(args: argparse.Namespace, engine: Engine) -> None:
    """Keep a ``--backend``/``--milvus-uri`` given to this command in the data dir."""
    if getattr(args, "backend", None) or getattr(args, "milvus_uri", None):
        engine.save_config()
        where = engine.settings.milvus_uri or "the data dir"
        print(f"retrieval backend: {engine.settings.backend} ({where}), stored", file=sys.stderr)


def ray_options(args: argparse.Namespace, engine: Engine) -> Any:
    """The Ray ``stream`` that ``--ray`` asks for (None without it)."""
    address = getattr(args, "ray", None)
    if not address:
        return None
    from sciseek.index.ray_encoding import ray_stream

    return ray_stream(
        address,
        engine.dense_model_path,
        device=getattr(args, "device", "auto") or "auto",
        actors=getattr(args, "ray_actors", None),
        log=lambda message: print(message, file=sys.stderr),
    )


def encode_backlog(engine: Engine, stream: Any = None) -> bool:
    """Encode the papers the vector indexes lack, with progress (on a Ray cluster with a
    ``ray_options`` stream), and bring a Milvus mirror up to them; True when interrupted
    (committed chunks stay: the next ``sciseek sync`` or ``index`` goes on from there)."""
    dense = engine.index_progress()["dense"]
    try:
        if not dense["up_to_date"]:
            with progress_bar(dense["pending"], "encoding") as bar:
                engine.sync(bar.update, stream=stream)
        if engine.settings.backend == "milvus":
            with progress_bar(dense["papers"], "Milvus") as bar:
                engine.sync_mirror(bar.update)
    except KeyboardInterrupt:
        dense = engine.index_progress()["dense"]
        print(
            f"interrupted: every paper is stored and searchable by BM25; "
            f"{dense['documents']:,} of {dense['papers']:,} have embeddings. "
            "'sciseek sync' finishes the encoding (finished chunks are kept).",
            file=sys.stderr,
        )
        return True
    return False
