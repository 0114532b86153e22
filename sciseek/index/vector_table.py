"""Durable per-paper encodings: one model's vectors in SQLite, in step with the store.

An ``EncodingTable`` records the store generation it reflects and catches up by replaying the
store's changes in committed chunks, so a crash never loses finished work or leaves a
half-written table. Each committed chunk gets the next chunk number, so the vector indexes
(``vectors``) load what is committed while a catch-up is still running: a search during a long
encoding sees every paper encoded so far.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from sciseek.errors import BadInput
from sciseek.ingest.papers import Paper
from sciseek.storage.files import file_lock
from sciseek.storage.sqlite import add_column, connect, rows_in, transaction
from sciseek.storage.store import Store

CHUNK = 128  # papers encoded and committed together (a stop waits for at most one)
Encoding = tuple[bytes | None, bytes]  # one paper's stored encoding: (a, b)
Encode = Callable[[list[Paper]], list[Encoding]]  # a chunk's papers -> their encodings
Stream = Callable[[Iterator[list[Paper]]], Iterator[list[Encoding]]]  # chunks in, in order

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS enc (
    id TEXT PRIMARY KEY, rowid_ INTEGER NOT NULL, seq INTEGER NOT NULL,
    a BLOB, b BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS enc_seq ON enc(seq);
CREATE INDEX IF NOT EXISTS enc_rowid ON enc(rowid_);
CREATE TABLE IF NOT EXISTS gone (rowid_ INTEGER NOT NULL, chunk INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS gone_chunk ON gone(chunk);
"""
# ``gone`` records the row ids whose encodings left the table (a paper deleted, or stored again
# under a new row id) with the chunk that removed them, so an index built from the table up to
# a chunk can apply what changed after it without reading the whole table.
# chunk number of a row (0: written before chunks were numbered); in its own step so that
# tables of older data dirs gain the column first
_CHUNK_INDEX = "CREATE INDEX IF NOT EXISTS enc_chunk ON enc(chunk)"


class ModelMismatch(BadInput, ValueError):
    """An index built with one model asked to serve another."""


class EncodingTable:
    """Per-paper encodings of one model in SQLite, in step with the store's generations."""

    def __init__(self, path: Path, store: Store, model: str, log: Callable[[str], None]):
        self.path = path
        self.store = store
        self.model = model
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = connect(path)
        self.db.executescript(_SCHEMA)
        add_column(self.db, "enc", "chunk", "INTEGER NOT NULL DEFAULT 0")
        self.db.execute(_CHUNK_INDEX)
        meta = self.meta()
        if meta.get("store_id") not in (None, store.store_id):
            log(f"{path.parent.name} index was built for another store; rebuilding it")
            self._wipe()
            meta = {}
        recorded = meta.get("model")
        if recorded and recorded != model and self.count():
            raise ModelMismatch(
                f"this data dir's {path.parent.name} index was built with model {recorded!r}, "
                f"not {model!r}: search without --model, or rebuild it with "
                f"'sciseek reindex --model {model}'"
            )
        if not meta:
            self._set(store_id=store.store_id, model=model, generation="0")
        if "table_id" not in self.meta():
            self._set(table_id=uuid.uuid4().hex)

    @property
    def table_id(self) -> str:
        """A name of this table's contents, new whenever they are wiped (an index built from
        the table records it, with the chunk it reflects)."""
        return self.meta()["table_id"]

    def meta(self) -> dict[str, str]:
        """The table's recorded model, store id and generation."""
        with self._lock:
            return dict(self.db.execute("SELECT key, value FROM meta"))

    def _set(self, **values: str) -> None:
        with self._lock:
            self.db.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [(k, str(v)) for k, v in values.items()],
            )

    def _wipe(self) -> None:
        with self._lock:
            self.db.execute("DELETE FROM enc")
            self.db.execute("DELETE FROM gone")
            self.db.execute("DELETE FROM meta")

    @property
    def generation(self) -> int:
        """The store generation whose papers are all encoded here."""
        return int(self.meta().get("generation", 0))

    def count(self) -> int:
        """Number of encoded papers."""
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM enc").fetchone()[0]

    def rows_since(self, seq: int) -> Iterator[tuple[str, int, bytes | None, bytes]]:
        """(id, row id, a, b) of encodings of papers changed after generation ``seq``."""
        with self._lock:
            rows = self.db.execute(
                "SELECT id, rowid_, a, b FROM enc WHERE seq > ?", (seq,)
            ).fetchall()
        yield from rows

    @property
    def last_chunk(self) -> int:
        """The number of the last committed chunk (0 when none was numbered)."""
        return int(self.meta().get("chunk", 0))

    def rows_after_chunk(self, chunk: int) -> list[tuple[str, int, bytes | None, bytes]]:
        """(id, row id, a, b) of the encodings committed in chunks after ``chunk``."""
        with self._lock:
            return self.db.execute(
                "SELECT id, rowid_, a, b FROM enc WHERE chunk > ?", (chunk,)
            ).fetchall()

    def changes_after_chunk(
        self, chunk: int
    ) -> tuple[list[int], list[tuple[str, int, bytes | None, bytes]]]:
        """What the chunks after ``chunk`` changed: the row ids whose encodings left the table
        and the (id, row id, a, b) rows written. Apply the first before the second (a row id
        can leave and come back)."""
        with self._lock:
            gone = [
                r for (r,) in self.db.execute("SELECT rowid_ FROM gone WHERE chunk > ?", (chunk,))
            ]
            return gone, self.rows_after_chunk(chunk)

    def rowids_of(self, ids: list[str]) -> list[int]:
        """Row ids of the given papers' encodings (those without one are left out)."""
        with self._lock:
            sql = "SELECT rowid_ FROM enc WHERE id IN ({marks})"
            return [r for (r,) in rows_in(self.db, sql, ids)]

    def vectors_of(self, rowids: list[int]) -> dict[int, bytes]:
        """The ``b`` encodings of the given row ids, by row id (missing ones left out)."""
        with self._lock:
            return dict(
                rows_in(self.db, "SELECT rowid_, b FROM enc WHERE rowid_ IN ({marks})", rowids)
            )

    def sample_vectors(self, n: int, seed: int = 0) -> np.ndarray:
        """Up to about ``n`` stored ``b`` encodings picked at random, as float32 rows."""
        with self._lock:
            top = self.db.execute("SELECT MAX(rowid) FROM enc").fetchone()[0] or 0
            picks = np.random.default_rng(seed).choice(top, size=min(n, top), replace=False) + 1
            sql = "SELECT b FROM enc WHERE rowid IN ({marks})"
            blobs = [b for (b,) in rows_in(self.db, sql, [int(r) for r in picks])]
        vectors = np.frombuffer(b"".join(blobs), dtype=np.float32)
        return vectors.reshape(len(blobs), -1) if blobs else vectors.reshape(0, 0)

    def warm(self) -> None:
        """Read every page of the table and of its row-id index once, through a connection of
        its own, so that the system's page cache holds them (random reads by row id, as
        rescoring does, then come from memory). Reading the file other than through SQLite
        would drop this process's SQLite locks on it."""
        db = connect(self.path)
        try:
            db.execute("SELECT max(length(b)) FROM enc").fetchone()
            db.execute("SELECT count(*) FROM enc INDEXED BY enc_rowid WHERE rowid_ >= 0").fetchone()
        except sqlite3.Error:
            pass  # a warm-up only: the table is read again when it is needed
        finally:
            db.close()

    def iter_vectors(self, batch: int = 50_000) -> Iterator[tuple[list[int], bytes]]:
        """(row ids, concatenated ``b`` encodings) of every row, ``batch`` rows at a time."""
        last = -1
        while True:
            with self._lock:
                rows = self.db.execute(
                    "SELECT rowid, rowid_, b FROM enc WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [r[1] for r in rows], b"".join(r[2] for r in rows)

    def pending(self) -> int:
        """Papers the store changed since this table's generation (an upper bound on the work
        left: papers an interrupted run finished are counted until the next catch-up ends)."""
        return self.store.changed_count(self.generation)

    def get(self, rowid: int) -> tuple[bytes | None, bytes] | None:
        """The stored encoding of one paper, by row id."""
        with self._lock:
            return self.db.execute("SELECT a, b FROM enc WHERE rowid_=?", (rowid,)).fetchone()

    def sync(
        self,
        encode: Encode,
        progress: Callable[[int], None] | None = None,
        wait: bool = True,
        stop: Callable[[], bool] | None = None,
        stream: Stream | None = None,
    ) -> int | None:
        """Encode the papers changed since this table's generation, in committed chunks.

        Reads the store a batch at a time (memory stays bounded whatever the backlog). Returns
        how many papers were encoded or deleted, or None when another process holds the lock
        and ``wait`` is false. ``stop`` is asked between chunks; when it answers True the
        catch-up ends early (what was committed stays; the generation is not advanced).
        ``stream`` (e.g. a Ray job) takes the chunks' papers as they are read and gives back
        their encodings chunk by chunk, in order, in place of ``encode``; each chunk is
        committed as it comes back.
        """
        with file_lock(self.path.with_suffix(".lock"), wait=wait) as locked:
            if not locked:
                return None
            since, target = self.generation, self.store.generation
            if since == target:
                return 0
            changes = 0
            deleted = self.store.deleted_since(since)
            if deleted:
                self._commit_deletes(deleted)
                changes += len(deleted)
            sent: deque[list[tuple[int, int, Paper]]] = deque()
            stopped = False

            def papers() -> Iterator[list[Paper]]:
                nonlocal stopped
                for chunk in self._pending_chunks(since):
                    if stop is not None and stop():
                        stopped = True
                        return
                    sent.append(chunk)
                    yield [p for *_, p in chunk]

            results = stream(papers()) if stream is not None else map(encode, papers())
            for encoded in results:
                chunk = sent.popleft()
                changes += self._commit_chunk(chunk, encoded)
                if progress:
                    progress(len(chunk))
            if stopped or sent:
                return changes
            self._set(generation=target, model=self.model, store_id=self.store.store_id)
            return changes

    def _pending_chunks(self, since: int) -> Iterator[list[tuple[int, int, Paper]]]:
        """The papers changed after ``since`` that lack this version's encoding, in chunks."""
        for batch in self.store.iter_batches(2000, since=since):
            marks = ",".join("?" * len(batch))
            with self._lock:
                done = dict(
                    self.db.execute(
                        f"SELECT id, seq FROM enc WHERE id IN ({marks})",
                        [p.id for *_, p in batch],
                    )
                )
            # papers encoded by an interrupted earlier run keep their encoding
            pending = [t for t in batch if done.get(t[2].id) != t[1]]
            for start in range(0, len(pending), CHUNK):
                yield pending[start : start + CHUNK]

    def _next_chunk(self, db) -> int:
        number = int(
            (db.execute("SELECT value FROM meta WHERE key='chunk'").fetchone() or ("0",))[0]
        )
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('chunk', ?)", (number + 1,))
        return number + 1

    def _commit_deletes(self, ids: list[str]) -> None:
        rowids = self.rowids_of(ids)
        with self._lock, transaction(self.db) as db:
            number = self._next_chunk(db)
            db.executemany(
                "INSERT INTO gone(rowid_, chunk) VALUES (?, ?)", [(r, number) for r in rowids]
            )
            db.executemany("DELETE FROM enc WHERE id=?", [(i,) for i in ids])

    def _commit_chunk(
        self, chunk: list[tuple[int, int, Paper]], encoded: list[tuple[bytes | None, bytes]]
    ) -> int:
        if len(encoded) != len(chunk):
            raise RuntimeError(f"{len(encoded)} encodings came back for {len(chunk)} papers")
        with self._lock, transaction(self.db) as db:
            number = self._next_chunk(db) - 1
            marks = ",".join("?" * len(chunk))
            before = db.execute(
                f"SELECT id, rowid_ FROM enc WHERE id IN ({marks})", [p.id for *_, p in chunk]
            ).fetchall()
            now = {p.id: r for r, _, p in chunk}
            db.executemany(
                "INSERT INTO gone(rowid_, chunk) VALUES (?, ?)",
                [(r, number + 1) for i, r in before if now[i] != r],
            )
            db.executemany(
                "INSERT OR REPLACE INTO enc(id, rowid_, seq, a, b, chunk)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (p.id, r, seq, a, b, number + 1)
                    for (r, seq, p), (a, b) in zip(chunk, encoded, strict=True)
                ],
            )
        return len(chunk)
