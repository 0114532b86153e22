import sqlite3

import pytest

from sciseek.storage.sqlite import connect, transaction


def _table(path):
    db = connect(path)
    db.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    return db


def test_connect_uses_wal_and_a_busy_timeout(tmp_path):
    db = connect(tmp_path / "a.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 60000
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 0
    assert db.isolation_level is None


def test_connect_options(tmp_path):
    default = sqlite3.connect(tmp_path / "b.db")
    default.execute("PRAGMA journal_mode=WAL")
    db = connect(tmp_path / "c.db", synchronous=None, foreign_keys=True)
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert (
        db.execute("PRAGMA synchronous").fetchone()[0]
        == default.execute("PRAGMA synchronous").fetchone()[0]
    )


def test_transaction_commits(tmp_path):
    db = _table(tmp_path / "a.db")
    with transaction(db) as txn:
        txn.execute("INSERT INTO t VALUES (1)")
    other = connect(tmp_path / "a.db")
    assert other.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert not db.in_transaction


def test_transaction_rolls_back_on_error(tmp_path):
    db = _table(tmp_path / "a.db")
    with pytest.raises(ValueError, match="stop"), transaction(db) as txn:
        txn.execute("INSERT INTO t VALUES (1)")
        raise ValueError("stop")
    assert not db.in_transaction
    assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
    with transaction(db) as txn:  # the connection is usable again
        txn.execute("INSERT INTO t VALUES (2)")
    assert db.execute("SELECT x FROM t").fetchall() == [(2,)]


def test_transaction_rolls_back_a_failing_statement(tmp_path):
    db = _table(tmp_path / "a.db")
    with pytest.raises(sqlite3.IntegrityError), transaction(db) as txn:
        txn.execute("INSERT INTO t VALUES (1)")
        txn.execute("INSERT INTO t VALUES (1)")
    assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0


def test_transaction_takes_the_write_lock_at_once(tmp_path):
    db = _table(tmp_path / "a.db")
    other = sqlite3.connect(tmp_path / "a.db", timeout=0, isolation_level=None)
    with transaction(db), pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("COMMIT")
