"""What the site's lists show: newest papers, trending ones, papers by day, category and
author, upvotes and query snippets.

Trending ranks papers by recent upvotes with a time decay. The browse lists (``by_day``,
``by_category``, ``by_author``, ``coauthors``) read the store's indexed side tables
(``sciseek.storage.facets``), so a page costs the same on a store of any size. Each function
reads an ``Engine``'s store and BM25 index through the engine's public members.
"""

from __future__ import annotations

import datetime as dt
import re

from sciseek.errors import BadInput
from sciseek.ingest.papers import Paper
from sciseek.storage.clock import iso, utcnow
from sciseek.storage.facets import author_key

from .engine import Engine, UnknownPaper


def new(engine: Engine, k: int = 20, offset: int = 0) -> list[Paper]:
    """The most recently published papers."""
    return engine.store.newest(k, offset)


def trending(
    engine: Engine,
    k: int = 20,
    days: int = 7,
    gravity: float = 1.8,
    now: dt.datetime | None = None,
) -> list[tuple[Paper, int, float]]:
    """(paper, votes, score) by upvotes in the last ``days`` with a gravity time decay.

    score = votes / (hours since publication + 2) ** gravity, as on Hacker News.
    """
    store = engine.store
    now = now or utcnow()
    since = iso(now - dt.timedelta(days=days))
    counts = dict(store.votes_since(since))
    if not counts:
        return []
    papers = {p.id: p for p in (store.get(i) for i in counts) if p is not None}
    scored = []
    for pid, votes in counts.items():
        if pid not in papers:
            continue
        published = papers[pid].published
        age = (
            (now - dt.datetime.fromisoformat(published).replace(tzinfo=dt.UTC)).total_seconds()
            / 3600
            if published
            else 0.0
        )
        scored.append((papers[pid], votes, votes / (max(age, 0.0) + 2) ** gravity))
    scored.sort(key=lambda t: (-t[2], -t[1], t[0].id))
    return scored[:k]


VOTES_PER_CLIENT_HOUR = 20  # new upvotes one client address may cast in an hour


def vote(
    engine: Engine, paper_id: str, voter: str, on: bool = True, *, client: str | None = None
) -> int:
    """Set one voter's upvote on a paper; returns its vote count.

    A ``client`` (an address, or a key standing for one) may cast at most
    ``VOTES_PER_CLIENT_HOUR`` new upvotes an hour (then TooManyVotes, a 429).
    """
    if engine.store.rowid(paper_id) is None:
        raise UnknownPaper(paper_id)
    return engine.store.set_vote(
        paper_id, voter, on, client=client, per_client_hour=VOTES_PER_CLIENT_HOUR
    )


def votes(engine: Engine, paper_ids: list[str]) -> dict[str, int]:
    """Upvote counts by paper id."""
    return engine.store.vote_counts(paper_ids)


def voted(engine: Engine, voter: str, paper_id: str) -> bool:
    """Whether this voter upvoted this paper."""
    return engine.store.has_vote(voter, paper_id)


def snippet(engine: Engine, paper: Paper, query: str, width: int = 280) -> list[tuple[str, bool]]:
    """A passage of the abstract around the query's words: (text, is_match) segments."""
    return engine.lexical.snippet(paper.abstract or paper.title, query, width)


# -- browsing: papers by day, category and author -------------------------------------------

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidListing(BadInput, ValueError):
    """A day, category or author that no list can be looked up by (a 422); the message says
    why. A well-formed one without papers is not an error: its list is empty."""


def parse_day(day: str) -> str:
    """``day`` if it is a calendar date written YYYY-MM-DD, else InvalidListing."""
    text = day.strip()
    try:
        if _DAY.fullmatch(text):
            return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise InvalidListing(f"not a date (YYYY-MM-DD): {day!r}")


def _check_page(k: int, offset: int) -> None:
    if k < 1 or offset < 0:
        raise InvalidListing(f"k must be at least 1 and offset at least 0, got {k} and {offset}")


def _papers(engine: Engine, rowids: list[int]) -> list[Paper]:
    found = engine.store.get_by_rowids(rowids)
    return [found[r] for r in rowids if r in found]  # one deleted meanwhile is left out


def by_day(engine: Engine, day: str, k: int = 50, offset: int = 0) -> list[Paper]:
    """The papers published on ``day`` (an ISO date, YYYY-MM-DD), by paper id."""
    _check_page(k, offset)
    return _papers(engine, engine.store.facets.day(parse_day(day), k, offset))


def day_count(engine: Engine, day: str) -> int:
    """How many papers were published on ``day``."""
    return engine.store.facets.day_count(parse_day(day))


def adjacent_days(engine: Engine, day: str) -> tuple[str | None, str | None]:
    """The nearest dates before and after ``day`` that have papers (None where none has)."""
    return engine.store.facets.adjacent_days(parse_day(day))


def latest_day(engine: Engine) -> str | None:
    """The most recent publication date, or None when no paper has a date."""
    return engine.store.facets.latest_day()


def by_category(engine: Engine, category: str, k: int = 20, offset: int = 0) -> list[Paper]:
    """A category's papers (the name exactly as stored, e.g. ``cs.IR``), newest first."""
    _check_page(k, offset)
    if not category.strip():
        raise InvalidListing("empty category")
    return _papers(engine, engine.store.facets.category(category.strip(), k, offset))


def _author(name: str) -> str:
    if not author_key(name):
        raise InvalidListing(f"an author name needs a letter or a digit: {name!r}")
    return name


def by_author(engine: Engine, name: str, k: int = 20, offset: int = 0) -> list[Paper]:
    """An author's papers, newest first. Names match by ``author_key`` (case, spacing and
    punctuation aside: ``Jane Doe`` is ``jane  doe``)."""
    _check_page(k, offset)
    return _papers(engine, engine.store.facets.author(_author(name), k, offset))


def coauthors(engine: Engine, name: str, k: int = 20) -> list[tuple[str, int]]:
    """(co-author, papers written together) for the ``k`` authors who wrote most often with
    ``name`` (counted over that author's newest ``facets.COAUTHOR_DEPTH`` papers), most
    papers first, then by name."""
    _check_page(k, 0)
    return engine.store.facets.coauthors(_author(name), k)


def author_name(engine: Engine, name: str) -> str | None:
    """The author ``name`` stands for as the stored papers spell it, or None if no paper has
    that author."""
    return engine.store.facets.spelling(_author(name))
