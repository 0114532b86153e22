"""The papers an export asks for by id, and the ids that name none."""

from __future__ import annotations

from collections.abc import Iterable

from sciseek.ingest.papers import Paper, normalise_id
from sciseek.search.engine import Engine

MAX_IDS = 500  # papers in one export by id


def lookup(engine: Engine, ids: Iterable[str]) -> tuple[list[Paper], list[str]]:
    """The papers with these ids, in order and each once, and the ids not found.

    An id is looked up as given, then as a normalised arXiv id (``arXiv:2401.00001v2``)."""
    papers: list[Paper] = []
    missing: list[str] = []
    for raw in dict.fromkeys(i.strip() for i in ids if i.strip()):
        paper = engine.get(raw) or engine.get(normalise_id(raw))
        if paper is None:
            missing.append(raw)
        elif all(p.id != paper.id for p in papers):
            papers.append(paper)
    return papers, missing
