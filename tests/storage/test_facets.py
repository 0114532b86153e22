"""The category and author side tables: kept in step with every write, filled in for a store
written before them, and read through indexes only."""

import json
import sqlite3

import pytest

from sciseek.ingest.papers import Paper
from sciseek.storage import facets
from sciseek.storage.facets import author_key
from sciseek.storage.sqlite import transaction
from sciseek.storage.store import Store


def derived(path) -> tuple[set, set]:
    """The side tables' rows as they follow from the papers' own JSON columns."""
    with sqlite3.connect(path) as db:
        cats, auths = set(), set()
        for rowid, authors, categories, published in db.execute(
            "SELECT rowid, authors, categories, published FROM papers"
        ):
            cats |= {(c, published or "", rowid) for c in json.loads(categories)}
            first = {}  # an author listed twice counts once, spelled as first listed
            for a in json.loads(authors):
                first.setdefault(author_key(a), a)
            auths |= {(key, published or "", rowid, a) for key, a in first.items()}
    return cats, auths


def stored(path) -> tuple[set, set]:
    with sqlite3.connect(path) as db:
        cats = set(db.execute("SELECT category, published, paper FROM paper_categories"))
        auths = set(db.execute("SELECT author_key, published, paper, author FROM paper_authors"))
    return cats, auths


def test_author_keys_ignore_case_spacing_and_punctuation():
    assert author_key("Jane Doe") == author_key("jane  doe") == author_key(" JANE-doe ")
    assert author_key("Jane Doe") == "jane doe"
    assert author_key("J. Doe") == "j doe" != author_key("Jane Doe")
    assert author_key("Étienne Ñúñez") == "étienne ñúñez"
    assert author_key("<script>") == "script" and author_key(" .,; ") == ""


def test_side_tables_follow_upserts_and_deletes(tmp_path, papers):
    path = tmp_path / "s.db"
    store = Store(path)
    store.upsert(papers)
    assert stored(path) == derived(path)
    assert len(stored(path)[0]) == sum(len(p.categories) for p in papers)
    first = papers[0]
    changed = Paper(
        first.id,
        first.title,
        authors=["Jane Doe", "jane  doe", "Grace Hopper"],  # one author twice: one row
        categories=["cs.DL"],
        published="2025-01-01",
    )
    store.upsert([changed, papers[1]])
    assert stored(path) == derived(path)
    rowid = store.rowid(first.id)
    assert store.facets.category("cs.DL", 10) == [rowid]
    assert rowid not in store.facets.category("cs.IR", 20)  # the old category is gone
    assert rowid not in store.facets.author("Ada Lovelace", 20)
    assert store.facets.author("JANE DOE", 10) == [rowid]
    assert store.facets.category("cs.DL", 10, 1) == []
    store.upsert([Paper(first.id, first.title, authors=["Jane Doe"])])  # no date, no category
    assert stored(path) == derived(path)
    assert store.facets.category("cs.DL", 10) == []
    store.delete([first.id, papers[5].id])
    assert stored(path) == derived(path)
    assert store.facets.author("Jane Doe", 10) == []
    assert all(r[2] != rowid for r in stored(path)[1])
    store.close()


def test_a_rowid_used_again_after_a_delete_gets_only_its_new_rows(tmp_path):
    path = tmp_path / "s.db"
    store = Store(path)
    store.upsert([Paper("a", "A", authors=["Old Author"], categories=["old.cat"])])
    store.delete(["a"])
    store.upsert([Paper("b", "B", authors=["New Author"], categories=["new.cat"])])
    assert stored(path) == derived(path)
    assert store.facets.author("Old Author", 5) == store.facets.category("old.cat", 5) == []
    store.close()


def make_old(path) -> None:
    """Turn a store into one written before the side tables existed."""
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE paper_categories")
        db.execute("DROP TABLE paper_authors")
        db.execute("DELETE FROM meta WHERE key='facets'")


def test_a_store_without_side_tables_is_filled_in_when_opened(tmp_path, papers):
    path = tmp_path / "s.db"
    old = Store(path)
    old.upsert(papers)
    old.close()
    make_old(path)
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "paper_authors" not in tables
    store = Store(path)
    assert stored(path) == derived(path) and stored(path)[0]
    turing = [store.rowid(p.id) for p in papers if "Alan Turing" in p.authors]
    assert sorted(store.facets.author("alan turing", 20)) == sorted(turing)
    store.upsert([Paper(papers[0].id, "Changed", authors=["Someone Else"])])  # still in step
    assert stored(path) == derived(path)
    store.close()
    db = sqlite3.connect(path)
    assert facets.backfill(db, None) == 0  # done once: never again (nothing is written)
    db.close()


def test_an_interrupted_backfill_resumes_where_it_stopped(tmp_path, papers):
    path = tmp_path / "s.db"
    old = Store(path)
    old.upsert(papers)
    old.close()
    make_old(path)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(facets.SCHEMA)
    calls = 0

    def dying_write():
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return transaction(db)

    with pytest.raises(KeyboardInterrupt):
        facets.backfill(db, dying_write, batch=5)
    cats, _ = stored(path)
    assert {r[2] for r in cats} == set(range(1, 11)) & {r[2] for r in derived(path)[0]}
    assert facets.backfill(db, lambda: transaction(db), batch=5) == 2  # the last two papers
    assert stored(path) == derived(path)
    db.close()


def test_facet_reads(tmp_path, papers):
    store = Store(tmp_path / "s.db")
    assert store.facets.latest_day() is None
    assert store.facets.adjacent_days("2024-01-01") == (None, None)
    store.upsert(papers)
    store.upsert([Paper("2401.99999", "Same day", published="2024-01-05"), Paper("x", "Undated")])
    f = store.facets
    assert f.latest_day() == max(p.published for p in papers)
    assert f.adjacent_days("2024-01-05") == ("2024-01-02", "2024-02-10")
    assert f.adjacent_days("2024-01-03") == ("2024-01-02", "2024-01-05")
    assert f.adjacent_days("2024-01-02") == (None, "2024-01-05")
    assert f.adjacent_days(f.latest_day()) == ("2024-06-03", None)
    day = f.day("2024-01-05", 10)
    assert [store.ids_by_rowids(day)[r] for r in day] == ["2401.00002", "2401.99999"]
    assert f.day_count("2024-01-05") == 2 and f.day_count("2024-01-06") == 0
    assert f.day("2024-01-05", 1, 1) == [store.rowid("2401.99999")]
    ir = sorted((p for p in papers if "cs.IR" in p.categories), key=lambda p: p.published)
    assert f.category("cs.IR", 20) == [store.rowid(p.id) for p in reversed(ir)]
    assert f.category("cs.ir", 20) == []  # categories match as stored
    assert f.coauthors("alan turing", 10) == [
        ("Ada Lovelace", 1),
        ("Karen Sparck Jones", 1),
        ("Marie Curie", 1),
    ]
    assert f.coauthors("Alan Turing", 1, depth=1) == [("Marie Curie", 1)]  # newest paper only
    assert f.spelling("ADA  lovelace") == "Ada Lovelace" and f.spelling("Nobody") is None
    store.upsert([Paper("y", "Renamed", authors=["ADA LOVELACE"], published="2023-01-01")])
    assert f.spelling("ada lovelace") == "Ada Lovelace"  # as on the newest paper
    store.upsert([Paper("y", "Renamed", authors=["ADA LOVELACE"], published="2025-01-01")])
    assert f.spelling("ada lovelace") == "ADA LOVELACE"
    store.close()


@pytest.mark.parametrize(
    "name",
    ["DAY_SQL", "DAY_COUNT_SQL", "PREVIOUS_DAY_SQL", "NEXT_DAY_SQL", "LATEST_DAY_SQL"]
    + ["CATEGORY_SQL", "AUTHOR_SQL", "COAUTHORS_SQL", "SPELLING_SQL"],
)
def test_every_read_is_answered_from_an_index(tmp_path, papers, name):
    store = Store(tmp_path / "s.db")
    store.upsert(papers)
    sql = getattr(facets, name)
    with sqlite3.connect(tmp_path / "s.db") as db:
        plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, ("x",) * sql.count("?"))]
    scans = [step for step in plan if step.startswith("SCAN") and step != "SCAN mine"]
    assert not scans, plan
    assert any("INDEX" in step or "PRIMARY KEY" in step for step in plan), plan
    if name in ("CATEGORY_SQL", "AUTHOR_SQL"):  # the index's order is the answer's order
        assert not any("TEMP B-TREE" in step for step in plan), plan
    store.close()
