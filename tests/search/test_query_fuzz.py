"""Property-based fuzzing of the query path: any text and filters give hits or a BadInput.

Seeded and small in the suite; ``HYPOTHESIS_PROFILE=fuzz`` runs 10,000 queries per property.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sciseek import Engine, read_papers
from sciseek.errors import BadInput
from sciseek.ingest.papers import Filters
from tests.helpers import FIXTURES

# query-syntax characters tantivy's parser gives meaning to, mixed with words and unicode
syntax = st.sampled_from(list('+-&|!(){}[]^"~*?:\\/') + ["AND", "OR", "NOT", "TO", "title:"])
words = st.sampled_from(["protein", "retrieval", "2401.00001", "arXiv:2401.00002v3", "x"])
queries = st.lists(syntax | words | st.text(max_size=12), max_size=8).map(" ".join)
dates = (
    st.none()
    | st.sampled_from(["2024-01-01", "2024-13-01", "1900", "", "x"])
    | st.text(max_size=12)
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    with Engine.open(tmp_path_factory.mktemp("fuzz") / "data") as e:
        e.add(read_papers(FIXTURES / "papers.jsonl"))
        yield e


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries, mode=st.sampled_from(["bm25", "dense", "hybrid"]), k=st.integers(-2, 120))
def test_any_query_gives_hits_or_bad_input(engine, query, mode, k):
    try:
        hits = engine.search(query, mode=mode, k=k)
    except BadInput:
        return
    assert len(hits) <= k
    assert all(h.paper.id for h in hits)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=queries,
    date_from=dates,
    date_to=dates,
    category=st.lists(st.text(max_size=8), max_size=2),
    author=st.lists(st.text(max_size=12), max_size=2),
)
def test_any_filters_give_hits_or_bad_input(engine, query, date_from, date_to, category, author):
    try:
        filters = Filters(
            date_from=date_from, date_to=date_to, categories=tuple(category), authors=tuple(author)
        )
        hits = engine.search(query or "retrieval", mode="bm25", k=10, filters=filters)
    except BadInput:
        return
    assert all(filters.matches(h.paper) for h in hits)
