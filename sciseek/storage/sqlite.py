"""SQLite connections as sciseek opens them: WAL mode, a long busy timeout, explicit writes.

Every database in a data dir (the store, the subscriber tables in the store's file, the
per-model encoding tables) is opened with ``connect`` and written inside ``transaction``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Self

BUSY_TIMEOUT = 60  # seconds a statement waits for another connection's write lock
STORE_FILE = "sciseek.db"  # the paper store's file in a data dir


def connect(
    path: str | Path, *, synchronous: str | None = "NORMAL", foreign_keys: bool = False
) -> sqlite3.Connection:
    """A connection to the database at ``path`` (created if missing) in WAL mode, in autocommit
    mode (writes go through ``transaction``), usable from any thread (callers serialise it).

    ``synchronous`` sets ``PRAGMA synchronous`` (None keeps SQLite's default);
    ``foreign_keys`` turns on foreign-key enforcement.
    """
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    if synchronous is not None:
        db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT * 1000}")
    if foreign_keys:
        db.execute("PRAGMA foreign_keys=ON")
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (``BEGIN IMMEDIATE``): committed when the block ends, rolled back
    when it raises (the exception propagates)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    try:
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


IN_BATCH = 500  # values bound into one ``IN (...)`` list (SQLite's limit is 32,766)


def rows_in(db: sqlite3.Connection, sql: str, values: Sequence) -> Iterator[tuple]:
    """The rows of ``sql`` for all of ``values``, whose ``{marks}`` placeholder is the ``IN``
    list: run for ``IN_BATCH`` values at a time (callers hold their connection's lock)."""
    for start in range(0, len(values), IN_BATCH):
        part = list(values[start : start + IN_BATCH])
        yield from db.execute(sql.format(marks=",".join("?" * len(part))), part)


def add_column(db: sqlite3.Connection, table: str, column: str, declaration: str) -> None:
    """Add ``column`` to ``table`` of an older database that lacks it (in its own
    transaction); nothing when it is there."""
    if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
        with transaction(db):
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


class StoreTables:
    """Tables of their own inside a data dir's store file, through a connection of their own.

    A subclass names its ``SCHEMAS`` (run in order when it opens); it is opened by data dir
    (``open``), used as a context manager, and writes inside ``_write``. Opening a file that
    is not a sciseek store raises FileNotFoundError.
    """

    SCHEMAS: tuple[str, ...] = ()

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = connect(self.path, synchronous=None, foreign_keys=True)
        if not self._db.execute("SELECT 1 FROM sqlite_master WHERE name='papers'").fetchone():
            self._db.close()
            raise FileNotFoundError(f"{self.path} is not a sciseek store")
        for schema in self.SCHEMAS:
            self._db.executescript(schema)

    @classmethod
    def open(cls, data_dir: str | Path) -> Self:
        """These tables in the data dir's store (which must exist)."""
        return cls(Path(data_dir) / STORE_FILE)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, transaction(self._db) as db:
            yield db
