"""Search results in another order than relevance: the newest first, or the most upvoted first.

Both orders re-rank the relevant papers, not the whole store: the ``SORT_DEPTH`` best hits of
the query (its mode and filters as usual) are put in date or upvote order, and ties keep
their relevance order. So ``newest`` is "the most recent of the papers that match best", and
a result page past the ``SORT_DEPTH``-th hit is empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sciseek.errors import BadInput
from sciseek.ingest.papers import Filters

from .engine import Engine, Hit
from .retrieval import DEFAULT_MODE

SORTS = ("relevance", "newest", "votes")
SORT_DEPTH = 200  # hits re-ranked by date or upvotes

Sort = Literal["relevance", "newest", "votes"]


class InvalidSort(BadInput, ValueError):
    """A sort order that is not one of ``SORTS``."""


def check_sort(sort: str) -> None:
    """Refuse a sort order outside ``SORTS``."""
    if sort not in SORTS:
        raise InvalidSort(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")


def sort_hits(engine: Engine, hits: Sequence[Hit], sort: str) -> list[Hit]:
    """``hits`` in ``sort`` order: as they are (relevance), by publication date, newest first
    (undated papers last), or by upvote count, most first; ties keep their order."""
    check_sort(sort)
    if sort == "newest":
        return sorted(hits, key=lambda h: h.paper.published or "", reverse=True)
    if sort == "votes":
        counts = engine.store.vote_counts([h.paper.id for h in hits])
        return sorted(hits, key=lambda h: -counts.get(h.paper.id, 0))
    return list(hits)


def sorted_search(
    engine: Engine,
    query: str,
    sort: str = "relevance",
    *,
    mode: str = DEFAULT_MODE,
    k: int = 10,
    filters: Filters | None = None,
    min_score: float | None = None,
) -> list[Hit]:
    """The first ``k`` hits of ``query`` in ``sort`` order. ``newest`` and ``votes`` re-rank
    the ``SORT_DEPTH`` most relevant hits, so they return at most that many."""
    check_sort(sort)
    if sort == "relevance":
        return engine.search(query, mode=mode, k=k, filters=filters, min_score=min_score)
    hits = engine.search(query, mode=mode, k=SORT_DEPTH, filters=filters, min_score=min_score)
    return sort_hits(engine, hits, sort)[:k]
