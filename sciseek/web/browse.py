"""Browsing without a query: papers by day (arXiv-listing style), by category and by author,
as HTML pages and as JSON.

- ``/day`` (JSON ``/api/day``): the latest day that has papers;
- ``/day/{YYYY-MM-DD}`` (``/api/day/{date}``): the papers published that day, by id, with the
  previous and next day that have papers;
- ``/category/{cat}`` (``/api/category/{cat}``): a category's papers, newest first;
- ``/author/{name}`` (``/api/author/{name}``): an author's papers, newest first, and their
  co-authors.

Pages show ``LIST_PAGE_SIZE`` papers and take ``?page=N``; page N shows what the JSON answers
for ``k=LIST_PAGE_SIZE&offset=(N-1)*LIST_PAGE_SIZE``. The JSON takes ``k`` and ``offset`` as
``/api/new`` does and lists papers as it does. A date that is not YYYY-MM-DD is a 422; a
well-formed day, category or author without papers is a 200 with an empty list (the store
changes: a category or author may have no papers yet, or none left, and a reader polling it
should not take that for an error). Authors match by ``facets.author_key`` (case and spacing
aside); categories exactly as stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from sciseek.ingest.papers import Paper
from sciseek.search import listings
from sciseek.storage.facets import author_key

from .feeds import list_feed_url
from .site import MAX_K, Site, paper_json

LIST_PAGE_SIZE = 25  # papers per browse page
MAX_PAGE = 400  # deepest browse page (10,000 papers in, as far as /api/new's offset goes)
COAUTHORS_SHOWN = 20

Page = Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)]
K = Annotated[int, Query(ge=1, le=MAX_K)]
Offset = Annotated[int, Query(ge=0, le=10_000)]


def _slice(papers: list[Paper], k: int) -> tuple[list[Paper], bool]:
    return papers[:k], len(papers) > k


def _long_date(day: str) -> str:
    return dt.date.fromisoformat(day).strftime("%A, %d %B %Y").replace(" 0", " ")


def add_browse_routes(app: FastAPI, site: Site) -> None:
    """Register the day, category and author pages and their JSON on ``app``."""
    engine = site.engine

    def listing(request: Request, base: str, page: int, papers: list[Paper], **context: Any):
        shown, more = _slice(papers, LIST_PAGE_SIZE)
        return site.page(
            request,
            "browse.html",
            papers=shown,
            page=page,
            has_next=more,
            page_url=lambda n: f"{base}?page={n}" if n > 1 else base,
            **context,
        )

    def day_listing(request: Request, day: str | None, page: int):
        offset = (page - 1) * LIST_PAGE_SIZE
        if day is None:
            return listing(
                request, "/day", page, [], active="browse", heading="No papers yet", days=None
            )
        prev_day, next_day = listings.adjacent_days(engine, day)
        count = listings.day_count(engine, day)
        return listing(
            request,
            f"/day/{day}",
            page,
            listings.by_day(engine, day, LIST_PAGE_SIZE + 1, offset),
            active="browse",
            heading=f"Papers of {_long_date(day)}",
            feed_url=list_feed_url("day", day),
            feed_title=f"sciseek: papers of {day}",
            summary=f"{count} paper{'' if count == 1 else 's'} published on {day}.",
            pages=max(1, -(-count // LIST_PAGE_SIZE)),
            days={"day": day, "prev": prev_day, "next": next_day},
            empty="No papers were published on this day.",
        )

    # -- pages ---------------------------------------------------------------------------

    @app.get("/day", response_class=HTMLResponse, include_in_schema=False)
    def latest_day_page(request: Request, page: Page = 1):
        return day_listing(request, listings.latest_day(engine), page)

    @app.get("/day/{day}", response_class=HTMLResponse, include_in_schema=False)
    def day_page(request: Request, day: str, page: Page = 1):
        return day_listing(request, listings.parse_day(day), page)

    @app.get("/category/{category:path}", response_class=HTMLResponse, include_in_schema=False)
    def category_page(request: Request, category: str, page: Page = 1):
        offset = (page - 1) * LIST_PAGE_SIZE
        papers = listings.by_category(engine, category, LIST_PAGE_SIZE + 1, offset)
        return listing(
            request,
            f"/category/{quote(category)}",
            page,
            papers,
            heading=category,
            feed_url=list_feed_url("category", category),
            feed_title=f"sciseek: {category}",
            summary=f"Papers in {category}, newest first.",
            empty="No papers in this category.",
        )

    @app.get("/author/{name:path}", response_class=HTMLResponse, include_in_schema=False)
    def author_page(request: Request, name: str, page: Page = 1):
        offset = (page - 1) * LIST_PAGE_SIZE
        papers = listings.by_author(engine, name, LIST_PAGE_SIZE + 1, offset)
        shown = listings.author_name(engine, name) or name
        return listing(
            request,
            f"/author/{quote(name)}",
            page,
            papers,
            heading=shown,
            feed_url=list_feed_url("author", name),
            feed_title=f"sciseek: papers by {shown}",
            summary=f"Papers by {shown}, newest first.",
            empty="No papers by this author.",
            coauthors=listings.coauthors(engine, name, COAUTHORS_SHOWN),
        )

    # -- JSON ----------------------------------------------------------------------------

    def day_json(day: str | None, k: int, offset: int) -> dict[str, Any]:
        if day is None:
            return {"day": None, "count": 0, "prev": None, "next": None, "papers": []}
        prev_day, next_day = listings.adjacent_days(engine, day)
        return {
            "day": day,
            "count": listings.day_count(engine, day),
            "prev": prev_day,
            "next": next_day,
            "offset": offset,
            "papers": [paper_json(p) for p in listings.by_day(engine, day, k, offset)],
        }

    @app.get("/api/day")
    def api_latest_day(k: K = 20, offset: Offset = 0) -> dict[str, Any]:
        """The papers of the latest day that has any (``day`` is null for a store without
        dated papers), as ``/api/day/{date}``."""
        return day_json(listings.latest_day(engine), k, offset)

    @app.get("/api/day/{day}")
    def api_day(day: str, k: K = 20, offset: Offset = 0) -> dict[str, Any]:
        """Papers published on ``day`` (YYYY-MM-DD; anything else is a 422), by id, with
        ``count`` (papers that day) and the previous and next dates that have papers (``prev``,
        ``next``, null at either end). A day without papers is a 200 with an empty list."""
        return day_json(listings.parse_day(day), k, offset)

    @app.get("/api/category/{category:path}")
    def api_category(category: str, k: K = 20, offset: Offset = 0) -> dict[str, Any]:
        """A category's papers (the name exactly as stored, e.g. ``cs.IR``), newest first.

        A category without papers is a 200 with an empty list, not a 404: categories are not
        registered anywhere, only carried by papers, so one may have none yet or none left."""
        papers = listings.by_category(engine, category, k, offset)
        return {"category": category, "offset": offset, "papers": [paper_json(p) for p in papers]}

    @app.get("/api/author/{name:path}")
    def api_author(name: str, k: K = 20, offset: Offset = 0) -> dict[str, Any]:
        """An author's papers, newest first, and their co-authors with the number of papers
        written together (most first). Names match case and spacing aside (``Jane Doe`` is
        ``jane  doe``); ``author`` is the name as the papers spell it, ``key`` what matched.

        An author without papers is a 200 with empty lists, not a 404, for the same reason as
        categories: authors exist only on papers. A name without a letter or digit is a 422."""
        papers = listings.by_author(engine, name, k, offset)
        return {
            "author": listings.author_name(engine, name) or name,
            "key": author_key(name),
            "offset": offset,
            "papers": [paper_json(p) for p in papers],
            "coauthors": [
                {"name": other, "papers": n}
                for other, n in listings.coauthors(engine, name, COAUTHORS_SHOWN)
            ],
        }
