"""The one record type every part of sciseek shares: a paper, and the filters a search applies."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from sciseek.errors import BadInput

_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")
_DOI = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)

# Limits on one record, far above real papers (arXiv's longest title is ~230 characters, its
# longest abstract ~3,500, its longest author list ~3,300 names); a record over any of them is
# reported and skipped instead of taking the indexer's memory.
MAX_RECORD_BYTES = 1 << 20  # one JSON line or CSV row
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000
MAX_AUTHORS = 10_000
MAX_AUTHOR_NAME = 1_000
MAX_CATEGORIES = 100
MAX_CATEGORY = 100  # characters; longer entries are class lists, kept as text
MAX_URL = 2_000


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
    url: str | None = None  # an http(s) link (see ``web_link``); other values stay in extra
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

    @property
    def link(self) -> str | None:
        """The paper's own URL if it is a safe web link (checked again here, so that papers
        stored before links were checked never render an unsafe one)."""
        return web_link(self.url) if self.url else None


@dataclass(frozen=True)
class Filters:
    """Restrictions applied during retrieval. Dates are inclusive ISO dates."""

    date_from: str | None = None
    date_to: str | None = None
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()  # restrict to these papers (e.g. the ones new since a date)

    def __post_init__(self) -> None:
        # a blank author or category (an empty form field) restricts nothing
        object.__setattr__(self, "authors", tuple(a for a in self.authors if _words(a)))
        object.__setattr__(self, "categories", tuple(c for c in self.categories if c.strip()))
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


def web_link(value: str) -> str | None:
    """``value`` as an http(s) URL, or None when it is not one.

    arXiv ids (``arXiv:2401.00001``) and DOIs (``doi:10.1000/xyz``, ``10.1000/xyz``) become
    their https links; any other scheme (``javascript:``, ``data:``, ``file:``), a URL without
    a host, or one with spaces or control characters is not a link.
    """
    text = value.strip()
    if not text or len(text) > MAX_URL:
        return None
    ident = normalise_id(text)  # an arXiv id, with or without prefix and version
    if is_arxiv_id(ident):
        return f"https://arxiv.org/abs/{ident}"
    doi = _DOI.match(text)
    if doi and not text.lower().startswith("http"):
        return "https://doi.org/" + quote(doi.group(1), safe="/:;()._-")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return text


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


def _string_list(value: Any, name: str, separators: str | None) -> list[str]:
    """A list of strings; a string is split on ``separators`` when given, else refused."""
    if value is None:
        return []
    if isinstance(value, str) and separators is not None:
        parts = re.split(separators, value)
    elif isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise InvalidPaper(f"'{name}' must be a list of strings")
        parts = value
    elif isinstance(value, str):
        raise InvalidPaper(f"'{name}' must be a list of strings, got a string: {value[:60]!r}")
    else:
        raise InvalidPaper(f"'{name}' must be a list of strings, got {type(value).__name__}")
    return [p.strip() for p in parts if p and p.strip()]


def _text(value: Any, name: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidPaper(f"'{name}' must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidPaper(f"'{name}' is longer than {limit:,} characters ({len(value):,})")
    return " ".join(value.split())


def paper_from_dict(
    record: Any, *, require_title: bool = True, lists_from_text: bool = False
) -> Paper:
    """Build a Paper from a dict in the paper JSONL schema, or raise InvalidPaper.

    ``id``, ``title`` and ``abstract`` must be strings and ``authors`` and ``categories`` lists
    of strings; with ``lists_from_text`` (CSV cells) the lists may be strings, authors split on
    ';' and categories on whitespace, ';' or ','. A ``url`` that is not a web link (see
    ``web_link``) is kept as text in ``extra['url_text']``. Unknown fields are kept in
    ``extra``. Fields over the size limits (``MAX_TITLE`` ...) are refused.
    """
    if not isinstance(record, dict):
        raise InvalidPaper(f"expected a JSON object, got {type(record).__name__}")
    raw_id = record.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise InvalidPaper("missing 'id'")
    if not isinstance(raw_id, str):
        raise InvalidPaper(
            f"'id' must be a string, got {type(raw_id).__name__} {raw_id!r}"
            " (write it in quotes: a number loses leading and trailing zeros)"
        )
    if len(raw_id) > 200:
        raise InvalidPaper("'id' is longer than 200 characters")
    title = _text(record.get("title"), "title", MAX_TITLE)
    if require_title and not title:
        raise InvalidPaper("missing 'title'")
    published = record.get("published")
    published = parse_date(published) if published not in (None, "") else None
    url = record.get("url")
    if url is not None and not isinstance(url, str):
        raise InvalidPaper("'url' must be a string")
    authors = _string_list(record.get("authors"), "authors", r";" if lists_from_text else None)
    if len(authors) > MAX_AUTHORS:
        raise InvalidPaper(f"more than {MAX_AUTHORS:,} authors ({len(authors):,})")
    if any(len(a) > MAX_AUTHOR_NAME for a in authors):
        raise InvalidPaper(f"an author name is longer than {MAX_AUTHOR_NAME:,} characters")
    categories = _string_list(
        record.get("categories"), "categories", r"[\s;,]+" if lists_from_text else None
    )
    # arXiv records sometimes carry their MSC/ACM class lists among the categories: an entry
    # too long to be a category is kept as text in extra['classes_text'], the paper is kept
    classes = [c for c in categories if len(c) > MAX_CATEGORY]
    categories = [c for c in categories if len(c) <= MAX_CATEGORY]
    if len(categories) > MAX_CATEGORIES:
        raise InvalidPaper(f"more than {MAX_CATEGORIES} categories ({len(categories):,})")
    known = {"id", "title", "abstract", "authors", "categories", "published", "url"}
    extra = {k: v for k, v in record.items() if k not in known}
    if classes:
        extra["classes_text"] = "; ".join(" ".join(c.split()) for c in classes)[:MAX_ABSTRACT]
    link = web_link(url) if url else None
    if url and url.strip() and link is None:
        extra["url_text"] = url[:MAX_URL]
    return Paper(
        id=raw_id.strip(),
        title=title,
        abstract=_text(record.get("abstract"), "abstract", MAX_ABSTRACT),
        authors=authors,
        categories=categories,
        published=published,
        url=link,
        extra=extra,
    )
