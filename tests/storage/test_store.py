import sqlite3

import pytest

from sciseek.ingest.papers import Paper
from sciseek.storage.store import Store, TooManyVotes


def test_upsert_get_count_and_generation(tmp_path, papers):
    store = Store(tmp_path / "s.db")
    assert store.count() == 0 and store.generation == 0
    r = store.upsert(papers)
    assert (r.inserted, r.updated, r.unchanged, r.generation) == (12, 0, 0, 1)
    assert store.count() == 12
    assert store.get("2401.00001") == papers[0]
    assert store.get("nope") is None


def test_upsert_replaces_by_id_and_skips_identical(tmp_path, papers):
    store = Store(tmp_path / "s.db")
    store.upsert(papers)
    changed = Paper(id=papers[0].id, title="A new title")
    r = store.upsert([changed, papers[1]])
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 1)
    assert store.get(papers[0].id).title == "A new title"
    assert store.count() == 12


def test_last_duplicate_in_a_batch_wins(tmp_path):
    store = Store(tmp_path / "s.db")
    store.upsert([Paper("x", "first"), Paper("x", "second")])
    assert store.get("x").title == "second" and store.count() == 1


def test_delete_is_real_and_leaves_a_tombstone(tmp_path, papers):
    store = Store(tmp_path / "s.db")
    store.upsert(papers)
    gen = store.generation
    assert store.delete(["2401.00001", "missing"]) == ["2401.00001"]
    assert store.get("2401.00001") is None and store.count() == 11
    assert store.deleted_since(gen) == ["2401.00001"]
    store.upsert([papers[0]])  # re-adding clears the tombstone
    assert store.deleted_since(gen) == []


def test_iter_batches_and_changes_since(tmp_path, papers):
    store = Store(tmp_path / "s.db")
    store.upsert(papers[:10])
    gen = store.generation
    store.upsert(papers[8:])
    batches = list(store.iter_batches(4))
    assert [len(b) for b in batches] == [4, 4, 4]
    assert {p.id for b in batches for _, _, p in b} == {p.id for p in papers}
    changed = [p.id for b in store.iter_batches(100, since=gen) for _, _, p in b]
    assert sorted(changed) == sorted(p.id for p in papers[10:])


def test_data_survives_reopen(tmp_path, papers):
    Store(tmp_path / "s.db").upsert(papers)
    again = Store(tmp_path / "s.db")
    assert again.count() == 12 and again.get(papers[5].id) == papers[5]


def test_the_store_indexes_papers_by_time_added(tmp_path):
    Store(tmp_path / "s.db").close()
    Store(tmp_path / "s.db").close()  # idempotent on an existing data dir
    db = sqlite3.connect(tmp_path / "s.db")
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "papers_added" in names


def test_a_failing_write_leaves_the_store_as_it_was(tmp_path, papers):
    store = Store(tmp_path / "s.db")
    store.upsert(papers[:2])
    generation = store.generation

    class Broken(Paper):
        def to_dict(self):
            raise RuntimeError("cannot serialise")

    with pytest.raises(RuntimeError):
        store.upsert([papers[2], Broken(id="bad", title="Bad")])
    assert store.generation == generation and store.count() == 2
    store.upsert(papers[2:4])  # the connection is usable again
    assert store.count() == 4


def test_a_store_from_before_vote_clients_gains_the_column(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE votes (paper_id TEXT NOT NULL, voter TEXT NOT NULL, created TEXT NOT NULL,"
        " PRIMARY KEY (paper_id, voter))"
    )
    db.execute("INSERT INTO votes VALUES ('p', 'old-voter', '2026-01-01T00:00:00+00:00')")
    db.commit()
    db.close()
    store = Store(path)
    store.upsert([Paper("p", "A paper")])
    assert store.set_vote("p", "new-voter", True, client="c", per_client_hour=1) == 2
    with pytest.raises(TooManyVotes):
        store.set_vote("p", "third-voter", True, client="c", per_client_hour=1)
    assert store.set_vote("p", "new-voter", True, client="c", per_client_hour=1) == 2
    store.close()


def test_the_kept_count_follows_every_write_and_is_made_for_an_older_store(tmp_path, papers):
    path = tmp_path / "s.db"
    store = Store(path)
    store.upsert(papers)
    store.upsert([Paper(papers[0].id, "A new title")])  # an update is not a new paper
    store.delete([papers[1].id, "never-stored"])
    store.upsert([Paper(papers[1].id, "Back again")])
    store.delete([papers[2].id, papers[3].id])
    real = sqlite3.connect(path).execute("SELECT COUNT(*) FROM papers").fetchone()[0]
    assert store.count() == real == 10
    store.close()
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM meta WHERE key='papers'")  # as a store written before it
    db.close()
    assert Store(path).count() == 10
