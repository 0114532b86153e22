"""Search results re-ranked by date or upvotes."""

import pytest

from sciseek.search import sorting
from sciseek.search.sorting import InvalidSort, sort_hits, sorted_search

QUERY = "retrieval"


def test_newest_puts_the_relevant_hits_in_date_order(engine):
    relevant = engine.search(QUERY, mode="bm25", k=20)
    newest = sorted_search(engine, QUERY, "newest", mode="bm25", k=20)
    assert len(relevant) > 3
    assert {h.paper.id for h in newest} == {h.paper.id for h in relevant}
    dates = [h.paper.published for h in newest]
    assert dates == sorted(dates, reverse=True) and dates != [h.paper.published for h in relevant]
    assert sorted_search(engine, QUERY, "newest", mode="bm25", k=2) == newest[:2]


def test_votes_put_the_most_upvoted_first_and_ties_keep_relevance_order(engine):
    relevant = [h.paper.id for h in engine.search(QUERY, mode="bm25", k=20)]
    last, middle = relevant[-1], relevant[len(relevant) // 2]
    for voter in ("a", "b", "c"):
        engine.store.set_vote(last, voter, True)
    engine.store.set_vote(middle, "a", True)
    voted = [h.paper.id for h in sorted_search(engine, QUERY, "votes", mode="bm25", k=20)]
    assert voted == [last, middle] + [i for i in relevant if i not in (last, middle)]


def test_relevance_is_the_search_order(engine):
    ids = [h.paper.id for h in sorted_search(engine, QUERY, mode="bm25", k=5)]
    assert ids == [h.paper.id for h in engine.search(QUERY, mode="bm25", k=5)]


def test_only_the_most_relevant_hits_are_re_ranked(engine, monkeypatch):
    monkeypatch.setattr(sorting, "SORT_DEPTH", 3)
    top = {h.paper.id for h in engine.search(QUERY, mode="bm25", k=3)}
    newest = sorted_search(engine, QUERY, "newest", mode="bm25", k=10)
    assert {h.paper.id for h in newest} == top


def test_undated_papers_go_last_when_newest_first(engine):
    hits = engine.search(QUERY, mode="bm25", k=4)
    hits[0].paper.published = None
    assert sort_hits(engine, hits, "newest")[-1] is hits[0]


def test_an_unknown_sort_is_refused(engine):
    with pytest.raises(InvalidSort, match="relevance, newest, votes"):
        sorted_search(engine, QUERY, "random")
