"""Tag digests: a reader's tag, or tag expression, mailed as a digest of new papers like it.

A reader turns one of their tags (``ir``) or a tag expression (``ir AND NOT surveys``) into a
daily or weekly digest (``tagsend`` sends them). There is no confirmation mail: the reader
signed in by a link mailed to their address (``signin``), which already proves that the
address is theirs, and only a signed-in reader can create a digest. Every digest mail carries a
signed one-click unsubscribe link (``unsubscribe_token``).

Tables, in the papers' SQLite file: ``library_digests`` (one row per digest: the tag, which a
rename follows and whose deletion deletes the digest, or the expression; the frequency; the
watermark and the time of the last digest, as for query digests) and ``library_digest_sent``
(which paper went to which reader, so that none goes to a reader twice, whichever of their
digests found it). Both go with the reader (``ON DELETE CASCADE`` from ``readers``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sciseek.digests.interests import FREQUENCIES
from sciseek.digests.tokens import make_token
from sciseek.storage.clock import iso, utcnow
from sciseek.storage.sqlite import StoreTables

from .accounts import SCHEMA as ACCOUNT_SCHEMA
from .errors import LibraryError
from .expressions import MAX_EXPRESSION, select
from .shelf import SCHEMA as LIBRARY_SCHEMA
from .shelf import Library, tag_key

MAX_DIGESTS = 20  # per reader
UNSUBSCRIBE_PURPOSE = "tag-unsubscribe"
UNSUBSCRIBE_TTL = dt.timedelta(days=365)

SCHEMA = """
CREATE TABLE IF NOT EXISTS library_digests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reader_id INTEGER NOT NULL REFERENCES readers(id) ON DELETE CASCADE,
    tag_id INTEGER REFERENCES library_tags(id) ON DELETE CASCADE,
    expr TEXT,
    frequency TEXT NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    watermark TEXT NOT NULL,
    last_digest TEXT,
    created TEXT NOT NULL,
    CHECK ((tag_id IS NULL) != (expr IS NULL)),
    UNIQUE (reader_id, tag_id),
    UNIQUE (reader_id, expr)
);
CREATE TABLE IF NOT EXISTS library_digest_sent (
    reader_id INTEGER NOT NULL REFERENCES readers(id) ON DELETE CASCADE,
    paper_id TEXT NOT NULL,
    sent TEXT NOT NULL,
    PRIMARY KEY (reader_id, paper_id)
);
"""


class UnknownDigest(LibraryError, LookupError):
    """The reader has no tag digest with that id (or the link's digest no longer exists)."""

    status = 404


@dataclass(frozen=True)
class TagDigest:
    """One tag digest: of a tag (``tag``) or of a tag expression (``expr``)."""

    id: int
    reader_id: int
    email: str
    tag: str | None  # the tag's current name
    expr: str | None
    frequency: str
    watermark: str  # papers added at or after this (and not sent yet) are candidates
    last_digest: str | None
    created: str

    @property
    def label(self) -> str:
        """The tag's name or the expression, for people."""
        return self.tag if self.tag is not None else (self.expr or "")

    def due(self, now: dt.datetime, slack: dt.timedelta = dt.timedelta(hours=1)) -> bool:
        """Whether a digest is due: a period (less ``slack``) since the last one."""
        if self.last_digest is None:
            return True
        last = dt.datetime.fromisoformat(self.last_digest)
        return now - last >= FREQUENCIES[self.frequency] - slack

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (without the address)."""
        return {
            "id": self.id,
            "source": "tag" if self.tag is not None else "expr",
            "tag": self.tag,
            "expr": self.expr,
            "frequency": self.frequency,
            "last_digest": self.last_digest,
            "created": self.created,
        }


_SELECT = (
    "SELECT d.id, d.reader_id, r.email, t.name, d.expr, d.frequency, d.watermark,"
    " d.last_digest, d.created FROM library_digests d JOIN readers r ON r.id = d.reader_id"
    " LEFT JOIN library_tags t ON t.id = d.tag_id"
)


def unsubscribe_token(key: bytes, digest: TagDigest) -> str:
    """The signed token of a tag digest's one-click unsubscribe link."""
    claims = {"d": digest.id, "r": digest.reader_id}
    return make_token(key, UNSUBSCRIBE_PURPOSE, claims, UNSUBSCRIBE_TTL.total_seconds())


def check_expression(value: Any) -> str:
    """A tag expression with its whitespace collapsed; raises LibraryError."""
    if not isinstance(value, str) or not value.strip():
        raise LibraryError("a tag expression is required")
    if len(value) > MAX_EXPRESSION:
        raise LibraryError(f"a tag expression has at most {MAX_EXPRESSION} characters")
    return " ".join(value.split())


class TagDigests(StoreTables):
    """The tag digest tables of one data dir, through a connection of their own."""

    SCHEMAS = (ACCOUNT_SCHEMA, LIBRARY_SCHEMA, SCHEMA)

    def _one(self, where: str, *args: Any) -> TagDigest | None:
        with self._lock:
            row = self._db.execute(f"{_SELECT} WHERE {where}", args).fetchone()
        return TagDigest(*row) if row else None

    # -- reads ---------------------------------------------------------------------------

    def all(self) -> list[TagDigest]:
        """Every tag digest of every reader, oldest first."""
        with self._lock:
            rows = self._db.execute(f"{_SELECT} ORDER BY d.id").fetchall()
        return [TagDigest(*r) for r in rows]

    def of(self, reader_id: int) -> list[TagDigest]:
        """The reader's tag digests, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"{_SELECT} WHERE d.reader_id=? ORDER BY d.id", (reader_id,)
            ).fetchall()
        return [TagDigest(*r) for r in rows]

    def get(self, reader_id: int, digest_id: int) -> TagDigest:
        """The reader's tag digest with this id; raises UnknownDigest."""
        found = self._one("d.id=? AND d.reader_id=?", digest_id, reader_id)
        if found is None:
            raise UnknownDigest(f"you have no tag digest {digest_id}")
        return found

    def for_tag(self, reader_id: int, tag: str) -> TagDigest | None:
        """The reader's digest of the tag named ``tag`` (any case), or None."""
        return self._one("d.reader_id=? AND t.key=?", reader_id, tag_key(tag))

    def for_expr(self, reader_id: int, expr: str) -> TagDigest | None:
        """The reader's digest of the expression ``expr`` (whitespace collapsed), or None."""
        return self._one("d.reader_id=? AND d.expr=?", reader_id, " ".join(expr.split()))

    def sent(self, reader_id: int) -> list[str]:
        """Ids of the papers the reader's tag digests have mailed, in sending order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT paper_id FROM library_digest_sent WHERE reader_id=? ORDER BY sent, rowid",
                (reader_id,),
            ).fetchall()
        return [r[0] for r in rows]

    def candidates(self, digest: TagDigest, now: dt.datetime) -> list[tuple[str, str]]:
        """(id, added) of the papers added since the digest's watermark (up to ``now``), in
        the order they were added, that the reader has neither saved nor been mailed (by a
        tag digest, or by the query digests of their address)."""
        with self._lock:
            query_sent = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE name='digest_sent'"
            ).fetchone()
            mailed = (
                " OR p.id IN (SELECT s.paper_id FROM digest_sent s JOIN subscribers u"
                " ON u.id = s.subscriber_id WHERE u.email = :email)"
                if query_sent
                else ""
            )
            rows = self._db.execute(
                "SELECT p.id, p.added FROM papers p WHERE p.added >= :since AND p.added <= :now"
                " AND NOT (p.id IN (SELECT paper_id FROM library_digest_sent WHERE reader_id=:r)"
                " OR p.id IN (SELECT paper_id FROM library_saved WHERE reader_id=:r)"
                f"{mailed}) ORDER BY p.added, p.rowid",
                {
                    "since": digest.watermark,
                    "now": iso(now),
                    "r": digest.reader_id,
                    "email": digest.email,
                },
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    # -- writes --------------------------------------------------------------------------

    def create(
        self,
        library: Library,
        reader_id: int,
        frequency: str,
        *,
        tag: str | None = None,
        expr: str | None = None,
        now: dt.datetime | None = None,
    ) -> TagDigest:
        """Turn a tag or a tag expression into a digest (an existing one gets the new
        frequency). The first digest comes a period from now, with the papers added from now
        on. Raises UnknownTag, BadExpression or LibraryError."""
        if frequency not in FREQUENCIES:
            raise LibraryError(f"frequency must be one of {', '.join(FREQUENCIES)}")
        if (tag is None) == (expr is None):
            raise LibraryError("give a tag or a tag expression, not both")
        now = now or utcnow()
        tag_id = None
        if tag is not None:
            name = library.tag(reader_id, tag).name
            with self._lock:
                tag_id = self._db.execute(
                    "SELECT id FROM library_tags WHERE reader_id=? AND key=?",
                    (reader_id, tag_key(name)),
                ).fetchone()[0]
        else:
            expr = check_expression(expr)
            select(library, reader_id, expr)  # raises BadExpression
        column, value = ("tag_id", tag_id) if tag_id is not None else ("expr", expr)
        with self._write() as db:
            row = db.execute(
                f"SELECT id FROM library_digests WHERE reader_id=? AND {column}=?",
                (reader_id, value),
            ).fetchone()
            if row is not None:
                db.execute("UPDATE library_digests SET frequency=? WHERE id=?", (frequency, row[0]))
                digest_id = row[0]
            else:
                (count,) = db.execute(
                    "SELECT COUNT(*) FROM library_digests WHERE reader_id=?", (reader_id,)
                ).fetchone()
                if count >= MAX_DIGESTS:
                    raise LibraryError(f"at most {MAX_DIGESTS} tag digests per reader")
                digest_id = db.execute(
                    "INSERT INTO library_digests(reader_id, tag_id, expr, frequency, watermark,"
                    " last_digest, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        reader_id,
                        tag_id,
                        None if tag_id else expr,
                        frequency,
                        iso(now),
                        iso(now),
                        iso(now),
                    ),
                ).lastrowid
        return self.get(reader_id, int(digest_id))

    def delete(self, reader_id: int, digest_id: int) -> None:
        """Turn one of the reader's tag digests off; raises UnknownDigest."""
        with self._write() as db:
            cur = db.execute(
                "DELETE FROM library_digests WHERE id=? AND reader_id=?", (digest_id, reader_id)
            )
            if not cur.rowcount:
                raise UnknownDigest(f"you have no tag digest {digest_id}")

    def unsubscribe(self, claims: dict[str, Any]) -> TagDigest | None:
        """Apply an unsubscribe link's claims: the digest it turned off, or None if it was
        off already."""
        found = self.find(claims)
        if found is not None:
            with self._write() as db:
                db.execute("DELETE FROM library_digests WHERE id=?", (found.id,))
        return found

    def find(self, claims: dict[str, Any]) -> TagDigest | None:
        """The digest an unsubscribe link's claims name, or None if it is off already."""
        return self._one("d.id=? AND d.reader_id=?", claims.get("d"), claims.get("r"))

    def record(
        self, digest: TagDigest, paper_ids: Sequence[str], watermark: str, now: dt.datetime
    ) -> None:
        """In one transaction: log the papers as mailed to the reader and advance the digest's
        watermark and clock (just before the mail goes out, or when nothing qualified)."""
        with self._write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO library_digest_sent(reader_id, paper_id, sent)"
                " VALUES (?, ?, ?)",
                [(digest.reader_id, pid, iso(now)) for pid in paper_ids],
            )
            db.execute(
                "UPDATE library_digests SET watermark=max(watermark, ?), last_digest=? WHERE id=?",
                (watermark, iso(now), digest.id),
            )

    def undo(self, digest: TagDigest, paper_ids: Sequence[str]) -> None:
        """Take back a ``record`` whose mail the server did not accept."""
        with self._write() as db:
            db.executemany(
                "DELETE FROM library_digest_sent WHERE reader_id=? AND paper_id=?",
                [(digest.reader_id, pid) for pid in paper_ids],
            )
            db.execute(
                "UPDATE library_digests SET watermark=?, last_digest=? WHERE id=?",
                (digest.watermark, digest.last_digest, digest.id),
            )
