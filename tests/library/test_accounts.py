"""Readers, sessions and sign-in requests in the store's SQLite file."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from sciseek.digests.interests import Interests, InvalidSubscription
from sciseek.digests.limits import RATE_LIMIT, RATE_WINDOW, RateLimited
from sciseek.digests.subscriptions import Subscriptions
from sciseek.library.accounts import SESSION_TTL, Accounts, ReusedLink
from sciseek.storage.clock import utcnow


@pytest.fixture
def accounts(engine):
    with Accounts.open(engine.data_dir) as a:
        yield a


def test_a_request_redeems_once_and_makes_one_reader_per_address(accounts):
    email, nonce, _ = accounts.request_signin("  Ada@Example.ORG ")
    assert email == "ada@example.org"
    assert accounts.unused({"e": email, "n": nonce})
    reader, token = accounts.redeem({"e": email, "n": nonce})
    assert not accounts.unused({"e": email, "n": nonce})
    with pytest.raises(ReusedLink):
        accounts.redeem({"e": email, "n": nonce})
    with pytest.raises(ReusedLink):  # a nonce is bound to its address
        _, other, _ = accounts.request_signin("bob@example.org")
        accounts.redeem({"e": email, "n": other})
    _, second, _ = accounts.request_signin(email)
    again, token2 = accounts.redeem({"e": email, "n": second})
    assert again == reader and token2 != token
    assert accounts.session(token) == reader == accounts.session(token2)
    assert accounts.by_email("ADA@example.org") == reader
    with pytest.raises(InvalidSubscription):
        accounts.request_signin("not an address")


def test_sessions_expire_and_sign_out_revokes_one(accounts):
    _, nonce, _ = accounts.request_signin("ada@example.org")
    reader, token = accounts.redeem({"e": "ada@example.org", "n": nonce})
    later = utcnow() + SESSION_TTL + dt.timedelta(seconds=5)
    assert accounts.session(token) == reader
    assert accounts.session(token, now=later) is None
    assert accounts.session("") is None and accounts.session("made-up") is None
    _, nonce, _ = accounts.request_signin("ada@example.org")
    _, other = accounts.redeem({"e": "ada@example.org", "n": nonce})
    accounts.sign_out(token)
    assert accounts.session(token) is None and accounts.session(other) == reader
    with sqlite3.connect(accounts.path) as db:
        stored = [r[0] for r in db.execute("SELECT token_hash FROM reader_sessions")]
    assert len(stored) == 1 and other not in stored[0]  # only a hash is kept


def test_requests_are_bounded_per_address_within_the_window(accounts):
    start = utcnow()
    for _ in range(RATE_LIMIT):
        accounts.request_signin("ada@example.org", "client-1", now=start)
    with pytest.raises(RateLimited):
        accounts.request_signin("ada@example.org", "client-2", now=start)
    _, _, request_id = accounts.request_signin("bob@example.org", "client-1", now=start)
    accounts.forget_request(request_id)
    later = start + RATE_WINDOW + dt.timedelta(seconds=1)
    accounts.request_signin("ada@example.org", "client-1", now=later)


def test_deleting_a_reader_deletes_the_subscriber_of_the_address(engine, accounts):
    with Subscriptions.open(engine.data_dir) as subs:
        subs.add("ada@example.org", Interests(queries=("graphs",)), "weekly")
    readers = []
    for email in ("ada@example.org", "bob@example.org"):
        _, nonce, _ = accounts.request_signin(email)
        readers.append(accounts.redeem({"e": email, "n": nonce})[0])
    _, pending, _ = accounts.request_signin("ada@example.org")
    assert accounts.delete(readers[0]) is True
    assert accounts.delete(readers[1]) is False  # bob had no subscription
    assert accounts.by_email("ada@example.org") is None
    assert not accounts.unused({"e": "ada@example.org", "n": pending})
    with Subscriptions.open(engine.data_dir) as subs:
        assert subs.by_email("ada@example.org") is None
