"""The library pages: tags with counts, a tag's papers with notes, recommendations, and the
forms that save, remove, annotate and mark papers (the tag digest forms are in
``tagdigests``).

Every page needs a session (401 without one) and shows only the signed-in reader's rows;
every form posts same-site only and answers with a redirect back to the page it came from.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sciseek.errors import BadInput
from sciseek.library.expressions import MAX_EXPRESSION, select
from sciseek.library.recommended import recommended
from sciseek.library.shelf import MAX_NOTE, MAX_TAG_LENGTH

from .accounts import Readers
from .site import Site
from .tag_lists import tag_feed_url

FORM_TAG = Annotated[str, Form(max_length=MAX_TAG_LENGTH + 40)]
FORM_ID = Annotated[str, Form(max_length=200)]
FORM_BACK = Annotated[str, Form(max_length=2000)]


def tag_url(name: str) -> str:
    """The page of a tag."""
    return f"/library/tag/{quote(name, safe='')}"


def local(url: str, fallback: str) -> str:
    """``url`` if it is a path on this site, else ``fallback`` (no open redirects)."""
    # browsers drop tabs and newlines from a URL and read "\\" as "/": "/\t/x" is "//x"
    if any(c <= " " or c == "\\" for c in url):
        return fallback
    if url.startswith("/") and not url.startswith("//"):
        return url
    return fallback


def add_library_routes(app: FastAPI, site: Site, readers: Readers) -> None:
    """The library's pages and forms."""
    engine, page, same_site, library = site.engine, site.page, site.same_site, readers.library
    tagdigests = readers.tagdigests

    def again(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)

    def entries(reader_id: int, ids: list[str], notes: dict[str, str | None]) -> list[dict]:
        found = [engine.get(pid) for pid in ids]
        return [{"paper": p, "note": notes.get(p.id)} for p in found if p is not None]

    @app.get("/library", response_class=HTMLResponse, include_in_schema=False)
    def library_page(request: Request, expr: Annotated[str, Query(max_length=MAX_EXPRESSION)] = ""):
        reader = readers.require(request)
        selected, error, expr_digest = None, None, None
        if expr.strip():
            try:
                ids = select(library, reader.id, expr)
                selected = entries(reader.id, ids, {p: library.note(reader.id, p) for p in ids})
                expr_digest = tagdigests.for_expr(reader.id, expr)
            except BadInput as e:
                error = str(e)
        return page(
            request,
            "library.html",
            422 if error else 200,
            active="library",
            tags=library.tags(reader.id),
            expr=expr,
            selected=selected,
            error=error,
            tag_url=tag_url,
            digests=tagdigests.of(reader.id),
            digest=expr_digest,
        )

    @app.get("/library/tag/{name}", response_class=HTMLResponse, include_in_schema=False)
    def tag_page(request: Request, name: str):
        reader = readers.require(request)
        tag = library.tag(reader.id, name)
        saved = library.tag_entries(reader.id, tag.name)
        notes = {s.paper_id: s.note for s in saved}
        return page(
            request,
            "library_tag.html",
            active="library",
            tag=tag,
            items=entries(reader.id, [s.paper_id for s in saved], notes),
            tag_url=tag_url,
            max_note=MAX_NOTE,
            digest=tagdigests.for_tag(reader.id, tag.name),
            feed_url=tag_feed_url(site.key, reader.id, tag.name),
            feed_title=f"sciseek: {tag.name} (private link)",
        )

    @app.get("/library/recommended", response_class=HTMLResponse, include_in_schema=False)
    def recommended_page(
        request: Request,
        tag: Annotated[str, Query(max_length=MAX_TAG_LENGTH + 40)] = "",
        expr: Annotated[str, Query(max_length=MAX_EXPRESSION)] = "",
        show_seen: Annotated[int, Query(ge=0, le=1)] = 0,
        exclude: Annotated[str, Query(max_length=500)] = "",
    ):
        """Recommendations; the papers shown are marked seen, so the next visit shows new
        ones (``show_seen=1`` shows seen papers too); ``exclude`` lists categories to leave
        out (``cs.CV, eess.IV``)."""
        reader = readers.require(request)
        found = recommended(
            engine,
            library,
            reader.id,
            tag=tag or None,
            expr=expr or None,
            show_seen=bool(show_seen),
            exclude_categories=tuple(re.split(r"[\s,]+", exclude)),
        )
        seen_before = library.seen(reader.id) if show_seen else set()
        library.mark_seen(reader.id, [r.paper.id for r in found.items])
        titles = {}
        for r in found.items:
            if r.because not in titles:
                near = engine.get(r.because)
                titles[r.because] = near.title if near else r.because
        query = urlencode(
            {
                k: v
                for k, v in {
                    "tag": tag,
                    "expr": expr,
                    "exclude": exclude,
                    "show_seen": show_seen,
                }.items()
                if v
            }
        )
        here = "/library/recommended" + (f"?{query}" if query else "")
        return page(
            request,
            "library_recommended.html",
            active="library",
            found=found,
            titles=titles,
            seen=seen_before,
            tag=found.label if found.source == "tag" else "",
            expr=expr,
            exclude=exclude,
            show_seen=show_seen,
            here=here,
            tag_url=tag_url,
        )

    # -- forms ---------------------------------------------------------------------------

    @app.post("/library/save", include_in_schema=False)
    def save(
        request: Request,
        paper_id: FORM_ID = "",
        tag: FORM_TAG = "",
        back: FORM_BACK = "",
    ):
        same_site(request)
        reader = readers.require(request)
        library.save(reader.id, tag, paper_id)
        return again(local(back, tag_url(tag.strip())))

    @app.post("/library/tag/{name}/remove", include_in_schema=False)
    def remove(request: Request, name: str, paper_id: FORM_ID = ""):
        same_site(request)
        reader = readers.require(request)
        library.remove(reader.id, name, paper_id)
        return again(tag_url(library.tag(reader.id, name).name))

    @app.post("/library/tag/{name}/rename", include_in_schema=False)
    def rename(request: Request, name: str, new_name: FORM_TAG = ""):
        same_site(request)
        reader = readers.require(request)
        return again(tag_url(library.rename_tag(reader.id, name, new_name)))

    @app.post("/library/tag/{name}/delete", include_in_schema=False)
    def delete(request: Request, name: str):
        same_site(request)
        reader = readers.require(request)
        library.delete_tag(reader.id, name)
        return again("/library")

    @app.post("/library/note", include_in_schema=False)
    def note(
        request: Request,
        paper_id: FORM_ID = "",
        note: Annotated[str, Form(max_length=MAX_NOTE + 100)] = "",
        back: FORM_BACK = "",
    ):
        same_site(request)
        reader = readers.require(request)
        library.set_note(reader.id, paper_id, note)
        return again(local(back, "/library"))

    @app.post("/library/not-relevant", include_in_schema=False)
    def not_relevant(
        request: Request, paper_id: FORM_ID = "", tag: FORM_TAG = "", back: FORM_BACK = ""
    ):
        same_site(request)
        reader = readers.require(request)
        library.mark_not_relevant(reader.id, paper_id, tag or None)
        return again(local(back, "/library/recommended"))

    @app.post("/library/seen", include_in_schema=False)
    def seen(
        request: Request,
        paper_id: FORM_ID = "",
        action: Annotated[str, Form(max_length=10)] = "seen",
        back: FORM_BACK = "",
    ):
        """Mark a paper seen (``action=unseen``: not seen; ``action=clear``: forget all)."""
        same_site(request)
        reader = readers.require(request)
        if action == "clear":
            library.unsee(reader.id)
        elif action == "unseen":
            library.unsee(reader.id, [paper_id])
        else:
            library.mark_seen(reader.id, [paper_id])
        return again(local(back, "/library"))
