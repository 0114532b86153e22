"""A tag's papers outside the site: a download for reference managers and a private feed.

``/library/tag/{name}/export?format=bibtex|ris|csl`` needs the reader's session, like every
library page. A feed reader has no session, so a tag's feed lives at a capability URL,
``/feeds/tag/{token}.atom`` (or ``.rss``): the token is signed by the site and names the reader
and the tag; anyone holding the URL can read that one tag's list, nothing else. Deleting the
tag or the account ends the feed (the token then names nothing); renaming the tag gives it a
new URL. Entries are the tag's papers, the most recently saved first.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Query, Request, Response

from sciseek.digests.tokens import make_token, read_token
from sciseek.export import FORMATS as EXPORTS
from sciseek.library.errors import UnknownTag

from .accounts import Readers
from .feeds import FEED_PAGE_SIZE, FORMATS, FeedAnswer, Listing, PageNo
from .site import Site

FEED_PURPOSE = "tag-feed"
FEED_TTL = 10 * 365 * 86400  # seconds; the feed ends earlier when its tag or account goes


def tag_feed_url(key: bytes, reader_id: int, tag: str, fmt: str = "atom") -> str:
    """The private feed URL of one reader's tag."""
    token = make_token(key, FEED_PURPOSE, {"r": reader_id, "t": tag}, FEED_TTL)
    return f"/feeds/tag/{token}.{fmt}"


def tag_export_url(tag: str, fmt: str) -> str:
    """The download of a tag's papers in ``fmt`` (bibtex, ris, csl)."""
    return f"/library/tag/{quote(tag, safe='')}/export?format={fmt}"


def add_tag_list_routes(app: FastAPI, site: Site, readers: Readers, answer: FeedAnswer) -> None:
    """Register the tag export and the tag feeds on ``app``."""
    library = readers.library
    site.templates.env.globals["tag_export_url"] = tag_export_url

    def papers_of(reader_id: int, tag: str, start: int = 0, stop: int | None = None) -> list:
        ids = list(reversed(library.tag_papers(reader_id, tag)))[start:stop]  # newest first
        found = [site.engine.get(i) for i in ids]
        return [p for p in found if p is not None]  # a paper deleted since it was saved

    @app.get("/library/tag/{name}/export", response_class=Response, include_in_schema=False)
    def export_tag(
        request: Request, name: str, fmt: Annotated[str, Query(alias="format")] = "bibtex"
    ) -> Response:
        reader = readers.require(request)
        out = EXPORTS.get(fmt)
        if out is None:
            raise HTTPException(422, detail=f"unknown export format {fmt[:20]!r}")
        tag = library.tag(reader.id, name).name
        slug = "".join(c if c.isalnum() else "-" for c in tag).strip("-")[:60] or "tag"
        json_type = out.media_type.endswith("json")
        filename = f"sciseek-{slug}.{out.extension}"
        return Response(
            out.render(papers_of(reader.id, tag)),
            media_type=out.media_type + ("" if json_type else "; charset=utf-8"),
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    def tag_feed(fmt: str):
        def endpoint(request: Request, token: str, page: PageNo = 1) -> Response:
            claims = read_token(site.key, token, FEED_PURPOSE)
            try:
                tag = library.tag(int(claims["r"]), str(claims["t"])).name
                start = (page - 1) * FEED_PAGE_SIZE  # one more paper tells a next page
                papers = papers_of(int(claims["r"]), tag, start, start + FEED_PAGE_SIZE + 1)
            except (UnknownTag, KeyError, ValueError):
                raise HTTPException(404, detail="this feed's tag no longer exists") from None
            listing = Listing(
                path=f"/feeds/tag/{token}",
                params=[],
                html=f"/library/tag/{quote(tag, safe='')}",
                title=f"sciseek: {tag}",
                subtitle=f"The papers saved under the tag {tag}, the latest first.",
                papers=papers[:FEED_PAGE_SIZE],
                more=len(papers) > FEED_PAGE_SIZE,
                page=page,
            )
            return answer(request, fmt, listing)

        return endpoint

    for fmt in FORMATS:
        app.add_api_route(
            f"/feeds/tag/{{token}}.{fmt}",
            tag_feed(fmt),
            methods=["GET"],
            summary=f"A tag's papers (private URL from the tag's page), as {fmt}",
            response_class=Response,
        )
