"""The JSON API: search (a query, or a whole draft), papers, similar papers, new and trending
lists, upvotes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from sciseek.search import listings
from sciseek.search.draft import MAX_CHARS, passages, search_draft_passages
from sciseek.search.sorting import Sort

from .site import MAX_K, MAX_QUERY, Mode, Site, paper_json, parse_filters


class DraftSearch(BaseModel):
    """A draft search: the text (at most ``MAX_CHARS`` characters) and the usual options."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_CHARS)
    mode: Mode = "hybrid"
    k: int = Field(10, ge=1, le=MAX_K)
    date_from: str | None = Field(None, alias="from")
    date_to: str | None = Field(None, alias="to")
    category: list[str] | None = Field(None, max_length=50)


def add_api_routes(app: FastAPI, site: Site) -> None:
    """Register the /api/... routes on ``app``."""

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        """Liveness, size, and how far each index is (``documents`` of ``papers``; dense and
        sparse catch up in the background after new papers arrive)."""
        return {
            "status": "ok",
            "papers": site.engine.store.count(),
            "indexes": site.engine.index_progress(),
        }

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
        sort: Sort = "relevance",
    ) -> dict[str, Any]:
        """Search papers; returns ranked hits with highlighted snippets and upvote counts.

        ``min_score`` keeps only hits whose calibrated relevance (a probability, the same
        scale in every mode) reaches it; each hit then carries its ``relevance``.
        ``sort=newest`` or ``sort=votes`` re-ranks the 200 most relevant hits by publication
        date or by upvotes (ties in relevance order), so those orders end after 200 hits."""
        filters = parse_filters(date_from, date_to, category)
        hits, more = site.search(q, mode, k, offset, filters, min_score, sort=sort)
        votes = listings.votes(site.engine, [h.paper.id for h in hits])
        return {
            "query": q,
            "mode": mode,
            "sort": sort,
            "offset": offset,
            "more": more,
            "hits": [
                {
                    **h.to_dict(),
                    "votes": votes.get(h.paper.id, 0),
                    "snippet": snippet_json(listings.snippet(site.engine, h.paper, q)),
                }
                for h in hits
            ],
        }

    @app.post("/api/search")
    def api_search_draft(body: DraftSearch) -> dict[str, Any]:
        """Search with a whole draft (an abstract, an introduction): the papers related to the
        text as a whole, found passage by passage (``sciseek.search.draft``). The hits are
        those of ``GET /api/search``; each snippet is around the passage that found the paper.
        """
        filters = parse_filters(body.date_from, body.date_to, body.category)
        found = search_draft_passages(site.engine, body.text, body.mode, body.k + 1, filters)
        votes = listings.votes(site.engine, [d.hit.paper.id for d in found[: body.k]])
        return {
            "mode": body.mode,
            "passages": len(passages(body.text)),
            "offset": 0,
            "more": len(found) > body.k,
            "hits": [
                {
                    **d.hit.to_dict(),
                    "snippet": snippet_json(listings.snippet(site.engine, d.hit.paper, d.passage)),
                    "votes": votes.get(d.hit.paper.id, 0),
                }
                for d in found[: body.k]
            ],
        }

    @app.get("/api/papers/{paper_id:path}/similar")
    def api_similar(paper_id: str, k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> dict[str, Any]:
        """Papers nearest to this one by embedding."""
        site.paper_or_404(paper_id)
        return {"id": paper_id, "hits": [h.to_dict() for h in site.engine.similar(paper_id, k)]}

    @app.get("/api/papers/{paper_id:path}")
    def api_paper(paper_id: str) -> dict[str, Any]:
        """One paper with its upvote count."""
        paper = site.paper_or_404(paper_id)
        return paper_json(paper, votes=listings.votes(site.engine, [paper_id]).get(paper_id, 0))

    @app.get("/api/new")
    def api_new(
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 20,
        offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    ) -> dict[str, Any]:
        """Most recently published papers."""
        return {"papers": [paper_json(p) for p in listings.new(site.engine, k, offset)]}

    @app.get("/api/trending")
    def api_trending(
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 20, days: Annotated[int, Query(ge=1, le=365)] = 7
    ) -> dict[str, Any]:
        """Papers ranked by recent upvotes with time decay."""
        return {
            "papers": [
                paper_json(p, votes=v, score=round(s, 6))
                for p, v, s in listings.trending(site.engine, k, days=days)
            ]
        }

    @app.post("/api/papers/{paper_id:path}/upvote")
    def api_upvote(paper_id: str, request: Request) -> dict[str, Any]:
        """Upvote a paper (once per browser; repeating changes nothing).

        403 without the voter cookie a paper page sets or from another site; 429 past
        20 new upvotes an hour from one address."""
        return site.vote(request, paper_id, True)

    @app.delete("/api/papers/{paper_id:path}/upvote")
    def api_unvote(paper_id: str, request: Request) -> dict[str, Any]:
        """Take this browser's upvote back."""
        return site.vote(request, paper_id, False)


def snippet_json(segments: list[tuple[str, bool]]) -> dict[str, Any]:
    """A snippet as plain text plus the [start, end) offsets of the matched words."""
    text, marks, pos = [], [], 0
    for part, hit in segments:
        if hit:
            marks.append([pos, pos + len(part)])
        text.append(part)
        pos += len(part)
    return {"text": "".join(text), "highlights": marks}
