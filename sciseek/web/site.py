"""What every route of the web app shares: the engine, pages, voter cookies, same-site checks.

Upvotes are keyed by a signed per-browser cookie that a paper page sets: an upvote without it
(a script that never opened a page) is refused, and one client address may cast at most
``listings.VOTES_PER_CLIENT_HOUR`` new upvotes an hour. State-changing requests must come from
this site (Origin or Referer check).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from sciseek.ingest.papers import Filters, InvalidFilter, Paper
from sciseek.search import listings
from sciseek.search.draft import MAX_CHARS
from sciseek.search.engine import MODES, Engine, Hit
from sciseek.search.sorting import SORT_DEPTH, SORTS, sorted_search

HERE = Path(__file__).parent
VOTER_COOKIE = "sciseek_voter"
MAX_QUERY = 1000
MAX_K = 100
PAGE_SIZE = 10
DRAFT_RESULTS = 20  # papers a draft search page shows
# a draft's request body: its characters JSON-escaped (up to 12 bytes each, as a \uXXXX
# surrogate pair) or form-encoded (up to 9), and the other fields
DRAFT_BODY = 12 * MAX_CHARS + 16 * 1024

Mode = Literal["bm25", "dense", "sparse", "hybrid"]
assert set(Mode.__args__) == set(MODES)  # type: ignore[attr-defined]


@dataclass
class Site:
    """One engine served as a site: its templates, signing key and shared request helpers."""

    engine: Engine
    key: bytes
    templates: Jinja2Templates
    # context every page adds for the request (the signed-in reader, set by the library routes)
    viewer: Callable[[Request], dict[str, Any]] | None = None

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        """A rendered template with the context every page has."""
        context.setdefault("error", None)
        context.setdefault("active", None)
        context.setdefault("feed_url", None)  # the page's Atom feed, if it has one
        context.setdefault("feed_title", "sciseek")
        for key, value in (self.viewer(request) if self.viewer else {}).items():
            context.setdefault(key, value)
        context.setdefault("reader", None)
        context["rss_url"] = rss_twin(context["feed_url"])
        context["total_papers"] = self.engine.store.count()
        # the counts are read only while encoding is behind, not on every page
        behind = not self.engine.dense_up_to_date()
        context["encoding"] = self.engine.index_progress()["dense"] if behind else None
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def voter(self, request: Request) -> str | None:
        """The browser's voter id, if its cookie carries a valid signature."""
        raw = request.cookies.get(VOTER_COOKIE, "")
        ident, _, sig = raw.partition(".")
        good = hmac.new(self.key, ident.encode(), hashlib.sha256).hexdigest()[:32]
        return ident if ident and hmac.compare_digest(sig, good) else None

    def new_voter(self, response: Response) -> str:
        """A new voter id, set as a signed cookie on ``response``."""
        ident = secrets.token_hex(12)
        sig = hmac.new(self.key, ident.encode(), hashlib.sha256).hexdigest()[:32]
        response.set_cookie(
            VOTER_COOKIE, f"{ident}.{sig}", max_age=5 * 365 * 86400, httponly=True, samesite="lax"
        )
        return ident

    @staticmethod
    def same_site(request: Request) -> None:
        """Refuse (403) a state-changing request that does not come from this site."""
        origin = request.headers.get("origin") or request.headers.get("referer")
        host = request.headers.get("host", "")
        if not origin or urlsplit(origin).netloc != host:
            raise HTTPException(403, detail="cross-site request refused")

    def paper_or_404(self, paper_id: str) -> Paper:
        """The paper, or a 404."""
        paper = self.engine.get(paper_id)
        if paper is None:
            raise HTTPException(404, detail=f"no paper with id {paper_id!r}")
        return paper

    def search(
        self,
        q: str,
        mode: str,
        k: int,
        offset: int,
        filters: Filters | None,
        min_score: float | None = None,
        sort: str = "relevance",
    ) -> tuple[list[Hit], bool]:
        """One page of hits in ``sort`` order and whether there are more (``newest`` and
        ``votes`` re-rank the ``sorting.SORT_DEPTH`` most relevant hits)."""
        q = q.strip()
        if not q:
            raise HTTPException(422, detail="empty query")
        hits = sorted_search(
            self.engine,
            q,
            sort,
            mode=mode,
            k=min(offset + k + 1, 1000),
            filters=filters,
            min_score=min_score,
        )
        return hits[offset : offset + k], len(hits) > offset + k

    def client_key(self, request: Request) -> str:
        """A keyed hash standing for the request's client address (the address is not kept)."""
        host = request.client.host if request.client else ""
        return hmac.new(self.key, f"client:{host}".encode(), hashlib.sha256).hexdigest()[:24]

    def vote(self, request: Request, paper_id: str, on: bool) -> dict[str, Any]:
        """Set this browser's upvote on a paper (same-site requests from a browser that has
        opened a page of the site; bounded per client address)."""
        self.same_site(request)
        self.paper_or_404(paper_id)
        ident = self.voter(request)
        if ident is None:
            raise HTTPException(
                403, detail="upvotes count only from a browser that opened the paper's page"
            )
        count = listings.vote(self.engine, paper_id, ident, on, client=self.client_key(request))
        return {"id": paper_id, "upvoted": on, "votes": count}


def rss_twin(atom_url: str | None) -> str | None:
    """The RSS URL of an Atom feed URL (``/feeds/x.atom?..`` -> ``/feeds/x.rss?..``)."""
    if not atom_url:
        return None
    path, sep, query = atom_url.partition("?")
    return path.removesuffix(".atom") + ".rss" + sep + query


def paper_json(p: Paper, **extra: Any) -> dict[str, Any]:
    """A paper as JSON, with ``extra`` fields."""
    return {
        "id": p.id,
        "title": p.title,
        "abstract": p.abstract,
        "authors": p.authors,
        "categories": p.categories,
        "published": p.published,
        "url": p.link or p.arxiv_url,
        **extra,
    }


def parse_filters(
    date_from: str | None, date_to: str | None, category: list[str] | None
) -> Filters | None:
    """Search filters from query parameters (422 for bad dates)."""
    try:
        f = Filters(
            date_from=date_from or None,
            date_to=date_to or None,
            categories=tuple(c for c in (category or []) if c),
        )
    except InvalidFilter as e:
        raise HTTPException(422, detail=str(e)) from None
    return f or None


def empty_search() -> dict[str, Any]:
    """The context of a search page with no query."""
    return {
        "query": "",
        "mode": "hybrid",
        "modes": MODES,
        "sort": "relevance",
        "sorts": SORTS,
        "sort_depth": SORT_DEPTH,
        "date_from": None,
        "date_to": None,
        "category": None,
        "page": 1,
        "hits": [],
        "has_next": False,
        "page_url": lambda n: "/",
        "elapsed_ms": 0.0,
        "draft": None,
        "draft_max": MAX_CHARS,
        "passages": 0,
    }
