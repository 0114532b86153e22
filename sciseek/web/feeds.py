"""Atom and RSS feeds of every list of the site: New, Trending, any search, and the category,
author and day lists.

Each list is served at ``/feeds/<list>.atom`` (Atom 1.0) and ``/feeds/<list>.rss`` (RSS 2.0),
``FEED_PAGE_SIZE`` papers a page, newest (or best) first, with RFC 5005 paging links
(``first``, ``previous``, ``next``) that add ``?page=N``; page 1 is the URL without it. The
search feed takes the search page's parameters (``q``, ``mode``, ``from``, ``to``,
``category``, ``sort``) and checks them as ``/api/search`` does: bad ones are a ``422`` with a
message. Every response carries ``ETag`` and ``Last-Modified`` and answers a conditional GET with
``304`` (``conditional``). The documents are written by ``feedxml``; why lxml and not a feed
library is said there.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import FastAPI, HTTPException, Query, Request, Response

from sciseek.ingest.papers import Paper
from sciseek.search import listings
from sciseek.search.sorting import Sort

from . import feedxml
from .conditional import Versions, conditional_response
from .site import MAX_QUERY, Mode, Site, parse_filters

FEED_PAGE_SIZE = 20
MAX_PAGE = 50
MAX_NAME = 300  # an author's name or a category in a feed's path
FORMATS: dict[str, tuple[Callable[[feedxml.FeedPage], bytes], str]] = {
    "atom": (feedxml.atom, f"{feedxml.ATOM_TYPE}; charset=utf-8"),
    "rss": (feedxml.rss, f"{feedxml.RSS_TYPE}; charset=utf-8"),
}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Params = list[tuple[str, str]]
PageNo = Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)]


@dataclass(frozen=True)
class Listing:
    """One page of one of the site's lists, before it is written in a feed format."""

    path: str  # the feed's path without its extension, e.g. "/feeds/new" (already quoted)
    params: Params  # the list's query parameters, in a fixed order, without the page
    html: str  # the HTML page with the same list (a path and query)
    title: str
    subtitle: str
    papers: list[Paper]
    more: bool  # whether a next page exists
    page: int


def feed_url(path: str, params: Params | None = None, page: int = 1, fmt: str = "atom") -> str:
    """The site-relative URL of one page of a feed (page 1 has no ``page`` parameter)."""
    query = [*(params or []), *([("page", str(page))] if page > 1 else [])]
    return f"{path}.{fmt}" + (f"?{urlencode(query)}" if query else "")


def search_params(
    q: str,
    mode: str,
    date_from: str | None,
    date_to: str | None,
    categories: list[str],
    sort: str = "relevance",
) -> Params:
    """A search's query parameters in the order every search URL of the site uses (the
    default sort, relevance, left out)."""
    params = [("q", q), ("mode", mode)]
    params += [(name, v) for name, v in (("from", date_from), ("to", date_to)) if v]
    params += [("category", c) for c in categories if c]
    return params + ([("sort", sort)] if sort != "relevance" else [])


def search_feed_url(
    q: str,
    mode: str,
    date_from: str | None,
    date_to: str | None,
    categories: list[str],
    sort: str = "relevance",
) -> str:
    """The Atom feed of a search (the search page links it)."""
    params = search_params(q, mode, date_from, date_to, categories, sort)
    return feed_url("/feeds/search", params)


def list_feed_url(kind: str, key: str) -> str:
    """The Atom feed of a category, author or day list (``kind`` names it)."""
    return feed_url(f"/feeds/{kind}/{quote(key, safe='')}")


def paper_page(base: str, paper_id: str) -> str:
    """The absolute URL of a paper's page on this site."""
    return f"{base}/papers/{quote(paper_id, safe='/')}"


def entry(base: str, p: Paper) -> feedxml.Entry:
    """A paper as a feed entry, linked to its page here and to arXiv or its own URL."""
    related = [("arXiv", p.arxiv_url)] if p.arxiv_url else []
    if p.link and p.link != p.arxiv_url:
        related.append(("Paper", p.link))
    return feedxml.Entry(
        url=paper_page(base, p.id),
        title=p.title or p.id,
        summary=p.abstract,
        authors=list(p.authors),
        categories=list(p.categories),
        published=p.published,
        related=related,
    )


def feed_page(base: str, fmt: str, listing: Listing) -> feedxml.FeedPage:
    """What a format's writer needs for one listing (every URL absolute)."""

    def url(page: int, in_fmt: str = fmt) -> str:
        return base + feed_url(listing.path, listing.params, page, in_fmt)

    paging = {"first": url(1)}
    if listing.page > 1:
        paging["previous"] = url(listing.page - 1)
    if listing.more:
        paging["next"] = url(listing.page + 1)
    return feedxml.FeedPage(
        title=listing.title,
        subtitle=listing.subtitle,
        feed_id=url(1, "atom"),
        self_url=url(listing.page),
        html_url=base + listing.html,
        paging=paging,
        entries=[entry(base, p) for p in listing.papers],
    )


def _offset(page: int) -> int:
    return (page - 1) * FEED_PAGE_SIZE


def _page_of(papers: list[Paper]) -> tuple[list[Paper], bool]:
    """One page of a list fetched one paper longer than a page, and whether there is more."""
    return papers[:FEED_PAGE_SIZE], len(papers) > FEED_PAGE_SIZE


FeedAnswer = Callable[[Request, str, Listing], Response]


def add_feed_routes(app: FastAPI, site: Site) -> FeedAnswer:
    """Register ``/feeds/...`` in both formats on ``app``; returns the function that answers a
    feed request for a ``Listing`` (validators included), for feeds registered elsewhere."""
    versions = Versions()

    def answer(request: Request, fmt: str, listing: Listing) -> Response:
        base = str(request.base_url).rstrip("/")
        write, media_type = FORMATS[fmt]
        body = write(feed_page(base, fmt, listing))
        key = base + feed_url(listing.path, listing.params, listing.page, fmt)  # as served
        return conditional_response(request, body, media_type, key, versions)

    def new_feed(fmt: str):
        def endpoint(request: Request, page: PageNo = 1) -> Response:
            papers, more = _page_of(listings.new(site.engine, FEED_PAGE_SIZE + 1, _offset(page)))
            listing = Listing(
                path="/feeds/new",
                params=[],
                html="/new",
                title="sciseek: new papers",
                subtitle="The most recently published papers.",
                papers=papers,
                more=more,
                page=page,
            )
            return answer(request, fmt, listing)

        return endpoint

    def trending_feed(fmt: str):
        def endpoint(request: Request, page: PageNo = 1) -> Response:
            ranked = listings.trending(site.engine, _offset(page) + FEED_PAGE_SIZE + 1)
            papers, more = _page_of([p for p, _, _ in ranked[_offset(page) :]])
            listing = Listing(
                path="/feeds/trending",
                params=[],
                html="/trending",
                title="sciseek: trending",
                subtitle="Upvotes of the last 7 days, newer papers weighted higher.",
                papers=papers,
                more=more,
                page=page,
            )
            return answer(request, fmt, listing)

        return endpoint

    def search_feed(fmt: str):
        def endpoint(
            request: Request,
            q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY)],
            mode: Mode = "hybrid",
            date_from: Annotated[str | None, Query(alias="from")] = None,
            date_to: Annotated[str | None, Query(alias="to")] = None,
            category: Annotated[list[str] | None, Query()] = None,
            sort: Sort = "relevance",
            page: PageNo = 1,
        ) -> Response:
            filters = parse_filters(date_from, date_to, category)
            hits, more = site.search(q, mode, FEED_PAGE_SIZE, _offset(page), filters, sort=sort)
            params = search_params(q, mode, date_from, date_to, category or [], sort)
            listing = Listing(
                path="/feeds/search",
                params=params,
                html="/?" + urlencode(params),
                title=f"sciseek: {q.strip()}",
                subtitle=_describe_search(q, mode, date_from, date_to, category or [], sort),
                papers=[h.paper for h in hits],
                more=more,
                page=page,
            )
            return answer(request, fmt, listing)

        return endpoint

    def category_feed(fmt: str):
        def endpoint(request: Request, cat: str, page: PageNo = 1) -> Response:
            cat = _name(cat, "category")
            found = listings.by_category(site.engine, cat, FEED_PAGE_SIZE + 1, _offset(page))
            papers, more = _page_of(found)
            path = quote(cat, safe="")
            listing = Listing(
                path=f"/feeds/category/{path}",
                params=[],
                html=f"/category/{path}",
                title=f"sciseek: {cat}",
                subtitle=f"The newest papers in {cat}.",
                papers=papers,
                more=more,
                page=page,
            )
            return answer(request, fmt, listing)

        return endpoint

    def author_feed(fmt: str):
        def endpoint(request: Request, name: str, page: PageNo = 1) -> Response:
            name = _name(name, "author")
            found = listings.by_author(site.engine, name, FEED_PAGE_SIZE + 1, _offset(page))
            papers, more = _page_of(found)
            path = quote(name, safe="")
            listing = Listing(
                path=f"/feeds/author/{path}",
                params=[],
                html=f"/author/{path}",
                title=f"sciseek: papers by {name}",
                subtitle=f"The newest papers by {name}.",
                papers=papers,
                more=more,
                page=page,
            )
            return answer(request, fmt, listing)

        return endpoint

    def day_feed(fmt: str):
        def endpoint(request: Request, day: str, page: PageNo = 1) -> Response:
            day = _day(day)
            found = listings.by_day(site.engine, day, FEED_PAGE_SIZE + 1, _offset(page))
            papers, more = _page_of(found)
            listing = Listing(
                path=f"/feeds/day/{day}",
                params=[],
                html=f"/day/{day}",
                title=f"sciseek: papers of {day}",
                subtitle=f"The papers published on {day}.",
                papers=papers,
                more=more,
                page=page,
            )
            return answer(request, fmt, listing)

        return endpoint

    routes: list[tuple[str, Callable[[str], Callable[..., Response]], str]] = [
        ("/feeds/new", new_feed, "The newest papers"),
        ("/feeds/trending", trending_feed, "The trending papers"),
        ("/feeds/search", search_feed, "A search's results (the parameters of /api/search)"),
        ("/feeds/category/{cat:path}", category_feed, "The newest papers in a category"),
        ("/feeds/author/{name:path}", author_feed, "The newest papers of an author"),
        ("/feeds/day/{day}", day_feed, "The papers published on a day (YYYY-MM-DD)"),
    ]
    for path, factory, summary in routes:
        for fmt in FORMATS:
            app.add_api_route(
                f"{path}.{fmt}",
                factory(fmt),
                methods=["GET"],
                summary=f"{summary}, as {'Atom 1.0' if fmt == 'atom' else 'RSS 2.0'}",
                response_class=Response,
                responses={200: {"content": {FORMATS[fmt][1].split(";")[0]: {}}}, 304: {}},
            )
    return answer


def _name(value: str, what: str) -> str:
    """A category or author name from a feed's path (422 when empty or too long)."""
    value = value.strip()
    if not value:
        raise HTTPException(422, detail=f"empty {what}")
    if len(value) > MAX_NAME:
        raise HTTPException(422, detail=f"{what} is longer than {MAX_NAME} characters")
    return value


def _day(value: str) -> str:
    """An ISO date (YYYY-MM-DD) from a feed's path (422 otherwise)."""
    try:
        if not _DAY.match(value):
            raise ValueError
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise HTTPException(422, detail=f"not a date (YYYY-MM-DD): {value!r}") from None


def _describe_search(
    q: str,
    mode: str,
    date_from: str | None,
    date_to: str | None,
    categories: list[str],
    sort: str,
) -> str:
    order = {"newest": ", newest first", "votes": ", most upvoted first"}.get(sort, "")
    parts: list[str] = [f"Papers matching {q.strip()!r} ({mode} search{order})"]
    if date_from or date_to:
        parts.append(f"published {date_from or '...'} to {date_to or '...'}")
    if categories:
        parts.append("in " + ", ".join(categories))
    return ", ".join(parts) + "."
