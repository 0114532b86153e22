"""The one record type every part of sciseek shares: a paper, and the filters a search applies."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sciseek.errors import BadInput

_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")


class InvalidPaper(BadInput, ValueError):
    """A record that cannot become a Paper; the message says why."""


class InvalidFilter(BadInput, ValueError):
    """Search filters that cannot be applied (a bad date, an empty date range)."""


@dataclass
class Paper:
    """A paper: identity, text, and the metadata that search filters on."""

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    published: str | None = None  # ISO date, YYYY-MM-DD
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The paper as a JSON-ready dict in the paper JSONL schema (extra fields inlined)."""
        out: dict[str, Any] = dict(self.extra)
        out.update(
            id=self.id,
            title=self.title,
            abstract=self.abstract,
            authors=list(self.authors),
            categories=list(self.categories),
            published=self.published,
            url=self.url,
        )
        return out

    @property
    def arxiv_url(self) -> str | None:
        """Link to the arXiv abstract page when the id is an arXiv id."""
        return f"https://arxiv.org/abs/{self.id}" if is_arxiv_id(self.id) else None


@dataclass(frozen=True)
class Filters:
    """Restrictions applied during retrieval. Dates are inclusive ISO dates."""

    date_from: str | None = None
    date_to: str | None = None
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()  # restrict to these papers (e.g. the ones new since a date)

    def __post_init__(self) -> None:
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None:
                try:
                    object.__setattr__(self, name, parse_date(value))
                except InvalidPaper as e:
                    raise InvalidFilter(str(e)) from None
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidFilter(f"date range is empty: {self.date_from} is after {self.date_to}")

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.categories or self.authors or self.ids)

    def matches(self, p: Paper) -> bool:
        """Whether a paper passes these filters (author: the words, in order, in one name)."""
        if self.date_from and not (p.published and p.published >= self.date_from):
            return False
        if self.date_to and not (p.published and p.published <= self.date_to):
            return False
        if self.categories and not set(self.categories) & set(p.categories):
            return False
        if self.ids and p.id not in self.ids:
            return False
        for author in self.authors:
            wanted = " ".join(_words(author))
            if not any(f" {wanted} " in f" {' '.join(_words(name))} " for name in p.authors):
                return False
        return True


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def title_key(text: str) -> str:
    """A title reduced to lower-case words, for exact-title lookup."""
    return " ".join(_words(text))


def normalise_id(query: str) -> str:
    """A query that may be a paper id, without an 'arXiv:' prefix or version suffix."""
    text = query.strip()
    if text.lower().startswith("arxiv:"):
        text = text[6:].strip()
    if is_arxiv_id(text):
        text = re.sub(r"v\d+$", "", text)
    return text


def is_arxiv_id(value: str) -> bool:
    """True for new-style (2503.11731) and old-style (hep-th/9901001) arXiv ids."""
    return bool(_ARXIV_ID.match(value))


def parse_date(value: Any) -> str:
    """Normalise an ISO date or datetime string to YYYY-MM-DD, or raise InvalidPaper."""
    if not isinstance(value, str):
        raise InvalidPaper(f"date must be an ISO date string, got {value!r}")
    text = value.strip()
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise InvalidPaper(f"not an ISO date: {value!r}") from None


def _string_list(value: Any, name: str, separators: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        parts = re.split(separators, value)
    elif isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise InvalidPaper(f"'{name}' must be a list of strings")
        parts = value
    else:
        raise InvalidPaper(f"'{name}' must be a list of strings, got {type(value).__name__}")
    return [p.strip() for p in parts if p and p.strip()]


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidPaper(f"'{name}' must be a string, got {type(value).__name__}")
    return " ".join(value.split())


def paper_from_dict(record: Any, *, require_title: bool = True) -> Paper:
    """Build a Paper from a dict in the paper JSONL schema, or raise InvalidPaper.

    Unknown fields are kept in ``extra``. ``authors`` and ``categories`` may be lists or
    strings (authors split on ';' or ',', categories on whitespace, ';' or ',').
    """
    if not isinstance(record, dict):
        raise InvalidPaper(f"expected a JSON object, got {type(record).__name__}")
    raw_id = record.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise InvalidPaper("missing 'id'")
    title = _text(record.get("title"), "title")
    if require_title and not title:
        raise InvalidPaper("missing 'title'")
    published = record.get("published")
    published = parse_date(published) if published not in (None, "") else None
    url = record.get("url")
    if url is not None and not isinstance(url, str):
        raise InvalidPaper("'url' must be a string")
    known = {"id", "title", "abstract", "authors", "categories", "published", "url"}
    return Paper(
        id=raw_id.strip(),
        title=title,
        abstract=_text(record.get("abstract"), "abstract"),
        authors=_string_list(record.get("authors"), "authors", r"[;,]"),
        categories=_string_list(record.get("categories"), "categories", r"[\s;,]+"),
        published=published,
        url=url or None,
        extra={k: v for k, v in record.items() if k not in known},
    )
