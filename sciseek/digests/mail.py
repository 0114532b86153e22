"""Outgoing email: SMTP settings from the environment, Jinja2 templates, multipart messages.

Settings: ``SCISEEK_SMTP_HOST`` (required to send), ``SCISEEK_SMTP_PORT`` (default 25, 587
with starttls, 465 with ssl), ``SCISEEK_SMTP_TLS`` (none | starttls | ssl), ``SCISEEK_SMTP_USER``
and ``SCISEEK_SMTP_PASSWORD`` (login, optional), ``SCISEEK_SMTP_FROM`` (sender address) and
``SCISEEK_BASE_URL`` (the site the links in emails point to).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from sciseek.errors import BadInput, OperationalError

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
TLS_MODES = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
TIMEOUT = 30.0

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class MailNotConfigured(BadInput, ValueError):
    """SMTP settings missing or invalid: bad input to the CLI; on the web, a feature this
    server has turned off (403)."""

    status = 403


class MailError(OperationalError, RuntimeError):
    """The SMTP server could not be reached or did not accept a message."""

    status = 502


def base_url() -> str:
    """The site's address for links in emails ($SCISEEK_BASE_URL, without a trailing slash)."""
    return (os.environ.get("SCISEEK_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to hand messages to an SMTP server."""

    host: str
    port: int
    tls: str = "none"
    user: str | None = None
    password: str | None = None
    sender: str = "sciseek@localhost"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SmtpConfig:
        """Settings from SCISEEK_SMTP_* variables; raises MailNotConfigured."""
        env = os.environ if env is None else env
        host = env.get("SCISEEK_SMTP_HOST", "").strip()
        if not host:
            raise MailNotConfigured("email is not configured: set SCISEEK_SMTP_HOST")
        tls = (env.get("SCISEEK_SMTP_TLS") or "none").strip().lower()
        if tls not in TLS_MODES:
            raise MailNotConfigured(f"SCISEEK_SMTP_TLS must be one of {', '.join(TLS_MODES)}")
        raw_port = (env.get("SCISEEK_SMTP_PORT") or "").strip()
        try:
            port = int(raw_port) if raw_port else DEFAULT_PORTS[tls]
        except ValueError:
            raise MailNotConfigured(f"SCISEEK_SMTP_PORT is not a number: {raw_port!r}") from None
        if not 0 < port < 65536:
            raise MailNotConfigured(f"SCISEEK_SMTP_PORT out of range: {port}")
        sender = (env.get("SCISEEK_SMTP_FROM") or cls.sender).strip()
        if "@" not in parseaddr(sender)[1]:
            raise MailNotConfigured(f"SCISEEK_SMTP_FROM is not an email address: {sender!r}")
        return cls(
            host=host,
            port=port,
            tls=tls,
            user=env.get("SCISEEK_SMTP_USER") or None,
            password=env.get("SCISEEK_SMTP_PASSWORD") or None,
            sender=sender,
        )


def render(name: str, **context: Any) -> tuple[str, str]:
    """The plain-text and HTML bodies of the email template ``name``."""
    text = _env.get_template(f"{name}.txt").render(**context)
    html = _env.get_template(f"{name}.html").render(**context)
    return text, html


HEADER_POLICY = policy.default.clone(max_line_length=998)


def compose(
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text first, HTML preferred by mail clients).

    Header lines may run to RFC 5322's 998 characters, so that a long URL header such as
    ``List-Unsubscribe: <https://...>`` goes out as written instead of as encoded-words,
    which mail clients do not read as a URL.
    """
    msg = EmailMessage(policy=HEADER_POLICY)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


class Mailer:
    """One SMTP connection reused across messages and reopened after a failure."""

    def __init__(self, config: SmtpConfig):
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                c.host, c.port, timeout=TIMEOUT, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=TIMEOUT)
            if c.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if c.user:
            smtp.login(c.user, c.password or "")
        return smtp

    def send(self, msg: EmailMessage) -> None:
        """Hand one message to the server; returns once the server accepted it.

        Raises MailError if it was not accepted (the connection is then dropped).
        """
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused = self._smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as e:
            self.close()
            raise MailError(f"{type(e).__name__}: {e}") from e
        if refused:  # some recipients refused; ours is the only one
            raise MailError(f"recipient refused: {refused}")

    def close(self) -> None:
        """Say goodbye to the server, ignoring errors."""
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
