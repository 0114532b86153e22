"""What a subscriber asks for, validated: an address, interests and a digest frequency.

Everything here is a plain value with no storage: ``subscriptions`` stores it, the web form and
the CLI build it with ``make_interests`` and ``normalise_email``, which (like ``check_frequency``)
raise ``InvalidSubscription`` with a message fit to show the user.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sciseek.errors import BadInput
from sciseek.ingest.papers import normalise_id

FREQUENCIES = {"daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=7)}
MAX_QUERIES = 10
MAX_QUERY_LENGTH = 300
MAX_PAPERS = 50
MAX_CATEGORIES = 20

# RFC 5321/5322 dot-atom local part and a DNS domain with a letter top-level label. Quoted local
# parts and address literals are valid but not accepted: nobody subscribes with them.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"({_LOCAL})@((?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}}))")


class InvalidSubscription(BadInput, ValueError):
    """Bad subscription input (address, interests, frequency); the message says what."""


def normalise_email(value: Any) -> str:
    """A syntactically valid address, trimmed and lower-cased; raises InvalidSubscription."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidSubscription("an email address is required")
    email = value.strip()
    match = _EMAIL.fullmatch(email)
    if not match or len(email) > 254 or len(match.group(1)) > 64:
        raise InvalidSubscription(f"not a valid email address: {email[:100]!r}")
    return email.lower()


@dataclass(frozen=True)
class Interests:
    """What a subscriber wants: saved queries, seed papers they liked, categories."""

    queries: tuple[str, ...] = ()
    papers: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        """JSON-ready."""
        return {
            "queries": list(self.queries),
            "papers": list(self.papers),
            "categories": list(self.categories),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interests:
        """Inverse of to_dict."""
        return cls(
            tuple(data.get("queries", ())),
            tuple(data.get("papers", ())),
            tuple(data.get("categories", ())),
        )


def _strings(values: Any, name: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise InvalidSubscription(f"{name} must be a list of strings")
    try:
        "".join(values).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidSubscription(f"{name} must be valid Unicode text") from None
    return list(dict.fromkeys(" ".join(v.split()) for v in values if v.strip()))


def make_interests(queries: Any = (), papers: Any = (), categories: Any = ()) -> Interests:
    """Validated, de-duplicated interests; raises InvalidSubscription.

    At least one query or seed paper is required. Whether the papers exist is checked by
    ``Subscriptions.check_papers``.
    """
    qs = _strings(queries, "queries")
    ps = [normalise_id(p) for p in _strings(papers, "papers")]
    cats = _strings(categories, "categories")
    if not qs and not ps:
        raise InvalidSubscription("interests are empty: give at least one query or seed paper")
    if len(qs) > MAX_QUERIES:
        raise InvalidSubscription(f"at most {MAX_QUERIES} queries, got {len(qs)}")
    if any(len(q) > MAX_QUERY_LENGTH for q in qs):
        raise InvalidSubscription(f"a query is longer than {MAX_QUERY_LENGTH} characters")
    if len(ps) > MAX_PAPERS:
        raise InvalidSubscription(f"at most {MAX_PAPERS} seed papers, got {len(ps)}")
    if len(cats) > MAX_CATEGORIES or any(len(c) > 40 or " " in c for c in cats):
        raise InvalidSubscription(f"at most {MAX_CATEGORIES} categories such as cs.IR")
    return Interests(tuple(qs), tuple(ps), tuple(cats))


def check_frequency(value: Any) -> str:
    """'daily' or 'weekly'; raises InvalidSubscription."""
    if value not in FREQUENCIES:
        raise InvalidSubscription(f"frequency must be one of {', '.join(FREQUENCIES)}")
    return value


def fingerprint(interests: Interests, frequency: str) -> str:
    """A short hash of what a confirmation link confirms."""
    payload = json.dumps([interests.to_dict(), frequency], sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
