"""The day, category and author pages and their JSON, through FastAPI's test client."""

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from sciseek import Engine, Paper, read_papers
from sciseek.web.app import create_app
from sciseek.web.browse import LIST_PAGE_SIZE
from tests.helpers import FIXTURES

XSS = "<script>alert(1)</script>"
DAY = "2024-07-10"  # the day of the many papers: more than one page of them
MANY = LIST_PAGE_SIZE + 5


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with Engine.open(tmp_path_factory.mktemp("browse") / "data") as engine:
        engine.add(read_papers(FIXTURES / "papers.jsonl"))
        engine.add(
            [
                Paper(
                    f"2407.{i:05d}",
                    f"Digital libraries study {i}",
                    authors=["Jane Doe", f"Coauthor {i % 3}"],
                    categories=["cs.DL"],
                    published=DAY,
                )
                for i in range(MANY)
            ]
            + [
                Paper(
                    "xss-2",
                    "A hostile author",
                    authors=[XSS, "Jane Doe"],
                    categories=["<b>cat</b>"],
                    published="2024-07-11",
                )
            ],
            dense=False,
        )
        with TestClient(create_app(engine)) as c:
            yield c


def ids_on(html: str) -> list[str]:
    """The paper ids of a page's result list, in order."""
    return re.findall(r'<article class="paper" data-id="([^"]+)"', html)


def api_ids(client, url: str, **params) -> list[str]:
    r = client.get(url, params=params)
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["papers"]]


@pytest.mark.parametrize(
    ("page", "api"),
    [
        (f"/day/{DAY}", f"/api/day/{DAY}"),
        ("/category/cs.DL", "/api/category/cs.DL"),
        ("/author/Jane Doe", "/api/author/Jane Doe"),
        ("/category/cs.IR", "/api/category/cs.IR"),
        ("/author/Alan Turing", "/api/author/Alan Turing"),
    ],
)
def test_each_page_shows_what_its_api_returns_page_by_page(client, page, api):
    seen = []
    for n in (1, 2, 3):
        r = client.get(page, params={"page": n})
        assert r.status_code == 200
        shown = ids_on(r.text)
        assert shown == api_ids(client, api, k=LIST_PAGE_SIZE, offset=(n - 1) * LIST_PAGE_SIZE)
        seen += shown
    assert seen and len(seen) == len(set(seen))
    assert seen == api_ids(client, api, k=100)


def test_the_day_page_lists_that_days_papers_by_id_with_pages(client):
    everything = api_ids(client, f"/api/day/{DAY}", k=100)
    assert everything == sorted(everything) and len(everything) == MANY
    first = client.get(f"/day/{DAY}")
    assert len(ids_on(first.text)) == LIST_PAGE_SIZE
    assert f'rel="next" href="/day/{DAY}?page=2"' in first.text and 'rel="prev"' not in first.text
    assert f"{MANY} papers published on {DAY}" in first.text and "Page 1 of 2" in first.text
    second = client.get(f"/day/{DAY}", params={"page": 2})
    assert len(ids_on(second.text)) == MANY - LIST_PAGE_SIZE
    assert f'rel="prev" href="/day/{DAY}"' in second.text and 'rel="next"' not in second.text
    body = client.get(f"/api/day/{DAY}", params={"k": 3, "offset": 1}).json()
    assert body["count"] == MANY and [p["id"] for p in body["papers"]] == everything[1:4]
    assert set(body["papers"][0]) == set(client.get("/api/new").json()["papers"][0])


def test_days_link_to_the_previous_and_next_day_with_papers(client):
    body = client.get("/api/day/2024-03-15").json()
    assert (body["prev"], body["next"]) == ("2024-03-01", "2024-04-02")
    assert [p["id"] for p in body["papers"]] == ["2403.00006"]
    page = client.get("/day/2024-03-15").text
    assert 'class="prev-day" href="/day/2024-03-01"' in page
    assert 'class="next-day" href="/day/2024-04-02"' in page
    empty = client.get("/api/day/2024-03-02").json()  # a day without papers, between two
    assert (empty["prev"], empty["next"], empty["papers"]) == ("2024-03-01", "2024-03-15", [])
    r = client.get("/day/2024-03-02")
    assert r.status_code == 200 and "No papers were published on this day" in r.text
    assert client.get("/api/day/2024-01-02").json()["prev"] is None
    assert client.get("/api/day/2024-07-11").json()["next"] is None


def test_day_without_a_date_is_the_latest_day(client):
    latest = client.get("/api/day").json()
    assert latest["day"] == "2024-07-11" and [p["id"] for p in latest["papers"]] == ["xss-2"]
    r = client.get("/day")
    assert r.status_code == 200 and ids_on(r.text) == ["xss-2"]
    assert 'class="prev-day" href="/day/2024-07-10"' in r.text
    assert 'href="/day" class="active"' in r.text  # the Browse entry of the header


@pytest.mark.parametrize("day", ["2024-13-01", "2024-02-30", "yesterday", "20240710", "2024-7-1"])
def test_a_bad_date_is_a_422_with_a_message(client, day):
    r = client.get(f"/api/day/{day}")
    assert r.status_code == 422 and "YYYY-MM-DD" in r.json()["detail"]
    r = client.get(f"/day/{day}")
    assert r.status_code == 422 and 'role="alert"' in r.text and "YYYY-MM-DD" in r.text


@pytest.mark.parametrize("url", ["/day", f"/day/{DAY}", "/category/cs.DL", "/author/Jane Doe"])
def test_bad_pages_are_a_422(client, url):
    for page in ("0", "-1", "x", "100000"):
        assert client.get(url, params={"page": page}).status_code == 422
    assert client.get("/api" + url, params={"k": 0}).status_code == 422
    assert client.get("/api" + url, params={"offset": -1}).status_code == 422


def test_the_category_page_is_newest_first(client):
    body = client.get("/api/category/cs.LG").json()
    dates = [p["published"] for p in body["papers"]]
    assert body["category"] == "cs.LG" and len(dates) == 4 and dates == sorted(dates, reverse=True)
    page = client.get("/category/cs.DL")
    assert "<h1>cs.DL</h1>" in page.text
    assert 'rel="next" href="/category/cs.DL?page=2"' in page.text


def test_unknown_categories_and_authors_are_empty_lists(client):
    for url in ("/api/category/no.such", "/api/author/Nobody Atall"):
        r = client.get(url)
        assert r.status_code == 200 and r.json()["papers"] == []
    assert client.get("/api/author/Nobody Atall").json()["coauthors"] == []
    for url in ("/category/no.such", "/author/Nobody Atall"):
        r = client.get(url)
        assert r.status_code == 200 and ids_on(r.text) == [] and 'class="empty"' in r.text
    for url in ("/api/author/ - ", "/author/...", "/api/category/ "):
        r = client.get(url)
        assert r.status_code == 422 and r.text


def test_the_author_page_lists_their_papers_and_links_their_coauthors(client):
    body = client.get("/api/author/jane  doe").json()
    assert body["author"] == "Jane Doe" and body["key"] == "jane doe"
    assert {c["name"]: c["papers"] for c in body["coauthors"]} == {
        "Coauthor 0": 10,
        "Coauthor 1": 10,
        "Coauthor 2": 10,
        XSS: 1,
    }
    assert body["papers"][0]["id"] == "xss-2"  # newest first
    assert api_ids(client, "/api/author/JANE DOE", k=100) == api_ids(
        client, "/api/author/Jane Doe", k=100
    )
    page = client.get("/author/jane  doe").text
    assert "<h1>Jane Doe</h1>" in page
    assert 'href="/author/Coauthor%200">Coauthor 0</a> <span class="count">10 papers' in page
    other = client.get("/author/Coauthor%200")
    assert other.status_code == 200 and 'href="/author/Jane%20Doe"' in other.text


def test_hostile_names_are_escaped_everywhere(client):
    for url in (f"/author/{quote(XSS)}", "/author/Jane Doe", "/day/2024-07-11", "/papers/xss-2"):
        r = client.get(url)
        assert r.status_code == 200
        assert XSS not in r.text and "<b>cat</b>" not in r.text, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text, url
    r = client.get(f"/author/{quote(XSS)}")
    assert ids_on(r.text) == ["xss-2"]
    assert f'href="/author/{quote(XSS)}"' in client.get("/papers/xss-2").text
    r = client.get(f"/category/{quote('<b>cat</b>')}")
    assert ids_on(r.text) == ["xss-2"] and "&lt;b&gt;cat&lt;/b&gt;" in r.text
    assert r.text.count("<b>") == 0
    body = client.get(f"/api/author/{quote(XSS)}").json()
    assert body["author"] == XSS and [p["id"] for p in body["papers"]] == ["xss-2"]


def test_authors_dates_and_categories_link_to_their_pages(client):
    expected = ('href="/author/Ada%20Lovelace"', 'href="/category/cs.IR"', 'href="/day/2024-01-02"')
    paper = client.get("/papers/2401.00001").text
    results = client.get("/", params={"q": "distilling query encoders", "mode": "bm25"}).text
    for html in (paper, results, client.get("/category/cs.CL").text):
        for link in expected:
            assert link in html
    listed = client.get("/new").text
    for link in ('href="/author/Jane%20Doe"', 'href="/category/cs.DL"', f'href="/day/{DAY}"'):
        assert link in listed
    assert 'href="/day"' in client.get("/").text  # the header's Browse entry


@pytest.mark.parametrize("url", ["/day", f"/day/{DAY}", "/category/cs.DL", "/author/Jane Doe"])
def test_head_answers_the_browse_pages(client, url):
    assert client.head(url).status_code == 200 and client.head(url).content == b""


def test_an_empty_store_has_an_empty_latest_day(tmp_path):
    with Engine.open(tmp_path / "data") as engine:
        client = TestClient(create_app(engine))
        assert client.get("/api/day").json() == {
            "day": None,
            "count": 0,
            "prev": None,
            "next": None,
            "papers": [],
        }
        r = client.get("/day")
        assert r.status_code == 200 and "No papers yet" in r.text
