"""A reader's library: papers saved under tags, a note per saved paper, "not relevant" marks
and the papers a reader has seen, in the papers' SQLite file.

Tables: ``library_tags`` (names kept as first written, matched case-insensitively),
``library_saved`` (tag, paper, when), ``library_notes`` (one per reader and saved paper; it
goes when the paper leaves the reader's last tag), ``library_marks`` ("not relevant", for the
whole library or for one tag) and ``library_seen``. Every row belongs to a reader and goes
with them (``ON DELETE CASCADE`` from ``readers``). Every call takes the reader's id, and no
query reads another reader's rows.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from dataclasses import dataclass
from typing import Any

from sciseek.ingest.papers import normalise_id
from sciseek.storage.clock import iso, utcnow
from sciseek.storage.sqlite import StoreTables

from .accounts import SCHEMA as ACCOUNT_SCHEMA
from .errors import LibraryError, TagExists, UnknownPaper, UnknownTag
from .marks import Marks

MAX_TAGS = 200  # per reader
MAX_SAVED = 50_000  # (tag, paper) pairs per reader
MAX_TAG_LENGTH = 60
MAX_NOTE = 5_000  # characters

SCHEMA = """
CREATE TABLE IF NOT EXISTS library_tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reader_id INTEGER NOT NULL REFERENCES readers(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (reader_id, key)
);
CREATE TABLE IF NOT EXISTS library_saved (
    reader_id INTEGER NOT NULL REFERENCES readers(id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES library_tags(id) ON DELETE CASCADE,
    paper_id TEXT NOT NULL,
    saved TEXT NOT NULL,
    PRIMARY KEY (tag_id, paper_id)
);
CREATE INDEX IF NOT EXISTS library_saved_reader ON library_saved(reader_id, paper_id);
CREATE TABLE IF NOT EXISTS library_notes (
    reader_id INTEGER NOT NULL REFERENCES readers(id) ON DELETE CASCADE,
    paper_id TEXT NOT NULL,
    note TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (reader_id, paper_id)
);
CREATE TABLE IF NOT EXISTS library_marks (
    reader_id INTEGER NOT NULL REFERENCES readers(id) ON DELETE CASCADE,
    paper_id TEXT NOT NULL,
    tag_id INTEGER REFERENCES library_tags(id) ON DELETE CASCADE,
    created TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS library_marks_one
    ON library_marks(reader_id, paper_id, ifnull(tag_id, 0));
CREATE TABLE IF NOT EXISTS library_seen (
    reader_id INTEGER NOT NULL REFERENCES readers(id) ON DELETE CASCADE,
    paper_id TEXT NOT NULL,
    seen TEXT NOT NULL,
    PRIMARY KEY (reader_id, paper_id)
);
"""


@dataclass(frozen=True)
class Tag:
    """One of a reader's tags and how many papers it holds."""

    name: str
    count: int
    created: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"name": self.name, "count": self.count, "created": self.created}


@dataclass(frozen=True)
class Saved:
    """A paper saved under a tag, with the reader's note on it."""

    paper_id: str
    saved: str
    note: str | None


def tag_name(value: Any) -> str:
    """A valid tag name (whitespace trimmed and collapsed); raises LibraryError."""
    if not isinstance(value, str) or not value.strip():
        raise LibraryError("a tag name is required")
    name = " ".join(value.split())
    if len(name) > MAX_TAG_LENGTH:
        raise LibraryError(f"a tag name has at most {MAX_TAG_LENGTH} characters")
    if "/" in name or any(unicodedata.category(c)[0] == "C" for c in name):
        raise LibraryError("a tag name may not contain '/' or control characters")
    return name


def tag_key(name: str) -> str:
    """The case-insensitive key two spellings of one tag share."""
    return " ".join(name.split()).casefold()


def check_note(value: Any) -> str:
    """A valid note (trimmed, at most ``MAX_NOTE`` characters); raises LibraryError."""
    if not isinstance(value, str):
        raise LibraryError("a note must be text")
    note = value.strip()
    if len(note) > MAX_NOTE:
        raise LibraryError(f"a note has at most {MAX_NOTE:,} characters, got {len(note):,}")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t\r" for c in note):
        raise LibraryError("a note may not contain control characters")
    return note


class Library(Marks, StoreTables):
    """The library tables of one data dir, through a connection of their own."""

    SCHEMAS = (ACCOUNT_SCHEMA, SCHEMA)

    def _rows(self, sql: str, *args: Any) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _tag_id(self, db: sqlite3.Connection, reader_id: int, name: str) -> int:
        row = db.execute(
            "SELECT id FROM library_tags WHERE reader_id=? AND key=?", (reader_id, tag_key(name))
        ).fetchone()
        if row is None:
            raise UnknownTag(f"no tag {' '.join(str(name).split())[:100]!r} in your library")
        return row[0]

    def _paper(self, db: sqlite3.Connection, paper_id: Any) -> str:
        if not isinstance(paper_id, str) or not paper_id.strip():
            raise LibraryError("a paper id is required")
        pid = normalise_id(paper_id)
        if not db.execute("SELECT 1 FROM papers WHERE id=?", (pid,)).fetchone():
            raise UnknownPaper(f"no paper with id {pid[:200]!r}")
        return pid

    # -- tags ----------------------------------------------------------------------------

    def tags(self, reader_id: int) -> list[Tag]:
        """The reader's tags by name, with their paper counts."""
        rows = self._rows(
            "SELECT t.name, COUNT(s.paper_id), t.created FROM library_tags t"
            " LEFT JOIN library_saved s ON s.tag_id = t.id WHERE t.reader_id=?"
            " GROUP BY t.id ORDER BY t.key",
            reader_id,
        )
        return [Tag(*r) for r in rows]

    def tag(self, reader_id: int, name: str) -> Tag:
        """One tag (matched case-insensitively); raises UnknownTag."""
        for t in self.tags(reader_id):
            if tag_key(t.name) == tag_key(str(name)):
                return t
        raise UnknownTag(f"no tag {' '.join(str(name).split())[:100]!r} in your library")

    def rename_tag(self, reader_id: int, old: str, new: Any) -> str:
        """Rename a tag (a change of case included); the new name. Raises UnknownTag, TagExists."""
        name = tag_name(new)
        with self._write() as db:
            tid = self._tag_id(db, reader_id, old)
            other = db.execute(
                "SELECT id FROM library_tags WHERE reader_id=? AND key=?",
                (reader_id, tag_key(name)),
            ).fetchone()
            if other is not None and other[0] != tid:
                raise TagExists(f"you already have a tag {name!r}")
            db.execute(
                "UPDATE library_tags SET name=?, key=? WHERE id=?", (name, tag_key(name), tid)
            )
        return name

    def delete_tag(self, reader_id: int, name: str) -> None:
        """Delete a tag, its saved rows and its marks; raises UnknownTag."""
        with self._write() as db:
            tid = self._tag_id(db, reader_id, name)
            db.execute("DELETE FROM library_tags WHERE id=?", (tid,))
            self._drop_orphan_notes(db, reader_id)

    # -- saved papers --------------------------------------------------------------------

    def save(self, reader_id: int, tag: Any, paper_id: Any, note: Any = None) -> str:
        """Save a paper under a tag (created on first use), with a note if given; the paper's
        id. Raises LibraryError, UnknownPaper."""
        name = tag_name(tag)
        now = iso(utcnow())
        with self._write() as db:
            pid = self._paper(db, paper_id)
            text = None if note is None else check_note(note)
            row = db.execute(
                "SELECT id FROM library_tags WHERE reader_id=? AND key=?",
                (reader_id, tag_key(name)),
            ).fetchone()
            if row is None:
                (count,) = db.execute(
                    "SELECT COUNT(*) FROM library_tags WHERE reader_id=?", (reader_id,)
                ).fetchone()
                if count >= MAX_TAGS:
                    raise LibraryError(f"at most {MAX_TAGS} tags; delete one to make room")
                tid = db.execute(
                    "INSERT INTO library_tags(reader_id, name, key, created) VALUES (?, ?, ?, ?)",
                    (reader_id, name, tag_key(name), now),
                ).lastrowid
            else:
                tid = row[0]
            (count,) = db.execute(
                "SELECT COUNT(*) FROM library_saved WHERE reader_id=?", (reader_id,)
            ).fetchone()
            if count >= MAX_SAVED:
                raise LibraryError(f"at most {MAX_SAVED:,} saved papers; remove some first")
            db.execute(
                "INSERT OR IGNORE INTO library_saved(reader_id, tag_id, paper_id, saved)"
                " VALUES (?, ?, ?, ?)",
                (reader_id, tid, pid, now),
            )
            if text is not None:
                self._set_note(db, reader_id, pid, text)
        return pid

    def remove(self, reader_id: int, tag: str, paper_id: str) -> bool:
        """Take a paper out of a tag; whether it was in it. Raises UnknownTag."""
        with self._write() as db:
            tid = self._tag_id(db, reader_id, tag)
            cur = db.execute(
                "DELETE FROM library_saved WHERE tag_id=? AND paper_id=?",
                (tid, normalise_id(paper_id)),
            )
            self._drop_orphan_notes(db, reader_id)
        return bool(cur.rowcount)

    def tag_papers(self, reader_id: int, tag: str) -> list[str]:
        """Ids of the papers under a tag, oldest saved first; raises UnknownTag."""
        return [s.paper_id for s in self.tag_entries(reader_id, tag)]

    def tag_entries(self, reader_id: int, tag: str) -> list[Saved]:
        """The papers under a tag with their notes, oldest saved first; raises UnknownTag."""
        with self._lock:
            tid = self._tag_id(self._db, reader_id, tag)
            rows = self._db.execute(
                "SELECT s.paper_id, s.saved, n.note FROM library_saved s LEFT JOIN library_notes n"
                " ON n.reader_id = s.reader_id AND n.paper_id = s.paper_id"
                " WHERE s.tag_id=? ORDER BY s.saved, s.rowid",
                (tid,),
            ).fetchall()
        return [Saved(*r) for r in rows]

    def saved(self, reader_id: int) -> list[str]:
        """Ids of every saved paper (all tags), in the order first saved."""
        rows = self._rows(
            "SELECT paper_id FROM library_saved WHERE reader_id=?"
            " GROUP BY paper_id ORDER BY MIN(saved), MIN(rowid)",
            reader_id,
        )
        return [r[0] for r in rows]

    def tags_of(self, reader_id: int, paper_id: str) -> list[str]:
        """The names of the tags a paper is saved under."""
        rows = self._rows(
            "SELECT t.name FROM library_saved s JOIN library_tags t ON t.id = s.tag_id"
            " WHERE s.reader_id=? AND s.paper_id=? ORDER BY t.key",
            reader_id,
            normalise_id(paper_id),
        )
        return [r[0] for r in rows]

    # -- notes ---------------------------------------------------------------------------

    def set_note(self, reader_id: int, paper_id: str, note: Any) -> None:
        """Set (or, when empty, clear) the note on a saved paper; raises UnknownPaper when the
        paper is not in the reader's library."""
        text = check_note(note)
        with self._write() as db:
            pid = normalise_id(paper_id)
            if not db.execute(
                "SELECT 1 FROM library_saved WHERE reader_id=? AND paper_id=?", (reader_id, pid)
            ).fetchone():
                raise UnknownPaper(f"paper {pid[:200]!r} is not in your library; save it first")
            self._set_note(db, reader_id, pid, text)

    @staticmethod
    def _set_note(db: sqlite3.Connection, reader_id: int, pid: str, text: str) -> None:
        if text:
            db.execute(
                "INSERT INTO library_notes(reader_id, paper_id, note, updated) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(reader_id, paper_id) DO UPDATE SET note=excluded.note,"
                " updated=excluded.updated",
                (reader_id, pid, text, iso(utcnow())),
            )
        else:
            db.execute(
                "DELETE FROM library_notes WHERE reader_id=? AND paper_id=?", (reader_id, pid)
            )

    @staticmethod
    def _drop_orphan_notes(db: sqlite3.Connection, reader_id: int) -> None:
        db.execute(
            "DELETE FROM library_notes WHERE reader_id=? AND paper_id NOT IN"
            " (SELECT paper_id FROM library_saved WHERE reader_id=?)",
            (reader_id, reader_id),
        )

    def note(self, reader_id: int, paper_id: str) -> str | None:
        """The reader's note on a paper, if any."""
        rows = self._rows(
            "SELECT note FROM library_notes WHERE reader_id=? AND paper_id=?",
            reader_id,
            normalise_id(paper_id),
        )
        return rows[0][0] if rows else None
