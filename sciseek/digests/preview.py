"""What an interest would have sent: the digest selection run over the last week's papers.

Shown before an interest is saved (the subscribe form) and by ``sciseek digest send --dry-run``,
so that an interest that would bring nothing, or far too much, is visible in time. It costs one
search per query and one similarity search per seed paper.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sciseek.search.engine import Engine
from sciseek.storage.clock import iso, utcnow

from .digest import CANDIDATES, select
from .interests import Interests
from .subscriptions import Subscriber

WEEK = dt.timedelta(days=7)
TITLES = 3  # shown


@dataclass
class Preview:
    """The papers an interest would have brought over a period."""

    count: int  # papers at or above the threshold
    titles: list[str]  # the most relevant few
    new_papers: int  # papers added in the period
    capped: bool  # count stopped at the retrieval depth: there may be more

    def summary(self) -> str:
        """One line for people."""
        more = "at least " if self.capped else ""
        papers = f"{more}{self.count} paper{'s' if self.count != 1 else ''}"
        line = f"over the last week this would have sent {papers} (of {self.new_papers} new)"
        return line + (": " + "; ".join(self.titles) if self.titles else "")


def preview(
    engine: Engine,
    interests: Interests,
    *,
    now: dt.datetime | None = None,
    period: dt.timedelta = WEEK,
    threshold: float | None = None,
) -> Preview:
    """What ``interests`` would have sent from the papers added in the ``period`` before
    ``now``, with the digest's own selection (and its threshold unless one is given)."""
    now = now or utcnow()
    ids = engine.store.added_between(iso(now - period), iso(now))
    sub = Subscriber(0, "", interests, "weekly", "active", iso(now - period), None, iso(now))
    options = {} if threshold is None else {"threshold": threshold}
    matches, more = select(engine, sub, ids, max_papers=TITLES, **options)
    count = len(matches) + more
    capped = len(ids) > CANDIDATES and count >= CANDIDATES
    return Preview(count, [m.paper.title for m in matches], len(ids), capped)
