"""The library's JSON API under ``/api/library``: tags and their papers, notes, "not relevant"
marks, seen papers, tag expressions and recommendations.

Every call needs the session cookie of a signed-in reader (401 without one) and reaches only
that reader's rows; state-changing calls must come from this site (Origin or Referer).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from sciseek.library.expressions import MAX_EXPRESSION, select
from sciseek.library.recommended import MAX_RECOMMENDATIONS, recommended
from sciseek.library.shelf import MAX_NOTE, MAX_TAG_LENGTH

from .accounts import Readers
from .library import tag_url
from .site import Site, paper_json

TagQuery = Annotated[str | None, Query(max_length=MAX_TAG_LENGTH + 40)]


class SaveRequest(BaseModel):
    """A paper to save under the tag of the URL (created on first use)."""

    paper_id: str = Field(max_length=200, examples=["2401.00001"])
    note: str | None = Field(default=None, max_length=MAX_NOTE + 100)


class RenameRequest(BaseModel):
    """A tag's new name."""

    name: str = Field(max_length=MAX_TAG_LENGTH + 40)


class NoteRequest(BaseModel):
    """The note on a saved paper (empty: none)."""

    note: str = Field(max_length=MAX_NOTE + 100)


class MarkRequest(BaseModel):
    """A paper not relevant to the whole library or, with ``tag``, to one tag."""

    paper_id: str = Field(max_length=200)
    tag: str | None = Field(default=None, max_length=MAX_TAG_LENGTH + 40)


class SeenRequest(BaseModel):
    """Papers to mark seen."""

    paper_ids: list[str] = Field(max_length=1000)


def add_library_api_routes(app: FastAPI, site: Site, readers: Readers) -> None:
    """The ``/api/library`` routes."""
    engine, library, same_site = site.engine, readers.library, site.same_site

    def changing(request: Request) -> int:
        same_site(request)
        return readers.require(request).id

    def papers(reader_id: int, ids: list[str], tag: str | None = None) -> list[dict[str, Any]]:
        out = []
        for pid in ids:
            paper = engine.get(pid)
            note = library.note(reader_id, pid)
            if paper is not None:
                out.append(paper_json(paper, note=note))
            else:  # saved, then deleted from the store
                out.append({"id": pid, "note": note, "missing": True})
        return out

    def tag_json(reader_id: int, name: str) -> dict[str, Any]:
        tag = library.tag(reader_id, name)
        ids = library.tag_papers(reader_id, tag.name)
        return {**tag.to_dict(), "url": tag_url(tag.name), "papers": papers(reader_id, ids)}

    @app.get("/api/library/tags")
    def api_tags(request: Request) -> list[dict[str, Any]]:
        """The reader's tags with their paper counts."""
        reader = readers.require(request)
        return [{**t.to_dict(), "url": tag_url(t.name)} for t in library.tags(reader.id)]

    @app.get("/api/library/tags/{name}")
    def api_tag(request: Request, name: str) -> dict[str, Any]:
        """A tag and its papers (with notes), oldest saved first; 404 for no such tag."""
        return tag_json(readers.require(request).id, name)

    @app.post("/api/library/tags/{name}", status_code=201)
    def api_save(request: Request, name: str, req: SaveRequest) -> dict[str, Any]:
        """Save a paper under the tag (created on first use), with a note if given.

        404 for an unknown paper; 422 for a bad tag name, a note over 5,000 characters, or
        past 200 tags or 50,000 saved papers."""
        reader_id = changing(request)
        pid = library.save(reader_id, name, req.paper_id, req.note)
        return {"saved": pid, "tag": library.tag(reader_id, name).name}

    @app.patch("/api/library/tags/{name}")
    def api_rename(request: Request, name: str, req: RenameRequest) -> dict[str, Any]:
        """Rename a tag; 409 if the reader already has a tag of the new name."""
        reader_id = changing(request)
        return tag_json(reader_id, library.rename_tag(reader_id, name, req.name))

    @app.delete("/api/library/tags/{name}", status_code=204)
    def api_delete_tag(request: Request, name: str) -> Response:
        """Delete a tag (its papers stay under the reader's other tags)."""
        library.delete_tag(changing(request), name)
        return Response(status_code=204)

    @app.delete("/api/library/tags/{name}/papers/{paper_id:path}", status_code=204)
    def api_remove(request: Request, name: str, paper_id: str) -> Response:
        """Take a paper out of a tag; 404 if it was not in it."""
        reader_id = changing(request)
        if not library.remove(reader_id, name, paper_id):
            raise HTTPException(404, detail=f"paper {paper_id[:200]!r} is not under that tag")
        return Response(status_code=204)

    @app.put("/api/library/notes/{paper_id:path}")
    def api_note(request: Request, paper_id: str, req: NoteRequest) -> dict[str, Any]:
        """Set the note on a saved paper (an empty note clears it); 404 if not saved."""
        reader_id = changing(request)
        library.set_note(reader_id, paper_id, req.note)
        return {"paper_id": paper_id, "note": library.note(reader_id, paper_id)}

    @app.get("/api/library/papers")
    def api_papers(
        request: Request, expr: Annotated[str | None, Query(max_length=MAX_EXPRESSION)] = None
    ) -> dict[str, Any]:
        """Every saved paper, or those a tag expression selects (``ir AND NOT surveys``);
        422 for a bad expression, naming the position."""
        reader = readers.require(request)
        ids = select(library, reader.id, expr) if expr else library.saved(reader.id)
        return {"expr": expr, "papers": papers(reader.id, ids)}

    @app.get("/api/library/marks")
    def api_marks(request: Request) -> list[dict[str, Any]]:
        """The reader's "not relevant" marks."""
        return [m.to_dict() for m in library.marks(readers.require(request).id)]

    @app.post("/api/library/marks", status_code=201)
    def api_mark(request: Request, req: MarkRequest) -> dict[str, Any]:
        """Mark a paper not relevant (to one tag, or to the whole library)."""
        pid = library.mark_not_relevant(changing(request), req.paper_id, req.tag)
        return {"paper_id": pid, "tag": req.tag}

    @app.delete("/api/library/marks/{paper_id:path}", status_code=204)
    def api_unmark(request: Request, paper_id: str, tag: TagQuery = None) -> Response:
        """Take back a mark (``?tag=``: the mark for that tag); 404 if there was none."""
        if not library.unmark(changing(request), paper_id, tag):
            raise HTTPException(404, detail=f"paper {paper_id[:200]!r} has no such mark")
        return Response(status_code=204)

    @app.get("/api/library/seen")
    def api_seen(request: Request) -> list[str]:
        """Ids of the papers the reader has seen."""
        return sorted(library.seen(readers.require(request).id))

    @app.post("/api/library/seen")
    def api_mark_seen(request: Request, req: SeenRequest) -> dict[str, int]:
        """Mark papers seen (unknown ids are skipped)."""
        return {"added": library.mark_seen(changing(request), req.paper_ids)}

    @app.delete("/api/library/seen")
    def api_unsee(
        request: Request, paper_id: Annotated[list[str] | None, Query(max_length=1000)] = None
    ) -> dict[str, int]:
        """Forget seen papers (``?paper_id=`` repeated: those; none given: all)."""
        return {"removed": library.unsee(changing(request), paper_id)}

    @app.get("/api/library/recommended")
    def api_recommended(
        request: Request,
        tag: TagQuery = None,
        expr: Annotated[str | None, Query(max_length=MAX_EXPRESSION)] = None,
        show_seen: Annotated[int, Query(ge=0, le=1)] = 0,
        k: Annotated[int, Query(ge=1, le=MAX_RECOMMENDATIONS)] = 20,
        exclude: Annotated[list[str] | None, Query(max_length=100)] = None,
    ) -> dict[str, Any]:
        """Papers like a tag's (``tag``), a tag expression's (``expr``) or the whole library's
        saved papers, without saved, not-relevant and (unless ``show_seen=1``) seen papers,
        and without papers in an ``exclude`` category (repeatable). Nothing is marked seen:
        POST the ones shown to ``/api/library/seen``."""
        reader = readers.require(request)
        found = recommended(
            engine,
            library,
            reader.id,
            tag=tag,
            expr=expr,
            show_seen=bool(show_seen),
            k=k,
            exclude_categories=tuple(exclude or ()),
        )
        return {
            "source": found.source,
            "label": found.label,
            "recommendations": [
                paper_json(r.paper, score=r.score, because=r.because) for r in found.items
            ],
        }
