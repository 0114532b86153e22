"""The SPLADE sparse index: a term x paper matrix of every paper's sparse vector, in step
with the store through its ``EncodingTable``; refused above ``SPARSE_MAX_PAPERS`` papers."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sciseek.errors import BadInput
from sciseek.ingest.papers import Paper
from sciseek.storage.store import Store

from .encoded import Allowed, CandidateFilter, EncodedIndex
from .models import SparseEncoder
from .vector_table import EncodingTable

# The SPLADE index is refused above this many papers. Measured on SciFact (BENCHMARKS.md,
# "Scale"): about 285 terms a paper, so about 4.6 KB of RAM a paper for the matrix and the
# per-paper arrays it is rebuilt from, a rebuild of the whole matrix on every change (11 us a
# paper), and SPLADE-tiny encoding at 10-20 papers/s on 2 cores. At 200,000 papers that is
# about 0.9 GB, 2 s per change and 3-6 h of encoding; at 2.5M it would be 11 GB, 27 s and days.
SPARSE_MAX_PAPERS = 200_000


class SparseRefused(BadInput):
    """The store has more papers than the SPLADE index serves (``SPARSE_MAX_PAPERS``)."""

    status = 409


def sparse_fits(papers: int) -> bool:
    """Whether the SPLADE index serves a store of ``papers`` papers."""
    return papers <= SPARSE_MAX_PAPERS


def check_sparse_size(papers: int) -> None:
    """Raise SparseRefused when a store of ``papers`` papers is too large for SPLADE."""
    if not sparse_fits(papers):
        raise SparseRefused(
            f"the sparse (SPLADE) index serves at most {SPARSE_MAX_PAPERS:,} papers and this "
            f"data dir has {papers:,}: it would need about {papers * 4600 / 1e9:.1f} GB of "
            "memory and rebuild its matrix on every change. Use bm25, dense or hybrid (BM25 + "
            "dense) instead"
        )


class SparseIndex(EncodedIndex):
    """SPLADE sparse vectors of every paper, scored by dot product over a term x paper matrix."""

    def __init__(
        self, directory: str | Path, store: Store, *, log: Callable[[str], None] | None = None
    ):
        self.directory = Path(directory)
        self.store = store
        self._log = log or (lambda msg: print(msg, file=sys.stderr))
        self.table = EncodingTable(self.directory / "sparse.db", store, "splade-tiny", self._log)
        self._encoder: SparseEncoder | None = None
        self._lock = threading.RLock()
        self._docs: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        self._matrix = None
        self._rowids = np.zeros(0, dtype=np.int64)
        self._loaded = -1

    def sync(
        self,
        progress: Callable[[int], None] | None = None,
        *,
        wait: bool = True,
        stop: Callable[[], bool] | None = None,
    ) -> int | None:
        """``EncodedIndex.sync``; raises SparseRefused above SPARSE_MAX_PAPERS papers."""
        check_sparse_size(self.store.count())
        return super().sync(progress, wait=wait, stop=stop)

    @property
    def encoder(self) -> SparseEncoder:
        """The SPLADE encoder, loaded on first use."""
        if self._encoder is None:
            self._encoder = SparseEncoder()
        return self._encoder

    def _encode(self, papers: list[Paper]) -> list[tuple[bytes, bytes]]:
        return [
            (ids.astype(np.int32).tobytes(), w.astype(np.float16).tobytes())
            for ids, w in self.encoder.encode_documents(papers)
        ]

    def refresh(self) -> None:
        """Reload changed sparse vectors and rebuild the term x paper matrix."""
        from scipy import sparse

        with self._lock:
            generation = self.table.generation
            if generation == self._loaded:
                return
            since = max(self._loaded, 0)
            for pid in self.store.deleted_since(since):
                self._docs.pop(pid, None)
            for pid, rowid, a, b in self.table.rows_since(since if self._loaded >= 0 else -1):
                self._docs[pid] = (
                    rowid,
                    np.frombuffer(a, dtype=np.int32),
                    np.frombuffer(b, dtype=np.float16).astype(np.float32),
                )
            docs = list(self._docs.values())
            self._rowids = np.array([d[0] for d in docs], dtype=np.int64)
            if docs:
                cols = np.repeat(np.arange(len(docs)), [len(d[1]) for d in docs])
                terms = np.concatenate([d[1] for d in docs])
                weights = np.concatenate([d[2] for d in docs])
                self._matrix = sparse.csr_matrix(
                    (weights, (terms, cols)), shape=(int(terms.max(initial=0)) + 1, len(docs))
                )
            else:
                self._matrix = None
            self._loaded = generation

    def encode_query(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The query's (term ids, weights)."""
        return self.encoder.encode_queries([text])[0]

    def search(
        self, query: tuple[np.ndarray, np.ndarray], k: int, allowed: Allowed = None
    ) -> list[tuple[int, float]]:
        """Top-k (row id, dot product) for a sparse query, restricted to ``allowed`` (row ids,
        or a ``CandidateFilter``: the papers it keeps among the best scored)."""
        self.refresh()
        with self._lock:
            if self._matrix is None or k <= 0:
                return []
            terms, weights = query
            keep = terms < self._matrix.shape[0]
            terms, weights = terms[keep], weights[keep]
            if len(terms) == 0:
                return []
            scores = np.asarray(self._matrix[terms].T @ weights).ravel()
            if isinstance(allowed, CandidateFilter):
                ranked = self._top(scores, allowed.pool(k, len(scores)))
                kept = allowed.keep(np.array([r for r, _ in ranked], dtype=np.int64))
                return [(r, s) for r, s in ranked if r in kept][:k]
            if allowed is not None:
                scores = np.where(np.isin(self._rowids, allowed), scores, 0.0)
            return self._top(scores, k)

    def _top(self, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, int((scores > 0).sum()))
        if k == 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(self._rowids[i]), float(scores[i])) for i in best]
