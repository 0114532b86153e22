"""The paper store: one SQLite file (WAL mode), the source of truth every index derives from.

Every write transaction advances a *generation* counter. Each paper row carries the generation
that last changed it and each delete leaves a tombstone with its generation, so an index that
remembers the generation it reflects can catch up with exactly the changes it missed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sciseek.errors import BadInput
from sciseek.ingest.papers import Paper, title_key

from . import facets
from .clock import iso, utcnow
from .sqlite import add_column, connect, rows_in, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    abstract TEXT NOT NULL,
    authors TEXT NOT NULL,
    categories TEXT NOT NULL,
    published TEXT,
    url TEXT,
    extra TEXT NOT NULL,
    digest TEXT NOT NULL,
    seq INTEGER NOT NULL,
    added TEXT NOT NULL,
    title_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS papers_title_key ON papers(title_key);
CREATE INDEX IF NOT EXISTS papers_seq ON papers(seq);
CREATE INDEX IF NOT EXISTS papers_published ON papers(published);
CREATE INDEX IF NOT EXISTS papers_added ON papers(added);
CREATE TABLE IF NOT EXISTS tombstones (id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_seq ON tombstones(seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS votes (
    paper_id TEXT NOT NULL,
    voter TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (paper_id, voter)
);
CREATE INDEX IF NOT EXISTS votes_created ON votes(created);
CREATE INDEX IF NOT EXISTS papers_recent ON papers(published DESC, added DESC);
"""

_COLUMNS = "rowid, id, title, abstract, authors, categories, published, url, extra"


class TooManyVotes(BadInput):
    """One client address cast more upvotes in the last hour than allowed."""

    status = 429


@dataclass(frozen=True)
class UpsertResult:
    """What one upsert did."""

    inserted: int
    updated: int
    unchanged: int
    generation: int


def _digest(p: Paper) -> str:
    payload = json.dumps(p.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


def _row_to_paper(row: tuple) -> Paper:
    _, pid, title, abstract, authors, categories, published, url, extra = row
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=json.loads(authors),
        categories=json.loads(categories),
        published=published,
        url=url,
        extra=json.loads(extra),
    )


class Store:
    """Papers in SQLite: upsert by id, real deletes, reads in batches, a change generation.

    ``facets`` reads papers by day, category and author from indexed side tables that every
    write keeps in step (``facets`` module).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = connect(self.path)
        self._db.executescript(_SCHEMA)
        self._db.executescript(facets.SCHEMA)
        # votes record the (hashed) client address they came from; older stores gain it
        add_column(self._db, "votes", "client", "TEXT")
        self._db.execute("CREATE INDEX IF NOT EXISTS votes_client ON votes(client, created)")
        row = self._db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
        if row is None:
            with self._write() as db:
                db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES('store_id', ?)",
                    (uuid.uuid4().hex,),
                )
            row = self._db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
        self.store_id: str = row[0]
        # the paper count, kept by every write (COUNT(*) reads a whole index: 0.5 s cold at
        # 2.5M papers); a store written before it counts once
        if self._db.execute("SELECT 1 FROM meta WHERE key='papers'").fetchone() is None:
            with self._write() as db:
                db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) "
                    "SELECT 'papers', CAST(COUNT(*) AS TEXT) FROM papers"
                )
        # papers by category and author (side tables); a store written before them is filled in
        facets.backfill(self._db, self._write)
        self.facets = facets.Facets(self._db, self._lock)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    # -- transactions --------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, transaction(self._db) as db:
            yield db

    def _next_generation(self, db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        gen = (int(row[0]) if row else 0) + 1
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('generation', ?)", (str(gen),))
        return gen

    # -- writes --------------------------------------------------------------------------

    def upsert(self, papers: Iterable[Paper]) -> UpsertResult:
        """Insert or replace papers by id in one transaction; identical records are left alone
        (a batch that changes nothing leaves the generation as it was)."""
        batch = {p.id: p for p in papers}  # last one wins within a batch
        now = iso(utcnow())
        inserted = updated = unchanged = 0
        with self._write() as db:
            gen = self._next_generation(db)
            for p in batch.values():
                digest = _digest(p)
                row = db.execute("SELECT digest, rowid FROM papers WHERE id=?", (p.id,)).fetchone()
                if row and row[0] == digest:
                    unchanged += 1
                    continue
                values = (
                    p.title,
                    p.abstract,
                    json.dumps(p.authors, ensure_ascii=False),
                    json.dumps(p.categories, ensure_ascii=False),
                    p.published,
                    p.url,
                    json.dumps(p.extra, ensure_ascii=False),
                    digest,
                    gen,
                    title_key(p.title),
                )
                if row:
                    db.execute(
                        "UPDATE papers SET title=?, abstract=?, authors=?, categories=?, "
                        "published=?, url=?, extra=?, digest=?, seq=?, title_key=? WHERE id=?",
                        (*values, p.id),
                    )
                    rowid = row[1]
                    updated += 1
                else:
                    rowid = db.execute(
                        "INSERT INTO papers(title, abstract, authors, categories, published, url,"
                        " extra, digest, seq, title_key, added, id)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (*values, now, p.id),
                    ).lastrowid
                    db.execute("DELETE FROM tombstones WHERE id=?", (p.id,))
                    inserted += 1
                facets.index_paper(db, rowid, p)
            if not inserted and not updated:  # nothing changed: no new generation to catch up
                gen -= 1
                db.execute("UPDATE meta SET value=? WHERE key='generation'", (str(gen),))
            self._add_to_count(db, inserted)
        return UpsertResult(inserted, updated, unchanged, gen)

    @staticmethod
    def _add_to_count(db: sqlite3.Connection, change: int) -> None:
        if change:
            db.execute(
                "UPDATE meta SET value=CAST(CAST(value AS INTEGER) + ? AS TEXT) WHERE key='papers'",
                (change,),
            )

    def delete(self, ids: Iterable[str]) -> list[str]:
        """Delete papers by id in one transaction; returns the ids that existed."""
        deleted = []
        with self._write() as db:
            gen = self._next_generation(db)
            for pid in dict.fromkeys(ids):
                db.execute("DELETE FROM votes WHERE paper_id=?", (pid,))
                row = db.execute("SELECT rowid FROM papers WHERE id=?", (pid,)).fetchone()
                if row:
                    facets.unindex_paper(db, row[0])
                    db.execute("DELETE FROM papers WHERE rowid=?", (row[0],))
                    db.execute(
                        "INSERT OR REPLACE INTO tombstones(id, seq) VALUES (?, ?)", (pid, gen)
                    )
                    deleted.append(pid)
            self._add_to_count(db, -len(deleted))
        return deleted

    # -- reads ---------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """The number of write transactions ever committed to this store."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        """Number of papers."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='papers'").fetchone()
        return int(row[0])

    def get(self, paper_id: str) -> Paper | None:
        """The paper with this id, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM papers WHERE id=?", (paper_id,)
            ).fetchone()
        return _row_to_paper(row) if row else None

    def rowids_by_title(self, title: str) -> list[int]:
        """Row ids of papers whose title equals ``title`` (case and punctuation aside)."""
        key = title_key(title)
        if not key:
            return []
        with self._lock:
            return [
                r[0] for r in self._db.execute("SELECT rowid FROM papers WHERE title_key=?", (key,))
            ]

    def rowids_by_title_prefix(self, prefix: str, limit: int) -> list[int]:
        """Row ids of up to ``limit`` papers whose title starts with the words of ``prefix``."""
        key = title_key(prefix)
        if not key:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid FROM papers WHERE title_key > ? AND title_key < ? LIMIT ?",
                (key + " ", key + " \U0010ffff", limit),
            )
            return [r[0] for r in rows]

    def rowid(self, paper_id: str) -> int | None:
        """The row id of a paper, or None."""
        with self._lock:
            row = self._db.execute("SELECT rowid FROM papers WHERE id=?", (paper_id,)).fetchone()
        return row[0] if row else None

    def get_by_rowids(self, rowids: list[int]) -> dict[int, Paper]:
        """Papers keyed by their row id (the key the indexes store)."""
        sql = f"SELECT {_COLUMNS} FROM papers WHERE rowid IN ({{marks}})"
        with self._lock:
            return {row[0]: _row_to_paper(row) for row in rows_in(self._db, sql, rowids)}

    def ids_by_rowids(self, rowids: list[int]) -> dict[int, str]:
        """Paper ids keyed by row id."""
        with self._lock:
            return dict(
                rows_in(self._db, "SELECT rowid, id FROM papers WHERE rowid IN ({marks})", rowids)
            )

    def iter_batches(
        self, batch_size: int = 1000, since: int = 0
    ) -> Iterator[list[tuple[int, int, Paper]]]:
        """(row id, generation, paper) triples changed after generation ``since``."""
        last = -1
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {_COLUMNS}, seq FROM papers WHERE seq > ? AND rowid > ? "
                    "ORDER BY rowid LIMIT ?",
                    (since, last, batch_size),
                ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [(row[0], row[-1], _row_to_paper(row[:-1])) for row in rows]

    def deleted_since(self, since: int) -> list[str]:
        """Ids deleted after generation ``since`` (and not re-added)."""
        with self._lock:
            return [
                r[0] for r in self._db.execute("SELECT id FROM tombstones WHERE seq > ?", (since,))
            ]

    def changed_count(self, since: int) -> int:
        """Number of papers written after generation ``since``."""
        with self._lock:
            return self._db.execute(
                "SELECT COUNT(*) FROM papers WHERE seq > ?", (since,)
            ).fetchone()[0]

    # -- newest papers and votes ---------------------------------------------------------

    def newest(self, k: int, offset: int = 0) -> list[Paper]:
        """Papers by publication date (then time added), newest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM papers ORDER BY published IS NULL, published DESC, "
                "added DESC, rowid DESC LIMIT ? OFFSET ?",
                (k, offset),
            ).fetchall()
        return [_row_to_paper(r) for r in rows]

    def rowid_sample(self, n: int) -> list[int]:
        """Up to ``n`` row ids spread evenly over the stored papers (the same ones until the
        store changes)."""
        with self._lock:
            rows = [r[0] for r in self._db.execute("SELECT rowid FROM papers ORDER BY rowid")]
        step = max(1, len(rows) // n) if n > 0 else 1
        return rows[::step][:n]

    def added_between(self, since: str, until: str) -> list[str]:
        """Ids of the papers added at or after ``since`` and up to ``until`` (ISO times),
        in the order they were added."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM papers WHERE added >= ? AND added <= ? ORDER BY added, rowid",
                (since, until),
            ).fetchall()
        return [r[0] for r in rows]

    def set_vote(
        self,
        paper_id: str,
        voter: str,
        on: bool,
        *,
        client: str | None = None,
        per_client_hour: int | None = None,
    ) -> int:
        """Record or remove one voter's upvote (idempotent); returns the paper's vote count.

        With ``per_client_hour``, a new upvote from a ``client`` that cast that many in the
        last hour raises TooManyVotes (checked and written in one transaction).
        """
        now = utcnow()
        with self._write() as db:
            if on:
                exists = db.execute(
                    "SELECT 1 FROM votes WHERE paper_id=? AND voter=?", (paper_id, voter)
                ).fetchone()
                if not exists and client is not None and per_client_hour is not None:
                    (recent,) = db.execute(
                        "SELECT COUNT(*) FROM votes WHERE client=? AND created >= ?",
                        (client, iso(now - dt.timedelta(hours=1))),
                    ).fetchone()
                    if recent >= per_client_hour:
                        raise TooManyVotes(
                            f"at most {per_client_hour} upvotes an hour from one address"
                        )
                db.execute(
                    "INSERT OR IGNORE INTO votes(paper_id, voter, created, client) "
                    "VALUES (?, ?, ?, ?)",
                    (paper_id, voter, iso(now), client),
                )
            else:
                db.execute("DELETE FROM votes WHERE paper_id=? AND voter=?", (paper_id, voter))
            return db.execute(
                "SELECT COUNT(*) FROM votes WHERE paper_id=?", (paper_id,)
            ).fetchone()[0]

    def vote_counts(self, paper_ids: list[str]) -> dict[str, int]:
        """Upvotes per paper id (papers without votes are left out)."""
        if not paper_ids:
            return {}
        marks = ",".join("?" * len(paper_ids))
        with self._lock:
            return dict(
                self._db.execute(
                    f"SELECT paper_id, COUNT(*) FROM votes WHERE paper_id IN ({marks}) "
                    "GROUP BY paper_id",
                    paper_ids,
                )
            )

    def has_vote(self, voter: str, paper_id: str) -> bool:
        """Whether this voter upvoted this paper."""
        with self._lock:
            return (
                self._db.execute(
                    "SELECT 1 FROM votes WHERE paper_id=? AND voter=?", (paper_id, voter)
                ).fetchone()
                is not None
            )

    def votes_since(self, since: str) -> list[tuple[str, int]]:
        """(paper id, upvotes cast at or after ``since``, an ISO timestamp)."""
        with self._lock:
            return list(
                self._db.execute(
                    "SELECT paper_id, COUNT(*) FROM votes WHERE created >= ? GROUP BY paper_id",
                    (since,),
                )
            )
