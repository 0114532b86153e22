"""New and trending lists, upvotes and snippets over an engine."""

from __future__ import annotations

import datetime as dt

import pytest

from sciseek.search import listings
from sciseek.search.engine import UnknownPaper


def test_new_lists_the_most_recently_published_first_and_pages(engine, papers):
    newest = listings.new(engine, 5)
    dates = [p.published for p in newest]
    assert dates == sorted(dates, reverse=True)
    assert dates[0] == max(p.published for p in papers)
    assert listings.new(engine, 3, offset=2) == newest[2:5]


def test_votes_count_once_per_voter_and_can_be_taken_back(engine, papers):
    pid = papers[0].id
    assert listings.vote(engine, pid, "a") == 1
    assert listings.vote(engine, pid, "a") == 1
    assert listings.vote(engine, pid, "b") == 2
    assert listings.voted(engine, "a", pid) and not listings.voted(engine, "c", pid)
    assert listings.vote(engine, pid, "a", on=False) == 1
    assert listings.votes(engine, [pid, papers[1].id]).get(pid) == 1
    with pytest.raises(UnknownPaper):
        listings.vote(engine, "no-such-paper", "a")


def test_trending_weighs_votes_by_age(engine, papers):
    old, new = sorted(papers, key=lambda p: p.published)[0], listings.new(engine, 1)[0]
    for voter in ("a", "b"):
        listings.vote(engine, old.id, voter)
    listings.vote(engine, new.id, "a")
    now = dt.datetime.fromisoformat(new.published).replace(tzinfo=dt.UTC) + dt.timedelta(hours=1)
    ranked = listings.trending(engine, 10, days=3650, now=now)
    assert [p.id for p, _, _ in ranked] == [new.id, old.id]
    assert [v for _, v, _ in ranked] == [1, 2]


def test_snippet_marks_the_query_words(engine, papers):
    paper = next(p for p in papers if "graph" in (p.abstract or "").lower())
    segments = listings.snippet(engine, paper, "graph")
    assert any(hit and text.lower().startswith("graph") for text, hit in segments)
    assert "".join(text for text, _ in segments).strip()
