"""A paper as a reference: what every export format writes, read once from the Paper.

An arXiv paper (its id is an arXiv id) is a preprint: eprint, archive prefix ``arXiv`` and
primary class (its first category), its abstract page as URL. Any other paper is a journal
article when its record names a journal (``journal`` or ``venue`` in ``Paper.extra``), else a
generic work; either way with its DOI (``doi`` in ``Paper.extra``, or a ``doi.org`` link as its
URL) and its web link where it has them. A ``url_text`` (a value that was not a safe link) is
never exported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from sciseek.ingest.papers import Paper, is_arxiv_id

from .keys import base_key, unique_keys
from .names import Name, split_names

_DOI = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)$", re.I)

Kind = Literal["preprint", "article", "misc"]


@dataclass(frozen=True)
class Reference:
    """One paper ready to be written: its citation key, names, kind, date and identifiers."""

    paper: Paper
    key: str
    names: list[Name]
    kind: Kind
    year: str | None
    month: int | None
    day: int | None
    eprint: str | None  # the arXiv id
    primary_class: str | None
    doi: str | None
    url: str | None
    journal: str | None
    volume: str | None
    number: str | None
    pages: str | None
    journal_ref: str | None  # arXiv's free-text journal reference

    @property
    def title(self) -> str:
        return self.paper.title

    @property
    def abstract(self) -> str:
        return self.paper.abstract

    @property
    def categories(self) -> list[str]:
        return self.paper.categories


def _text(extra: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = extra.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return None


def doi_of(paper: Paper) -> str | None:
    """The paper's DOI (``10.xxxx/...``), from ``extra['doi']`` or a doi.org link."""
    for value in (_text(paper.extra, "doi"), paper.url):
        m = _DOI.match(value.strip()) if value else None
        if m:
            return unquote(m.group(1)) if value.lower().startswith("http") else m.group(1)
    return None


def _date(published: str | None) -> tuple[str | None, int | None, int | None]:
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", published or "")
    if not m:
        return None, None, None
    return m.group(1), int(m.group(2)), int(m.group(3))


def _reference(paper: Paper, key: str, names: list[Name]) -> Reference:
    year, month, day = _date(paper.published)
    extra = paper.extra
    arxiv = is_arxiv_id(paper.id)
    journal = None if arxiv else _text(extra, "journal", "venue")
    return Reference(
        paper=paper,
        key=key,
        names=names,
        kind="preprint" if arxiv else "article" if journal else "misc",
        year=year,
        month=month,
        day=day,
        eprint=paper.id if arxiv else None,
        primary_class=paper.categories[0] if arxiv and paper.categories else None,
        doi=doi_of(paper),
        url=paper.arxiv_url if arxiv else paper.link,
        journal=journal,
        volume=None if arxiv else _text(extra, "volume"),
        number=None if arxiv else _text(extra, "number", "issue"),
        pages=None if arxiv else _text(extra, "pages"),
        journal_ref=_text(extra, "journal-ref", "journal_ref") if arxiv else None,
    )


def references(papers: Iterable[Paper]) -> list[Reference]:
    """The papers as references, in order, each id once, with keys unique among them."""
    first: dict[str, Paper] = {}
    for p in papers:
        first.setdefault(p.id, p)
    unique = list(first.values())
    names = [split_names(p.authors) for p in unique]
    keys = unique_keys(
        base_key(_key_name(n[0]) if n else "", _date(p.published)[0], p.title)
        for p, n in zip(unique, names, strict=True)
    )
    return [_reference(p, k, n) for p, k, n in zip(unique, keys, names, strict=True)]


def _key_name(name: Name) -> str:
    """The word of a name a citation key starts with: the family name (without particle), or
    an organisation's first significant word (``The ATLAS Collaboration``: ``ATLAS``)."""
    if name.family:
        return name.family
    words = [w for w in name.literal.split() if w.lower() not in ("the", "a", "an")]
    return words[0] if words else ""
