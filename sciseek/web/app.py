"""The web app: a JSON API and server-rendered HTML pages over one Engine (FastAPI + Jinja2).

Every asset is served by the app itself (no CDN, no build step). User and paper text is
escaped by Jinja2's autoescaping. ``create_app`` assembles the parts: the JSON API (``api``),
the pages (``pages``), the day, category and author lists (``browse``), the subscription
routes (``subscriptions``), sign-in and the reader's library (``accounts``, ``library``,
``library_api``), tag digests (``tagdigests``), the Atom and RSS feeds (``feeds``), the
BibTeX/RIS/CSL-JSON downloads (``export``) and what they share (``site``).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sciseek.digests.tokens import secret_key
from sciseek.library.accounts import Accounts
from sciseek.library.shelf import Library
from sciseek.library.tagdigests import TagDigests
from sciseek.search.engine import Engine

from .accounts import Readers, add_account_routes
from .api import add_api_routes
from .browse import add_browse_routes
from .errors import add_error_handlers
from .export import add_export_routes
from .feeds import add_feed_routes
from .library import add_library_routes
from .library_api import add_library_api_routes
from .pages import add_page_routes
from .plumbing import Plumbing
from .site import DRAFT_BODY, HERE, Site, empty_search
from .subscriptions import add_subscription_routes
from .tag_lists import add_tag_list_routes
from .tagdigests import add_tag_digest_routes


def create_app(engine: Engine) -> FastAPI:
    """The FastAPI app serving ``engine``."""
    app = FastAPI(title="sciseek", version="1", summary="Search engine for scientific papers")
    add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    site = Site(engine, secret_key(engine.data_dir), Jinja2Templates(directory=HERE / "templates"))
    readers = Readers(
        site,
        Accounts.open(engine.data_dir),
        Library.open(engine.data_dir),
        TagDigests.open(engine.data_dir),
    )
    site.viewer = readers.context

    # -- plumbing ------------------------------------------------------------------------

    @app.middleware("http")
    async def timing(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Response-Time"] = f"{(time.perf_counter() - start) * 1000:.1f}ms"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def wants_html(request: Request) -> bool:
        # feed readers, like API clients, get errors as JSON
        return not request.url.path.startswith(("/api/", "/feeds/"))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        if wants_html(request):
            fields = ", ".join(str(e["loc"][-1]) for e in exc.errors())
            return site.page(
                request, "search.html", 422, error=f"Invalid input: {fields}.", **empty_search()
            )
        return JSONResponse({"detail": jsonable_errors(exc)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if wants_html(request) and exc.status_code == 401:
            return site.page(
                request, "signin.html", 401, error=str(exc.detail), sent=None, confirm_token=None
            )
        if wants_html(request):
            return site.page(
                request, "search.html", exc.status_code, error=str(exc.detail), **empty_search()
            )
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    add_api_routes(app, site)
    add_page_routes(app, site)
    add_browse_routes(app, site)
    add_subscription_routes(app, site)
    feed_answer = add_feed_routes(app, site)
    add_export_routes(app, site)
    add_account_routes(app, site, readers)
    add_library_routes(app, site, readers)
    add_library_api_routes(app, site, readers)
    add_tag_digest_routes(app, site, readers)
    add_tag_list_routes(app, site, readers, feed_answer)
    app.add_middleware(
        Plumbing, router=app.router, limits={"/api/search": DRAFT_BODY, "/draft": DRAFT_BODY}
    )
    return app


def jsonable_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Validation errors without the raw input (which may be huge)."""
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]


def serve(engine: Engine, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    # load the models before the first visitor; a dense index behind the store catches up in
    # the background (the engine should be opened with background=True)
    engine.search("warm up the encoder", k=1)
    uvicorn.run(create_app(engine), host=host, port=port, log_level="info")
