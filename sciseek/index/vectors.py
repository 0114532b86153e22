"""Vector indexes derived from the store: dense embeddings (FAISS) and SPLADE sparse vectors.

Each index keeps its encodings in an ``encodings.EncodingTable`` (the durable part) and serves
them from memory: a FAISS index for dense vectors (exact inner product below ``HNSW_THRESHOLD``
papers, HNSW above), a term x paper matrix for sparse ones.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import faiss
import numpy as np

from sciseek.errors import BadInput
from sciseek.ingest.papers import Paper
from sciseek.storage.store import Store

from .models import Encoder, SparseEncoder, resolve_model
from .vector_table import EncodingTable

QUERY_CACHE = 256

HNSW_THRESHOLD = 200_000  # exact search costs ~0.11 ms per 1k papers (BENCHMARKS.md)
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
    ) -> int | None:
        """Encode papers changed in the store since the last sync; see EncodingTable.sync."""
        changes = self.table.sync(self._encode, progress, wait, stop)
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


class DenseIndex(EncodedIndex):
    """Dense embeddings of every paper, searched by inner product with FAISS."""

    def __init__(
        self,
        directory: str | Path,
        store: Store,
        model: str | Path | None = None,
        *,
        log: Callable[[str], None] | None = None,
        device: str = "auto",
    ):
        self.directory = Path(directory)
        self.store = store
        self.device = device
        self._log = log or (lambda msg: print(msg, file=sys.stderr))
        db_path = self.directory / "vectors.db"
        if model is None and db_path.exists():
            probe = sqlite3.connect(db_path)
            try:
                row = probe.execute("SELECT value FROM meta WHERE key='model'").fetchone()
            except sqlite3.Error:
                row = None
            finally:
                probe.close()
            model = row[0].removeprefix("local:") if row else None
        self.model_name, self.model_path = resolve_model(model)
        self.table = EncodingTable(db_path, store, self.model_name, self._log)
        self._encoder: Encoder | None = None
        self._lock = threading.RLock()
        self._index: faiss.Index | None = None
        self._ids: dict[str, int] = {}  # paper id -> row id, for what is in memory
        self._loaded = -1  # table generation reflected in memory
        self._chunk = -1  # last committed chunk reflected in memory
        self._deletes_seen = 0  # store generation whose deletions are applied in memory
        self._queries: dict[str, np.ndarray] = {}  # recent query vectors, oldest first
        self._matrix: tuple[np.ndarray, np.ndarray] | None = None  # copy for ``embeddings``

    @property
    def encoder(self) -> Encoder:
        """The bi-encoder, loaded on first use."""
        if self._encoder is None:
            self._encoder = Encoder(self.model_path, device=self.device)
        return self._encoder

    def _encode(self, papers: list[Paper]) -> list[tuple[None, bytes]]:
        vectors = self.encoder.encode_documents(papers)
        return [(None, v.tobytes()) for v in vectors]

    # -- the in-memory FAISS index -------------------------------------------------------

    def _new_index(self, dim: int, n: int) -> faiss.Index:
        if n >= HNSW_THRESHOLD:
            inner = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 80
            inner.hnsw.efSearch = 128
        else:
            inner = faiss.IndexFlatIP(dim)
        return faiss.IndexIDMap2(inner)

    def refresh(self) -> None:
        """Bring the in-memory index up to the stored embeddings (changes by any process),
        including the chunks a catch-up still under way has committed."""
        with self._lock:
            generation, chunk = self.table.generation, self.table.last_chunk
            if self._index is not None and (generation, chunk) == (self._loaded, self._chunk):
                return
            store_generation = self.store.generation
            self._matrix = None
            if self._index is None:
                self._rebuild()
            else:
                removed = [
                    self._ids.pop(i)
                    for i in self.store.deleted_since(self._deletes_seen)
                    if i in self._ids
                ]
                rows = self.table.rows_after_chunk(self._chunk)
                removed += [self._ids.pop(i) for i, *_ in rows if i in self._ids]
                if removed and self._is_hnsw():
                    self._rebuild()
                else:
                    if removed:
                        self._index.remove_ids(np.array(removed, dtype=np.int64))
                    if rows:
                        self._add(rows)
            self._loaded, self._chunk, self._deletes_seen = generation, chunk, store_generation

    def _is_hnsw(self) -> bool:
        return self._index is not None and isinstance(
            faiss.downcast_index(self._index.index), faiss.IndexHNSWFlat
        )

    def _add(self, rows: Sequence[tuple[str, int, bytes | None, bytes]]) -> None:
        vectors = np.frombuffer(b"".join(r[3] for r in rows), dtype=np.float32)
        vectors = vectors.reshape(len(rows), -1)
        if self._index is None:
            self._index = self._new_index(vectors.shape[1], len(rows))
        self._index.add_with_ids(vectors, np.array([r[1] for r in rows], dtype=np.int64))
        self._ids.update((r[0], r[1]) for r in rows)

    def _rebuild(self) -> None:
        rows = list(self.table.rows_since(-1))
        self._index, self._ids = None, {}
        if rows:
            dim = len(rows[0][3]) // 4
            self._index = self._new_index(dim, len(rows))
            self._add(rows)

    # -- queries -------------------------------------------------------------------------

    def encode_query(self, text: str) -> np.ndarray:
        """The query's unit vector (the last ``QUERY_CACHE`` queries' are kept: a digest
        searches with and then scores by the same query)."""
        with self._lock:
            cached = self._queries.pop(text, None)
            if cached is not None:
                self._queries[text] = cached
                return cached.copy()
        vector = self.encoder.encode_queries([text])[0]
        with self._lock:
            self._queries[text] = vector
            while len(self._queries) > QUERY_CACHE:
                del self._queries[next(iter(self._queries))]
        return vector.copy()

    def vector(self, rowid: int) -> np.ndarray | None:
        """A paper's stored embedding."""
        row = self.table.get(rowid)
        return np.frombuffer(row[1], dtype=np.float32) if row else None

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (row id, inner product) for a query vector, restricted to ``allowed``."""
        return self.search_many(query.reshape(1, -1), k, allowed)[0]

    def search_many(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """``search`` for each row of ``queries`` (n x dim), in one call to the index."""
        self.refresh()
        none: list[list[tuple[int, float]]] = [[] for _ in range(len(queries))]
        with self._lock:
            if self._index is None or self._index.ntotal == 0 or k <= 0 or len(queries) == 0:
                return none
            params = None
            if allowed is not None:
                if len(allowed) == 0:
                    return none
                selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
                params = (
                    faiss.SearchParametersHNSW(sel=selector, efSearch=max(128, k))
                    if self._is_hnsw()
                    else faiss.SearchParameters(sel=selector)
                )
            scores, ids = self._index.search(
                np.ascontiguousarray(queries, dtype=np.float32),
                min(k, self._index.ntotal),
                params=params,
            )
        return [
            [(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
            for row_ids, row_scores in zip(ids, scores, strict=True)
        ]

    def embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, embeddings) of every paper in memory: aligned read-only arrays of shapes
        (n,) and (n, dim), for scoring all papers with one matrix product. The copy (4 bytes
        per dimension per paper) is kept until the index changes."""
        self.refresh()
        with self._lock:
            if self._matrix is None:
                if self._index is None or self._index.ntotal == 0:
                    dim = self._index.d if self._index is not None else 0
                    ids, vectors = np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
                else:
                    ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
                    vectors = self._index.index.reconstruct_n(0, self._index.ntotal)
                ids.flags.writeable = False
                vectors.flags.writeable = False
                self._matrix = (ids, vectors)
            return self._matrix

    def scores(self, query: np.ndarray, rowids: Sequence[int]) -> dict[int, float]:
        """Exact inner products of the query with the given papers' embeddings."""
        self.refresh()
        out = {}
        with self._lock:
            if self._index is None:
                return out
            for r in rowids:
                try:
                    out[r] = float(np.dot(self._index.reconstruct(int(r)), query))
                except RuntimeError:
                    continue
        return out


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
        self, query: tuple[np.ndarray, np.ndarray], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (row id, dot product) for a sparse query, restricted to ``allowed``."""
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
            if allowed is not None:
                scores = np.where(np.isin(self._rowids, allowed), scores, 0.0)
            k = min(k, int((scores > 0).sum()))
            if k == 0:
                return []
            best = np.argpartition(-scores, k - 1)[:k]
            best = best[np.argsort(-scores[best], kind="stable")]
            return [(int(self._rowids[i]), float(scores[i])) for i in best]


def describe(index: DenseIndex | SparseIndex) -> dict:
    """JSON-ready state of a vector index."""
    meta = index.table.meta()
    return {
        "documents": index.count(),
        "generation": int(meta.get("generation", 0)),
        "model": meta.get("model"),
    }
