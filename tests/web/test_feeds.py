"""The Atom and RSS feeds: valid documents that a real feed reader reads as the API lists them,
paging, conditional GET, escaping and bad input."""

from __future__ import annotations

import email.utils
import html
import re
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from sciseek import Engine, Paper, read_papers
from sciseek.ingest.papers import is_arxiv_id
from sciseek.web.app import create_app
from sciseek.web.feeds import FEED_PAGE_SIZE
from tests.helpers import FIXTURES, synthetic_papers

ATOM = "{http://www.w3.org/2005/Atom}"
NS = {"atom": "http://www.w3.org/2005/Atom"}
XSS = "<script>alert(1)</script> & <b>friends</b>"
SITE = {"origin": "http://testserver"}
BASE = "http://testserver"
SCHEMA = etree.RelaxNG(etree.parse(str(FIXTURES / "atom.rng")))

HOSTILE = [
    Paper(
        "xss-1",
        XSS + " in titles",
        f"Abstract with {XSS} inside.",
        authors=["<b>Mallory</b> & Co"],
        categories=["cs.CR"],
        published="2024-07-01",
    ),
    # no authors, no date, a control character that XML cannot hold, an old-style arXiv id
    Paper("hep-th/9901001", "Strings\x01 without a date", "Old style id."),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(engine, client) over the fixture papers and the hostile ones, with a few upvotes."""
    with Engine.open(tmp_path_factory.mktemp("feeds") / "data") as engine:
        engine.add(read_papers(FIXTURES / "papers.jsonl"))
        engine.add(HOSTILE)
        with TestClient(create_app(engine)) as c:
            for paper_id in ("2403.00006", "2403.00006", "2404.00008", "2401.00002"):
                upvote(c.app, paper_id)  # so that Trending has entries, in a known order
            yield engine, c


@pytest.fixture(scope="module")
def client(served):
    return served[1]


def upvote(app, paper_id: str) -> None:
    """An upvote from a new browser that opened the paper's page first."""
    browser = TestClient(app)
    assert browser.get(f"/papers/{paper_id}").status_code == 200
    assert browser.post(f"/api/papers/{paper_id}/upvote", headers=SITE).status_code == 200


def xml(response) -> etree._Element:
    return etree.fromstring(response.content)


def assert_valid_atom(root: etree._Element) -> None:
    """RFC 4287: the Appendix B schema, and its Schematron rules, which RELAX NG skips."""
    assert SCHEMA.validate(root), SCHEMA.error_log
    feed_has_author = bool(root.xpath("atom:author", namespaces=NS))
    for entry in root.xpath("atom:entry", namespaces=NS):
        assert feed_has_author or entry.xpath("atom:author", namespaces=NS)
        assert entry.xpath("atom:link[@rel='alternate' or not(@rel)] | atom:content", namespaces=NS)
    ids = root.xpath("atom:entry/atom:id/text()", namespaces=NS)
    assert len(ids) == len(set(ids))


def assert_valid_rss(root: etree._Element) -> None:
    """RSS 2.0: the required channel elements, and per item a title, a guid and RFC 822 dates."""
    assert root.tag == "rss" and root.get("version") == "2.0"
    (channel,) = root.findall("channel")
    for name in ("title", "link", "description"):
        assert (channel.findtext(name) or "").strip(), name
    selfs = channel.findall(f"{ATOM}link[@rel='self']")
    assert len(selfs) == 1 and selfs[0].get("type") == "application/rss+xml"
    assert email.utils.parsedate_to_datetime(channel.findtext("lastBuildDate"))
    for item in channel.findall("item"):
        assert item.findtext("title") or item.findtext("description")
        assert item.findtext("guid") == item.findtext("link")
        if item.find("pubDate") is not None:
            assert email.utils.parsedate_to_datetime(item.findtext("pubDate"))


SEARCH = {"q": "retrieval", "mode": "bm25", "from": "2024-01-01", "category": "cs.IR"}
FEEDS = [
    ("/feeds/new", {}),
    ("/feeds/new", {"page": "2"}),
    ("/feeds/trending", {}),
    ("/feeds/search", {"q": "protein structure"}),
    ("/feeds/search", SEARCH),
    ("/feeds/search", {"q": "nothing matches zxqv", "mode": "bm25"}),
]


@pytest.mark.parametrize(("path", "params"), FEEDS)
def test_every_feed_is_valid_atom_and_rss(client, path, params):
    atom = client.get(f"{path}.atom", params=params)
    assert atom.status_code == 200
    assert atom.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert_valid_atom(xml(atom))
    rss = client.get(f"{path}.rss", params=params)
    assert rss.status_code == 200
    assert rss.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert_valid_rss(xml(rss))


def test_the_schema_refuses_an_invalid_feed():
    """The validation above can fail: a feed without id and with a bad date is refused."""
    bad = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><updated>2024</updated></feed>'
    )
    assert not SCHEMA.validate(etree.fromstring(bad))


def api_list(client, what: str) -> list[dict]:
    if what == "new":
        return client.get("/api/new", params={"k": FEED_PAGE_SIZE}).json()["papers"]
    if what == "trending":
        return client.get("/api/trending", params={"k": FEED_PAGE_SIZE}).json()["papers"]
    params = SEARCH if what == "search" else {"q": "learning"}
    return client.get("/api/search", params={**params, "k": FEED_PAGE_SIZE}).json()["hits"]


def feed_params(what: str) -> dict:
    return {"search": SEARCH, "hybrid": {"q": "learning"}}.get(what, {})


@pytest.mark.parametrize("fmt", ["atom", "rss"])
@pytest.mark.parametrize("what", ["new", "trending", "search", "hybrid"])
def test_a_feed_reader_reads_what_the_api_lists(client, what, fmt):
    expected = api_list(client, what)
    assert expected
    path = "search" if what == "hybrid" else what
    parsed = feedparser.parse(client.get(f"/feeds/{path}.{fmt}", params=feed_params(what)).content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == ("atom10" if fmt == "atom" else "rss20")
    got = parsed.entries
    assert [e.id for e in got] == [f"{BASE}/papers/{p['id']}" for p in expected]
    assert [e.link for e in got] == [f"{BASE}/papers/{p['id']}" for p in expected]
    assert [e.title for e in got] == [re.sub("[\x00-\x08]", "", p["title"]) for p in expected]
    assert [[a["name"] for a in e.get("authors", [])] for e in got] == [
        p["authors"] for p in expected
    ]
    assert [[t.term for t in e.get("tags", [])] for e in got] == [p["categories"] for p in expected]
    for e, p in zip(got, expected, strict=True):
        related = [link.href for link in e.links if link.rel == "related"]
        assert related == ([f"https://arxiv.org/abs/{p['id']}"] if is_arxiv_id(p["id"]) else [])
        abstract = client.get(f"/api/papers/{p['id']}").json()["abstract"]  # hits carry none
        assert html.unescape(e.get("summary", "")) == abstract
        if p["published"]:
            assert e.published_parsed[:3] == tuple(int(x) for x in p["published"].split("-"))
        else:
            assert "published_parsed" not in e


def test_feed_dates_are_the_papers_dates(client):
    root = xml(client.get("/feeds/new.atom"))
    updated = root.xpath("atom:entry/atom:updated/text()", namespaces=NS)
    newest = client.get("/api/new", params={"k": 1}).json()["papers"][0]
    assert updated[0] == f"{newest['published']}T00:00:00Z"
    assert root.findtext(f"{ATOM}updated") == max(updated)
    # the paper without a date is dated at the epoch and has no published element
    undated = root.xpath(
        "atom:entry[atom:id='http://testserver/papers/hep-th/9901001']", namespaces=NS
    )
    assert undated and undated[0].findtext(f"{ATOM}updated") == "1970-01-01T00:00:00Z"
    assert undated[0].find(f"{ATOM}published") is None


def test_hostile_text_stays_text(client):
    atom = client.get("/feeds/search.atom", params={"q": "titles", "mode": "bm25"})
    root = xml(atom)
    assert not root.xpath("//*[local-name()='script' or local-name()='b']")
    (entry,) = root.xpath("atom:entry[atom:id='http://testserver/papers/xss-1']", namespaces=NS)
    assert entry.findtext(f"{ATOM}title") == XSS + " in titles"
    assert entry.findtext(f"{ATOM}summary") == f"Abstract with {XSS} inside."
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "<b>Mallory</b> & Co"
    assert b"&lt;script&gt;" in atom.content and b"<script>" not in atom.content

    rss = xml(client.get("/feeds/search.rss", params={"q": "titles", "mode": "bm25"}))
    assert not rss.xpath("//*[local-name()='script' or local-name()='b']")
    (item,) = [i for i in rss.iter("item") if i.findtext("guid").endswith("/xss-1")]
    assert item.findtext("title") == XSS + " in titles"
    # a description is HTML to a reader: the abstract is escaped once more, to stay text
    assert item.findtext("description") == html.escape(f"Abstract with {XSS} inside.")
    text = feedparser.parse(etree.tostring(rss)).entries[0].summary
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_a_character_xml_cannot_hold_is_dropped(client):
    for fmt in ("atom", "rss"):
        r = client.get(f"/feeds/search.{fmt}", params={"q": "hep-th/9901001"})
        assert r.status_code == 200
        titles = [t.text for t in xml(r).iter(f"{ATOM}title", "title")]
        assert "Strings without a date" in titles


def test_conditional_get_answers_304(client):
    first = client.get("/feeds/new.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"') and email.utils.parsedate_to_datetime(modified)
    for headers in ({"if-none-match": etag}, {"if-modified-since": modified}):
        r = client.get("/feeds/new.atom", headers=headers)
        assert r.status_code == 304 and r.content == b""
        assert r.headers["etag"] == etag
    assert (
        client.get("/feeds/new.atom", headers={"if-none-match": f'"x", W/{etag}'}).status_code
        == 304
    )
    assert client.get("/feeds/new.atom", headers={"if-none-match": '"other"'}).status_code == 200
    # If-None-Match decides when both are sent
    both = {"if-none-match": '"other"', "if-modified-since": modified}
    assert client.get("/feeds/new.atom", headers=both).status_code == 200
    early = {"if-modified-since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    assert client.get("/feeds/new.atom", headers=early).status_code == 200
    assert client.get("/feeds/new.atom", headers={"if-modified-since": "soon"}).status_code == 200
    # the two formats and two lists are different documents
    tags = {client.get(u).headers["etag"] for u in ("/feeds/new.rss", "/feeds/trending.atom")}
    assert etag not in tags and len(tags) == 2


def test_a_changed_store_or_new_votes_change_the_validators(tmp_path):
    with Engine.open(tmp_path / "data") as engine:
        engine.add(read_papers(FIXTURES / "papers.jsonl"), dense=False)
        client = TestClient(create_app(engine))
        before = client.get("/feeds/new.atom")
        old = {"if-none-match": before.headers["etag"]}
        since = {"if-modified-since": before.headers["last-modified"]}
        assert client.get("/feeds/new.atom", headers=old).status_code == 304
        engine.add([Paper("late-1", "A paper added later", published="2024-06-30")], dense=False)
        after = client.get("/feeds/new.atom", headers=old)
        assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
        assert b"late-1" in after.content
        assert client.get("/feeds/new.atom", headers=since).status_code == 200
        assert client.get("/feeds/new.atom", headers=since).status_code == 200  # still newer
        assert email.utils.parsedate_to_datetime(
            after.headers["last-modified"]
        ) > email.utils.parsedate_to_datetime(before.headers["last-modified"])

        trending = client.get("/feeds/trending.atom")
        upvote(client.app, "2402.00003")
        voted = client.get(
            "/feeds/trending.atom", headers={"if-none-match": trending.headers["etag"]}
        )
        assert voted.status_code == 200 and b"2402.00003" in voted.content


def links(root: etree._Element, fmt: str) -> dict[str, str]:
    tag = f"{ATOM}link"
    parent = root if fmt == "atom" else root.find("channel")
    return {el.get("rel"): el.get("href") for el in parent.findall(tag)}


def page_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query).get("page", ["1"])[0])


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_paging_links_walk_the_whole_list(tmp_path, fmt):
    n = 2 * FEED_PAGE_SIZE + 5
    with Engine.open(tmp_path / "data") as engine:
        engine.add([Paper(**p) for p in synthetic_papers(n)], dense=False)
        client = TestClient(create_app(engine))
        expected = [p["id"] for p in client.get("/api/new", params={"k": 100}).json()["papers"]]
        assert len(expected) == n
        url, seen, pages = f"{BASE}/feeds/new.{fmt}", [], []
        while url:
            root = xml(client.get(url))
            rels = links(root, fmt)
            pages.append(page_of(rels["self"]))
            assert rels["first"] == f"{BASE}/feeds/new.{fmt}" and "page" not in rels["first"]
            if pages[-1] > 1:
                assert page_of(rels["previous"]) == pages[-1] - 1
            else:
                assert "previous" not in rels
            ids = [e.id for e in feedparser.parse(etree.tostring(root)).entries]
            seen += [i.removeprefix(f"{BASE}/papers/") for i in ids]
            url = rels.get("next")
        assert pages == [1, 2, 3] and seen == expected
        assert (
            links(xml(client.get(f"/feeds/new.{fmt}", params={"page": 2})), fmt)["previous"]
            == f"{BASE}/feeds/new.{fmt}"
        )

        params = {"q": "study", "mode": "bm25", "category": "cat.graphs"}
        hits = client.get("/api/search", params={**params, "k": 100}).json()["hits"]
        page2 = xml(client.get(f"/feeds/search.{fmt}", params={**params, "page": 2}))
        rels = links(page2, fmt)
        assert parse_qs(urlsplit(rels["previous"]).query) == {k: [v] for k, v in params.items()}
        entries = feedparser.parse(etree.tostring(page2)).entries
        assert [e.link for e in entries] == [
            f"{BASE}/papers/{h['id']}" for h in hits[FEED_PAGE_SIZE : 2 * FEED_PAGE_SIZE]
        ]
        assert ("next" in rels) == (len(hits) > 2 * FEED_PAGE_SIZE)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/feeds/search.atom", {}),
        ("/feeds/search.atom", {"q": ""}),
        ("/feeds/search.rss", {"q": "   "}),
        ("/feeds/search.atom", {"q": "x" * 10_000}),
        ("/feeds/search.atom", {"q": "x", "mode": "telepathy"}),
        ("/feeds/search.rss", {"q": "x", "from": "yesterday"}),
        ("/feeds/search.atom", {"q": "x", "from": "2024-05-01", "to": "2024-01-01"}),
        ("/feeds/search.atom", {"q": "x", "page": "0"}),
        ("/feeds/new.atom", {"page": "0"}),
        ("/feeds/new.rss", {"page": "many"}),
        ("/feeds/trending.atom", {"page": "51"}),
    ],
)
def test_bad_feed_input_is_a_422_with_a_message(client, url, params):
    r = client.get(url, params=params)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/json" and r.json()["detail"]


def test_other_extensions_are_not_feeds(client):
    assert client.get("/feeds/new.xml").status_code == 404
    assert client.head("/feeds/new.atom").status_code == 200


@pytest.mark.parametrize(
    ("page", "feed"),
    [
        ("/new", "/feeds/new.atom"),
        ("/trending", "/feeds/trending.atom"),
        (
            "/?q=retrieval&mode=bm25&from=2024-01-01&category=cs.IR",
            "/feeds/search.atom?q=retrieval&amp;mode=bm25&amp;from=2024-01-01&amp;category=cs.IR",
        ),
        (
            "/?q=retrieval&sort=newest",
            "/feeds/search.atom?q=retrieval&amp;mode=hybrid&amp;sort=newest",
        ),
        ("/category/cs.IR", "/feeds/category/cs.IR.atom"),
        ("/author/Ada%20Lovelace", "/feeds/author/Ada%20Lovelace.atom"),
        ("/day/2024-01-02", "/feeds/day/2024-01-02.atom"),
    ],
)
def test_pages_with_a_feed_announce_and_link_it(client, page, feed):
    text = client.get(page).text
    head = text.split("</head>")[0]
    assert '<link rel="alternate" type="application/atom+xml" title=' in head
    assert f'href="{feed}"' in head
    rss = feed.replace(".atom", ".rss")
    assert f'href="{rss}"' in head
    body = text.split("<body>")[1]
    assert f'class="feed" href="{feed}"' in body and f'class="feed" href="{rss}"' in body
    r = client.get(html.unescape(feed))
    assert r.status_code == 200 and feedparser.parse(r.content).entries


def test_pages_without_a_list_have_no_feed(client):
    for page in ("/", "/papers/2401.00001", "/subscribe", "/?q=x&from=bad"):
        assert "application/atom+xml" not in client.get(page).text


BROWSE = [
    "/category/cs.IR",
    "/author/Ada%20Lovelace",
    "/day/2024-01-02",
]


@pytest.mark.parametrize("fmt", ["atom", "rss"])
@pytest.mark.parametrize("path", BROWSE)
def test_category_author_and_day_feeds_list_what_the_api_lists(client, path, fmt):
    expected = client.get(f"/api{path}", params={"k": FEED_PAGE_SIZE}).json()["papers"]
    assert expected
    r = client.get(f"/feeds{path}.{fmt}")
    assert r.status_code == 200
    root = xml(r)
    if fmt == "atom":
        assert_valid_atom(root)
    else:
        assert_valid_rss(root)
    assert links(root, fmt)["self"] == f"{BASE}/feeds{path}.{fmt}"
    entries = feedparser.parse(r.content).entries
    assert [e.id for e in entries] == [f"{BASE}/papers/{p['id']}" for p in expected]
    assert [e.title for e in entries] == [p["title"] for p in expected]
    assert [[a["name"] for a in e.get("authors", [])] for e in entries] == [
        p["authors"] for p in expected
    ]


@pytest.mark.parametrize("sort", ["newest", "votes"])
def test_a_search_feed_keeps_the_order_the_search_is_sorted_in(client, sort):
    params = {"q": "retrieval", "mode": "bm25"}
    api = client.get("/api/search", params={**params, "sort": sort, "k": FEED_PAGE_SIZE})
    by_relevance = client.get("/api/search", params={**params, "k": FEED_PAGE_SIZE})
    expected = [f"{BASE}/papers/{h['id']}" for h in api.json()["hits"]]
    assert expected != [f"{BASE}/papers/{h['id']}" for h in by_relevance.json()["hits"]]
    r = client.get("/feeds/search.rss", params={**params, "sort": sort})
    assert [e.id for e in feedparser.parse(r.content).entries] == expected
    assert parse_qs(urlsplit(links(xml(r), "rss")["self"]).query)["sort"] == [sort]
    assert client.get("/feeds/search.atom", params={**params, "sort": "random"}).status_code == 422


def test_a_category_without_papers_is_an_empty_feed(client):
    r = client.get("/feeds/category/no.such.category.atom")
    assert r.status_code == 200
    root = xml(r)
    assert_valid_atom(root)
    assert not root.findall(f"{ATOM}entry")


@pytest.mark.parametrize(
    "url",
    [
        "/feeds/day/2024-13-01.atom",
        "/feeds/day/yesterday.rss",
        "/feeds/day/2024-1-2.atom",
        "/feeds/category/%20.atom",
        "/feeds/author/%21%21%21.rss",
        "/feeds/author/" + "a" * 400 + ".atom",
        "/feeds/category/cs.IR.atom?page=0",
    ],
)
def test_bad_category_author_or_day_is_a_422(client, url):
    r = client.get(url)
    assert r.status_code == 422 and r.json()["detail"]
