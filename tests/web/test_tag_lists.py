"""A tag's papers as a download (with the session) and as a private feed (by its URL)."""

from __future__ import annotations

import re
from html import unescape

import bibtexparser
import feedparser
import pytest
from fastapi.testclient import TestClient

from tests.web.signing import SITE, sign_in
from tests.web.test_library import P, save


@pytest.fixture
def ada(app, smtp):
    return sign_in(app, smtp, "ada@example.org")


def feed_links(html: str) -> tuple[str, str]:
    atom = re.search(r'<link rel="alternate" type="application/atom\+xml"[^>]*href="([^"]+)"', html)
    rss = re.search(r'<link rel="alternate" type="application/rss\+xml"[^>]*href="([^"]+)"', html)
    return unescape(atom.group(1)), unescape(rss.group(1))


def test_a_tag_exports_its_papers_for_its_reader_only(app, ada):
    save(ada, "to read", P[0])
    save(ada, "to read", P[2])
    page = ada.get("/library/tag/to%20read").text
    assert 'href="/library/tag/to%20read/export?format=bibtex"' in page
    r = ada.get("/library/tag/to%20read/export", params={"format": "bibtex"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="sciseek-to-read.bib"'
    eprints = [e["eprint"] for e in bibtexparser.parse_string(r.text).entries]
    assert eprints == [P[2], P[0]]  # the latest saved first
    assert ada.get("/library/tag/to%20read/export", params={"format": "doc"}).status_code == 422
    anonymous = TestClient(app).get("/library/tag/to%20read/export")
    assert anonymous.status_code == 401


def test_a_tag_feed_is_readable_by_its_private_url_until_the_tag_goes(app, ada):
    save(ada, "ir", P[0])
    save(ada, "ir", P[1])
    atom, rss = feed_links(ada.get("/library/tag/ir").text)
    assert atom.startswith("/feeds/tag/") and atom.endswith(".atom") and rss.endswith(".rss")
    reader = TestClient(app)  # a feed reader: no session
    r = reader.get(atom)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo
    assert [e.link.rsplit("/papers/", 1)[1] for e in feed.entries] == [P[1], P[0]]
    assert feedparser.parse(reader.get(rss).content).entries[0].title == feed.entries[0].title
    assert reader.get(atom, headers={"if-none-match": r.headers["etag"]}).status_code == 304

    token = atom.removeprefix("/feeds/tag/").removesuffix(".atom")
    body, _, sig = token.partition(".")
    forged = f"{body[:-2]}{'AA' if body[-2:] != 'AA' else 'BB'}.{sig}"
    assert reader.get(f"/feeds/tag/{forged}.atom").status_code == 400
    ada.post("/library/tag/ir/delete", headers=SITE)
    gone = reader.get(atom)
    assert gone.status_code == 404 and "no longer exists" in gone.text


def test_a_tag_feed_pages_its_papers(app, ada, monkeypatch):
    from sciseek.web import tag_lists

    monkeypatch.setattr(tag_lists, "FEED_PAGE_SIZE", 1)
    save(ada, "ir", P[0])
    save(ada, "ir", P[1])
    atom, _ = feed_links(ada.get("/library/tag/ir").text)
    reader = TestClient(app)
    first = feedparser.parse(reader.get(atom).content)
    second = feedparser.parse(reader.get(atom, params={"page": 2}).content)
    assert [e.link.rsplit("/papers/", 1)[1] for e in first.entries] == [P[1]]
    assert [e.link.rsplit("/papers/", 1)[1] for e in second.entries] == [P[0]]
    assert any(link.rel == "next" for link in first.feed.links)
    assert not any(link.rel == "next" for link in second.feed.links)
