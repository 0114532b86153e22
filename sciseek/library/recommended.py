"""Recommendations for a reader: papers like one tag's, a tag expression's or the whole
library's saved papers.

The saved papers are the positives and the "not relevant" marks (the library's, and the
tag's for a tag) the negatives; saved papers, those negatives and, unless ``show_seen``,
seen papers are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from sciseek.search.engine import Engine

from .errors import LibraryError
from .expressions import select
from .recommend import Recommendation, recommend
from .shelf import Library

MAX_RECOMMENDATIONS = 100


@dataclass
class Recommended:
    """What a recommendations list was made from, and the list."""

    source: str  # "tag", "expr" or "library"
    label: str  # the tag's name, the expression, or "your library"
    positives: list[str]
    items: list[Recommendation]


def recommended(
    engine: Engine,
    library: Library,
    reader_id: int,
    *,
    tag: str | None = None,
    expr: str | None = None,
    show_seen: bool = False,
    k: int = 20,
    exclude_categories: tuple[str, ...] = (),
) -> Recommended:
    """Up to ``k`` recommendations for a tag, a tag expression or (neither given) the whole
    library, leaving out papers in any of ``exclude_categories``. Raises UnknownTag,
    BadExpression or LibraryError."""
    if tag and expr:
        raise LibraryError("ask for a tag or a tag expression, not both")
    if not 1 <= k <= MAX_RECOMMENDATIONS:
        raise LibraryError(f"k must be between 1 and {MAX_RECOMMENDATIONS}")
    if tag:
        label = library.tag(reader_id, tag).name
        source, positives = "tag", library.tag_papers(reader_id, label)
        negatives = library.not_relevant(reader_id, label)
    elif expr:
        source, label = "expr", " ".join(expr.split())
        positives = select(library, reader_id, expr)
        negatives = library.not_relevant(reader_id)
    else:
        source, label = "library", "your library"
        positives = library.saved(reader_id)
        negatives = library.not_relevant(reader_id)
    exclude = set(library.saved(reader_id)) | set(negatives)
    if not show_seen:
        exclude |= library.seen(reader_id)
    categories = tuple(c.strip() for c in exclude_categories if c.strip())
    items = (
        recommend(engine, positives, negatives, k=k, exclude=exclude, exclude_categories=categories)
        if positives
        else []
    )
    return Recommended(source, label, positives, items)
