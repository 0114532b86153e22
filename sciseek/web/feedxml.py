"""Atom 1.0 (RFC 4287) and RSS 2.0 documents for one page of a paper list.

Written with lxml rather than a feed library: ``feedgen`` (the maintained-looking choice on
PyPI) has had no release since 2023, its RSS writer drops every ``atom:link`` but ``self``
(so RFC 5005 paging links cannot be expressed in RSS) and replaces the channel's ``link`` by
the last Atom link, and its documents carry the time they were built, which would make every
response differ. Here the bytes depend only on the page's content, so a hash of them is an
honest ETag. lxml escapes every string; characters that XML 1.0 cannot hold (control
characters) are dropped first.

Entry dates come from the paper's publication date (midnight UTC); a paper without one is
dated at the Unix epoch, and a feed's ``updated`` is its newest entry's (the epoch when empty).
In RSS the abstract is HTML-escaped inside ``description``, which readers take as HTML.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from email.utils import format_datetime

from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
GENERATOR = "sciseek"
PAGING_RELS = ("first", "previous", "next")  # RFC 5005 section 3

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Entry:
    """One paper as a feed entry (every URL absolute)."""

    url: str  # the paper's page on this site: also the entry's id
    title: str
    summary: str
    authors: list[str]
    categories: list[str]
    published: str | None  # ISO date
    related: list[tuple[str, str]] = field(default_factory=list)  # (title, URL): arXiv, DOI...

    @property
    def updated(self) -> dt.datetime:
        """The entry's date: its publication date at midnight UTC, else the epoch."""
        return date_time(self.published) or EPOCH


@dataclass(frozen=True)
class FeedPage:
    """One page of a feed: what both formats are written from (every URL absolute)."""

    title: str
    subtitle: str
    feed_id: str  # the first page's Atom URL: the same on every page
    self_url: str  # this page, in the format being written
    html_url: str  # the HTML page with the same list
    paging: dict[str, str]  # "first" / "previous" / "next" -> URL, in the format being written
    entries: list[Entry]

    @property
    def updated(self) -> dt.datetime:
        """The newest entry's date (the epoch for an empty page)."""
        return max((e.updated for e in self.entries), default=EPOCH)


def date_time(day: str | None) -> dt.datetime | None:
    """An ISO date (or datetime) string as midnight UTC of that day, or None."""
    if not day:
        return None
    try:
        d = dt.date.fromisoformat(day[:10])
    except ValueError:
        return None
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot hold."""
    return _NOT_XML.sub("", value)


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str):
    el = etree.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_text(text)
    return el


def _rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom(page: FeedPage) -> bytes:
    """The page as an Atom 1.0 feed document (UTF-8)."""
    a = f"{{{ATOM_NS}}}"
    feed = etree.Element(a + "feed", nsmap={None: ATOM_NS})
    _sub(feed, a + "id", page.feed_id)
    _sub(feed, a + "title", page.title, type="text")
    _sub(feed, a + "subtitle", page.subtitle, type="text")
    _sub(feed, a + "updated", _rfc3339(page.updated))
    # papers without authors are credited to the site that lists them
    _sub(_sub(feed, a + "author"), a + "name", GENERATOR)
    _sub(feed, a + "generator", GENERATOR)
    _sub(feed, a + "link", rel="self", type=ATOM_TYPE, href=page.self_url)
    _sub(feed, a + "link", rel="alternate", type="text/html", href=page.html_url)
    for rel in PAGING_RELS:
        if rel in page.paging:
            _sub(feed, a + "link", rel=rel, type=ATOM_TYPE, href=page.paging[rel])
    for e in page.entries:
        entry = _sub(feed, a + "entry")
        _sub(entry, a + "id", e.url)
        _sub(entry, a + "title", e.title, type="text")
        _sub(entry, a + "updated", _rfc3339(e.updated))
        if e.published and date_time(e.published):
            _sub(entry, a + "published", _rfc3339(e.updated))
        for name in e.authors:
            _sub(_sub(entry, a + "author"), a + "name", name)
        _sub(entry, a + "link", rel="alternate", type="text/html", href=e.url)
        for title, href in e.related:
            _sub(entry, a + "link", rel="related", type="text/html", href=href, title=title)
        if e.summary:
            _sub(entry, a + "summary", e.summary, type="text")
        for c in e.categories:
            _sub(entry, a + "category", term=c)
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _rfc822(when: dt.datetime) -> str:
    return format_datetime(when.astimezone(dt.UTC), usegmt=True)


def rss(page: FeedPage) -> bytes:
    """The page as an RSS 2.0 document (UTF-8), paging links as ``atom:link`` elements."""
    a = f"{{{ATOM_NS}}}"
    root = etree.Element("rss", {"version": "2.0"}, nsmap={"atom": ATOM_NS, "dc": DC_NS})
    channel = _sub(root, "channel")
    _sub(channel, "title", page.title)
    _sub(channel, "link", page.html_url)
    _sub(channel, "description", page.subtitle)
    _sub(channel, "lastBuildDate", _rfc822(page.updated))
    _sub(channel, "generator", GENERATOR)
    _sub(channel, "docs", "https://www.rssboard.org/rss-specification")
    _sub(channel, a + "link", rel="self", type=RSS_TYPE, href=page.self_url)
    for rel in PAGING_RELS:
        if rel in page.paging:
            _sub(channel, a + "link", rel=rel, type=RSS_TYPE, href=page.paging[rel])
    for e in page.entries:
        item = _sub(channel, "item")
        _sub(item, "title", e.title)
        _sub(item, "link", e.url)
        if e.summary:
            _sub(item, "description", html.escape(e.summary))
        for name in e.authors:  # RSS's own author element must be an email address
            _sub(item, f"{{{DC_NS}}}creator", name)
        for c in e.categories:
            _sub(item, "category", c)
        _sub(item, "guid", e.url, isPermaLink="true")
        if date_time(e.published):
            _sub(item, "pubDate", _rfc822(e.updated))
        for title, href in e.related:
            _sub(item, a + "link", rel="related", type="text/html", href=href, title=title)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
