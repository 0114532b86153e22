"""Signing in by email link, the session cookie, signing out and deleting an account.

``POST /signin`` mails a single-use link; the link's page (``GET /signin/confirm``) asks for
one click, which posts the token back and sets the session cookie: a mail scanner that
fetches links does not use a link up. The cookie (``sciseek_session``: HttpOnly,
SameSite=Lax, Secure over https) carries a random session token signed with the site's key;
the server keeps only its hash, so signing out and deleting the account revoke it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sciseek.digests import mail
from sciseek.digests.interests import InvalidSubscription
from sciseek.digests.limits import RateLimited
from sciseek.digests.subscriptions import Subscriptions
from sciseek.digests.tokens import ExpiredToken, InvalidToken
from sciseek.library.accounts import SESSION_TTL, Accounts, Reader
from sciseek.library.shelf import Library
from sciseek.library.signin import check_signin_link, follow_signin_link, send_signin_link
from sciseek.library.tagdigests import TagDigests

from .site import Site

SESSION_COOKIE = "sciseek_session"


@dataclass
class Readers:
    """The signed-in reader of a request, and the accounts, library and tag digest tables
    behind it."""

    site: Site
    accounts: Accounts
    library: Library
    tagdigests: TagDigests

    def _sign(self, token: str) -> str:
        mac = hmac.new(self.site.key, f"session:{token}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def token(self, request: Request) -> str | None:
        """The session token of the request's cookie, if its signature is good."""
        raw = request.cookies.get(SESSION_COOKIE, "")
        token, _, sig = raw.rpartition(".")
        if not token or not hmac.compare_digest(sig, self._sign(token)):
            return None
        return token

    def current(self, request: Request) -> Reader | None:
        """The signed-in reader, or None (no cookie, a forged one, a revoked session)."""
        token = self.token(request)
        return self.accounts.session(token) if token else None

    def require(self, request: Request) -> Reader:
        """The signed-in reader, or a 401."""
        reader = self.current(request)
        if reader is None:
            raise HTTPException(401, detail="sign in to use your library")
        return reader

    def set_cookie(self, request: Request, response: Response, token: str) -> None:
        """Put a session token on ``response`` as the signed session cookie."""
        response.set_cookie(
            SESSION_COOKIE,
            f"{token}.{self._sign(token)}",
            max_age=int(SESSION_TTL.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    def context(self, request: Request) -> dict:
        """What every page shows of the reader: who they are, their tag names, and the tags
        a paper is saved under (``saved_in(paper_id)``)."""
        reader = self.current(request)
        if reader is None:
            return {"reader": None, "reader_tags": [], "saved_in": lambda paper_id: []}
        tags = [t.name for t in self.library.tags(reader.id)]

        def saved_in(paper_id: str) -> list[str]:
            return self.library.tags_of(reader.id, paper_id)

        return {"reader": reader, "reader_tags": tags, "saved_in": saved_in}


def add_account_routes(app: FastAPI, site: Site, readers: Readers) -> None:
    """The sign-in, sign-out and account pages."""
    engine, page, same_site = site.engine, site.page, site.same_site

    def signin_page(request: Request, status: int = 200, **shown) -> HTMLResponse:
        shown.setdefault("sent", None)
        shown.setdefault("confirm_token", None)
        shown.setdefault("email", "")
        return page(request, "signin.html", status, active="signin", **shown)

    @app.get("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin_form(request: Request):
        return signin_page(request)

    @app.post("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin(request: Request, email: Annotated[str, Form(max_length=320)] = ""):
        same_site(request)
        try:
            address = send_signin_link(
                readers.accounts, engine.data_dir, email, client=site.client_key(request)
            )
        except InvalidSubscription as e:
            return signin_page(request, 422, error=str(e), email=email)
        except RateLimited as e:
            return signin_page(request, 429, error=str(e), email=email)
        except mail.MailNotConfigured:
            message = "signing in is off on this server: email is not configured"
            return signin_page(request, 503, error=message, email=email)
        except mail.MailError:
            message = "the sign-in email could not be sent; try again later"
            return signin_page(request, 502, error=message, email=email)
        return signin_page(request, 202, sent=address)

    def link_error(request: Request, exc: InvalidToken) -> HTMLResponse:
        hint = "; ask for a new one" if isinstance(exc, ExpiredToken) else ""
        return signin_page(request, exc.status, error=f"{exc}{hint}")

    @app.get("/signin/confirm", response_class=HTMLResponse, include_in_schema=False)
    def confirm_page(request: Request, token: Annotated[str, Query(max_length=5000)] = ""):
        try:
            address = check_signin_link(readers.accounts, engine.data_dir, token)
        except InvalidToken as e:
            return link_error(request, e)
        return signin_page(request, confirm_token=token, email=address)

    @app.post("/signin/confirm", include_in_schema=False)
    def confirm(request: Request, token: Annotated[str, Form(max_length=5000)] = ""):
        same_site(request)
        try:
            _, session = follow_signin_link(readers.accounts, engine.data_dir, token)
        except InvalidToken as e:
            return link_error(request, e)
        response = RedirectResponse("/library", status_code=303)
        readers.set_cookie(request, response, session)
        return response

    @app.post("/signout", include_in_schema=False)
    def signout(request: Request):
        same_site(request)
        token = readers.token(request)
        if token:
            readers.accounts.sign_out(token)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
        return response

    def subscribed(reader: Reader) -> bool:
        with Subscriptions.open(engine.data_dir) as subs:
            return subs.by_email(reader.email) is not None

    @app.get("/account", response_class=HTMLResponse, include_in_schema=False)
    def account_page(request: Request):
        reader = readers.require(request)
        return page(
            request, "account.html", subscribed=subscribed(reader), confirming=False, deleted=None
        )

    @app.post("/account/delete", response_class=HTMLResponse, include_in_schema=False)
    def delete_account(request: Request, confirm: Annotated[str, Form(max_length=10)] = ""):
        same_site(request)
        reader = readers.require(request)
        if confirm != "yes":
            return page(
                request,
                "account.html",
                subscribed=subscribed(reader),
                confirming=True,
                deleted=None,
            )
        readers.accounts.delete(reader)
        response = page(
            request, "account.html", reader=None, subscribed=False, confirming=False, deleted=reader
        )
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
        return response

    @app.get("/api/account")
    def api_account(request: Request) -> dict:
        """The signed-in reader (401 without a session)."""
        reader = readers.require(request)
        return {**reader.to_dict(), "subscribed": subscribed(reader)}
