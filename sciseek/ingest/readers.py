"""Readers: turn paper files (our JSONL, BEIR corpora, arXiv metadata, CSV) into Papers.

Every reader yields, in file order, either a ``Paper`` or a ``ReadError`` naming the file and
line of a bad record, so one bad record never hides the good ones around it.
"""

from __future__ import annotations

import csv
import email.utils
import gzip
import io
import json
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sciseek.errors import BadInput

from .papers import MAX_RECORD_BYTES, InvalidPaper, Paper, paper_from_dict

FORMATS = ("auto", "jsonl", "beir", "arxiv", "csv")
_DAMAGE = (EOFError, zlib.error, OSError)  # gzip.BadGzipFile is an OSError


class UnreadableSource(BadInput, ValueError):
    """A path that cannot be read at all (missing, a plain directory, corrupt container)."""


@dataclass(frozen=True)
class ReadError:
    """One bad record: where it is and why it was skipped.

    ``damaged`` marks damage to the file itself (a truncated or corrupt compressed stream,
    bytes that are not UTF-8 text) rather than a well-formed record with bad content.
    """

    path: str
    line: int
    reason: str
    damaged: bool = False

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def resolve_source(path: str | Path) -> Path:
    """The file to read for ``path``: the path itself, or a BEIR directory's corpus file."""
    p = Path(path)
    if not p.exists():
        raise UnreadableSource(f"{path}: no such file or directory")
    if p.is_dir():
        for name in ("corpus.jsonl", "corpus.jsonl.gz"):
            if (p / name).is_file():
                return p / name
        raise UnreadableSource(f"{path}: is a directory (expected a paper file or a BEIR dataset)")
    return p


def _open_binary(path: Path) -> IO[bytes]:
    try:
        f = open(path, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as e:
        raise UnreadableSource(f"{path}: {e.strerror or e}") from None
    if f.read(2) == b"\x1f\x8b":
        f.seek(0)
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    f.seek(0)
    return f


def _raw_lines(f: IO[bytes], limit: int = MAX_RECORD_BYTES) -> Iterator[bytes | None]:
    """The lines of ``f``; None for a line longer than ``limit`` bytes, which is never held
    in memory whole."""
    while True:
        raw = f.readline(limit + 1)
        if not raw:
            return
        if len(raw) > limit and not raw.endswith(b"\n"):
            while (rest := f.readline(limit)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield raw


def _json_lines(path: Path) -> Iterator[tuple[int, Any] | ReadError]:
    """(line number, parsed JSON) for each non-blank line, or a ReadError."""
    lineno = 0
    with _open_binary(path) as f:
        try:
            for lineno, raw in enumerate(_raw_lines(f), 1):  # noqa: B007 - used after the loop
                if raw is None:
                    yield ReadError(
                        str(path), lineno, f"record is longer than {MAX_RECORD_BYTES:,} bytes"
                    )
                    continue
                try:
                    text = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as e:
                    yield ReadError(
                        str(path), lineno, f"not valid UTF-8 (byte {e.start + 1})", damaged=True
                    )
                    continue
                if not text.strip():
                    continue
                try:
                    yield lineno, json.loads(text)
                except json.JSONDecodeError as e:
                    yield ReadError(
                        str(path), lineno, f"malformed JSON: {e.msg} (column {e.colno})"
                    )
        except _DAMAGE as e:
            yield ReadError(
                str(path),
                lineno + 1,
                f"file is damaged (corrupt or truncated compressed data?): {e}",
                damaged=True,
            )


def _beir_paper(obj: Any) -> Paper:
    if not isinstance(obj, dict):
        raise InvalidPaper(f"expected a JSON object, got {type(obj).__name__}")
    if "_id" not in obj:
        raise InvalidPaper("missing '_id'")
    metadata = obj.get("metadata") or {}
    authors = metadata.get("authors") if isinstance(metadata, dict) else None
    record = {
        "id": obj["_id"],
        "title": obj.get("title") or "",
        "abstract": obj.get("text") or "",
        "authors": authors if isinstance(authors, list) else None,
    }
    if metadata:
        record["metadata"] = metadata
    return paper_from_dict(record, require_title=False)


def _arxiv_date(created: Any) -> str | None:
    if not isinstance(created, str):
        return None
    try:
        return email.utils.parsedate_to_datetime(created).date().isoformat()
    except (TypeError, ValueError):
        return None


def _arxiv_paper(obj: Any) -> Paper:
    if not isinstance(obj, dict):
        raise InvalidPaper(f"expected a JSON object, got {type(obj).__name__}")
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        authors = [
            " ".join(p for p in (a[1], a[0], a[2] if len(a) > 2 else "") if p).strip()
            for a in parsed
            if isinstance(a, list) and len(a) >= 2 and all(isinstance(p, str) for p in a[:3])
        ]
    else:
        raw = obj.get("authors") or ""
        authors = raw.replace(" and ", ", ").split(",") if isinstance(raw, str) else raw
    versions = obj.get("versions")
    first = versions[0] if isinstance(versions, list) and versions else None
    published = _arxiv_date(first.get("created")) if isinstance(first, dict) else None
    published = published or obj.get("update_date")
    main = {"id", "title", "abstract", "authors", "authors_parsed", "categories", "versions"}
    record = {k: v for k, v in obj.items() if k not in main}
    record.update(
        id=obj.get("id"),
        title=obj.get("title"),
        abstract=obj.get("abstract"),
        authors=authors,
        categories=cats.split() if isinstance(cats := obj.get("categories"), str) else cats,
        published=published,
        url=f"https://arxiv.org/abs/{obj['id']}" if isinstance(obj.get("id"), str) else None,
    )
    return paper_from_dict(record)


_JSON_CONVERTERS: dict[str, Callable[[Any], Paper]] = {
    "jsonl": paper_from_dict,
    "beir": _beir_paper,
    "arxiv": _arxiv_paper,
}


def _read_json_format(path: Path, fmt: str) -> Iterator[Paper | ReadError]:
    convert = _JSON_CONVERTERS[fmt]
    for item in _json_lines(path):
        if isinstance(item, ReadError):
            yield item
            continue
        lineno, obj = item
        try:
            yield convert(obj)
        except InvalidPaper as e:
            yield ReadError(str(path), lineno, str(e))


class _RecordTooLong(InvalidPaper):
    """A CSV record that runs past ``MAX_RECORD_BYTES``."""


class _CsvLines:
    """Physical lines fed to ``csv.reader``, remembering those of the record being parsed so
    that a broken record can be dropped and the lines after its first one parsed again."""

    def __init__(self, lines: Iterator[str], limit: int = MAX_RECORD_BYTES):
        self._source = lines
        self._pending: deque[str] = deque()
        self._limit = limit
        self.record: list[str] = []
        self.size = 0
        self.done = 0  # lines before the current record

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        line = self._pending.popleft() if self._pending else next(self._source)
        self.record.append(line)
        self.size += len(line)
        if self.size > self._limit:
            raise _RecordTooLong
        return line

    @property
    def start(self) -> int:
        """The line number where the current record starts."""
        return self.done + 1

    def next_record(self) -> None:
        """The current record was parsed: the next one starts after it."""
        self.done += len(self.record)
        self.record, self.size = [], 0

    def drop_first_line(self) -> None:
        """The current record is broken: skip its first line and re-read the others."""
        self._pending.extendleft(reversed(self.record[1:]))
        self.done += 1
        self.record, self.size = [], 0


def _read_csv(path: Path) -> Iterator[Paper | ReadError]:
    """CSV rows as Papers. A row that breaks the CSV syntax (an unterminated quote swallowing
    the lines after it, a stray quote, an oversized record) is reported at its first line and
    parsing resumes on the next line, so the records after it are kept."""
    name = str(path)
    with _open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
        lines = _CsvLines(iter(text))
        header: list[str] | None = None
        reader = csv.reader(lines, strict=True)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except _DAMAGE as e:
                yield ReadError(name, lines.start, f"compressed file is corrupt: {e}", damaged=True)
                return
            except (csv.Error, _RecordTooLong) as e:
                reason = (
                    f"record is longer than {MAX_RECORD_BYTES:,} bytes"
                    if isinstance(e, _RecordTooLong)
                    else f"malformed CSV: {e}"
                )
                if len(lines.record) > 1:
                    reason += f" (an unterminated quote? it ran over {len(lines.record)} lines)"
                yield ReadError(name, lines.start, reason)
                if header is None:
                    return
                lines.drop_first_line()
                reader = csv.reader(lines, strict=True)
                continue
            lineno = lines.start
            lines.next_record()
            if not row or row == [""]:
                continue
            if any("\udc80" <= ch <= "\udcff" for cell in row for ch in cell):
                yield ReadError(name, lineno, "not valid UTF-8", damaged=True)
                if header is None:
                    return
                continue
            if header is None:
                header = [h.strip() for h in row]
                if "id" not in header:
                    yield ReadError(name, 1, "CSV header has no 'id' column")
                    return
                continue
            if len(row) > len(header):
                yield ReadError(name, lineno, "more cells than header columns")
                continue
            values = {k: (v if v != "" else None) for k, v in zip(header, row, strict=False) if k}
            try:
                yield paper_from_dict(values, lists_from_text=True)
            except InvalidPaper as e:
                yield ReadError(name, lineno, str(e))


def detect_format(path: str | Path) -> str:
    """Guess the format of a paper file: 'csv', 'beir', 'arxiv' or 'jsonl'."""
    p = resolve_source(path)
    name = p.name.lower().removesuffix(".gz")
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.startswith("corpus.jsonl") and p.parent.joinpath("queries.jsonl").exists():
        return "beir"
    for n, item in enumerate(_json_lines(p)):
        if n >= 50:
            break
        if isinstance(item, ReadError) or not isinstance(item[1], dict):
            continue
        obj = item[1]
        if "_id" in obj:
            return "beir"
        if "authors_parsed" in obj or "versions" in obj or isinstance(obj.get("categories"), str):
            return "arxiv"
        return "jsonl"
    return "jsonl"


def read_papers(path: str | Path, format: str = "auto") -> Iterator[Paper | ReadError]:
    """Yield a Paper or a ReadError for every record of ``path``.

    Raises UnreadableSource when the path itself cannot be read.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    source = resolve_source(path)
    fmt = detect_format(source) if format == "auto" else format
    if fmt == "csv":
        yield from _read_csv(source)
    else:
        yield from _read_json_format(source, fmt)


@dataclass
class ReadReport:
    """Counts of one or more reads: records seen and bad records skipped."""

    read: int = 0
    skipped: int = 0

    @property
    def valid(self) -> int:
        """Records that became papers."""
        return self.read - self.skipped


def read_valid(
    path: str | Path,
    format: str = "auto",
    *,
    on_error: Callable[[ReadError], None] | None = None,
    report: ReadReport | None = None,
) -> Iterator[Paper]:
    """Yield the good papers of ``path``, passing each bad record to ``on_error`` and skipping it.

    ``report``, when given, is updated as records are read. Raises UnreadableSource when the
    path itself cannot be read.
    """
    for item in read_papers(path, format):
        if report is not None:
            report.read += 1
        if isinstance(item, ReadError):
            if report is not None:
                report.skipped += 1
            if on_error is not None:
                on_error(item)
            continue
        yield item
