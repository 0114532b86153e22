"""What is trending: papers ranked by recent upvotes with a time decay."""

from __future__ import annotations

import datetime as dt

from sciseek.ingest.papers import Paper
from sciseek.storage.clock import iso, utcnow
from sciseek.storage.store import Store


def trending(
    store: Store, k: int = 20, days: int = 7, gravity: float = 1.8, now: dt.datetime | None = None
) -> list[tuple[Paper, int, float]]:
    """(paper, votes, score) by upvotes in the last ``days`` with a gravity time decay.

    score = votes / (hours since publication + 2) ** gravity, as on Hacker News.
    """
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
