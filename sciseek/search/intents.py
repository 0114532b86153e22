"""Known-item queries: what a query names (an author, a rare title term, a title's start).

Hybrid search weighs BM25 0.4 and dense 0.6 because most queries describe a topic. A query
that *names* something is different: a method or acronym rare in the corpus ("DiffuseSlide",
"UWM"), an author ("papers by Kaiming He", "Hinton 2024"), the first words of a title. The
dense encoder has never seen a rare name (its tokenizer cuts it into meaningless pieces) and
outweighs BM25's decisive match. The rules here are fixed, not fitted on any evaluated set:

- a query of at most ``SHORT_TERMS`` index terms whose rare terms (in at most ``rare_limit(n)``
  of the n papers) all occur in the title of one of BM25's candidates names a paper: those
  papers go first, and the rest is fused with BM25's share of the weight raised to
  ``KNOWN_ITEM_BM25`` (``known_item_weights``).
- ``author_query``: "papers by NAME", "by NAME", "NAME et al" name an author; a bare NAME (one
  to four words, an optional year, not in capitals) does when the name is on more papers as
  an author than in the text and the query names no title. Those papers go first, that year's
  first, newest first.
- a query of at least ``PREFIX_WORDS`` words that starts at most ``PREFIX_TITLES`` titles
  puts those papers first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SHORT_TERMS = 3
RARE_FRACTION = 0.005  # a term in at most 0.5% of the papers (and at least RARE_MIN) is rare
RARE_MIN = 2
KNOWN_ITEM_BM25 = 0.7  # BM25's share of the BM25 + dense weight for a known-item query
PREFIX_WORDS = 3  # a title's first words, at least this many, name that paper
PREFIX_TITLES = 3  # ... when at most this many titles start with them
AUTHOR_LIMIT = 100  # papers of one author put first at most

_CUE = re.compile(
    r"^\s*(?:(?:papers?|articles?|works?|publications?|preprints?)\s+(?:by|of|from)|by)\s+",
    re.IGNORECASE,
)
_ET_AL = re.compile(r"\s+et\.?\s+al\.?$", re.IGNORECASE)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_NAME_WORD = re.compile(r"^[^\W\d_][\w.'-]*$")


@dataclass(frozen=True)
class AuthorQuery:
    """An author named by a query: the name, the year asked for, and whether it was cued."""

    name: str
    year: int | None
    cued: bool  # "papers by", "by", "et al": an author for sure, not a guess


def author_query(query: str) -> AuthorQuery | None:
    """The author a query may name, or None when it cannot be a name."""
    text = _CUE.sub("", query, count=1)
    cued = text != query
    words = text.replace(",", " ").split()
    years = [w for w in words if _YEAR.match(w)]
    text = " ".join(w for w in words if not _YEAR.match(w))
    stripped = _ET_AL.sub("", text)
    cued = cued or stripped != text
    words = stripped.split()
    if len(years) > 1 or not 1 <= len(words) <= 4 or not all(_NAME_WORD.match(w) for w in words):
        return None
    return AuthorQuery(" ".join(words), int(years[0]) if years else None, cued)


def rare_limit(papers: int) -> int:
    """The document frequency at or below which a term counts as rare in ``papers`` papers."""
    return max(RARE_MIN, int(papers * RARE_FRACTION))


def is_short(terms: list[str]) -> bool:
    """Whether a query of these index terms is short enough to be a name rather than a topic."""
    return 1 <= len(terms) <= SHORT_TERMS


def names_author(author: AuthorQuery, as_author: int, in_text: int) -> bool:
    """Whether the query is about the author: cued, or the name is more an author than a word.

    An uncued name in capitals ("MOON", "PAN") is an acronym, not a name.
    """
    if as_author == 0:
        return False
    if author.cued:
        return True
    acronym = any(len(w) > 1 and w.isupper() for w in author.name.split())
    return not acronym and as_author >= in_text


def known_item_weights(weights: dict[str, float]) -> dict[str, float]:
    """``weights`` with BM25's share of the BM25 + dense weight raised to ``KNOWN_ITEM_BM25``."""
    pair = weights.get("bm25", 0.0) + weights.get("dense", 0.0)
    if weights.get("bm25", 0.0) <= 0 or weights.get("dense", 0.0) <= 0:
        return dict(weights)
    return {**weights, "bm25": pair * KNOWN_ITEM_BM25, "dense": pair * (1 - KNOWN_ITEM_BM25)}
