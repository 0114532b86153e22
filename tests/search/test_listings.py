"""New and trending lists, upvotes and snippets over an engine."""

from __future__ import annotations

import datetime as dt

import pytest

from sciseek.ingest.papers import Paper
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


# -- browsing by day, category and author -------------------------------------------------


def newest_first(papers):
    return [p.id for p in sorted(papers, key=lambda p: p.published, reverse=True)]


def test_by_day_lists_the_papers_of_that_date_by_id_and_pages(engine, papers):
    engine.add([Paper("2401.00000", "Also on the fifth", published="2024-01-05")], dense=False)
    assert [p.id for p in listings.by_day(engine, "2024-01-05")] == ["2401.00000", "2401.00002"]
    assert [p.id for p in listings.by_day(engine, "2024-01-05", k=1, offset=1)] == ["2401.00002"]
    assert listings.by_day(engine, "2024-01-06") == []
    assert listings.day_count(engine, "2024-01-05") == 2


def test_adjacent_and_latest_days_skip_days_without_papers(engine, papers):
    days = sorted({p.published for p in papers})
    assert listings.latest_day(engine) == days[-1]
    assert listings.adjacent_days(engine, days[3]) == (days[2], days[4])
    assert listings.adjacent_days(engine, "2024-01-03") == (days[0], days[1])
    assert listings.adjacent_days(engine, days[0]) == (None, days[1])
    assert listings.adjacent_days(engine, days[-1]) == (days[-2], None)


@pytest.mark.parametrize("day", ["2024-13-01", "2024-02-30", "yesterday", "20240105", ""])
def test_a_bad_day_is_refused_with_a_message(engine, day):
    for call in (listings.by_day, listings.adjacent_days, listings.day_count):
        with pytest.raises(listings.InvalidListing, match="YYYY-MM-DD"):
            call(engine, day)


def test_by_category_is_newest_first_and_exact(engine, papers):
    ir = [p for p in papers if "cs.IR" in p.categories]
    assert [p.id for p in listings.by_category(engine, "cs.IR")] == newest_first(ir)
    assert [p.id for p in listings.by_category(engine, "cs.IR", 2, 1)] == newest_first(ir)[1:3]
    assert listings.by_category(engine, "cs.ir") == listings.by_category(engine, "no.such") == []
    with pytest.raises(listings.InvalidListing):
        listings.by_category(engine, "  ")


def test_by_author_matches_names_case_and_spacing_aside(engine, papers):
    turing = [p for p in papers if "Alan Turing" in p.authors]
    assert [p.id for p in listings.by_author(engine, "Alan Turing")] == newest_first(turing)
    assert (
        listings.by_author(engine, "alan   TURING", k=2)
        == listings.by_author(engine, "Alan Turing")[:2]
    )
    assert listings.by_author(engine, "Alan") == []  # a whole name, not a word of one
    assert listings.author_name(engine, "ALAN turing") == "Alan Turing"
    for bad in ("", "  ", "-.-"):
        with pytest.raises(listings.InvalidListing, match="letter or a digit"):
            listings.by_author(engine, bad)
    with pytest.raises(listings.InvalidListing):
        listings.by_author(engine, "Alan Turing", k=0)


def test_coauthors_are_counted_most_papers_first(engine, papers):
    engine.add(
        [
            Paper(
                "x-1",
                "Another one",
                authors=["Ada Lovelace", "Grace Hopper"],
                published="2024-07-01",
            )
        ],
        dense=False,
    )
    expected: dict[str, int] = {}
    for p in [*papers, engine.get("x-1")]:
        if "Ada Lovelace" in p.authors:
            for other in p.authors:
                if other != "Ada Lovelace":
                    expected[other] = expected.get(other, 0) + 1
    assert listings.coauthors(engine, "ada lovelace") == sorted(
        expected.items(), key=lambda t: (-t[1], t[0].lower())
    )
    assert listings.coauthors(engine, "Ada Lovelace")[0] == ("Grace Hopper", 2)
    assert listings.coauthors(engine, "Ada Lovelace", k=1) == [("Grace Hopper", 2)]
    assert listings.coauthors(engine, "Nobody At All") == []
