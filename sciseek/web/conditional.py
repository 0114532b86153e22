"""Conditional GET (RFC 9110 section 13) for documents that are rebuilt on every request.

The ETag is a hash of the body, so it changes exactly when the bytes do (new papers, edits,
votes that reorder Trending). ``Last-Modified`` is the time this server first sent the
current body of that URL: the validators say when the document changed, not when its newest
paper was published. HTTP dates have whole seconds, so a change within the second of the
previous one is dated a second later, keeping each URL's dates increasing. The times are held
in memory for the ``MAX_URLS`` most recent URLs; after a restart or an eviction a document
counts as changed now (at worst a client fetches it once more).

``If-None-Match`` wins over ``If-Modified-Since`` when both are sent, as the RFC says.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request, Response

MAX_URLS = 10_000


def etag_of(body: bytes) -> str:
    """A strong entity tag for these bytes."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


class Versions:
    """When each URL's current body was first sent (bounded; thread-safe)."""

    def __init__(self, max_urls: int = MAX_URLS):
        self.max_urls = max_urls
        self._seen: OrderedDict[str, tuple[str, dt.datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def modified(self, key: str, etag: str, now: dt.datetime | None = None) -> dt.datetime:
        """The Last-Modified time of ``key`` whose body now has ``etag``."""
        now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        with self._lock:
            seen = self._seen.get(key)
            if seen and seen[0] == etag:
                self._seen.move_to_end(key)
                return seen[1]
            when = max(now, seen[1] + dt.timedelta(seconds=1)) if seen else now
            self._seen[key] = (etag, when)
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_urls:
                self._seen.popitem(last=False)
            return when


def _matches(header: str, etag: str) -> bool:
    """Whether an If-None-Match value names ``etag`` (weak comparison, as the RFC says)."""
    if header.strip() == "*":
        return True
    tags = (t.strip() for t in header.split(","))
    return any(t.removeprefix("W/") == etag for t in tags)


def _not_modified_since(header: str, modified: dt.datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False  # an unreadable date is ignored
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return modified <= since


def conditional_response(
    request: Request, body: bytes, media_type: str, key: str, versions: Versions
) -> Response:
    """``body`` with its validators, or an empty ``304`` when the client's copy is current."""
    etag = etag_of(body)
    modified = versions.modified(key, etag)
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": "no-cache",  # caches may keep it, but must revalidate
    }
    if_none_match = request.headers.get("if-none-match")
    if_modified_since = request.headers.get("if-modified-since")
    if if_none_match is not None:
        fresh = _matches(if_none_match, etag)
    else:
        fresh = if_modified_since is not None and _not_modified_since(if_modified_since, modified)
    if fresh:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
