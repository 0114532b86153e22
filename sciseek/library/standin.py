"""A plain recommender for the library pages: the papers nearest the centroid of the saved
papers' embeddings (moved away from the not-relevant ones), each with its nearest saved
paper as the reason. It has the signature of the library's recommendation models and stands
in for them until they are in place."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from sciseek.ingest.papers import Filters, Paper
from sciseek.search.engine import Engine

DEFAULT_METHOD = "centroid"
NEGATIVE_WEIGHT = 0.5


@dataclass
class Recommendation:
    """A recommended paper, its score and the id of the saved paper it is nearest to."""

    paper: Paper
    score: float
    because: str


def _vectors(engine: Engine, ids: Sequence[str]) -> tuple[list[str], np.ndarray | None]:
    found, rows = [], []
    for pid in ids:
        rowid = engine.store.rowid(pid)
        vector = None if rowid is None else engine.dense.vector(rowid)
        if vector is not None:
            found.append(pid)
            rows.append(vector / (np.linalg.norm(vector) or 1.0))
    return found, (np.vstack(rows) if rows else None)


def recommend(
    engine: Engine,
    positives: Sequence[str],
    negatives: Sequence[str] = (),
    *,
    k: int = 20,
    exclude: Collection[str] = (),
    filters: Filters | None = None,
    exclude_categories: Collection[str] = (),
    method: str = DEFAULT_METHOD,
) -> list[Recommendation]:
    """Up to ``k`` papers like ``positives`` and unlike ``negatives``, none of them in
    ``exclude``, the inputs or ``exclude_categories``, best first."""
    if method != DEFAULT_METHOD:
        raise ValueError(f"unknown recommendation method {method!r}")
    pos_ids, pos = _vectors(engine, positives)
    if pos is None or k <= 0:
        return []
    query = pos.mean(axis=0)
    _, neg = _vectors(engine, negatives)
    if neg is not None:
        query = query - NEGATIVE_WEIGHT * neg.mean(axis=0)
    query = query / (np.linalg.norm(query) or 1.0)
    skip = set(exclude) | set(positives) | set(negatives)
    allowed = engine.lexical.filter_rowids(filters) if filters else None
    depth = k + len(skip) + 50
    ranked = engine.dense.search(query.astype(np.float32), depth, allowed)
    papers = engine.store.get_by_rowids([r for r, _ in ranked])
    banned = set(exclude_categories)
    out: list[Recommendation] = []
    for rowid, score in ranked:
        paper = papers.get(rowid)
        if paper is None or paper.id in skip or banned & set(paper.categories):
            continue
        vector = engine.dense.vector(rowid)
        nearest = pos_ids[int(np.argmax(pos @ vector))] if vector is not None else pos_ids[0]
        out.append(Recommendation(paper, float(score), nearest))
        if len(out) == k:
            break
    return out
