"""Papers by day, category and author: indexed reads for the browse pages of a large store.

``papers`` keeps authors and categories as JSON text, which SQL cannot look up by index. Two
side tables hold one row per (paper, category) and per (paper, author), keyed so that one
category's or author's papers come newest first straight off an index:

- ``paper_categories(category, published, paper)``
- ``paper_authors(author_key, published, paper, author)``

``paper`` is the paper's row id in ``papers``, ``published`` its date ('' when it has none, so
that undated papers sort last) and ``author`` the name as the paper spells it. The store
rewrites a paper's rows in the same transaction that writes or deletes the paper
(``index_paper``, ``unindex_paper``); a store written before these tables existed is filled in
batches when it is opened (``backfill``). Papers of a day come from ``papers``' own index on
``published``.

An author is looked up by ``author_key``: the lower-case words of the name (runs of Unicode
letters, digits and underscores) joined by single spaces, so ``Jane Doe``, ``jane  doe`` and
``Jane-Doe`` are one author, while ``J. Doe`` (``j doe``) is another.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from sciseek.ingest.papers import Paper

SCHEMA = """
CREATE TABLE IF NOT EXISTS paper_categories (
    category TEXT NOT NULL,
    published TEXT NOT NULL,
    paper INTEGER NOT NULL,
    PRIMARY KEY (category, published, paper)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS paper_categories_paper ON paper_categories(paper);
CREATE TABLE IF NOT EXISTS paper_authors (
    author_key TEXT NOT NULL,
    published TEXT NOT NULL,
    paper INTEGER NOT NULL,
    author TEXT NOT NULL,
    PRIMARY KEY (author_key, published, paper)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS paper_authors_paper ON paper_authors(paper, author_key);
"""

BACKFILL_BATCH = 5000  # papers per backfill transaction (a short hold of the write lock)
COAUTHOR_DEPTH = 1000  # co-authors are counted over an author's newest papers, at most these

_STATE = "facets"  # meta key: 'done', or the last row id a backfill has filled in
_WORDS = re.compile(r"\w+")

# The reads, each answered from an index (``tests/storage/test_facets.py`` checks the plans).
DAY_SQL = "SELECT rowid FROM papers WHERE published = ? ORDER BY id LIMIT ? OFFSET ?"
DAY_COUNT_SQL = "SELECT COUNT(*) FROM papers WHERE published = ?"
PREVIOUS_DAY_SQL = (
    "SELECT published FROM papers WHERE published < ? ORDER BY published DESC LIMIT 1"
)
NEXT_DAY_SQL = "SELECT published FROM papers WHERE published > ? ORDER BY published LIMIT 1"
LATEST_DAY_SQL = (
    "SELECT published FROM papers WHERE published IS NOT NULL ORDER BY published DESC LIMIT 1"
)
CATEGORY_SQL = (
    "SELECT paper FROM paper_categories WHERE category = ? "
    "ORDER BY published DESC, paper DESC LIMIT ? OFFSET ?"
)
AUTHOR_SQL = (
    "SELECT paper FROM paper_authors WHERE author_key = ? "
    "ORDER BY published DESC, paper DESC LIMIT ? OFFSET ?"
)
COAUTHORS_SQL = (
    "SELECT o.author_key, COUNT(*) AS n FROM "
    "(SELECT paper FROM paper_authors WHERE author_key = ? "
    " ORDER BY published DESC, paper DESC LIMIT ?) AS mine "
    "JOIN paper_authors AS o ON o.paper = mine.paper "
    "WHERE o.author_key != ? GROUP BY o.author_key ORDER BY n DESC, o.author_key LIMIT ?"
)
SPELLING_SQL = (
    "SELECT author FROM paper_authors WHERE author_key = ? "
    "ORDER BY published DESC, paper DESC LIMIT 1"
)


def author_key(name: str) -> str:
    """The key an author is stored and looked up by: the name's lower-case words joined by
    single spaces ('' for a name without a letter or digit)."""
    return " ".join(_WORDS.findall(name.lower()))


# -- writes (inside the store's transactions) ---------------------------------------------


def unindex_paper(db: sqlite3.Connection, rowid: int) -> None:
    """Remove a paper's category and author rows."""
    db.execute("DELETE FROM paper_categories WHERE paper = ?", (rowid,))
    db.execute("DELETE FROM paper_authors WHERE paper = ?", (rowid,))


def _insert(
    db: sqlite3.Connection,
    rowid: int,
    authors: list[str],
    categories: list[str],
    published: str | None,
) -> None:
    day = published or ""
    db.executemany(
        "INSERT OR IGNORE INTO paper_categories(category, published, paper) VALUES (?, ?, ?)",
        [(c, day, rowid) for c in categories if c],
    )
    db.executemany(
        "INSERT OR IGNORE INTO paper_authors(author_key, published, paper, author) "
        "VALUES (?, ?, ?, ?)",
        [(key, day, rowid, a) for a in authors if (key := author_key(a))],
    )


def index_paper(db: sqlite3.Connection, rowid: int, paper: Paper) -> None:
    """Replace a paper's category and author rows by the ones of ``paper``."""
    unindex_paper(db, rowid)
    _insert(db, rowid, paper.authors, paper.categories, paper.published)


def backfill(
    db: sqlite3.Connection,
    write: Callable[[], AbstractContextManager[sqlite3.Connection]],
    batch: int = BACKFILL_BATCH,
) -> int:
    """Fill the side tables for the papers of a store that had none, ``batch`` papers per
    ``write`` transaction (resumable: progress is committed with each batch); returns the
    number of papers filled in (0 once done)."""
    if _state(db) == "done":
        return 0
    filled = 0
    while True:
        with write() as tx:
            state = _state(tx)
            if state == "done":
                return filled
            last = int(state) if state else -1
            rows = tx.execute(
                "SELECT rowid, authors, categories, published FROM papers WHERE rowid > ? "
                "ORDER BY rowid LIMIT ?",
                (last, batch),
            ).fetchall()
            for rowid, authors, categories, published in rows:
                unindex_paper(tx, rowid)
                _insert(tx, rowid, json.loads(authors), json.loads(categories), published)
            state = str(rows[-1][0]) if len(rows) == batch else "done"
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (_STATE, state))
            filled += len(rows)
        if state == "done":
            return filled


def _state(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (_STATE,)).fetchone()
    return row[0] if row else None


# -- reads --------------------------------------------------------------------------------


class Facets:
    """Row ids of papers by day, category and author, and an author's co-authors, read from
    the store's connection under its lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock):
        self._db = db
        self._lock = lock

    def _rowids(self, sql: str, params: tuple) -> list[int]:
        with self._lock:
            return [r[0] for r in self._db.execute(sql, params)]

    def _value(self, sql: str, params: tuple) -> str | None:
        with self._lock:
            row = self._db.execute(sql, params).fetchone()
        return row[0] if row else None

    def day(self, day: str, k: int, offset: int = 0) -> list[int]:
        """Row ids of the papers published on ``day`` (an ISO date), by paper id."""
        return self._rowids(DAY_SQL, (day, k, offset))

    def day_count(self, day: str) -> int:
        """How many papers were published on ``day``."""
        with self._lock:
            return self._db.execute(DAY_COUNT_SQL, (day,)).fetchone()[0]

    def adjacent_days(self, day: str) -> tuple[str | None, str | None]:
        """The nearest dates before and after ``day`` on which papers were published."""
        return self._value(PREVIOUS_DAY_SQL, (day,)), self._value(NEXT_DAY_SQL, (day,))

    def latest_day(self) -> str | None:
        """The most recent publication date, or None for a store without dated papers."""
        return self._value(LATEST_DAY_SQL, ())

    def category(self, category: str, k: int, offset: int = 0) -> list[int]:
        """Row ids of a category's papers, newest first (then the latest stored first)."""
        return self._rowids(CATEGORY_SQL, (category, k, offset))

    def author(self, name: str, k: int, offset: int = 0) -> list[int]:
        """Row ids of an author's papers (matched by ``author_key``), newest first."""
        return self._rowids(AUTHOR_SQL, (author_key(name), k, offset))

    def coauthors(self, name: str, k: int, depth: int = COAUTHOR_DEPTH) -> list[tuple[str, int]]:
        """(name, papers together) for the authors who wrote most often with ``name``, counted
        over that author's ``depth`` newest papers; most papers first, then by name (spelled
        as on their newest paper)."""
        key = author_key(name)
        if not key:
            return []
        with self._lock:
            counts = self._db.execute(COAUTHORS_SQL, (key, depth, key, k)).fetchall()
            return [
                (self._db.execute(SPELLING_SQL, (other,)).fetchone()[0], n) for other, n in counts
            ]

    def spelling(self, name: str) -> str | None:
        """How the newest paper of the author ``name`` stands for spells it, or None if no
        paper has that author."""
        key = author_key(name)
        return self._value(SPELLING_SQL, (key,)) if key else None
