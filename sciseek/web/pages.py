"""The HTML pages: search (by a query or a pasted draft), a page per paper, the New and
Trending lists."""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sciseek.errors import BadInput
from sciseek.search import listings
from sciseek.search.draft import passages, search_draft_passages
from sciseek.search.sorting import Sort

from .feeds import search_feed_url
from .site import (
    DRAFT_RESULTS,
    MAX_QUERY,
    PAGE_SIZE,
    Mode,
    Site,
    empty_search,
    parse_filters,
)


def add_page_routes(app: FastAPI, site: Site) -> None:
    """Register the HTML pages on ``app``."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(
        request: Request,
        q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
        mode: Mode = "hybrid",
        page_no: Annotated[int, Query(alias="page", ge=1, le=50)] = 1,
        date_from: Annotated[str | None, Query(alias="from")] = None,
        date_to: Annotated[str | None, Query(alias="to")] = None,
        category: str | None = None,
        sort: Sort = "relevance",
    ):
        ctx = empty_search() | {
            "query": q,
            "mode": mode,
            "sort": sort,
            "date_from": date_from,
            "date_to": date_to,
            "category": category,
            "page": page_no,
        }
        if not q.strip():
            return site.page(request, "search.html", **ctx)
        filters = parse_filters(date_from, date_to, [category] if category else None)
        start = time.perf_counter()
        found, more = site.search(q, mode, PAGE_SIZE, (page_no - 1) * PAGE_SIZE, filters, sort=sort)
        votes = listings.votes(site.engine, [h.paper.id for h in found])
        hits = [
            {
                "paper": h.paper,
                "snippet": listings.snippet(site.engine, h.paper, q),
                "votes": votes.get(h.paper.id, 0),
            }
            for h in found
        ]

        def page_url(n: int) -> str:
            params = {
                k: v
                for k, v in {
                    "q": q,
                    "mode": mode,
                    "from": date_from,
                    "to": date_to,
                    "category": category,
                    "sort": None if sort == "relevance" else sort,
                }.items()
                if v
            }
            return "/?" + urlencode({**params, "page": n})

        ctx |= {
            "feed_url": search_feed_url(q, mode, date_from, date_to, [category or ""], sort),
            "feed_title": f"sciseek: {q.strip()}",
            "hits": hits,
            "has_next": more,
            "page_url": page_url,
            "elapsed_ms": (time.perf_counter() - start) * 1000,
        }
        return site.page(request, "search.html", **ctx)

    @app.post("/draft", response_class=HTMLResponse, include_in_schema=False)
    def draft_page(
        request: Request,
        text: Annotated[str, Form()] = "",
        mode: Annotated[Mode, Form()] = "hybrid",
        date_from: Annotated[str | None, Form(alias="from")] = None,
        date_to: Annotated[str | None, Form(alias="to")] = None,
        category: Annotated[str | None, Form()] = None,
    ):
        """The papers related to a pasted draft as a whole; a bad draft keeps its text."""
        ctx = empty_search() | {
            "draft": text,
            "mode": mode,
            "date_from": date_from,
            "date_to": date_to,
            "category": category,
        }
        start = time.perf_counter()
        try:
            filters = parse_filters(date_from, date_to, [category] if category else None)
            found = search_draft_passages(site.engine, text, mode, DRAFT_RESULTS, filters)
        except BadInput as e:
            return site.page(request, "search.html", e.status, error=str(e), **ctx)
        except HTTPException as e:
            return site.page(request, "search.html", e.status_code, error=str(e.detail), **ctx)
        votes = listings.votes(site.engine, [d.hit.paper.id for d in found])
        ctx |= {
            "hits": [
                {
                    "paper": d.hit.paper,
                    "snippet": listings.snippet(site.engine, d.hit.paper, d.passage),
                    "votes": votes.get(d.hit.paper.id, 0),
                }
                for d in found
            ],
            "passages": len(passages(text)),
            "elapsed_ms": (time.perf_counter() - start) * 1000,
        }
        return site.page(request, "search.html", **ctx)

    @app.get("/papers/{paper_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def paper_page(request: Request, paper_id: str):
        paper = site.paper_or_404(paper_id)
        ident = site.voter(request)
        response = site.page(
            request,
            "paper.html",
            paper=paper,
            similar=site.engine.similar(paper_id, 5),
            votes=listings.votes(site.engine, [paper_id]).get(paper_id, 0),
            voted=bool(ident and listings.voted(site.engine, ident, paper_id)),
        )
        if ident is None:
            site.new_voter(response)
        return response

    @app.post("/papers/{paper_id:path}/upvote", include_in_schema=False)
    def form_upvote(request: Request, paper_id: str, on: Annotated[str, Form()] = "true"):
        site.vote(request, paper_id, on != "false")
        return RedirectResponse(f"/papers/{paper_id}", status_code=303)

    @app.get("/new", response_class=HTMLResponse, include_in_schema=False)
    def new_page(request: Request):
        items = [{"paper": p, "votes": None} for p in listings.new(site.engine, 30)]
        return site.page(
            request,
            "list.html",
            active="new",
            heading="New papers",
            items=items,
            feed_url="/feeds/new.atom",
            feed_title="sciseek: new papers",
            explanation="The most recently published papers.",
        )

    @app.get("/trending", response_class=HTMLResponse, include_in_schema=False)
    def trending_page(request: Request):
        items = [{"paper": p, "votes": v} for p, v, _ in listings.trending(site.engine, 30)]
        return site.page(
            request,
            "list.html",
            active="trending",
            heading="Trending",
            items=items,
            feed_url="/feeds/trending.atom",
            feed_title="sciseek: trending",
            explanation="Upvotes of the last 7 days, newer papers weighted higher.",
        )
