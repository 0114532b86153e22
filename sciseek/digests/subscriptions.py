"""Email subscriptions: the subscriber tables, double opt-in state, unsubscribing.

Subscribers live in the papers' SQLite file (WAL mode), in tables of their own: ``subscribers``,
``digest_sent`` (which paper went to whom, so that none goes twice) and
``subscription_requests`` (for the rate limits of ``limits``). A request stores a *pending*
subscriber, whom ``optin.subscribe`` mails a signed, expiring confirmation link; only confirmed
(*active*) subscribers get digests. A new request for an address that is already active leaves its
interests alone until the new link is followed, so nobody can change another person's
subscription without access to their mailbox. What a subscriber may ask for is validated in
``interests``.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciseek.errors import BadInput
from sciseek.storage.clock import iso, utcnow
from sciseek.storage.sqlite import StoreTables, add_column

from .interests import (
    FREQUENCIES,
    Interests,
    InvalidSubscription,
    fingerprint,
    normalise_email,
)
from .limits import RateLimited, check_request_limits  # noqa: F401 - RateLimited re-exported
from .tokens import InvalidToken

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscribers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    interests TEXT NOT NULL,
    frequency TEXT NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'unsubscribed')),
    pending TEXT,
    watermark TEXT NOT NULL,
    last_digest TEXT,
    created TEXT NOT NULL,
    confirmed TEXT
);
CREATE TABLE IF NOT EXISTS digest_sent (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    paper_id TEXT NOT NULL,
    sent TEXT NOT NULL,
    PRIMARY KEY (subscriber_id, paper_id)
);
CREATE TABLE IF NOT EXISTS subscription_requests (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS subscription_requests_email ON subscription_requests(email, created);
"""


class UnknownSubscriber(BadInput, LookupError):
    """No subscriber with that address (or the link's subscriber no longer exists)."""

    status = 404


class StaleLink(InvalidToken):
    """A genuine link that no longer applies (superseded by a newer request, or cancelled)."""

    status = 409


@dataclass
class Subscriber:
    """One subscriber row."""

    id: int
    email: str
    interests: Interests
    frequency: str
    state: str
    watermark: str  # papers added at or after this (and not sent yet) are candidates
    last_digest: str | None  # when a digest run last handled this subscriber
    created: str
    confirmed: str | None = None
    pending: tuple[Interests, str] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "email": self.email,
            **self.interests.to_dict(),
            "frequency": self.frequency,
            "state": self.state,
            "watermark": self.watermark,
            "last_digest": self.last_digest,
            "created": self.created,
            "confirmed": self.confirmed,
            "change_pending": self.pending is not None,
        }

    def due(self, now: dt.datetime, slack: dt.timedelta = dt.timedelta(hours=1)) -> bool:
        """Whether a digest is due: active and a period (less ``slack``) since the last one."""
        if self.state != "active":
            return False
        if self.last_digest is None:
            return True
        last = dt.datetime.fromisoformat(self.last_digest)
        return now - last >= FREQUENCIES[self.frequency] - slack


_COLUMNS = (
    "id, email, interests, frequency, state, watermark, last_digest, created, confirmed, pending"
)


def _row(row: tuple) -> Subscriber:
    pending = None
    if row[9]:
        data = json.loads(row[9])
        pending = (Interests.from_dict(data), data["frequency"])
    return Subscriber(
        row[0],
        row[1],
        Interests.from_dict(json.loads(row[2])),
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        pending,
    )


class Subscriptions(StoreTables):
    """The subscriber tables of one data dir, through a connection of their own."""

    SCHEMAS = (_SCHEMA,)

    def __init__(self, path: str | Path):
        super().__init__(path)
        # added later: the (hashed) client address a request came from
        add_column(self._db, "subscription_requests", "client", "TEXT")

    # -- reads ---------------------------------------------------------------------------

    def get(self, subscriber_id: int) -> Subscriber | None:
        """The subscriber with this id, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM subscribers WHERE id=?", (subscriber_id,)
            ).fetchone()
        return _row(row) if row else None

    def by_email(self, email: str) -> Subscriber | None:
        """The subscriber with this address, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM subscribers WHERE email=?", (email.strip().lower(),)
            ).fetchone()
        return _row(row) if row else None

    def all(self) -> list[Subscriber]:
        """Every subscriber, oldest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM subscribers ORDER BY id").fetchall()
        return [_row(r) for r in rows]

    def check_papers(self, interests: Interests) -> None:
        """Raise InvalidSubscription naming the first seed paper that is not in the store."""
        with self._lock:
            for pid in interests.papers:
                if not self._db.execute("SELECT 1 FROM papers WHERE id=?", (pid,)).fetchone():
                    raise InvalidSubscription(f"unknown paper id {pid!r}")

    def sent(self, subscriber_id: int) -> list[str]:
        """Ids of the papers this subscriber has been sent, in sending order."""
        with self._lock:
            return [
                r[0]
                for r in self._db.execute(
                    "SELECT paper_id FROM digest_sent WHERE subscriber_id=? ORDER BY sent, rowid",
                    (subscriber_id,),
                )
            ]

    def candidates(self, sub: Subscriber, now: dt.datetime) -> tuple[list[str], str]:
        """Papers added since the subscriber's watermark (up to ``now``) and never sent to
        them, and the watermark after them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT p.id, p.added, s.paper_id IS NOT NULL FROM papers p "
                "LEFT JOIN digest_sent s ON s.subscriber_id=? AND s.paper_id=p.id "
                "WHERE p.added >= ? AND p.added <= ? ORDER BY p.added, p.rowid",
                (sub.id, sub.watermark, iso(now)),
            ).fetchall()
        watermark = max([sub.watermark, *(r[1] for r in rows)])
        return [r[0] for r in rows if not r[2]], watermark

    # -- writes --------------------------------------------------------------------------

    def request(
        self,
        email: str,
        interests: Interests,
        frequency: str,
        now: dt.datetime | None = None,
        *,
        client: str | None = None,
    ) -> tuple[Subscriber, str, int]:
        """Record a subscription request from the web: (subscriber, fingerprint of what the
        confirmation link confirms, request id).

        Raises RateLimited past the limits of ``limits`` (per address, per ``client`` (a key
        standing for the requester's address), in all): each request mails someone.
        """
        now = now or utcnow()
        email = normalise_email(email)
        pending = json.dumps({**interests.to_dict(), "frequency": frequency})
        with self._write() as db:
            check_request_limits(db, email, client, now)
            request_id = db.execute(
                "INSERT INTO subscription_requests(email, created, client) VALUES (?, ?, ?)",
                (email, iso(now), client),
            ).lastrowid
            row = db.execute("SELECT id, state FROM subscribers WHERE email=?", (email,)).fetchone()
            if row is None:
                self._insert_pending(db, email, interests, frequency, now)
            elif row[1] == "active":
                db.execute("UPDATE subscribers SET pending=? WHERE id=?", (pending, row[0]))
            else:
                db.execute(
                    "UPDATE subscribers SET interests=?, frequency=?, state='pending', pending=NULL"
                    " WHERE id=?",
                    (json.dumps(interests.to_dict()), frequency, row[0]),
                )
            sub = _row(
                db.execute(f"SELECT {_COLUMNS} FROM subscribers WHERE email=?", (email,)).fetchone()
            )
        return sub, fingerprint(interests, frequency), request_id

    def forget_request(self, request_id: int) -> None:
        """Take back a request whose confirmation mail could not be sent."""
        with self._write() as db:
            db.execute("DELETE FROM subscription_requests WHERE id=?", (request_id,))

    def add(
        self, email: str, interests: Interests, frequency: str, now: dt.datetime | None = None
    ) -> Subscriber:
        """Create or replace a confirmed subscriber directly (for administrators)."""
        now = now or utcnow()
        email = normalise_email(email)
        with self._write() as db:
            row = db.execute("SELECT state FROM subscribers WHERE email=?", (email,)).fetchone()
            if row is None:
                self._insert_pending(db, email, interests, frequency, now)
            db.execute(
                "UPDATE subscribers SET interests=?, frequency=?, pending=NULL WHERE email=?",
                (json.dumps(interests.to_dict()), frequency, email),
            )
            if row is None or row[0] != "active":
                self._activate(db, email, now)
        sub = self.by_email(email)
        assert sub is not None
        return sub

    @staticmethod
    def _insert_pending(
        db: sqlite3.Connection, email: str, interests: Interests, frequency: str, now: dt.datetime
    ) -> None:
        db.execute(
            "INSERT INTO subscribers(email, interests, frequency, state, watermark, created)"
            " VALUES (?, ?, ?, 'pending', ?, ?)",
            (email, json.dumps(interests.to_dict()), frequency, iso(now), iso(now)),
        )

    @staticmethod
    def _activate(db: sqlite3.Connection, email: str, now: dt.datetime) -> None:
        # Digests start with the papers added from now on, the first one a period from now.
        db.execute(
            "UPDATE subscribers SET state='active', confirmed=?, watermark=?, last_digest=? "
            "WHERE email=?",
            (iso(now), iso(now), iso(now), email),
        )

    def confirm(self, claims: dict[str, Any], now: dt.datetime | None = None) -> Subscriber:
        """Apply a confirmation link's claims (from ``read_token``); raises UnknownSubscriber
        or StaleLink."""
        now = now or utcnow()
        with self._write() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM subscribers WHERE id=?", (claims.get("s"),)
            ).fetchone()
            if row is None or row[1] != claims.get("e"):
                raise UnknownSubscriber("this subscription no longer exists; subscribe again")
            sub = _row(row)
            current = fingerprint(sub.interests, sub.frequency)
            if sub.pending is not None and fingerprint(*sub.pending) == claims.get("h"):
                interests, frequency = sub.pending
                db.execute(
                    "UPDATE subscribers SET interests=?, frequency=?, pending=NULL WHERE id=?",
                    (json.dumps(interests.to_dict()), frequency, sub.id),
                )
            elif current != claims.get("h"):
                raise StaleLink("this link is for an older request; use the newest email")
            elif sub.state == "unsubscribed":
                raise StaleLink("this subscription was cancelled; subscribe again")
            elif sub.state == "pending":
                self._activate(db, sub.email, now)
        confirmed = self.get(sub.id)
        assert confirmed is not None
        return confirmed

    def unsubscribe(self, claims: dict[str, Any]) -> Subscriber | None:
        """Apply an unsubscribe link's claims; None if the subscriber no longer exists."""
        with self._write() as db:
            cur = db.execute(
                "UPDATE subscribers SET state='unsubscribed', pending=NULL WHERE id=? AND email=?",
                (claims.get("s"), claims.get("e")),
            )
            if not cur.rowcount:
                return None
        return self.get(claims["s"])

    def remove(self, email: str) -> None:
        """Delete a subscriber and their sent-log; raises UnknownSubscriber."""
        with self._write() as db:
            row = db.execute(
                "SELECT id FROM subscribers WHERE email=?", (email.strip().lower(),)
            ).fetchone()
            if row is None:
                raise UnknownSubscriber(f"no subscriber {email!r}")
            db.execute("DELETE FROM digest_sent WHERE subscriber_id=?", (row[0],))
            db.execute("DELETE FROM subscribers WHERE id=?", (row[0],))

    def record_digest(
        self, subscriber_id: int, paper_ids: Sequence[str], watermark: str, now: dt.datetime
    ) -> None:
        """In one transaction: log the papers as sent and advance the subscriber's watermark
        and digest clock. Called just before a digest is handed to the SMTP server (and
        taken back with ``undo_digest`` if the server does not accept it), or when nothing
        qualified."""
        with self._write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO digest_sent(subscriber_id, paper_id, sent) VALUES (?,?,?)",
                [(subscriber_id, pid, iso(now)) for pid in paper_ids],
            )
            db.execute(
                "UPDATE subscribers SET watermark=max(watermark, ?), last_digest=? WHERE id=?",
                (watermark, iso(now), subscriber_id),
            )

    def undo_digest(self, sub: Subscriber, paper_ids: Sequence[str]) -> None:
        """Take back a ``record_digest`` whose message the server did not accept: the papers
        leave the sent-log and the watermark and digest clock return to ``sub``'s."""
        with self._write() as db:
            db.executemany(
                "DELETE FROM digest_sent WHERE subscriber_id=? AND paper_id=?",
                [(sub.id, pid) for pid in paper_ids],
            )
            db.execute(
                "UPDATE subscribers SET watermark=?, last_digest=? WHERE id=?",
                (sub.watermark, sub.last_digest, sub.id),
            )
