"""Signed, expiring tokens for links in emails, and the data dir's signing key.

A token is ``base64url(JSON payload) . base64url(HMAC-SHA256)``; the payload names its purpose,
its subject and its expiry, so a token made for one purpose is refused for another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from sciseek.errors import BadInput

KEY_FILE = "secret.key"
_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,4000}\.[A-Za-z0-9_-]{43}")


class InvalidToken(BadInput, ValueError):
    """A token that was not made by this site for this purpose (tampered, truncated, reused)."""

    status = 400


class ExpiredToken(InvalidToken):
    """A genuine token past its expiry."""

    status = 410


def secret_key(data_dir: Path) -> bytes:
    """The data dir's signing key, created (mode 0600) on first use.

    Concurrent first uses agree on one key: the file is published with a hard link, which
    fails if another process published first.
    """
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_bytes(32))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> bytes:
    # A key of its own, so that no other signature made with the data dir's key is a token.
    derived = hmac.new(key, b"sciseek email tokens v1", hashlib.sha256).digest()
    return hmac.new(derived, body.encode("ascii"), hashlib.sha256).digest()


def make_token(
    key: bytes, purpose: str, claims: dict[str, Any], ttl: float, now: float | None = None
) -> str:
    """A token for ``purpose`` carrying ``claims``, valid for ``ttl`` seconds."""
    now = time.time() if now is None else now
    payload = {"p": purpose, "x": int(now + ttl), **claims}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{body}.{_b64(_mac(key, body))}"


def read_token(key: bytes, token: str, purpose: str, now: float | None = None) -> dict[str, Any]:
    """The claims of a genuine, unexpired token for ``purpose``; raises InvalidToken otherwise."""
    if not _SHAPE.fullmatch(token or ""):
        raise InvalidToken("malformed link: the token is incomplete or damaged")
    body, _, sig = token.partition(".")
    try:
        given = _unb64(sig)
    except (binascii.Error, ValueError):
        raise InvalidToken("malformed link: the token is damaged") from None
    if not hmac.compare_digest(given, _mac(key, body)):
        raise InvalidToken("invalid link: the token was altered or was not issued by this site")
    payload = json.loads(_unb64(body))
    if payload.get("p") != purpose:
        raise InvalidToken(
            f"invalid link: wrong kind of link (expected {purpose}, got {payload.get('p')})"
        )
    if (time.time() if now is None else now) > payload.get("x", 0):
        raise ExpiredToken("this link has expired")
    return payload
