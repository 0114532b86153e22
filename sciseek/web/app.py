"""The web app: a JSON API and server-rendered HTML pages over one Engine (FastAPI + Jinja2).

Every asset is served by the app itself (no CDN, no build step). User and paper text is
escaped by Jinja2's autoescaping. Upvotes are keyed by a signed per-browser cookie, and
state-changing requests must come from this site (Origin or Referer check).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sciseek.digests.tokens import secret_key as _secret
from sciseek.ingest.papers import Filters, InvalidFilter, Paper
from sciseek.search import listings
from sciseek.search.engine import MODES, Engine

from .errors import add_error_handlers
from .subscriptions import add_subscription_routes

HERE = Path(__file__).parent
VOTER_COOKIE = "sciseek_voter"
MAX_QUERY = 1000
MAX_K = 100
PAGE_SIZE = 10

Mode = Literal["bm25", "dense", "sparse", "hybrid"]
assert set(Mode.__args__) == set(MODES)  # type: ignore[attr-defined]


def _paper_json(p: Paper, **extra: Any) -> dict[str, Any]:
    return {
        "id": p.id,
        "title": p.title,
        "abstract": p.abstract,
        "authors": p.authors,
        "categories": p.categories,
        "published": p.published,
        "url": p.url or p.arxiv_url,
        **extra,
    }


def _parse_filters(
    date_from: str | None, date_to: str | None, category: list[str] | None
) -> Filters | None:
    try:
        f = Filters(
            date_from=date_from or None,
            date_to=date_to or None,
            categories=tuple(c for c in (category or []) if c),
        )
    except InvalidFilter as e:
        raise HTTPException(422, detail=str(e)) from None
    return f or None


def create_app(engine: Engine) -> FastAPI:
    """The FastAPI app serving ``engine``."""
    app = FastAPI(title="sciseek", version="1", summary="Search engine for scientific papers")
    add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    key = _secret(engine.data_dir)

    # -- plumbing ------------------------------------------------------------------------

    @app.middleware("http")
    async def timing(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Response-Time"] = f"{(time.perf_counter() - start) * 1000:.1f}ms"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith("/api/")

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("error", None)
        context.setdefault("active", None)
        context["total_papers"] = engine.store.count()
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        if wants_html(request):
            fields = ", ".join(str(e["loc"][-1]) for e in exc.errors())
            return page(
                request, "search.html", 422, error=f"Invalid input: {fields}.", **_empty_search()
            )
        return JSONResponse({"detail": jsonable_errors(exc)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if wants_html(request):
            return page(
                request, "search.html", exc.status_code, error=str(exc.detail), **_empty_search()
            )
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    def voter(request: Request) -> str | None:
        raw = request.cookies.get(VOTER_COOKIE, "")
        ident, _, sig = raw.partition(".")
        good = hmac.new(key, ident.encode(), hashlib.sha256).hexdigest()[:32]
        return ident if ident and hmac.compare_digest(sig, good) else None

    def new_voter(response: Response) -> str:
        ident = secrets.token_hex(12)
        sig = hmac.new(key, ident.encode(), hashlib.sha256).hexdigest()[:32]
        response.set_cookie(
            VOTER_COOKIE, f"{ident}.{sig}", max_age=5 * 365 * 86400, httponly=True, samesite="lax"
        )
        return ident

    def same_site(request: Request) -> None:
        origin = request.headers.get("origin") or request.headers.get("referer")
        host = request.headers.get("host", "")
        if not origin or urlsplit(origin).netloc != host:
            raise HTTPException(403, detail="cross-site request refused")

    def paper_or_404(paper_id: str) -> Paper:
        paper = engine.get(paper_id)
        if paper is None:
            raise HTTPException(404, detail=f"no paper with id {paper_id!r}")
        return paper

    def run_search(
        q: str,
        mode: str,
        k: int,
        offset: int,
        filters: Filters | None,
        min_score: float | None = None,
    ):
        q = q.strip()
        if not q:
            raise HTTPException(422, detail="empty query")
        hits = engine.search(
            q, mode=mode, k=min(offset + k + 1, 1000), filters=filters, min_score=min_score
        )
        return hits[offset : offset + k], len(hits) > offset + k

    # -- JSON API ------------------------------------------------------------------------

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        """Liveness and size."""
        return {"status": "ok", "papers": engine.store.count()}

    @app.get("/api/search")
    def api_search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY)],
        mode: Mode = "hybrid",
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
        offset: Annotated[int, Query(ge=0, le=900)] = 0,
        date_from: Annotated[str | None, Query(alias="from")] = None,
        date_to: Annotated[str | None, Query(alias="to")] = None,
        category: Annotated[list[str] | None, Query()] = None,
        min_score: Annotated[float | None, Query(gt=0, lt=1)] = None,
    ) -> dict[str, Any]:
        """Search papers; returns ranked hits with highlighted snippets.

        ``min_score`` keeps only hits whose calibrated relevance (a probability, the same
        scale in every mode) reaches it; each hit then carries its ``relevance``."""
        filters = _parse_filters(date_from, date_to, category)
        hits, more = run_search(q, mode, k, offset, filters, min_score)
        return {
            "query": q,
            "mode": mode,
            "offset": offset,
            "more": more,
            "hits": [
                {**h.to_dict(), "snippet": _snippet_json(listings.snippet(engine, h.paper, q))}
                for h in hits
            ],
        }

    @app.get("/api/papers/{paper_id:path}/similar")
    def api_similar(paper_id: str, k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> dict[str, Any]:
        """Papers nearest to this one by embedding."""
        paper_or_404(paper_id)
        return {"id": paper_id, "hits": [h.to_dict() for h in engine.similar(paper_id, k)]}

    @app.get("/api/papers/{paper_id:path}")
    def api_paper(paper_id: str) -> dict[str, Any]:
        """One paper with its upvote count."""
        paper = paper_or_404(paper_id)
        return _paper_json(paper, votes=listings.votes(engine, [paper_id]).get(paper_id, 0))

    @app.get("/api/new")
    def api_new(
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 20,
        offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    ) -> dict[str, Any]:
        """Most recently published papers."""
        return {"papers": [_paper_json(p) for p in listings.new(engine, k, offset)]}

    @app.get("/api/trending")
    def api_trending(
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 20, days: Annotated[int, Query(ge=1, le=365)] = 7
    ) -> dict[str, Any]:
        """Papers ranked by recent upvotes with time decay."""
        return {
            "papers": [
                _paper_json(p, votes=v, score=round(s, 6))
                for p, v, s in listings.trending(engine, k, days=days)
            ]
        }

    def _vote(request: Request, response: Response, paper_id: str, on: bool) -> dict[str, Any]:
        same_site(request)
        paper_or_404(paper_id)
        ident = voter(request) or new_voter(response)
        count = listings.vote(engine, paper_id, ident, on)
        return {"id": paper_id, "upvoted": on, "votes": count}

    @app.post("/api/papers/{paper_id:path}/upvote")
    def api_upvote(paper_id: str, request: Request, response: Response) -> dict[str, Any]:
        """Upvote a paper (once per browser; repeating changes nothing)."""
        return _vote(request, response, paper_id, True)

    @app.delete("/api/papers/{paper_id:path}/upvote")
    def api_unvote(paper_id: str, request: Request, response: Response) -> dict[str, Any]:
        """Take this browser's upvote back."""
        return _vote(request, response, paper_id, False)

    # -- HTML pages ----------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(
        request: Request,
        q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
        mode: Mode = "hybrid",
        page_no: Annotated[int, Query(alias="page", ge=1, le=50)] = 1,
        date_from: Annotated[str | None, Query(alias="from")] = None,
        date_to: Annotated[str | None, Query(alias="to")] = None,
        category: str | None = None,
    ):
        ctx = _empty_search() | {
            "query": q,
            "mode": mode,
            "date_from": date_from,
            "date_to": date_to,
            "category": category,
            "page": page_no,
        }
        if not q.strip():
            return page(request, "search.html", **ctx)
        filters = _parse_filters(date_from, date_to, [category] if category else None)
        start = time.perf_counter()
        found, more = run_search(q, mode, PAGE_SIZE, (page_no - 1) * PAGE_SIZE, filters)
        hits = [{"paper": h.paper, "snippet": listings.snippet(engine, h.paper, q)} for h in found]

        def page_url(n: int) -> str:
            params = {
                k: v
                for k, v in {
                    "q": q,
                    "mode": mode,
                    "from": date_from,
                    "to": date_to,
                    "category": category,
                }.items()
                if v
            }
            return "/?" + urlencode({**params, "page": n})

        ctx |= {
            "hits": hits,
            "has_next": more,
            "page_url": page_url,
            "elapsed_ms": (time.perf_counter() - start) * 1000,
        }
        return page(request, "search.html", **ctx)

    @app.get("/papers/{paper_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def paper_page(request: Request, paper_id: str):
        paper = paper_or_404(paper_id)
        ident = voter(request)
        response = page(
            request,
            "paper.html",
            paper=paper,
            similar=engine.similar(paper_id, 5),
            votes=listings.votes(engine, [paper_id]).get(paper_id, 0),
            voted=bool(ident and listings.voted(engine, ident, paper_id)),
        )
        if ident is None:
            new_voter(response)
        return response

    @app.post("/papers/{paper_id:path}/upvote", include_in_schema=False)
    def form_upvote(request: Request, paper_id: str, on: Annotated[str, Form()] = "true"):
        response = RedirectResponse(f"/papers/{paper_id}", status_code=303)
        _vote(request, response, paper_id, on != "false")
        return response

    @app.get("/new", response_class=HTMLResponse, include_in_schema=False)
    def new_page(request: Request):
        items = [{"paper": p, "votes": None} for p in listings.new(engine, 30)]
        return page(
            request,
            "list.html",
            active="new",
            heading="New papers",
            items=items,
            explanation="The most recently published papers.",
        )

    @app.get("/trending", response_class=HTMLResponse, include_in_schema=False)
    def trending_page(request: Request):
        items = [{"paper": p, "votes": v} for p, v, _ in listings.trending(engine, 30)]
        return page(
            request,
            "list.html",
            active="trending",
            heading="Trending",
            items=items,
            explanation="Upvotes of the last 7 days, newer papers weighted higher.",
        )

    add_subscription_routes(app, engine, key, page, same_site)
    return app


def _snippet_json(segments: list[tuple[str, bool]]) -> dict[str, Any]:
    """A snippet as plain text plus the [start, end) offsets of the matched words."""
    text, marks, pos = [], [], 0
    for part, hit in segments:
        if hit:
            marks.append([pos, pos + len(part)])
        text.append(part)
        pos += len(part)
    return {"text": "".join(text), "highlights": marks}


def _empty_search() -> dict[str, Any]:
    return {
        "query": "",
        "mode": "hybrid",
        "modes": MODES,
        "date_from": None,
        "date_to": None,
        "category": None,
        "page": 1,
        "hits": [],
        "has_next": False,
        "page_url": lambda n: "/",
        "elapsed_ms": 0.0,
    }


def jsonable_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Validation errors without the raw input (which may be huge)."""
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]


def serve(engine: Engine, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    engine.search("warm up the encoder", k=1)  # load the models before the first visitor
    uvicorn.run(create_app(engine), host=host, port=port, log_level="info")
