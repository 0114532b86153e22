"""A reader's library in SQLite: tags, saved papers, notes, marks, seen, tag expressions."""

from __future__ import annotations

import sqlite3

import pytest

from sciseek.library import marks as marks_module
from sciseek.library import shelf as shelf_module
from sciseek.library.accounts import Accounts
from sciseek.library.errors import LibraryError, TagExists, UnknownPaper, UnknownTag
from sciseek.library.expressions import BadExpression, select
from sciseek.library.shelf import Library

IR = ["2401.00001", "2401.00002", "2403.00005"]
BIO = ["2402.00003", "2403.00006"]


def new_reader(accounts: Accounts, email: str) -> int:
    _, nonce, _ = accounts.request_signin(email)
    reader, _ = accounts.redeem({"e": email, "n": nonce})
    return reader.id


@pytest.fixture
def lib(engine):
    with Accounts.open(engine.data_dir) as accounts, Library.open(engine.data_dir) as library:
        library.ada = new_reader(accounts, "ada@example.org")
        library.bob = new_reader(accounts, "bob@example.org")
        yield library


def test_saving_creates_tags_and_counts_papers_per_reader(lib):
    for pid in IR:
        lib.save(lib.ada, "IR", pid)
    lib.save(lib.ada, "ir", "arXiv:2401.00001v2")  # same tag, same paper
    lib.save(lib.ada, "biology", BIO[0])
    lib.save(lib.bob, "IR", BIO[1])
    assert [(t.name, t.count) for t in lib.tags(lib.ada)] == [("biology", 1), ("IR", 3)]
    assert lib.tag_papers(lib.ada, "Ir") == IR
    assert lib.saved(lib.ada) == IR + BIO[:1]
    assert [(t.name, t.count) for t in lib.tags(lib.bob)] == [("IR", 1)]
    assert lib.tag_papers(lib.bob, "IR") == [BIO[1]]
    assert lib.tags_of(lib.ada, IR[0]) == ["IR"]
    with pytest.raises(UnknownPaper):
        lib.save(lib.ada, "IR", "9999.99999")
    with pytest.raises(UnknownTag):
        lib.tag_papers(lib.ada, "nothing")


@pytest.mark.parametrize("name", ["", "   ", "a/b", "tab\x00", "x" * 61, None, 5])
def test_bad_tag_names_are_refused(lib, name):
    with pytest.raises(LibraryError):
        lib.save(lib.ada, name, IR[0])
    assert lib.tags(lib.ada) == []


def test_remove_rename_and_delete_tags(lib):
    lib.save(lib.ada, "ir", IR[0])
    lib.save(lib.ada, "ir", IR[1])
    lib.save(lib.ada, "todo", IR[1])
    assert lib.remove(lib.ada, "IR", IR[0]) is True
    assert lib.remove(lib.ada, "IR", IR[0]) is False
    assert lib.tag_papers(lib.ada, "ir") == [IR[1]]
    assert lib.rename_tag(lib.ada, "ir", "Retrieval") == "Retrieval"
    assert lib.tag_papers(lib.ada, "retrieval") == [IR[1]]
    with pytest.raises(TagExists):
        lib.rename_tag(lib.ada, "retrieval", "TODO")
    lib.rename_tag(lib.ada, "todo", "ToDo")  # a change of case is a rename
    assert [t.name for t in lib.tags(lib.ada)] == ["Retrieval", "ToDo"]
    lib.delete_tag(lib.ada, "todo")
    assert [t.name for t in lib.tags(lib.ada)] == ["Retrieval"]
    assert lib.saved(lib.ada) == [IR[1]]
    with pytest.raises(UnknownTag):
        lib.delete_tag(lib.bob, "retrieval")  # another reader's tag is not there


def test_a_note_per_saved_paper_goes_with_the_paper(lib):
    lib.save(lib.ada, "ir", IR[0], note="  read section 3  ")
    lib.save(lib.ada, "todo", IR[0])
    assert lib.note(lib.ada, IR[0]) == "read section 3"
    assert [s.note for s in lib.tag_entries(lib.ada, "todo")] == ["read section 3"]
    lib.set_note(lib.ada, IR[0], "changed")
    assert lib.note(lib.ada, IR[0]) == "changed"
    assert lib.note(lib.bob, IR[0]) is None
    with pytest.raises(UnknownPaper):
        lib.set_note(lib.bob, IR[0], "not bob's paper")
    with pytest.raises(LibraryError, match="5,000"):
        lib.set_note(lib.ada, IR[0], "x" * 5001)
    lib.remove(lib.ada, "ir", IR[0])
    assert lib.note(lib.ada, IR[0]) == "changed"  # still saved under todo
    lib.delete_tag(lib.ada, "todo")
    assert lib.note(lib.ada, IR[0]) is None
    lib.save(lib.ada, "ir", IR[0])
    lib.set_note(lib.ada, IR[0], "")
    assert lib.note(lib.ada, IR[0]) is None


def test_limits_give_clear_errors(lib, monkeypatch):
    monkeypatch.setattr(shelf_module, "MAX_TAGS", 2)
    monkeypatch.setattr(shelf_module, "MAX_SAVED", 3)
    lib.save(lib.ada, "a", IR[0])
    lib.save(lib.ada, "b", IR[0])
    with pytest.raises(LibraryError, match="at most 2 tags"):
        lib.save(lib.ada, "c", IR[0])
    lib.save(lib.ada, "a", IR[1])
    with pytest.raises(LibraryError, match="at most 3 saved papers"):
        lib.save(lib.ada, "a", IR[2])
    lib.save(lib.bob, "c", IR[0])  # the limits are per reader
    monkeypatch.setattr(marks_module, "MAX_MARKS", 1)
    lib.mark_not_relevant(lib.ada, BIO[0])
    with pytest.raises(LibraryError, match="not-relevant marks"):
        lib.mark_not_relevant(lib.ada, BIO[1])


def test_not_relevant_marks_for_the_library_and_for_a_tag(lib):
    lib.save(lib.ada, "ir", IR[0])
    lib.save(lib.ada, "bio", BIO[0])
    lib.mark_not_relevant(lib.ada, "2404.00008")
    lib.mark_not_relevant(lib.ada, "2405.00010", tag="IR")
    lib.mark_not_relevant(lib.ada, "2405.00010", tag="ir")  # once
    assert lib.not_relevant(lib.ada) == ["2404.00008"]
    assert lib.not_relevant(lib.ada, "ir") == ["2404.00008", "2405.00010"]
    assert lib.not_relevant(lib.ada, "bio") == ["2404.00008"]
    assert lib.not_relevant(lib.bob) == []
    assert [(m.paper_id, m.tag) for m in lib.marks(lib.ada)] == [
        ("2404.00008", None),
        ("2405.00010", "ir"),
    ]
    assert lib.unmark(lib.ada, "2405.00010") is False  # that mark is the tag's
    assert lib.unmark(lib.ada, "2405.00010", "ir") is True
    with pytest.raises(UnknownTag):
        lib.mark_not_relevant(lib.ada, IR[1], tag="missing")
    lib.delete_tag(lib.ada, "ir")  # a tag's marks go with it
    assert [m.paper_id for m in lib.marks(lib.ada)] == ["2404.00008"]


def test_seen_papers(lib, monkeypatch):
    assert lib.mark_seen(lib.ada, [IR[0], IR[1], IR[0], "no-such-paper"]) == 2
    assert lib.mark_seen(lib.ada, [IR[0]]) == 0
    assert lib.seen(lib.ada) == {IR[0], IR[1]}
    assert lib.seen(lib.bob) == set()
    assert lib.unsee(lib.ada, [IR[0]]) == 1
    assert lib.seen(lib.ada) == {IR[1]}
    monkeypatch.setattr(marks_module, "MAX_SEEN", 2)
    lib.mark_seen(lib.ada, [IR[2]])
    lib.mark_seen(lib.ada, [BIO[0]])
    assert len(lib.seen(lib.ada)) == 2 and BIO[0] in lib.seen(lib.ada)
    assert lib.unsee(lib.ada) == 2
    assert lib.seen(lib.ada) == set()


@pytest.fixture
def tagged(lib):
    lib.save(lib.ada, "ir", IR[0])
    lib.save(lib.ada, "ir", IR[1])
    lib.save(lib.ada, "surveys", IR[1])
    lib.save(lib.ada, "to read", BIO[0])
    lib.save(lib.ada, "surveys", BIO[1])
    lib.save(lib.bob, "ir", IR[2])
    return lib


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("ir", [IR[0], IR[1]]),
        ("IR AND NOT surveys", [IR[0]]),
        ("ir and not surveys", [IR[0]]),
        ("ir OR surveys", [IR[0], IR[1], BIO[1]]),
        ("NOT ir", [BIO[0], BIO[1]]),
        ('(ir OR "To Read") AND NOT surveys', [IR[0], BIO[0]]),
        ('ir AND surveys OR "to read"', [IR[1], BIO[0]]),  # AND binds tighter
        ("NOT NOT surveys", [IR[1], BIO[1]]),
        ("ir AND (surveys AND NOT surveys)", []),
    ],
)
def test_tag_expressions(tagged, expression, expected):
    assert select(tagged, tagged.ada, expression) == expected


@pytest.mark.parametrize(
    "expression, position",
    [
        ("", 1),
        ("ir AND", 7),
        ("ir surveys", 4),
        ("(ir OR surveys", 15),
        ("ir )", 4),
        ('"to read', 1),
        ("ir AND missing", 8),
        ("OR ir", 1),
        ("(" * 60 + "ir" + ")" * 60, 51),
    ],
)
def test_bad_tag_expressions_name_the_position(tagged, expression, position):
    with pytest.raises(BadExpression) as e:
        select(tagged, tagged.ada, expression)
    assert e.value.position == position
    assert f"at position {position}" in str(e.value)


def test_another_readers_tags_are_not_in_expressions(tagged):
    with pytest.raises(BadExpression, match="no tag 'surveys'"):
        select(tagged, tagged.bob, "ir OR surveys")
    assert select(tagged, tagged.bob, "ir") == [IR[2]]


def test_rows_belong_to_their_reader_and_cascade(engine, tagged):
    tagged.set_note(tagged.ada, IR[0], "mine")
    tagged.mark_not_relevant(tagged.ada, BIO[0], "ir")
    tagged.mark_seen(tagged.ada, [IR[2]])
    with sqlite3.connect(engine.store.path) as db:
        (before,) = db.execute(
            "SELECT COUNT(*) FROM library_seen WHERE reader_id=?", (tagged.ada,)
        ).fetchone()
    assert before == 1
    with sqlite3.connect(engine.store.path) as db:
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("DELETE FROM readers WHERE id=?", (tagged.ada,))
        tables = ("library_tags", "library_saved", "library_notes", "library_marks", "library_seen")
        for table in tables:
            sql = f"SELECT COUNT(*) FROM {table} WHERE reader_id=?"
            assert db.execute(sql, (tagged.bob,)).fetchone()[0] <= 1, table
            assert db.execute(sql, (tagged.ada,)).fetchone()[0] == 0, table
    assert tagged.tag_papers(tagged.bob, "ir") == [IR[2]]
