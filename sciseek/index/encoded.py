"""What the vector indexes share: encodings kept in step with the store by an
``EncodingTable``, and the papers a search may return (``Allowed``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sciseek.ingest.papers import Paper

from .vector_table import EncodingTable, Stream


@dataclass(frozen=True)
class CandidateFilter:
    """A filter too broad to list its papers: a share of the store passes, and ``keep`` tells
    which of some row ids do. A search takes more candidates and keeps those that pass."""

    share: float  # of the store's papers that pass (0, 1]
    keep: Callable[[np.ndarray], set[int]]

    def pool(self, k: int, total: int) -> int:
        """Candidates to draw for k that pass (twice the expected need)."""
        return min(total, max(k, math.ceil(2 * k / max(self.share, 1e-6))))


Allowed = np.ndarray | CandidateFilter | None  # the papers a search may return


class EncodedIndex:
    """What both vector indexes share: encodings kept in an ``EncodingTable``, in step with the
    store, and an in-memory search structure reloaded (``refresh``) when they change."""

    table: EncodingTable

    def _encode(self, papers: list[Paper]) -> list[tuple[bytes | None, bytes]]:
        raise NotImplementedError

    def refresh(self) -> None:
        """Reload the in-memory structure from the stored encodings."""
        raise NotImplementedError

    def sync(
        self,
        progress: Callable[[int], None] | None = None,
        *,
        wait: bool = True,
        stop: Callable[[], bool] | None = None,
        stream: Stream | None = None,
    ) -> int | None:
        """Encode papers changed in the store since the last sync; see EncodingTable.sync."""
        changes = self.table.sync(self._encode, progress, wait, stop, stream)
        if changes:
            self.refresh()
        return changes

    def count(self) -> int:
        """Number of papers with a stored encoding."""
        return self.table.count()

    @property
    def generation(self) -> int:
        """The store generation this index reflects."""
        return self.table.generation


def describe(index: EncodedIndex) -> dict:
    """JSON-ready state of a vector index."""
    meta = index.table.meta()
    return {
        "documents": index.count(),
        "generation": int(meta.get("generation", 0)),
        "model": meta.get("model"),
    }
