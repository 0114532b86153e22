"""What the site's lists show: newest papers, trending ones, upvotes and query snippets.

Trending ranks papers by recent upvotes with a time decay. Each function reads an ``Engine``'s
store and BM25 index through the engine's public members.
"""

from __future__ import annotations

import datetime as dt

from sciseek.ingest.papers import Paper
from sciseek.storage.clock import iso, utcnow

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
