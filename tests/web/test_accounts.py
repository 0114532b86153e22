"""Signing in by email link, sessions, signing out and deleting an account, against a real
SMTP server on 127.0.0.1."""

from __future__ import annotations

import sqlite3

from fastapi.testclient import TestClient

from sciseek.digests.interests import Interests
from sciseek.digests.subscriptions import Subscriptions
from sciseek.digests.tokens import make_token, secret_key
from sciseek.library.accounts import SIGNIN_TTL
from sciseek.library.signin import signin_token
from sciseek.web.accounts import SESSION_COOKIE
from tests.digests.test_digest import html_of, text_of
from tests.web.signing import SITE, sign_in, signin_link


def test_the_mailed_link_signs_in_once(app, smtp):
    browser = TestClient(app)
    assert browser.post("/signin", data={"email": "Ada@Example.org"}).status_code == 403
    r = browser.post("/signin", data={"email": "  Ada@Example.org "}, headers=SITE)
    assert r.status_code == 202 and "ada@example.org" in r.text
    (msg,) = smtp.inbox.messages
    assert msg["To"] == "ada@example.org" and "sign-in" in msg["Subject"]
    link = signin_link(smtp, "ada@example.org")
    assert link.replace("&", "&amp;") in html_of(msg) or link in html_of(msg)
    assert browser.get("/api/account").status_code == 401

    page = browser.get(link)  # a mail scanner fetching the link signs nobody in
    assert page.status_code == 200 and 'action="/signin/confirm"' in page.text
    assert browser.get("/api/account").status_code == 401
    token = link.partition("token=")[2]
    assert browser.post("/signin/confirm", data={"token": token}).status_code == 403
    r = browser.post("/signin/confirm", data={"token": token}, headers=SITE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/library"
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith(SESSION_COOKIE) and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http here
    account = browser.get("/api/account")
    assert account.status_code == 200 and account.json()["email"] == "ada@example.org"
    assert "ada@example.org" in browser.get("/").text  # the nav shows who is signed in

    # The link is used up, on its page and when posted again.
    again = browser.get(link)
    assert again.status_code == 403 and "already used" in again.text
    again = browser.post("/signin/confirm", data={"token": token}, headers=SITE)
    assert again.status_code == 403 and "already used" in again.text


def test_the_session_cookie_is_secure_over_https(app, smtp):
    browser = sign_in(app, smtp, "grace@example.org", base_url="https://testserver")
    assert browser.get("/api/account").json()["email"] == "grace@example.org"
    (cookie,) = [c for c in browser.cookies.jar if c.name == SESSION_COOKIE]
    assert cookie.secure


def test_forged_expired_and_foreign_links_are_refused(engine, app, smtp):
    key = secret_key(engine.data_dir)
    sign_in(app, smtp, "ada@example.org")
    token = signin_link(smtp, "ada@example.org").partition("token=")[2]
    body, _, sig = token.partition(".")
    tampered = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{sig}"
    made_elsewhere = signin_token(b"k" * 32, "ada@example.org", "nonce")
    digest_link = make_token(key, "confirm", {"s": 1, "e": "ada@example.org", "h": "x"}, 60)
    expired = make_token(
        key, "signin", {"e": "ada@example.org", "n": "x"}, SIGNIN_TTL.total_seconds(), now=0
    )
    browser = TestClient(app)
    for bad, status, words in (
        (tampered, 400, "altered"),
        (made_elsewhere, 400, "not issued by this site"),
        (digest_link, 400, "wrong kind of link"),
        ("garbage", 400, "malformed"),
        ("", 400, "malformed"),
        (expired, 410, "expired"),
        (signin_token(key, "ada@example.org", "never-issued"), 403, "already used"),
    ):
        for r in (
            browser.get("/signin/confirm", params={"token": bad}),
            browser.post("/signin/confirm", data={"token": bad}, headers=SITE),
        ):
            assert r.status_code == status and words in r.text, (bad, r.status_code)
        assert browser.get("/api/account").status_code == 401


def test_forged_revoked_and_signed_out_cookies_are_refused(engine, app, smtp):
    browser = sign_in(app, smtp, "ada@example.org")
    value = browser.cookies.get(SESSION_COOKIE)
    token, _, sig = value.rpartition(".")
    changed = f"{token[:-1]}{'B' if token.endswith('A') else 'A'}"  # always a different token
    for forged in ("x", f"{token}.{'0' * 32}", f"{changed}.{sig}", f".{sig}", value + "x"):
        other = TestClient(app)
        other.cookies.set(SESSION_COOKIE, forged)
        r = other.get("/api/library/tags")
        assert r.status_code == 401 and "sign in" in r.json()["detail"], forged
        page = other.get("/library")
        assert page.status_code == 401 and 'action="/signin"' in page.text
    copy = TestClient(app)
    copy.cookies.set(SESSION_COOKIE, value)
    assert copy.get("/api/account").status_code == 200
    assert browser.post("/signout").status_code == 403  # cross-site sign-out refused
    r = browser.post("/signout", headers=SITE, follow_redirects=False)
    assert r.status_code == 303
    assert copy.get("/api/account").status_code == 401  # the session is revoked server-side
    with sqlite3.connect(engine.store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM reader_sessions").fetchone()[0] == 0


def test_an_address_gets_a_few_links_an_hour_and_one_client_a_few_more(app, smtp):
    browser = TestClient(app)
    for _ in range(3):
        r = browser.post("/signin", data={"email": "ada@example.org"}, headers=SITE)
        assert r.status_code == 202
    r = browser.post("/signin", data={"email": "ADA@example.org"}, headers=SITE)
    assert r.status_code == 429 and "too many sign-in links" in r.text
    for i in range(7):
        r = browser.post("/signin", data={"email": f"r{i}@example.org"}, headers=SITE)
        assert r.status_code == 202
    r = browser.post("/signin", data={"email": "new@example.org"}, headers=SITE)
    assert r.status_code == 429 and "from one address" in r.text
    assert len(smtp.inbox.messages) == 10


def test_bad_addresses_and_mail_trouble_are_clear(app, smtp, monkeypatch):
    browser = TestClient(app)
    for bad in ("", "not an address", "a@b", "x" * 300 + "@example.org"):
        r = browser.post("/signin", data={"email": bad}, headers=SITE)
        assert r.status_code == 422 and "email address" in r.text, bad
    smtp.stop()
    r = browser.post("/signin", data={"email": "ada@example.org"}, headers=SITE)
    assert r.status_code == 502 and "could not be sent" in r.text
    monkeypatch.delenv("SCISEEK_SMTP_HOST")
    r = browser.post("/signin", data={"email": "ada@example.org"}, headers=SITE)
    assert r.status_code == 503 and "email is not configured" in r.text
    # failed sends do not count towards the limits
    smtp.start()
    monkeypatch.setenv("SCISEEK_SMTP_HOST", "127.0.0.1")
    for _ in range(3):
        r = browser.post("/signin", data={"email": "ada@example.org"}, headers=SITE)
        assert r.status_code == 202


def test_addresses_are_escaped_in_the_mail_and_the_pages(app, smtp):
    address = "o'neil&co@example.org"
    browser = sign_in(app, smtp, address)
    (msg,) = smtp.inbox.to(address)
    assert "o&#39;neil&amp;co@example.org" in html_of(msg)
    assert address in text_of(msg)
    page = browser.get("/account").text
    assert "o&#39;neil&amp;co@example.org" in page and address not in page


def test_deleting_the_account_deletes_its_rows_and_subscription(engine, app, smtp):
    ada = sign_in(app, smtp, "ada@example.org")
    bob = sign_in(app, smtp, "bob@example.org")
    with Subscriptions.open(engine.data_dir) as subs:
        subs.add("ada@example.org", Interests(queries=("dense retrieval",)), "daily")
        subs.add("bob@example.org", Interests(queries=("graphs",)), "daily")
    for browser in (ada, bob):
        for pid in ("2401.00001", "2402.00003"):
            r = browser.post(
                "/api/library/tags/ir", json={"paper_id": pid, "note": "n"}, headers=SITE
            )
            assert r.status_code == 201
        browser.post("/api/library/marks", json={"paper_id": "2404.00008"}, headers=SITE)
        browser.post("/api/library/seen", json={"paper_ids": ["2405.00009"]}, headers=SITE)
        r = browser.post("/api/library/digests", json={"tag": "ir"}, headers=SITE)
        assert r.status_code == 201
    ada.post("/signin", data={"email": "ada@example.org"}, headers=SITE)
    unused = signin_link(smtp, "ada@example.org")

    page = ada.get("/account")
    assert "gets sciseek digests" in page.text
    assert ada.post("/account/delete", data={"confirm": "yes"}).status_code == 403
    asked = ada.post("/account/delete", headers=SITE)  # the confirmation step
    assert asked.status_code == 200 and "email subscription" in asked.text
    assert ada.get("/api/account").status_code == 200  # nothing deleted yet
    done = ada.post("/account/delete", data={"confirm": "yes"}, headers=SITE)
    assert done.status_code == 200 and "Account deleted" in done.text
    assert ada.get("/api/account").status_code == 401

    tables = {
        "readers": "id",
        "reader_sessions": "reader_id",
        "library_tags": "reader_id",
        "library_saved": "reader_id",
        "library_notes": "reader_id",
        "library_marks": "reader_id",
        "library_seen": "reader_id",
        "library_digests": "reader_id",
    }
    with sqlite3.connect(engine.store.path) as db:
        ids = dict(db.execute("SELECT email, id FROM readers"))
        assert "ada@example.org" not in ids
        for table, column in tables.items():
            rows = db.execute(f"SELECT {column} FROM {table}").fetchall()
            assert rows and {r[0] for r in rows} == {ids["bob@example.org"]}, table
        subscribers = [r[0] for r in db.execute("SELECT email FROM subscribers")]
        assert subscribers == ["bob@example.org"]
    assert TestClient(app).get(unused).status_code == 403  # an older link signs in no more
    assert bob.get("/api/library/tags/ir").json()["count"] == 2
