"""Double opt-in: the signed confirm and unsubscribe links, and the confirmation mail.

``subscribe`` records a request in ``Subscriptions`` and mails its confirmation link; only a
followed link makes a subscriber active. Digests carry an ``unsubscribe_token`` link.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sciseek.digests import mail

from .interests import Interests, check_frequency, normalise_email
from .subscriptions import Subscriber, Subscriptions
from .tokens import make_token, secret_key

CONFIRM_TTL = dt.timedelta(days=3)
UNSUBSCRIBE_TTL = dt.timedelta(days=365)


def confirm_token(key: bytes, sub: Subscriber, digest: str) -> str:
    """The signed token of a confirmation link."""
    claims = {"s": sub.id, "e": sub.email, "h": digest}
    return make_token(key, "confirm", claims, CONFIRM_TTL.total_seconds())


def unsubscribe_token(key: bytes, sub: Subscriber) -> str:
    """The signed token of an unsubscribe link."""
    claims = {"s": sub.id, "e": sub.email}
    return make_token(key, "unsubscribe", claims, UNSUBSCRIBE_TTL.total_seconds())


def link(path: str, token: str) -> str:
    """An absolute link to the site with a token parameter."""
    return f"{mail.base_url()}{path}?{urlencode({'token': token})}"


def subscribe(
    subs: Subscriptions,
    data_dir: Path,
    email: Any,
    interests: Interests,
    frequency: str,
    *,
    now: dt.datetime | None = None,
    client: str | None = None,
) -> Subscriber:
    """Validate and record a request, and mail the confirmation link.

    ``client`` stands for the requester's address, for the per-client rate limit.

    Raises InvalidSubscription, RateLimited, mail.MailNotConfigured or mail.MailError (then the
    request does not count towards the rate limit).
    """
    email = normalise_email(email)
    check_frequency(frequency)
    subs.check_papers(interests)
    config = mail.SmtpConfig.from_env()
    sub, digest, request_id = subs.request(email, interests, frequency, now, client=client)
    shown, shown_frequency = sub.pending or (sub.interests, sub.frequency)
    token = confirm_token(secret_key(data_dir), sub, digest)
    text, html = mail.render(
        "confirm",
        email=sub.email,
        interests=shown,
        frequency=shown_frequency,
        change=sub.pending is not None,
        confirm_url=link("/subscriptions/confirm", token),
        expires_days=CONFIRM_TTL.days,
        base_url=mail.base_url(),
    )
    msg = mail.compose(config.sender, sub.email, "Confirm your sciseek subscription", text, html)
    try:
        with mail.Mailer(config) as mailer:
            mailer.send(msg)
    except mail.MailError:
        subs.forget_request(request_id)
        raise
    return sub
