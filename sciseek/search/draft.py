"""Search with a whole draft (an abstract, an introduction): split, encode, aggregate.

The text is cut into overlapping sentence windows (``passages``), every passage is encoded in
one batch and retrieved for on its own (dense, BM25 or SPLADE; in hybrid mode the engine's
retrievers fused per passage with the engine's fusion and weights), and the passages'
rankings are aggregated per paper:

- ``sum`` (default): the sum over passages of the passage's scores min-max scaled to [0, 1]
  (a paper outside a passage's top ``PASSAGE_DEPTH`` adds 0);
- ``max``: the best raw score a paper has in any passage (MaxP);
- ``rrf``: the sum over passages of 1 / (60 + rank), a paper's rank in each passage's top.

Measured with ``benchmarks/draft.py`` on the first 3,000 shared arXiv papers (2 cores): on
texts made of five abstracts of one category, ``sum`` and ``max`` put 98-100 % of the five
papers in the top 10 (hybrid ``sum`` 99.8 %, plain hybrid search of the same text 81.8 %, plain
dense 24 %), while ``rrf`` found 25-39 %: with 60 added to every rank, papers that sit low in
many passages outvote the one a passage is about. On single abstracts (300; half of them one
passage, searched as a plain query) every method is within 0.01-0.02 of plain dense search in
the share of same-category papers in the top 10, and hybrid ``max`` loses 0.023 there where
hybrid ``sum`` does not (-0.009, interval across 0). Hence ``sum``; rerun the benchmark on a
full index before changing it.

A text that is a single passage is searched as a plain query (``Engine.search``: the same
results, known-item rules included). Filters apply inside every passage's retrieval. Drafts
longer than ``MAX_CHARS`` are refused, never cut silently. Pseudo-relevance feedback and the
re-ranker, tuned for short queries, are not applied to passages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sciseek.errors import BadInput
from sciseek.ingest.papers import Filters

from .engine import Engine, Hit
from .passages import clean, passages
from .retrieval import MODES, InvalidQuery, allowed_by, check_k

__all__ = ["clean", "passages", "search_draft", "search_draft_passages", "DraftHit"]

MAX_CHARS = 20_000  # about eight pages of prose: an abstract plus a long introduction
PASSAGE_DEPTH = 100  # candidates each passage contributes
RRF_K = 60
AGGREGATIONS = ("sum", "max", "rrf")
DEFAULT_AGGREGATION = "sum"


class DraftTooLong(BadInput, ValueError):
    """A draft over ``MAX_CHARS`` characters."""


class EmptyDraft(BadInput, ValueError):
    """A draft with no words left once markup and reference markers are removed."""


@dataclass
class DraftHit:
    """A draft search result and the passage of the draft that ranked it highest."""

    hit: Hit
    passage: str


def check_draft(text: str) -> list[str]:
    """The passages of a draft; DraftTooLong or EmptyDraft when there is nothing fit to search."""
    if len(text) > MAX_CHARS:
        raise DraftTooLong(
            f"the text has {len(text):,} characters; the limit is {MAX_CHARS:,} "
            "(search with a part of it, such as the abstract and introduction)"
        )
    cut = passages(text)
    if not cut:
        raise EmptyDraft("the text has no words to search for (after removing markup)")
    return cut


def search_draft(
    engine: Engine,
    text: str,
    mode: str = "hybrid",
    k: int = 10,
    filters: Filters | None = None,
    *,
    aggregate: str = DEFAULT_AGGREGATION,
) -> list[Hit]:
    """The top-k papers related to the whole of ``text`` (see the module docstring)."""
    return [d.hit for d in search_draft_passages(engine, text, mode, k, filters, aggregate)]


def search_draft_passages(
    engine: Engine,
    text: str,
    mode: str = "hybrid",
    k: int = 10,
    filters: Filters | None = None,
    aggregate: str = DEFAULT_AGGREGATION,
) -> list[DraftHit]:
    """Like ``search_draft``, each hit with the passage that ranked it highest (for snippets)."""
    if mode not in MODES:
        raise InvalidQuery(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if aggregate not in AGGREGATIONS:
        raise InvalidQuery(f"unknown aggregation {aggregate!r}; choose one of sum, max, rrf")
    check_k(k)
    cut = check_draft(text)
    if len(cut) == 1:
        return [DraftHit(h, cut[0]) for h in engine.search(cut[0], mode, k, filters)]
    rankings = passage_rankings(engine, cut, mode, filters)
    scored = aggregated(rankings, aggregate)
    top = sorted(scored.items(), key=lambda kv: (-kv[1][0], kv[0]))[:k]
    papers = engine.store.get_by_rowids([r for r, _ in top])
    return [DraftHit(Hit(papers[r], score), cut[best]) for r, (score, best) in top if r in papers]


def passage_rankings(
    engine: Engine, cut: Sequence[str], mode: str, filters: Filters | None
) -> list[list[tuple[int, float]]]:
    """Each passage's top ``PASSAGE_DEPTH`` (row id, score), best first."""
    names = [n for n, w in engine.weights.items() if w > 0] if mode == "hybrid" else [mode]
    allowed = allowed_by(engine.store, engine.lexical, filters)
    runs: list[dict[str, dict[int, float]]] = [{} for _ in cut]
    vectors = None
    if "dense" in names:
        dense = engine.dense
        vectors = dense.encoder.encode_queries(list(cut))  # one batch for every passage
        found = dense.search_many(vectors, PASSAGE_DEPTH, allowed)  # and one index search
        for run, ranked in zip(runs, found, strict=True):
            run["dense"] = dict(ranked)
    if "bm25" in names:
        for run, passage in zip(runs, cut, strict=True):
            run["bm25"] = dict(engine.lexical.search(passage, PASSAGE_DEPTH, filters))
    if "sparse" in names:
        sparse = engine.sparse
        for run, query in zip(runs, sparse.encoder.encode_queries(list(cut)), strict=True):
            run["sparse"] = dict(sparse.search(query, PASSAGE_DEPTH, allowed))
    if mode != "hybrid":
        return [_ranked(run[mode]) for run in runs]
    complete: set[str] = set()
    if vectors is not None and engine.fusion != "rrf":
        _score_missing(engine, runs, vectors)
        complete = {"dense"}  # a candidate without a dense score is not encoded yet
    return [
        [(int(r), s) for r, s in engine.fuse(run, PASSAGE_DEPTH, complete=complete)] for run in runs
    ]


def _score_missing(
    engine: Engine, runs: list[dict[str, dict[int, float]]], vectors: np.ndarray
) -> None:
    """Give every candidate of a passage its exact dense score, as hybrid search does."""
    dense = engine.dense
    for run, vector in zip(runs, vectors, strict=True):
        missing = {r for scores in run.values() for r in scores} - run["dense"].keys()
        run["dense"].update(dense.scores(vector, sorted(missing)))


def _ranked(run: dict[int, float]) -> list[tuple[int, float]]:
    return sorted(run.items(), key=lambda kv: (-kv[1], kv[0]))[:PASSAGE_DEPTH]


def aggregated(
    rankings: Sequence[Sequence[tuple[int, float]]], method: str = DEFAULT_AGGREGATION
) -> dict[int, tuple[float, int]]:
    """{row id: (aggregated score, index of the passage that contributed most)}."""
    out: dict[int, tuple[float, int]] = {}
    best: dict[int, float] = {}
    for index, ranking in enumerate(rankings):
        if not ranking:
            continue
        scores = [s for _, s in ranking]
        lo, span = min(scores), max(scores) - min(scores)
        for rank, (rowid, score) in enumerate(ranking, 1):
            if method == "rrf":
                part = 1.0 / (RRF_K + rank)
            elif method == "sum":
                part = (score - lo) / span if span > 0 else 1.0
            else:
                part = score
            total = out[rowid][0] if rowid in out else None
            if method == "max":
                total = part if total is None else max(total, part)
            else:
                total = part if total is None else total + part
            strongest = rowid not in best or part > best[rowid]
            if strongest:
                best[rowid] = part
            out[rowid] = (total, index if strongest else out[rowid][1])
    return out
