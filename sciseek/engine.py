"""The engine: the one entry point interfaces use to add, delete, search and inspect papers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .lexical import LexicalIndex
from .papers import Filters, Paper
from .store import Store, UpsertResult

MODES = ("bm25",)
DEFAULT_MODE = "bm25"
MAX_K = 1000


def default_data_dir() -> Path:
    """The data directory: $SCISEEK_HOME, else ./sciseek-data."""
    return Path(os.environ.get("SCISEEK_HOME") or "sciseek-data")


@dataclass
class Hit:
    """One search result."""

    paper: Paper
    score: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result: the paper's fields plus its score."""
        p = self.paper
        return {
            "id": p.id,
            "title": p.title,
            "score": round(self.score, 6),
            "authors": p.authors,
            "categories": p.categories,
            "published": p.published,
            "url": p.url or p.arxiv_url,
        }


class Engine:
    """Papers in a data directory: the store plus the indexes derived from it."""

    def __init__(self, data_dir: Path, store: Store, lexical: LexicalIndex):
        self.data_dir = data_dir
        self.store = store
        self.lexical = lexical

    @classmethod
    def open(
        cls, data_dir: str | Path | None = None, *, log: Callable[[str], None] | None = None
    ) -> Engine:
        """Open (creating if needed) the data directory and bring its indexes up to date."""
        path = Path(data_dir) if data_dir is not None else default_data_dir()
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"data dir {path} is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        log = log or (lambda msg: print(msg, file=sys.stderr))
        store = Store(path / "sciseek.db")
        lexical = LexicalIndex(path / "lexical", store, log=log)
        lexical.verify()
        return cls(path, store, lexical)

    def close(self) -> None:
        """Release the store connection."""
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------

    def add(
        self, papers: Iterable[Paper], progress: Callable[[int], None] | None = None
    ) -> UpsertResult:
        """Upsert papers into the store, then commit them to every index."""
        result = self.store.upsert(papers)
        self.lexical.sync(progress)
        return result

    def delete(self, ids: Iterable[str]) -> list[str]:
        """Delete papers by id from the store and the indexes; returns the ids that existed."""
        deleted = self.store.delete(ids)
        self.lexical.sync()
        return deleted

    def sync(self, progress: Callable[[int], None] | None = None) -> None:
        """Bring every index up to the store's current generation."""
        self.lexical.sync(progress)

    # -- reads ---------------------------------------------------------------------------

    def get(self, paper_id: str) -> Paper | None:
        """The paper with this id, or None."""
        return self.store.get(paper_id)

    def search_ids(
        self, query: str, mode: str = DEFAULT_MODE, k: int = 10, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Top-k (paper id, score) pairs, without loading the papers."""
        ranked = self._retrieve(query, mode, k, filters)
        ids = self.store.ids_by_rowids([r for r, _ in ranked])
        return [(ids[r], s) for r, s in ranked if r in ids]

    def search(
        self, query: str, mode: str = DEFAULT_MODE, k: int = 10, filters: Filters | None = None
    ) -> list[Hit]:
        """Top-k papers for a free-text query (keywords, a title, an id or a question)."""
        ranked = self._retrieve(query, mode, k, filters)
        papers = self.store.get_by_rowids([r for r, _ in ranked])
        return [Hit(papers[r], s) for r, s in ranked if r in papers]

    def _retrieve(
        self, query: str, mode: str, k: int, filters: Filters | None
    ) -> list[tuple[int, float]]:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")
        return self.lexical.search(query, k, filters)

    def stats(self) -> dict[str, Any]:
        """Counts and index state, JSON-ready."""
        generation = self.store.generation
        self.lexical.refresh()
        return {
            "papers": self.store.count(),
            "generation": generation,
            "data_dir": str(self.data_dir),
            "lexical": {
                "documents": self.lexical.count(),
                "generation": self.lexical.generation,
                "up_to_date": self.lexical.generation == generation,
            },
        }
