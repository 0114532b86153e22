"""Sign-in by email: the signed, expiring, single-use link and the mail that carries it.

The link's token (``digests.tokens``, purpose ``signin``) names the address and the nonce of
its request in ``Accounts``; the token's signature proves the site made it, its expiry bounds
it to ``accounts.SIGNIN_TTL`` and the nonce, used up on the first visit, makes it single-use.
Mail goes out through the digests' SMTP settings (``digests.mail``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from sciseek.digests import mail
from sciseek.digests.optin import link
from sciseek.digests.tokens import make_token, read_token, secret_key

from .accounts import SIGNIN_TTL, Accounts, Reader, ReusedLink

PURPOSE = "signin"
CONFIRM_PATH = "/signin/confirm"

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def signin_token(key: bytes, email: str, nonce: str) -> str:
    """The signed token of a sign-in link."""
    return make_token(key, PURPOSE, {"e": email, "n": nonce}, SIGNIN_TTL.total_seconds())


def send_signin_link(
    accounts: Accounts, data_dir: Path, email: Any, *, client: str | None = None
) -> str:
    """Validate the address, record the request and mail its sign-in link; the address.

    Raises InvalidSubscription (bad address), RateLimited, mail.MailNotConfigured or
    mail.MailError (then the request does not count towards the rate limits).
    """
    config = mail.SmtpConfig.from_env()
    address, nonce, request_id = accounts.request_signin(email, client)
    url = link(CONFIRM_PATH, signin_token(secret_key(data_dir), address, nonce))
    context = {
        "email": address,
        "signin_url": url,
        "minutes": int(SIGNIN_TTL.total_seconds() // 60),
        "base_url": mail.base_url(),
    }
    text = _env.get_template("signin.txt").render(**context)
    html = _env.get_template("signin.html").render(**context)
    msg = mail.compose(config.sender, address, "Your sciseek sign-in link", text, html)
    try:
        with mail.Mailer(config) as mailer:
            mailer.send(msg)
    except mail.MailError:
        accounts.forget_request(request_id)
        raise
    return address


def check_signin_link(accounts: Accounts, data_dir: Path, token: str) -> str:
    """The address a sign-in link's token is for, if it can still sign in.

    Raises InvalidToken (forged, damaged, other purpose), ExpiredToken or ReusedLink.
    """
    claims = read_token(secret_key(data_dir), token, PURPOSE)
    if not accounts.unused(claims):
        raise ReusedLink("this sign-in link was already used; ask for a new one")
    return claims["e"]


def follow_signin_link(accounts: Accounts, data_dir: Path, token: str) -> tuple[Reader, str]:
    """Use up a sign-in link: its reader and a new session token.

    Raises InvalidToken (forged, damaged, other purpose), ExpiredToken or ReusedLink.
    """
    claims = read_token(secret_key(data_dir), token, PURPOSE)
    return accounts.redeem(claims)
