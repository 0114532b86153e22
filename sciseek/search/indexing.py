"""Indexing paper files: read them in batches, upsert each batch, count what happened."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sciseek.ingest.papers import Paper
from sciseek.ingest.readers import ReadError, ReadReport, UnreadableSource, read_valid

from .engine import Engine

BATCH_SIZE = 2000

ErrorCallback = Callable[[ReadError | UnreadableSource], None]


@dataclass
class FileReport:
    """What indexing one file did."""

    path: str
    read: int = 0
    skipped: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0

    @property
    def indexed(self) -> int:
        """Papers written (new, updated or unchanged)."""
        return self.new + self.updated + self.unchanged


@dataclass
class IndexReport:
    """What indexing a list of files did."""

    files: list[FileReport] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)  # files with damage past their start
    bad_records: int = 0
    aborted: bool = False

    @property
    def indexed(self) -> int:
        """Papers written over all files."""
        return sum(f.indexed for f in self.files)


@dataclass(frozen=True)
class Batch:
    """One committed batch: its file, size and the store generation it produced."""

    path: str
    papers: int
    generation: int


def _batches(papers: Iterable[Paper], size: int) -> Iterator[list[Paper]]:
    batch: list[Paper] = []
    for paper in papers:
        batch.append(paper)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def validate_files(
    paths: Iterable[str | Path], format: str = "auto", on_error: ErrorCallback | None = None
) -> tuple[int, int]:
    """Read every file without writing; returns (valid papers, bad records or sources)."""
    valid = bad = 0

    def error(e: ReadError | UnreadableSource) -> None:
        nonlocal bad
        bad += 1
        if on_error is not None:
            on_error(e)

    for path in paths:
        try:
            valid += sum(1 for _ in read_valid(path, format, on_error=error))
        except UnreadableSource as e:
            error(e)
    return valid, bad


def index_file(
    engine: Engine,
    path: str | Path,
    format: str = "auto",
    *,
    batch_size: int = BATCH_SIZE,
    seen: set[str] | None = None,
    on_error: ErrorCallback | None = None,
    on_batch: Callable[[Batch], None] | None = None,
    progress: Callable[[int], None] | None = None,
    dense: bool = True,
) -> FileReport:
    """Index one paper file into ``engine`` in batches of ``batch_size``.

    ``seen`` collects the ids indexed so far, to count ids repeated across files. Raises
    UnreadableSource when the path cannot be read.
    """
    seen = set() if seen is None else seen
    report = FileReport(str(path))
    counts = ReadReport()

    def tracked(papers: Iterable[Paper]) -> Iterator[Paper]:
        for paper in papers:
            if paper.id in seen:
                report.duplicates += 1
            seen.add(paper.id)
            yield paper

    try:
        papers = tracked(read_valid(path, format, on_error=on_error, report=counts))
        for batch in _batches(papers, batch_size):
            encoded = 0

            def step(n: int) -> None:
                nonlocal encoded
                encoded += n
                if progress is not None:
                    progress(n)

            result = engine.add(batch, step if dense else None, dense=dense)
            report.new += result.inserted
            report.updated += result.updated
            report.unchanged += result.unchanged
            if progress is not None and len(batch) > encoded:
                progress(len(batch) - encoded)
            if on_batch is not None:
                on_batch(Batch(str(path), len(batch), result.generation))
    finally:
        report.read, report.skipped = counts.read, counts.skipped
    return report


def index_files(
    engine: Engine,
    paths: Iterable[str | Path],
    format: str = "auto",
    *,
    batch_size: int = BATCH_SIZE,
    strict: bool = False,
    on_error: ErrorCallback | None = None,
    on_file: Callable[[FileReport], None] | None = None,
    on_batch: Callable[[Batch], None] | None = None,
    progress: Callable[[int], None] | None = None,
    dense: bool = True,
) -> IndexReport:
    """Index paper files into ``engine``, skipping bad records and unreadable files.

    With ``strict``, every file is read first and nothing is written if any record is bad
    (the report is then ``aborted``) or no record is valid.
    """
    paths = list(paths)
    report = IndexReport()

    def error(e: ReadError | UnreadableSource) -> None:
        report.bad_records += 1
        if isinstance(e, UnreadableSource):
            report.unreadable.append(str(e))
        elif e.damaged and e.path not in report.damaged:
            report.damaged.append(e.path)
        if on_error is not None:
            on_error(e)

    if strict:
        valid, _ = validate_files(paths, format, error)
        if report.bad_records or not valid:
            report.aborted = bool(report.bad_records)
            return report
    seen: set[str] = set()
    for path in paths:
        try:
            file_report = index_file(
                engine,
                path,
                format,
                batch_size=batch_size,
                seen=seen,
                on_error=error,
                on_batch=on_batch,
                progress=progress,
                dense=dense,
            )
        except UnreadableSource as e:
            error(e)
            continue
        report.files.append(file_report)
        if on_file is not None:
            on_file(file_report)
    return report
