"""Tag digests end to end: the CLI's ``digest send`` against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from sciseek import Paper
from sciseek.library.accounts import Accounts
from sciseek.library.errors import LibraryError, UnknownTag
from sciseek.library.expressions import BadExpression
from sciseek.library.recommend import fit_tag_model
from sciseek.library.shelf import Library
from sciseek.library.tagdigests import TagDigests, UnknownDigest
from sciseek.search import indexes
from sciseek.web.app import create_app
from tests.digests.test_digest import (
    LATER,
    MATCHING,
    UNRELATED,
    backdate,
    days,
    html_of,
    paper_ids,
    text_of,
)

IR = ["2401.00001", "2403.00005", "2404.00007", "2405.00009"]  # retrieval papers
SAVED_LATER = Paper(
    "2611.00020",
    "Distilled Query Encoders for Fast Dense Passage Retrieval",
    "A small student query encoder distilled from a large dual-encoder retriever keeps dense "
    "passage retrieval quality while encoding queries much faster.",
    categories=["cs.IR"],
    published="2026-11-06",
)


def reader(engine, address: str):
    with Accounts.open(engine.data_dir) as accounts:
        _, nonce, _ = accounts.request_signin(address)
        return accounts.redeem({"e": address, "n": nonce})[0]


@pytest.fixture
def ada(engine):
    backdate(engine)
    return reader(engine, "ada@example.org")


@pytest.fixture
def library(engine):
    with Library.open(engine.data_dir) as lib:
        yield lib


@pytest.fixture
def digests(engine):
    with TagDigests.open(engine.data_dir) as d:
        yield d


def mails_to(smtp, address: str):
    return [m for m in smtp.inbox.to(address) if m["List-Unsubscribe"]]


def test_a_tag_digest_mails_the_new_papers_above_the_threshold_once(
    engine, smtp, cli, ada, library, digests, tmp_path
):
    for pid in IR:
        library.save(ada.id, "IR", pid)
    digests.create(library, ada.id, "daily", tag="ir")
    engine.add([*MATCHING, *UNRELATED, SAVED_LATER])
    library.save(ada.id, "to read", SAVED_LATER.id)  # saved: never mailed

    code, out, err = cli("digest", "send", "--now", days(0.5))
    assert code == 0 and "0 tag digests due" in out, err  # daily: not a day yet
    previews = tmp_path / "previews"
    code, out, err = cli("digest", "send", "--dry-run", "--now", days(1), "--output", str(previews))
    assert code == 0 and "1 tag digests due: would send 1" in out, err
    assert "Knowledge Distillation" in (previews / "tag-digest-1.html").read_text()
    assert not smtp.inbox.messages and digests.sent(ada.id) == []  # nothing sent or recorded
    code, out, err = cli("digest", "send", "--now", days(1))
    assert code == 0, err
    assert "1 tag digests due: sent 1" in out
    (msg,) = mails_to(smtp, "ada@example.org")

    model = fit_tag_model(engine, library.tag_papers(ada.id, "IR"), [])
    new = [p.id for p in [*MATCHING, *UNRELATED]]
    scores = model.score(new)
    expected = {pid for pid in new if scores[pid] >= model.threshold}
    assert expected and expected != set(new)  # the threshold keeps some and drops some
    assert paper_ids(msg) == expected
    assert "Sourdough" not in text_of(msg) and SAVED_LATER.id not in text_of(msg)
    ranked = sorted(expected, key=lambda p: -scores[p])
    text = text_of(msg)
    assert [text.index(f"/papers/{p}") for p in ranked] == sorted(
        text.index(f"/papers/{p}") for p in ranked
    )  # best first
    assert 'your tag "IR"' in text and "“IR”" in html_of(msg)
    assert msg["List-Unsubscribe"].startswith("<http://testserver/unsubscribe/tag?token=")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sorted(digests.sent(ada.id)) == sorted(expected)

    code, out, _ = cli("digest", "send", "--now", days(2))
    assert code == 0 and "sent 0 (0 papers), 1 with nothing new" in out
    assert len(mails_to(smtp, "ada@example.org")) == 1

    # A new paper comes; one already mailed, deleted and added again, is not mailed again.
    engine.delete([ranked[0]])
    engine.add([LATER, *(p for p in MATCHING if p.id == ranked[0])])
    cli("digest", "send", "--now", days(3))
    latest = mails_to(smtp, "ada@example.org")[-1]
    assert paper_ids(latest) == {LATER.id}


def test_an_expression_digest_skips_papers_another_digest_mailed(
    engine, smtp, cli, ada, library, digests
):
    for pid in IR:
        library.save(ada.id, "ir", pid)
    library.save(ada.id, "surveys", IR[0])
    digests.create(library, ada.id, "daily", tag="ir")
    expr = digests.create(library, ada.id, "weekly", expr="ir  AND NOT surveys")
    assert expr.expr == "ir AND NOT surveys" and expr.label == "ir AND NOT surveys"
    engine.add(MATCHING)
    cli("digest", "send", "--now", days(1))  # only the daily one is due
    (first,) = mails_to(smtp, "ada@example.org")
    mailed = paper_ids(first)
    assert mailed
    engine.add([LATER])
    code, out, _ = cli("digest", "send", "--now", days(7))
    assert "2 tag digests due" in out, out
    later = mails_to(smtp, "ada@example.org")[1:]
    assert later and all(not paper_ids(m) & mailed for m in later)
    everything = [pid for m in mails_to(smtp, "ada@example.org") for pid in paper_ids(m)]
    assert len(everything) == len(set(everything))  # no paper twice, across the two digests


def test_an_empty_tag_and_a_tag_not_encoded_yet_send_nothing_and_say_why(
    engine, smtp, cli, ada, library, digests, monkeypatch
):
    library.save(ada.id, "empty", IR[0])
    library.remove(ada.id, "empty", IR[0])
    digests.create(library, ada.id, "daily", tag="empty")
    monkeypatch.setattr(indexes, "INLINE_CATCH_UP", 0)  # nothing is encoded on a query
    engine.add([LATER], dense=False)
    library.save(ada.id, "late", LATER.id)
    digests.create(library, ada.id, "daily", tag="late")
    engine.add(MATCHING, dense=False)
    code, out, err = cli("digest", "send", "--now", days(1))
    assert code == 0, err
    assert "2 skipped" in out
    assert "skipped ada@example.org's 'empty': the tag has no papers" in out
    assert "skipped ada@example.org's 'late': none of the tag's papers is encoded yet" in out
    assert not mails_to(smtp, "ada@example.org")

    engine.sync()  # now encoded: the candidates of the first day are still new
    monkeypatch.setattr(indexes, "INLINE_CATCH_UP", 1000)
    code, out, err = cli("digest", "send", "--now", days(1.5))
    assert code == 0 and "sent 1" in out, out + err
    (msg,) = mails_to(smtp, "ada@example.org")
    assert paper_ids(msg) <= {p.id for p in MATCHING} and paper_ids(msg)


def test_unsubscribe_link_stops_the_digest(engine, smtp, cli, ada, library, digests):
    for pid in IR:
        library.save(ada.id, "ir", pid)
    digests.create(library, ada.id, "daily", tag="ir")
    engine.add(MATCHING)
    cli("digest", "send", "--now", days(1))
    (msg,) = mails_to(smtp, "ada@example.org")
    url = msg["List-Unsubscribe"].strip("<>")
    with TestClient(create_app(engine)) as app:
        page = app.get(url)
        assert page.status_code == 200 and "<form" in page.text and "ada@example.org" in page.text
        assert 'action="/unsubscribe/tag"' in page.text
        assert digests.of(ada.id)  # a GET changes nothing
        r = app.post(url, data={"List-Unsubscribe": "One-Click"})  # no cookie, no origin
        assert r.status_code == 200 and "Unsubscribed" in r.text
        assert digests.of(ada.id) == []
        assert app.post(url).status_code == 200  # twice is harmless
        bad = app.get("/unsubscribe/tag", params={"token": url.split("token=")[1][:-3] + "AAA"})
        assert bad.status_code == 400
    engine.add([LATER])
    code, out, _ = cli("digest", "send", "--now", days(3))
    assert code == 0 and "0 tag digests due" in out
    assert len(mails_to(smtp, "ada@example.org")) == 1


def test_user_strings_are_escaped_in_the_mail(engine, smtp, cli, ada, library, digests):
    name = "<b onclick=x>IR & co"
    for pid in IR:
        library.save(ada.id, name, pid)
    made = digests.create(library, ada.id, "daily", tag=name)
    engine.add(MATCHING)
    cli("digest", "send", "--now", days(1))
    (msg,) = mails_to(smtp, "ada@example.org")
    html = html_of(msg)
    assert "&lt;b onclick=x&gt;IR &amp; co" in html and "<b onclick" not in html

    digests.delete(ada.id, made.id)
    library.save(ada.id, "<i>", "2402.00004")
    digests.create(library, ada.id, "daily", expr=f'"{name}" AND NOT "<i>"')
    engine.add([LATER])
    code, out, err = cli("digest", "send", "--now", days(2))
    assert "sent 1" in out, out + err
    msg = mails_to(smtp, "ada@example.org")[-1]
    html = html_of(msg)
    assert paper_ids(msg) == {LATER.id}
    assert "&#34;&lt;b onclick=x&gt;IR &amp; co&#34; AND NOT &#34;&lt;i&gt;&#34;" in html
    assert "<i>" not in html and "<b onclick" not in html


def test_bad_requests_are_clear_and_digests_are_the_readers_own(engine, ada, library, digests):
    bob = reader(engine, "bob@example.org")
    library.save(ada.id, "ir", IR[0])
    with pytest.raises(UnknownTag):
        digests.create(library, ada.id, "daily", tag="nope")
    with pytest.raises(BadExpression):
        digests.create(library, ada.id, "daily", expr="ir AND (")
    with pytest.raises(LibraryError, match="frequency"):
        digests.create(library, ada.id, "hourly", tag="ir")
    with pytest.raises(UnknownTag):
        digests.create(library, bob.id, "daily", tag="ir")  # ada's tag is not bob's
    made = digests.create(library, ada.id, "daily", tag="IR")
    assert digests.create(library, ada.id, "weekly", tag="ir").id == made.id
    assert digests.get(ada.id, made.id).frequency == "weekly"
    with pytest.raises(UnknownDigest):
        digests.get(bob.id, made.id)
    with pytest.raises(UnknownDigest):
        digests.delete(bob.id, made.id)
    library.rename_tag(ada.id, "ir", "retrieval")
    assert digests.get(ada.id, made.id).tag == "retrieval"  # a rename follows
    library.delete_tag(ada.id, "retrieval")
    assert digests.of(ada.id) == []  # deleting the tag deletes its digest


def test_deleting_the_account_deletes_its_tag_digests(engine, smtp, cli, ada, library, digests):
    bob = reader(engine, "bob@example.org")
    for who in (ada, bob):
        library.save(who.id, "ir", IR[0])
        digests.create(library, who.id, "daily", tag="ir")
        digests.create(library, who.id, "daily", expr="ir")
    engine.add(MATCHING)
    cli("digest", "send", "--now", days(1))
    with Accounts.open(engine.data_dir) as accounts:
        accounts.delete(ada)
    with sqlite3.connect(engine.store.path) as db:
        for table in ("library_digests", "library_digest_sent"):
            rows = {r[0] for r in db.execute(f"SELECT reader_id FROM {table}")}
            assert rows == {bob.id}, table
