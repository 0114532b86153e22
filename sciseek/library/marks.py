"""What a reader said about papers outside their tags: "not relevant" marks (for the whole
library or for one tag) and the papers they have seen.

``Marks`` is a part of ``shelf.Library`` (tables ``library_marks`` and ``library_seen``,
created there): recommendations leave out marked papers and, unless asked, seen ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sciseek.ingest.papers import normalise_id
from sciseek.storage.clock import iso, utcnow

from .errors import LibraryError

MAX_MARKS = 50_000  # "not relevant" marks per reader
MAX_SEEN = 100_000  # seen papers per reader; the oldest are forgotten past it


@dataclass(frozen=True)
class Mark:
    """A "not relevant" mark: for one tag, or for the whole library (``tag`` None)."""

    paper_id: str
    tag: str | None
    created: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"paper_id": self.paper_id, "tag": self.tag, "created": self.created}


class Marks:
    """The marks and seen state of ``shelf.Library`` (which provides the connection)."""

    # shelf.Library provides _db, _lock, _write, _rows, _tag_id and _paper

    def mark_not_relevant(self, reader_id: int, paper_id: Any, tag: str | None = None) -> str:
        """Mark a paper not relevant (to one tag, or to the whole library); the paper's id.
        Raises UnknownPaper, UnknownTag or LibraryError at ``MAX_MARKS``."""
        with self._write() as db:
            pid = self._paper(db, paper_id)
            tid = None if tag is None else self._tag_id(db, reader_id, tag)
            (count,) = db.execute(
                "SELECT COUNT(*) FROM library_marks WHERE reader_id=?", (reader_id,)
            ).fetchone()
            if count >= MAX_MARKS:
                raise LibraryError(f"at most {MAX_MARKS:,} not-relevant marks; remove some first")
            db.execute(
                "INSERT OR IGNORE INTO library_marks(reader_id, paper_id, tag_id, created)"
                " VALUES (?, ?, ?, ?)",
                (reader_id, pid, tid, iso(utcnow())),
            )
        return pid

    def unmark(self, reader_id: int, paper_id: str, tag: str | None = None) -> bool:
        """Take back a mark; whether there was one. Raises UnknownTag."""
        with self._write() as db:
            pid = normalise_id(paper_id)
            if tag is None:
                cur = db.execute(
                    "DELETE FROM library_marks WHERE reader_id=? AND paper_id=? AND tag_id IS NULL",
                    (reader_id, pid),
                )
            else:
                cur = db.execute(
                    "DELETE FROM library_marks WHERE reader_id=? AND paper_id=? AND tag_id=?",
                    (reader_id, pid, self._tag_id(db, reader_id, tag)),
                )
        return bool(cur.rowcount)

    def not_relevant(self, reader_id: int, tag: str | None = None) -> list[str]:
        """Ids of the papers marked not relevant to the whole library and, with ``tag``, to
        that tag too, oldest first. Raises UnknownTag."""
        if tag is None:
            rows = self._rows(
                "SELECT paper_id FROM library_marks WHERE reader_id=? AND tag_id IS NULL"
                " ORDER BY created, rowid",
                reader_id,
            )
        else:
            with self._lock:
                tid = self._tag_id(self._db, reader_id, tag)
            rows = self._rows(
                "SELECT paper_id FROM library_marks WHERE reader_id=?"
                " AND (tag_id IS NULL OR tag_id=?) GROUP BY paper_id ORDER BY MIN(created)",
                reader_id,
                tid,
            )
        return [r[0] for r in rows]

    def marks(self, reader_id: int) -> list[Mark]:
        """Every mark of the reader, oldest first."""
        rows = self._rows(
            "SELECT m.paper_id, t.name, m.created FROM library_marks m"
            " LEFT JOIN library_tags t ON t.id = m.tag_id WHERE m.reader_id=?"
            " ORDER BY m.created, m.rowid",
            reader_id,
        )
        return [Mark(*r) for r in rows]

    # -- seen ----------------------------------------------------------------------------

    def mark_seen(self, reader_id: int, paper_ids: Iterable[str]) -> int:
        """Record papers as seen (unknown ids are skipped); how many were new. Past
        ``MAX_SEEN`` the oldest seen papers are forgotten."""
        now = iso(utcnow())
        ids = list(dict.fromkeys(normalise_id(p) for p in paper_ids if isinstance(p, str)))
        with self._write() as db:
            known = [
                p for p in ids if db.execute("SELECT 1 FROM papers WHERE id=?", (p,)).fetchone()
            ]
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO library_seen(reader_id, paper_id, seen) VALUES (?, ?, ?)",
                [(reader_id, p, now) for p in known],
            )
            added = db.total_changes - before
            db.execute(
                "DELETE FROM library_seen WHERE reader_id=? AND rowid NOT IN (SELECT rowid FROM"
                " library_seen WHERE reader_id=? ORDER BY seen DESC, rowid DESC LIMIT ?)",
                (reader_id, reader_id, MAX_SEEN),
            )
        return added

    def unsee(self, reader_id: int, paper_ids: Iterable[str] | None = None) -> int:
        """Forget that papers (by default, all) were seen; how many were forgotten."""
        with self._write() as db:
            if paper_ids is None:
                cur = db.execute("DELETE FROM library_seen WHERE reader_id=?", (reader_id,))
                return cur.rowcount
            before = db.total_changes
            db.executemany(
                "DELETE FROM library_seen WHERE reader_id=? AND paper_id=?",
                [(reader_id, normalise_id(p)) for p in paper_ids],
            )
            return db.total_changes - before

    def seen(self, reader_id: int) -> set[str]:
        """Ids of the papers the reader has seen."""
        return {
            r[0]
            for r in self._rows("SELECT paper_id FROM library_seen WHERE reader_id=?", reader_id)
        }
