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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sciseek.errors import BadInput

from .papers import InvalidPaper, Paper, paper_from_dict

FORMATS = ("auto", "jsonl", "beir", "arxiv", "csv")


class UnreadableSource(BadInput, ValueError):
    """A path that cannot be read at all (missing, a plain directory, corrupt container)."""


@dataclass(frozen=True)
class ReadError:
    """One bad record: where it is and why it was skipped."""

    path: str
    line: int
    reason: str

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


def _json_lines(path: Path) -> Iterator[tuple[int, Any] | ReadError]:
    """(line number, parsed JSON) for each non-blank line, or a ReadError."""
    lineno = 0
    with _open_binary(path) as f:
        try:
            for lineno, raw in enumerate(f, 1):  # noqa: B007 - lineno used after the loop
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    yield ReadError(str(path), lineno, f"not valid UTF-8 (byte {e.start + 1})")
                    continue
                if not text.strip():
                    continue
                try:
                    yield lineno, json.loads(text)
                except json.JSONDecodeError as e:
                    yield ReadError(
                        str(path), lineno, f"malformed JSON: {e.msg} (column {e.colno})"
                    )
        except (EOFError, gzip.BadGzipFile, zlib.error) as e:
            yield ReadError(str(path), lineno + 1, f"compressed file is corrupt or truncated: {e}")


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
            " ".join(part for part in (a[1], a[0], a[2] if len(a) > 2 else "") if part).strip()
            for a in parsed
            if isinstance(a, list) and len(a) >= 2
        ]
    else:
        raw = obj.get("authors") or ""
        authors = (
            [a for a in raw.replace(" and ", ", ").split(",")] if isinstance(raw, str) else raw
        )
    versions = obj.get("versions") or []
    published = _arxiv_date(versions[0].get("created")) if versions else None
    published = published or obj.get("update_date")
    main = {"id", "title", "abstract", "authors", "authors_parsed", "categories", "versions"}
    record = {k: v for k, v in obj.items() if k not in main}
    record.update(
        id=obj.get("id"),
        title=obj.get("title"),
        abstract=obj.get("abstract"),
        authors=authors,
        categories=obj.get("categories"),
        published=published,
        url=f"https://arxiv.org/abs/{obj.get('id')}" if obj.get("id") else None,
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


def _read_csv(path: Path) -> Iterator[Paper | ReadError]:
    with _open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
        reader = csv.DictReader(text)
        try:
            if not reader.fieldnames:
                return
            if "id" not in reader.fieldnames:
                yield ReadError(str(path), 1, "CSV header has no 'id' column")
                return
            for row in reader:
                lineno = reader.line_num
                if None in row:
                    yield ReadError(str(path), lineno, "more cells than header columns")
                    continue
                values = {k: (v if v != "" else None) for k, v in row.items() if k}
                if any("\udc80" <= ch <= "\udcff" for v in values.values() if v for ch in v):
                    yield ReadError(str(path), lineno, "not valid UTF-8")
                    continue
                try:
                    yield paper_from_dict(values)
                except InvalidPaper as e:
                    yield ReadError(str(path), lineno, str(e))
        except csv.Error as e:
            yield ReadError(str(path), reader.line_num, f"malformed CSV: {e}")


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
