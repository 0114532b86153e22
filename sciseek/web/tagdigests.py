"""Tag digests on the web: the "Mail me new papers like these" form of a tag page and of a tag
expression, turning a digest off from the library page, the JSON API
(``/api/library/digests``) and the page behind the one-click unsubscribe link of the mails
(``/unsubscribe/tag``, RFC 8058, as for query digests).

Creating, listing and turning off need a signed-in reader and reach only their digests;
forms and state-changing API calls must come from this site. The unsubscribe link needs no
session: its signed token names the digest.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from sciseek.digests.tokens import ExpiredToken, InvalidToken, read_token
from sciseek.library.expressions import MAX_EXPRESSION
from sciseek.library.shelf import MAX_TAG_LENGTH
from sciseek.library.tagdigests import UNSUBSCRIBE_PURPOSE, TagDigest
from sciseek.library.tagsend import UNSUBSCRIBE_PATH

from .accounts import Readers
from .library import FORM_BACK, FORM_TAG, local, tag_url
from .site import Site

DigestId = Annotated[int, Path(ge=1, le=2**62)]


class TagDigestRequest(BaseModel):
    """A tag (``tag``) or a tag expression (``expr``) to mail new papers like."""

    tag: str | None = Field(default=None, max_length=MAX_TAG_LENGTH + 40, examples=["ir"])
    expr: str | None = Field(default=None, max_length=MAX_EXPRESSION)
    frequency: Literal["daily", "weekly"] = "weekly"


def digest_json(digest: TagDigest) -> dict[str, Any]:
    """A tag digest for the API, with the page of its tag or expression."""
    if digest.tag is not None:
        url = tag_url(digest.tag)
    else:
        url = "/library?" + urlencode({"expr": digest.expr or ""})
    return {**digest.to_dict(), "url": url}


def add_tag_digest_routes(app: FastAPI, site: Site, readers: Readers) -> None:
    """The tag digest forms, API and unsubscribe pages."""
    page, same_site = site.page, site.same_site
    library, digests = readers.library, readers.tagdigests

    def create(reader_id: int, tag: str | None, expr: str | None, frequency: str) -> TagDigest:
        if tag is not None and expr is not None:
            raise HTTPException(422, detail="give a tag or a tag expression, not both")
        if tag is None and expr is None:
            raise HTTPException(422, detail="give a tag or a tag expression")
        return digests.create(library, reader_id, frequency, tag=tag, expr=expr)

    # -- forms ---------------------------------------------------------------------------

    @app.post("/library/digests", include_in_schema=False)
    def create_form(
        request: Request,
        tag: FORM_TAG = "",
        expr: Annotated[str, Form(max_length=MAX_EXPRESSION)] = "",
        frequency: Annotated[str, Form(max_length=10)] = "weekly",
        back: FORM_BACK = "",
    ):
        same_site(request)
        reader = readers.require(request)
        digest = create(reader.id, tag or None, expr or None, frequency)
        return RedirectResponse(local(back, digest_json(digest)["url"]), status_code=303)

    @app.post("/library/digests/{digest_id}/delete", include_in_schema=False)
    def delete_form(request: Request, digest_id: DigestId, back: FORM_BACK = ""):
        same_site(request)
        reader = readers.require(request)
        digests.delete(reader.id, digest_id)
        return RedirectResponse(local(back, "/library"), status_code=303)

    # -- API -----------------------------------------------------------------------------

    @app.get("/api/library/digests")
    def api_digests(request: Request) -> list[dict[str, Any]]:
        """The reader's tag digests."""
        return [digest_json(d) for d in digests.of(readers.require(request).id)]

    @app.post("/api/library/digests", status_code=201)
    def api_create(request: Request, req: TagDigestRequest) -> dict[str, Any]:
        """Mail new papers like a tag's (or a tag expression's) daily or weekly; asking again
        changes the frequency. The address is the reader's, proven by signing in.

        404 for an unknown tag; 422 for a bad expression, both or neither given, or past 20
        digests."""
        same_site(request)
        reader = readers.require(request)
        return digest_json(create(reader.id, req.tag, req.expr, req.frequency))

    @app.delete("/api/library/digests/{digest_id}", status_code=204)
    def api_delete(request: Request, digest_id: DigestId) -> Response:
        """Turn a tag digest off; 404 if the reader has no such digest."""
        same_site(request)
        digests.delete(readers.require(request).id, digest_id)
        return Response(status_code=204)

    # -- the unsubscribe link ------------------------------------------------------------

    def notice(
        request: Request, heading: str, message: str, status: int = 200, token: str | None = None
    ) -> HTMLResponse:
        return page(
            request,
            "subscription.html",
            status,
            heading=heading,
            message=message,
            failed=status >= 400,
            unsubscribe_token=token,
            unsubscribe_action=UNSUBSCRIBE_PATH,
        )

    def claims(request: Request, token: str) -> dict[str, Any] | HTMLResponse:
        try:
            return read_token(site.key, token, UNSUBSCRIBE_PURPOSE)
        except ExpiredToken as e:
            return notice(
                request, "That did not work", f"{e}; turn the digest off in your library", 410
            )
        except InvalidToken as e:
            return notice(request, "That did not work", str(e), 400)

    @app.get(UNSUBSCRIBE_PATH, response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe_page(request: Request, token: Annotated[str, Query(max_length=5000)] = ""):
        found = claims(request, token)
        if isinstance(found, HTMLResponse):
            return found
        digest = digests.find(found)
        if digest is None:
            return notice(request, "Unsubscribed", "This digest is off already.")
        return notice(
            request,
            "Unsubscribe",
            f"Stop the digest of new papers like {digest.label!r} to {digest.email}?",
            token=token,
        )

    @app.post(UNSUBSCRIBE_PATH, response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe(
        request: Request,
        token: Annotated[str, Query(max_length=5000)] = "",
        form_token: Annotated[str, Form(alias="token", max_length=5000)] = "",
    ):
        # One-click (RFC 8058): mail clients POST to the List-Unsubscribe address with the
        # token in the query string and no cookies; the confirm page posts it as a form field.
        found = claims(request, token or form_token)
        if isinstance(found, HTMLResponse):
            return found
        digest = digests.unsubscribe(found)
        what = f"new papers like {digest.label!r}" if digest else "this digest"
        return notice(request, "Unsubscribed", f"No more mails of {what}.")
