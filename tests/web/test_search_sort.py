"""Search sorted by relevance, date or upvotes, on the search page and in the JSON API."""

import re

import pytest
from fastapi.testclient import TestClient

from sciseek import Engine
from sciseek.ingest.papers import paper_from_dict
from sciseek.web.app import create_app
from sciseek.web.site import PAGE_SIZE
from tests.helpers import synthetic_papers

QUERY = {"q": "study", "mode": "bm25"}  # every synthetic paper is a study
N = PAGE_SIZE + 8


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with Engine.open(tmp_path_factory.mktemp("sort") / "data") as engine:
        engine.add([paper_from_dict(r) for r in synthetic_papers(N)], dense=False)
        with TestClient(create_app(engine)) as client:
            yield client, engine


def hits(client, **params) -> list[dict]:
    r = client.get("/api/search", params={**QUERY, "k": 100, **params})
    assert r.status_code == 200, r.text
    return r.json()["hits"]


def ids_on(html: str) -> list[str]:
    return re.findall(r'<article class="paper" data-id="([^"]+)"', html)


def test_newest_orders_the_hits_by_date(site):
    client, _ = site
    relevant, newest = hits(client), hits(client, sort="newest")
    assert len(relevant) == N and {h["id"] for h in newest} == {h["id"] for h in relevant}
    dates = [h["published"] for h in newest]
    assert dates == sorted(dates, reverse=True) != [h["published"] for h in relevant]
    assert hits(client, sort="relevance") == relevant


def test_votes_order_the_hits_by_upvotes_and_every_hit_has_its_count(site):
    client, engine = site
    relevant = [h["id"] for h in hits(client)]
    favourite, second = relevant[-1], relevant[3]
    for voter in ("a", "b", "c"):
        engine.store.set_vote(favourite, voter, True)
    engine.store.set_vote(second, "a", True)
    try:
        voted = hits(client, sort="votes")
        assert [h["id"] for h in voted] == [favourite, second] + [
            i for i in relevant if i not in (favourite, second)
        ]
        assert [h["votes"] for h in voted[:3]] == [3, 1, 0]
        assert {h["id"]: h["votes"] for h in hits(client)}[favourite] == 3
        page = client.get("/", params={**QUERY, "sort": "votes"}).text
        assert ids_on(page)[:2] == [favourite, second]
        assert '<span class="votes">▲ 3</span>' in page
    finally:
        for voter in ("a", "b", "c"):
            engine.store.set_vote(favourite, voter, False)
        engine.store.set_vote(second, "a", False)


def test_api_pages_keep_the_sort(site):
    client, _ = site
    everything = [h["id"] for h in hits(client, sort="newest")]
    first = client.get("/api/search", params={**QUERY, "sort": "newest", "k": 5}).json()
    second = client.get(
        "/api/search", params={**QUERY, "sort": "newest", "k": 5, "offset": 5}
    ).json()
    assert first["sort"] == "newest" and first["more"] is True
    assert [h["id"] for h in first["hits"] + second["hits"]] == everything[:10]


def test_the_search_page_has_a_sort_selector_and_its_pages_keep_the_sort(site):
    client, _ = site
    newest = [h["id"] for h in hits(client, sort="newest")]
    first = client.get("/", params={**QUERY, "sort": "newest"})
    assert first.status_code == 200
    assert '<select name="sort">' in first.text and '<option value="newest" selected>' in first.text
    assert ids_on(first.text) == newest[:PAGE_SIZE]
    link = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    assert "sort=newest" in link and "page=2" in link
    second = client.get(link)
    assert ids_on(second.text) == newest[PAGE_SIZE : 2 * PAGE_SIZE]
    plain = client.get("/", params=QUERY).text
    assert '<option value="relevance" selected>' in plain and "sort=" not in plain


def test_an_unknown_sort_is_a_422(site):
    client, _ = site
    r = client.get("/api/search", params={**QUERY, "sort": "random"})
    assert r.status_code == 422 and r.json()["detail"]
    r = client.get("/", params={**QUERY, "sort": "random"})
    assert r.status_code == 422 and 'role="alert"' in r.text
