"""How a paper holds a short query's words: the lexical side of the short-phrase relevance model.

A topic phrase ("mixture of experts", "graph neural networks") is on a paper's topic when the
paper holds its words, above all side by side in its title, or uses its acronym ("MoE",
"GNNs"). ``word_matches`` measures that over the lexical index, in shares comparable across
queries, for ``search.relevance``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from sciseek.ingest.papers import Filters

from .lexical import LexicalIndex

ACRONYM_LETTERS = (3, 6)  # the shortest and longest acronym looked for
_GLUE = {"of", "and", "for", "the", "in", "on", "to", "a"}  # often left out of an acronym


class WordMatch(NamedTuple):
    """How a paper holds a query's words."""

    bm25: float  # BM25 score over the query's IDF sum
    coverage: float  # IDF share of the query's terms the paper holds
    phrase: bool = False  # its title holds the query's terms in order, side by side
    acronym: bool = False  # its title or abstract uses the query's acronym


NO_MATCH = WordMatch(0.0, 0.0)  # a paper that holds none of the query's words


def acronyms(query: str) -> list[str]:
    """The acronyms a paper may use for ``query``, lower-cased: the initials of its words, with
    and without the small words and a last "model(s)" ("mixture of experts" -> moe;
    "vision language action models" -> vlam, vla), of ACRONYM_LETTERS letters."""
    words = re.findall(r"[a-z0-9]+", query.lower())
    if len(words) < 2:
        return []
    forms = [words, [w for w in words if w not in _GLUE]]
    if words[-1] in ("model", "models"):
        forms += [f[:-1] for f in forms]
    low, high = ACRONYM_LETTERS
    found = ("".join(w[0] for w in f) for f in forms)
    return list(dict.fromkeys(a for a in found if low <= len(a) <= high and a not in words))


def _holds_in_order(words: list[str], terms: list[str]) -> bool:
    n = len(terms)
    return n > 0 and any(words[i : i + n] == terms for i in range(len(words) - n + 1))


def word_matches(
    lexical: LexicalIndex,
    query: str,
    ids: Sequence[str],
    titles: Mapping[int, str] | None = None,
) -> dict[int, WordMatch]:
    """How each of the papers ``ids`` holds ``query``'s words, {row id: WordMatch}: BM25
    score / the query's IDF sum, the IDF share of the query's terms it holds, whether it uses
    the query's acronym, and with ``titles`` ({row id: title}) whether its title holds all
    the query's terms in order, side by side ("Mixture-of-Experts" for "mixture of experts").

    The shares are comparable across queries: the BM25 share is about 1 for a paper that
    holds each term once at average length, the coverage is 1 when it holds them all. Papers
    that hold none of the terms nor the acronym are left out.
    """
    sequence = lexical.terms(query)
    terms = list(dict.fromkeys(sequence))
    if not terms or not ids:
        return {}
    idf = lexical.idf(terms)
    total = sum(idf.values()) or 1.0
    scores = dict(lexical.search(query, len(ids), Filters(ids=tuple(ids))))
    held: dict[int, float] = {}
    for t in terms:
        for rowid in lexical.holding(t, ids):
            held[rowid] = held.get(rowid, 0.0) + idf[t]
    # "GNNs" stems to "gnns" (no vowel before the s), "MoEs" to "moe": look for both forms
    short = {t for a in acronyms(query) for t in lexical.terms(f"{a} {a}s")}
    using = set().union(*(lexical.holding(t, ids) for t in short)) if short else set()
    titles = titles or {}
    return {
        r: WordMatch(
            scores.get(r, 0.0) / total,
            held.get(r, 0.0) / total,
            _holds_in_order(lexical.terms(titles.get(r, "")), sequence),
            r in using,
        )
        for r in scores.keys() | using
    }
