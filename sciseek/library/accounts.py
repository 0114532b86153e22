"""Readers, their sessions and their sign-in requests, in the papers' SQLite file.

A reader is an email address (normalised as ``digests.interests.normalise_email`` does, so a
subscriber and a reader with one address are one identity). Signing in takes no password: a
request (``request_signin``) records a single-use nonce that the mailed link carries (see
``signin``); following the link (``redeem``) uses the nonce up, creates the reader on first
use and opens a session. A session is a random token of which only a hash is stored, so
signing out and deleting the account revoke it. Deleting an account deletes every row of the
reader (the library's tables, tag digests and their sent-log included, cascade) and the
subscriber with the same address.

Tables: ``readers``, ``reader_sessions`` and ``signin_requests`` (the nonces, and the rate
limits of ``digests.limits``: per address, per client, for the whole server).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sciseek.digests.interests import normalise_email
from sciseek.digests.limits import CLIENT_LIMIT, RATE_LIMIT, RATE_WINDOW, TOTAL_LIMIT, RateLimited
from sciseek.digests.subscriptions import Subscriptions
from sciseek.digests.tokens import InvalidToken
from sciseek.storage.clock import iso, utcnow
from sciseek.storage.sqlite import StoreTables

SIGNIN_TTL = dt.timedelta(minutes=30)  # how long a sign-in link works
SESSION_TTL = dt.timedelta(days=30)  # how long a session lasts
KEEP_REQUESTS = max(RATE_WINDOW, SIGNIN_TTL)  # how long a request row is kept

SCHEMA = """
CREATE TABLE IF NOT EXISTS readers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reader_sessions (
    token_hash TEXT PRIMARY KEY,
    reader_id INTEGER NOT NULL REFERENCES readers(id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reader_sessions_reader ON reader_sessions(reader_id);
CREATE TABLE IF NOT EXISTS signin_requests (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    client TEXT,
    nonce TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    used TEXT
);
CREATE INDEX IF NOT EXISTS signin_requests_email ON signin_requests(email, created);
"""


class ReusedLink(InvalidToken):
    """A genuine sign-in link that was already followed (or whose request is gone)."""

    status = 403


@dataclass(frozen=True)
class Reader:
    """One reader: an id and the normalised email address."""

    id: int
    email: str
    created: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"id": self.id, "email": self.email, "created": self.created}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts(StoreTables):
    """The reader tables of one data dir, through a connection of their own."""

    SCHEMAS = (SCHEMA,)

    # -- sign-in -------------------------------------------------------------------------

    def request_signin(
        self, email: str, client: str | None = None, now: dt.datetime | None = None
    ) -> tuple[str, str, int]:
        """Record a sign-in request: (normalised email, the link's nonce, request id).

        Raises InvalidSubscription for a bad address and RateLimited past ``RATE_LIMIT``
        requests for one address, ``CLIENT_LIMIT`` from one ``client`` or ``TOTAL_LIMIT`` in
        all within ``RATE_WINDOW``: each request mails someone.
        """
        now = now or utcnow()
        email = normalise_email(email)
        nonce = secrets.token_urlsafe(18)
        since = iso(now - RATE_WINDOW)
        with self._write() as db:
            db.execute("DELETE FROM signin_requests WHERE created < ?", (iso(now - KEEP_REQUESTS),))

            def count(where: str = "", *args: Any) -> int:
                sql = "SELECT COUNT(*) FROM signin_requests WHERE created >= ?" + where
                return db.execute(sql, (since, *args)).fetchone()[0]

            if count(" AND email=?", email) >= RATE_LIMIT:
                raise RateLimited(f"too many sign-in links asked for {email}; try again in an hour")
            if client is not None and count(" AND client=?", client) >= CLIENT_LIMIT:
                raise RateLimited(
                    f"at most {CLIENT_LIMIT} sign-in links an hour from one address;"
                    " try again later"
                )
            if count() >= TOTAL_LIMIT:
                raise RateLimited(
                    "this server has sent as many sign-in links as it will in an hour;"
                    " try again later"
                )
            request_id = db.execute(
                "INSERT INTO signin_requests(email, client, nonce, created) VALUES (?, ?, ?, ?)",
                (email, client, nonce, iso(now)),
            ).lastrowid
        assert request_id is not None
        return email, nonce, request_id

    def forget_request(self, request_id: int) -> None:
        """Take back a request whose link could not be mailed."""
        with self._write() as db:
            db.execute("DELETE FROM signin_requests WHERE id=?", (request_id,))

    def unused(self, claims: dict[str, Any]) -> bool:
        """Whether a sign-in link's request exists and was not used yet."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM signin_requests WHERE nonce=? AND email=? AND used IS NULL",
                (claims.get("n"), claims.get("e")),
            ).fetchone()
        return row is not None

    def redeem(self, claims: dict[str, Any], now: dt.datetime | None = None) -> tuple[Reader, str]:
        """Use up a sign-in link's claims (from ``tokens.read_token``): the reader (created on
        first sign-in) and a new session token. Raises ReusedLink for a link already used."""
        now = now or utcnow()
        email, nonce = claims.get("e"), claims.get("n")
        with self._write() as db:
            cur = db.execute(
                "UPDATE signin_requests SET used=? WHERE nonce=? AND email=? AND used IS NULL",
                (iso(now), nonce, email),
            )
            if not cur.rowcount:
                raise ReusedLink("this sign-in link was already used; ask for a new one")
            db.execute(
                "INSERT OR IGNORE INTO readers(email, created) VALUES (?, ?)", (email, iso(now))
            )
            row = db.execute("SELECT id, email, created FROM readers WHERE email=?", (email,))
            reader = Reader(*row.fetchone())
            token = secrets.token_urlsafe(32)
            db.execute("DELETE FROM reader_sessions WHERE expires <= ?", (iso(now),))
            db.execute(
                "INSERT INTO reader_sessions(token_hash, reader_id, created, expires)"
                " VALUES (?, ?, ?, ?)",
                (_hash(token), reader.id, iso(now), iso(now + SESSION_TTL)),
            )
        return reader, token

    # -- sessions ------------------------------------------------------------------------

    def session(self, token: str, now: dt.datetime | None = None) -> Reader | None:
        """The reader of a live session token, or None (unknown, revoked or expired)."""
        if not token:
            return None
        now = now or utcnow()
        with self._lock:
            row = self._db.execute(
                "SELECT r.id, r.email, r.created FROM reader_sessions s"
                " JOIN readers r ON r.id = s.reader_id WHERE s.token_hash=? AND s.expires > ?",
                (_hash(token), iso(now)),
            ).fetchone()
        return Reader(*row) if row else None

    def sign_out(self, token: str) -> None:
        """Revoke one session."""
        with self._write() as db:
            db.execute("DELETE FROM reader_sessions WHERE token_hash=?", (_hash(token),))

    def by_email(self, email: str) -> Reader | None:
        """The reader with this address, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, email, created FROM readers WHERE email=?", (email.strip().lower(),)
            ).fetchone()
        return Reader(*row) if row else None

    def delete(self, reader: Reader) -> bool:
        """Delete a reader with their sessions, library and tag digests (the tables cascade)
        and the subscriber with the same address; whether a subscription was deleted too."""
        with self._write() as db:
            db.execute("DELETE FROM readers WHERE id=?", (reader.id,))
            # links mailed before the deletion no longer sign in
            db.execute(
                "UPDATE signin_requests SET used=? WHERE email=? AND used IS NULL",
                (iso(utcnow()), reader.email),
            )
        with Subscriptions(self.path) as subs:
            if subs.by_email(reader.email) is None:
                return False
            subs.remove(reader.email)
        return True
