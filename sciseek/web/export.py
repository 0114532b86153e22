"""Downloads of papers as BibTeX, RIS or CSL-JSON: one paper, a selection, or a result page.

``GET /export?format=bibtex|ris|csl&id=ID[&id=ID2...]`` exports papers by id (at most
``export.MAX_IDS``; an unknown id is a 404 that names it); ``GET /export?format=...&q=...``
with the search page's ``mode``, ``from``, ``to``, ``category`` and ``page`` exports the hits
that search page shows. The answer is an attachment of the format's media type.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import Response

from sciseek.export import FORMATS, MAX_IDS, lookup
from sciseek.export.reference import references
from sciseek.ingest.papers import Paper
from sciseek.search.sorting import Sort

from .site import MAX_QUERY, PAGE_SIZE, Mode, Site, parse_filters

FORMAT_NAMES = ", ".join(FORMATS)
CHARSET = "; charset=utf-8"


def export_url(
    fmt: str,
    q: str = "",
    mode: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    category: str | None = None,
    page: int = 1,
    sort: str = "relevance",
) -> str:
    """The export link of one search result page (templates call it as ``export_url``)."""
    params = {"format": fmt, "q": q, "mode": mode, "from": date_from, "to": date_to}
    params |= {"category": category, "page": page if page > 1 else None}
    params |= {"sort": sort if sort != "relevance" else None}
    return "/export?" + urlencode({k: v for k, v in params.items() if v})


def _missing(ids: list[str]) -> str:
    shown = ", ".join(repr(i[:200]) for i in ids[:10])
    more = f" and {len(ids) - 10} more" if len(ids) > 10 else ""
    return f"no paper with id {shown}" if len(ids) == 1 else f"no papers with ids {shown}{more}"


def _filename(papers: list[Paper], page: int | None, ext: str) -> str:
    if page is not None:
        return f"sciseek-search-page-{page}.{ext}"
    if len(papers) == 1:
        return f"{references(papers)[0].key}.{ext}"
    return f"sciseek-{len(papers)}-papers.{ext}"


def add_export_routes(app: FastAPI, site: Site) -> None:
    """Register ``/export`` on ``app`` and ``export_url`` in its templates."""
    site.templates.env.globals["export_url"] = export_url
    site.templates.env.globals["export_formats"] = FORMATS

    @app.get("/export", response_class=Response)
    def export(
        fmt: Annotated[str, Query(alias="format", max_length=20)] = "bibtex",
        ids: Annotated[list[str] | None, Query(alias="id")] = None,
        q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
        mode: Mode = "hybrid",
        page_no: Annotated[int, Query(alias="page", ge=1, le=50)] = 1,
        date_from: Annotated[str | None, Query(alias="from")] = None,
        date_to: Annotated[str | None, Query(alias="to")] = None,
        category: Annotated[list[str] | None, Query()] = None,
        sort: Sort = "relevance",
    ) -> Response:
        """Papers as BibTeX, RIS or CSL-JSON (``format=bibtex|ris|csl``): by ``id``
        (repeatable, at most 500), or the hits of one search result page (``q`` with the
        search page's parameters, ``sort`` included)."""
        out = FORMATS.get(fmt)
        if out is None:
            raise HTTPException(422, detail=f"unknown export format {fmt[:20]!r}: {FORMAT_NAMES}")
        chosen = [i for i in ids or [] if i.strip()]
        if chosen and q.strip():
            raise HTTPException(422, detail="export either papers by id or a search (q), not both")
        page: int | None = None
        if chosen:
            if len(chosen) > MAX_IDS:
                raise HTTPException(422, detail=f"at most {MAX_IDS} ids in one export")
            papers, missing = lookup(site.engine, chosen)
            if missing:
                raise HTTPException(404, detail=_missing(missing))
        elif q.strip():
            filters = parse_filters(date_from, date_to, category)
            hits, _ = site.search(q, mode, PAGE_SIZE, (page_no - 1) * PAGE_SIZE, filters, sort=sort)
            papers, page = [h.paper for h in hits], page_no
        else:
            raise HTTPException(422, detail="select at least one paper (id) or give a query (q)")
        name = _filename(papers, page, out.extension)
        return Response(
            out.render(papers),
            media_type=out.media_type + ("" if out.media_type.endswith("json") else CHARSET),
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
