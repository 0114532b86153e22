"""The web face of subscriptions: the subscribe form and API, and the pages behind the
confirmation and unsubscribe links in emails (one-click unsubscribe, RFC 8058)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from sciseek.digests import interests, mail, optin, subscriptions
from sciseek.digests.preview import preview
from sciseek.digests.tokens import ExpiredToken, InvalidToken, read_token
from sciseek.search.engine import Engine

from .site import Site


class SubscriptionRequest(BaseModel):
    """A request for email digests; a confirmation link is mailed to ``email``."""

    email: str = Field(max_length=320, examples=["ada@example.org"])
    queries: list[str] = Field(default_factory=list, examples=[["dense retrieval"]])
    papers: list[str] = Field(default_factory=list, description="seed paper ids")
    categories: list[str] = Field(default_factory=list, examples=[["cs.IR"]])
    frequency: Literal["daily", "weekly"] = "daily"


def _subscribe(engine: Engine, req: SubscriptionRequest, client: str) -> subscriptions.Subscriber:
    """Record a request and mail its confirmation; errors become HTTP errors."""
    try:
        wanted = interests.make_interests(req.queries, req.papers, req.categories)
        with subscriptions.Subscriptions.open(engine.data_dir) as subs:
            return optin.subscribe(
                subs, engine.data_dir, req.email, wanted, req.frequency, client=client
            )
    except interests.InvalidSubscription as e:
        raise HTTPException(422, detail=str(e)) from None
    except subscriptions.RateLimited as e:
        raise HTTPException(429, detail=str(e), headers={"Retry-After": "3600"}) from None
    except mail.MailNotConfigured:
        # The service is not available here (not the client's fault, and not a bug): 503.
        raise HTTPException(
            503, detail="subscriptions are off on this server: email is not configured"
        ) from None
    except mail.MailError:
        raise HTTPException(
            502, detail="the confirmation email could not be sent; try again later"
        ) from None


def add_subscription_routes(app: FastAPI, site: Site) -> None:
    """The subscribe form and API, and the pages behind the links in emails."""
    engine, key, page, same_site = site.engine, site.key, site.page, site.same_site

    def claims(token: str, purpose: str) -> dict[str, Any]:
        try:
            return read_token(key, token, purpose)
        except ExpiredToken as e:
            raise HTTPException(410, detail=f"{e}; subscribe again for a new one") from None
        except InvalidToken as e:
            raise HTTPException(400, detail=str(e)) from None

    def notice(
        request: Request,
        heading: str,
        message: str,
        status: int = 200,
        unsubscribe_token: str | None = None,
    ) -> HTMLResponse:
        return page(
            request,
            "subscription.html",
            status,
            heading=heading,
            message=message,
            failed=status >= 400,
            unsubscribe_token=unsubscribe_token,
        )

    def failed(request: Request, exc: HTTPException) -> HTMLResponse:
        return notice(request, "That did not work", str(exc.detail), exc.status_code)

    @app.post("/api/subscriptions", status_code=202)
    def api_subscribe(req: SubscriptionRequest, request: Request) -> dict[str, Any]:
        """Ask for email digests of new matching papers; a confirmation link is mailed first.

        422 for a bad address, empty or too many interests or an unknown paper id; 429 after
        3 requests for one address, 10 from one client address or 100 in all in an hour; 503
        when this server has no email settings.
        """
        sub = _subscribe(engine, req, site.client_key(request))
        return {
            "status": "confirmation sent",
            "email": sub.email,
            "state": sub.state,
            "detail": "follow the link in the email to confirm",
        }

    @app.get("/subscribe", response_class=HTMLResponse, include_in_schema=False)
    def subscribe_page(
        request: Request,
        q: Annotated[str, Query(max_length=interests.MAX_QUERY_LENGTH)] = "",
        paper: Annotated[str, Query(max_length=200)] = "",
    ):
        form = {"queries": q, "papers": paper}
        return page(request, "subscribe.html", active="subscribe", form=form, done=None)

    @app.post("/subscribe", response_class=HTMLResponse, include_in_schema=False)
    def subscribe_form(
        request: Request,
        email: Annotated[str, Form(max_length=320)] = "",
        queries: Annotated[str, Form(max_length=4000)] = "",
        papers: Annotated[str, Form(max_length=4000)] = "",
        categories: Annotated[str, Form(max_length=1000)] = "",
        frequency: Annotated[Literal["daily", "weekly"], Form()] = "daily",
        action: Annotated[Literal["subscribe", "preview"], Form()] = "subscribe",
    ):
        same_site(request)
        form = {
            "email": email,
            "queries": queries,
            "papers": papers,
            "categories": categories,
            "frequency": frequency,
        }
        req = SubscriptionRequest(
            email=email,
            queries=queries.splitlines(),
            papers=papers.replace(",", " ").split(),
            categories=categories.replace(",", " ").split(),
            frequency=frequency,
        )

        def again(status: int, **shown: Any) -> HTMLResponse:
            return page(request, "subscribe.html", status, active="subscribe", form=form, **shown)

        if action == "preview":
            # What the interests would have sent over the last week, nothing saved or mailed.
            try:
                wanted = interests.make_interests(req.queries, req.papers, req.categories)
                with subscriptions.Subscriptions.open(engine.data_dir) as subs:
                    subs.check_papers(wanted)
            except interests.InvalidSubscription as e:
                return again(422, error=str(e), done=None)
            return again(200, preview=preview(engine, wanted), done=None)
        try:
            sub = _subscribe(engine, req, site.client_key(request))
        except HTTPException as e:
            return again(e.status_code, error=e.detail, done=None)
        return again(202, done=sub.email)

    @app.get("/subscriptions/confirm", response_class=HTMLResponse, include_in_schema=False)
    def confirm(request: Request, token: Annotated[str, Query(max_length=5000)] = ""):
        try:
            found = claims(token, "confirm")
            with subscriptions.Subscriptions.open(engine.data_dir) as subs:
                sub = subs.confirm(found)
        except HTTPException as e:
            return failed(request, e)
        except subscriptions.UnknownSubscriber as e:
            return notice(request, "That did not work", str(e), 404)
        except subscriptions.StaleLink as e:
            return notice(request, "That did not work", str(e), 409)
        return notice(
            request,
            "Subscription confirmed",
            f"{sub.email} will get a {sub.frequency} email with the new papers that match.",
        )

    @app.get("/subscriptions/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe_page(request: Request, token: Annotated[str, Query(max_length=5000)] = ""):
        try:
            found = claims(token, "unsubscribe")
        except HTTPException as e:
            return failed(request, e)
        return notice(
            request,
            "Unsubscribe",
            f"Stop the sciseek digests to {found['e']}?",
            unsubscribe_token=token,
        )

    @app.post("/subscriptions/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe(
        request: Request,
        token: Annotated[str, Query(max_length=5000)] = "",
        form_token: Annotated[str, Form(alias="token", max_length=5000)] = "",
    ):
        # One-click unsubscribe (RFC 8058): mail clients POST to the List-Unsubscribe address,
        # token in the query string and no cookies; the confirm page posts it as a form field.
        token = token or form_token
        try:
            found = claims(token, "unsubscribe")
        except HTTPException as e:
            return failed(request, e)
        with subscriptions.Subscriptions.open(engine.data_dir) as subs:
            subs.unsubscribe(found)
        return notice(
            request, "Unsubscribed", f"{found['e']} will not get any more sciseek digests."
        )
