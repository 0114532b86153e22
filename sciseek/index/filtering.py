"""Search filters (dates, categories, authors, ids) as tantivy queries over the BM25 index."""

from __future__ import annotations

import datetime as dt

import tantivy

from sciseek.ingest.papers import Filters


def to_datetime(date: str) -> dt.datetime:
    """An ISO date as the UTC datetime the index stores."""
    return dt.datetime.fromisoformat(date).replace(tzinfo=dt.UTC)


def filter_query(
    schema: tantivy.Schema, author_analyzer: tantivy.TextAnalyzer, filters: Filters
) -> tantivy.Query | None:
    """A query matching the papers that pass ``filters`` (scoring nothing), or None when
    they restrict nothing."""
    parts = []
    if filters.date_from or filters.date_to:
        parts.append(
            tantivy.Query.range_query(
                schema,
                "published",
                tantivy.FieldType.Date,
                to_datetime(filters.date_from) if filters.date_from else None,
                to_datetime(filters.date_to) if filters.date_to else None,
            )
        )
    if filters.ids:
        parts.append(tantivy.Query.term_set_query(schema, "id", list(filters.ids)))
    if filters.categories:
        parts.append(tantivy.Query.term_set_query(schema, "category", list(filters.categories)))
    for author in filters.authors:
        words = author_analyzer.analyze(author)
        if len(words) == 1:
            parts.append(tantivy.Query.term_query(schema, "author", words[0]))
        elif words:
            parts.append(tantivy.Query.phrase_query(schema, "author", words))
    if not parts:
        return None
    combined = tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in parts])
    return tantivy.Query.const_score_query(combined, 0.0)
