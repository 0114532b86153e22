"""Last-Modified times of rebuilt documents: stable while the body is, later when it changes."""

import datetime as dt

from sciseek.web.conditional import Versions, etag_of

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=dt.UTC)


def test_a_body_keeps_its_time_and_a_new_body_gets_a_later_one():
    v = Versions()
    first = v.modified("/a", etag_of(b"one"), now=T0)
    assert first == T0.replace(microsecond=0)
    assert v.modified("/a", etag_of(b"one"), now=T0 + dt.timedelta(hours=1)) == first
    # changed within the same second: still a later HTTP date than the one clients hold
    assert v.modified("/a", etag_of(b"two"), now=T0) == first + dt.timedelta(seconds=1)
    later = T0 + dt.timedelta(minutes=5)
    assert v.modified("/a", etag_of(b"three"), now=later) == later.replace(microsecond=0)
    assert v.modified("/b", etag_of(b"one"), now=T0) == first  # per URL


def test_the_oldest_urls_are_forgotten_first():
    v = Versions(max_urls=2)
    v.modified("/a", etag_of(b"a"), now=T0)
    v.modified("/b", etag_of(b"b"), now=T0)
    v.modified("/a", etag_of(b"a"), now=T0)  # /a is used again: /b is now the oldest
    v.modified("/c", etag_of(b"c"), now=T0)
    later = T0 + dt.timedelta(days=1)
    assert v.modified("/a", etag_of(b"a"), now=later) == T0.replace(microsecond=0)
    assert v.modified("/b", etag_of(b"b"), now=later) == later.replace(microsecond=0)


def test_etags_are_quoted_and_differ_with_the_bytes():
    assert etag_of(b"x").startswith('"') and etag_of(b"x").endswith('"')
    assert etag_of(b"x") == etag_of(b"x") != etag_of(b"y")
