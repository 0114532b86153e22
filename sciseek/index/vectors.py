"""The dense index derived from the store: every paper's embedding, searched with FAISS.

The embeddings are kept in an ``vector_table.EncodingTable`` (the durable part, the truth the
index follows). Up to ``COMPRESS_ABOVE`` papers they are searched exactly from fp32 copies in
memory, built at open; above, by the compressed index (``compressed``), opened from its saved
snapshot, changed in place, its candidates rescored with the stored fp32 vectors.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import faiss
import numpy as np

from sciseek.ingest.papers import Paper
from sciseek.storage.files import file_lock
from sciseek.storage.store import Store

from .compressed import TRAIN_SAMPLE, CompressedIndex, Stamp
from .encoded import Allowed, CandidateFilter, EncodedIndex
from .model_files import resolve_model
from .models import Encoder
from .vector_table import EncodingTable

QUERY_CACHE = 256

# Above this many papers the dense index is the compressed one (``compressed``), saved in the
# data dir; below, exact search over fp32 vectors in memory, built at open (BENCHMARKS.md,
# "Dense index at scale": exact costs about 0.11 ms per 1,000 papers a query and 1.5 KB a paper).
COMPRESS_ABOVE = 100_000
RESCORE = 200  # compressed-index candidates a query rescored with the exact vectors
EXACT_FILTERED = 5_000  # a filter allowing at most this many papers is searched exactly
SAVE_AFTER = 5_000  # changed papers applied in memory before the snapshot is written again
MAX_POOL = 5_000  # candidates a search under a broad filter draws at most


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
        compressed: bool | None = None,
    ):
        """``compressed``: True or False forces the compressed or the exact index; None
        (the default) picks by size (``COMPRESS_ABOVE``)."""
        self.force_compressed = compressed
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
        self._flat: faiss.IndexIDMap2 | None = None  # the exact index
        self._ann: CompressedIndex | None = None  # or the compressed one
        self._opened = False
        self._unsaved = 0  # changes applied to the compressed index since its snapshot
        self.rebuilds = 0  # times this process built the compressed index from the table
        self._warming: threading.Thread | None = None
        self._loaded = -1  # table generation reflected in memory
        self._chunk = -1  # last committed chunk reflected in memory
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

    # -- the in-memory index ----------------------------------------------------------------

    @property
    def compressed(self) -> bool:
        """Whether the index in memory is the compressed one (``compressed.CompressedIndex``)."""
        return self._ann is not None

    def _wants_compressed(self, papers: int) -> bool:
        return (
            self.force_compressed
            if self.force_compressed is not None
            else (papers > COMPRESS_ABOVE)
        )

    def refresh(self) -> None:
        """Bring the in-memory index up to the stored embeddings (changes by any process),
        including the chunks a catch-up still under way has committed."""
        with self._lock:
            generation, chunk = self.table.generation, self.table.last_chunk
            if self._opened and (generation, chunk) == (self._loaded, self._chunk):
                return
            self._matrix = None
            if not self._opened:
                self._open(chunk)
            else:
                self._apply(*self.table.changes_after_chunk(self._chunk))
            self._loaded, self._chunk, self._opened = generation, chunk, True
            if self._ann is not None and self._warming is None:
                # rescoring reads stored vectors at random: read the table once, behind
                self._warming = threading.Thread(target=self.table.warm, name="warm", daemon=True)
                self._warming.start()
            if self._flat is not None and self._wants_compressed(self._flat.ntotal):
                self._log(f"{self._flat.ntotal:,} papers: switching to the compressed dense index")
                self._build_compressed()
            if self._ann is not None and self._unsaved >= SAVE_AFTER:
                self._save(wait=False)

    def _open(self, chunk: int) -> None:
        papers = self.table.count()
        if papers and self._wants_compressed(papers):
            self._open_compressed(chunk)
        else:
            self._flat = None
            for ids, blob in self.table.iter_vectors():
                self._add_flat(ids, np.frombuffer(blob, dtype=np.float32).reshape(len(ids), -1))

    def _add_flat(self, ids: list[int], vectors: np.ndarray) -> None:
        if self._flat is None:
            self._flat = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
        self._flat.add_with_ids(vectors, np.array(ids, dtype=np.int64))

    def _apply(self, gone: list[int], rows: Sequence[tuple[str, int, bytes | None, bytes]]) -> None:
        touched = np.array(sorted(set(gone) | {r[1] for r in rows}), dtype=np.int64)
        if len(touched) == 0:
            return
        ids = [r[1] for r in rows]
        vectors = np.frombuffer(b"".join(r[3] for r in rows), dtype=np.float32)
        vectors = vectors.reshape(len(rows), -1) if rows else vectors
        if self._ann is not None:
            self._ann.remove(touched)
            if rows:
                self._ann.add(ids, vectors)
            self._unsaved += len(touched)
        else:
            if self._flat is not None:
                self._flat.remove_ids(touched)
            if rows:
                self._add_flat(ids, vectors)

    def _open_compressed(self, chunk: int) -> None:
        try:
            ann, stamp = CompressedIndex.load(self.directory)
            if stamp.table_id != self.table.table_id or stamp.chunk > chunk:
                raise ValueError("it was built from other embeddings")
        except FileNotFoundError:
            self._build_compressed()
            return
        except (OSError, ValueError, KeyError, TypeError) as e:
            self._log(f"the saved dense index is unusable ({e}); rebuilding it")
            self._build_compressed()
            return
        self._ann, self._flat = ann, None
        self._unsaved = 0
        self._apply(*self.table.changes_after_chunk(stamp.chunk))

    def _build_compressed(self) -> None:
        """Train and fill the compressed index from the table, then save it."""
        start = self.table.last_chunk
        papers = self.table.count()
        self._log(
            f"building the compressed dense index of {papers:,} papers (once: it is saved in "
            "the data dir)"
        )
        self.rebuilds += 1
        self._flat = None
        self._ann = CompressedIndex.trained(self.table.sample_vectors(TRAIN_SAMPLE), papers)
        for ids, blob in self.table.iter_vectors():
            self._ann.add(ids, np.frombuffer(blob, dtype=np.float32).reshape(len(ids), -1))
        self._apply(*self.table.changes_after_chunk(start))
        self._chunk = max(self._chunk, start)
        self._save(wait=True)

    def _save(self, *, wait: bool) -> None:
        """Write the compressed index's snapshot (skipped when another process is writing
        one and ``wait`` is false)."""
        if self._ann is None:
            return
        with file_lock(self.directory / "ann.lock", wait=wait) as locked:
            if not locked:
                return
            stamp = Stamp(
                self.table.table_id,
                self.model_name,
                self._chunk,
                self._ann.ntotal,
                self._ann.factory,
            )
            self._ann.save(self.directory, stamp)
            self._unsaved = 0

    def warmed(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the compressed index's first read of the vector
        table (into the system's page cache) and the encoder's query session
        (``Encoder.query_graph_ready``) to be ready; True once both are, or when none runs."""
        ready = self._encoder.query_graph_ready(timeout) if self._encoder is not None else True
        if self._warming is not None:
            self._warming.join(timeout)
            return ready and not self._warming.is_alive()
        return ready

    # -- queries -------------------------------------------------------------------------

    def encode_query(self, text: str, threads: int | None = None) -> np.ndarray:
        """The query's unit vector (the last ``QUERY_CACHE`` queries' are kept: a digest
        searches with and then scores by the same query); ``threads``: see
        ``Encoder.encode_queries``."""
        with self._lock:
            cached = self._queries.pop(text, None)
            if cached is not None:
                self._queries[text] = cached
                return cached.copy()
        vector = self.encoder.encode_queries([text], threads)[0]
        with self._lock:
            self._queries[text] = vector
            while len(self._queries) > QUERY_CACHE:
                del self._queries[next(iter(self._queries))]
        return vector.copy()

    def vector(self, rowid: int) -> np.ndarray | None:
        """A paper's stored embedding."""
        row = self.table.get(rowid)
        return np.frombuffer(row[1], dtype=np.float32) if row else None

    def _exact(self, rowids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, fp32 embeddings) of those of ``rowids`` with a stored embedding."""
        found = self.table.vectors_of([int(r) for r in rowids])
        ids = np.fromiter(found, dtype=np.int64, count=len(found))
        if not found:
            return ids, np.zeros((0, 0), dtype=np.float32)
        blob = b"".join(found.values())
        return ids, np.frombuffer(blob, dtype=np.float32).reshape(len(ids), -1)

    def search(self, query: np.ndarray, k: int, allowed: Allowed = None) -> list[tuple[int, float]]:
        """Top-k (row id, inner product) for a query vector, restricted to ``allowed`` (row
        ids, or a ``CandidateFilter``)."""
        return self.search_many(query.reshape(1, -1), k, allowed)[0]

    def search_many(
        self, queries: np.ndarray, k: int, allowed: Allowed = None
    ) -> list[list[tuple[int, float]]]:
        """``search`` for each row of ``queries`` (n x dim), in one call to the index.

        The compressed index's candidates (``RESCORE`` a query, or k when more) are rescored
        with the stored fp32 embeddings, so the scores are exact inner products; a filter
        allowing at most ``EXACT_FILTERED`` papers is searched exactly.
        """
        self.refresh()
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        none: list[list[tuple[int, float]]] = [[] for _ in range(len(queries))]
        if isinstance(allowed, CandidateFilter):
            return [self._search_filtered(q, k, allowed) for q in queries]
        if k <= 0 or len(queries) == 0 or (allowed is not None and len(allowed) == 0):
            return none
        with self._lock:
            if self._ann is not None:
                if allowed is not None and len(allowed) <= EXACT_FILTERED:
                    candidates = np.tile(np.asarray(allowed, dtype=np.int64), (len(queries), 1))
                elif self._ann.ntotal:
                    _, candidates = self._ann.search(queries, max(RESCORE, k), allowed)
                else:
                    return none
            elif self._flat is not None and self._flat.ntotal:
                params = None
                if allowed is not None:
                    selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
                    params = faiss.SearchParameters(sel=selector)
                scores, ids = self._flat.search(queries, min(k, self._flat.ntotal), params=params)
                return [
                    [(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
                    for row_ids, row_scores in zip(ids, scores, strict=True)
                ]
            else:
                return none
        return self._rescored(queries, candidates, k)

    def _search_filtered(
        self, query: np.ndarray, k: int, allowed: CandidateFilter
    ) -> list[tuple[int, float]]:
        """Top-k among the candidates ``allowed`` keeps, drawing more until k pass or
        ``MAX_POOL`` were drawn (a filter that few near papers pass may then give fewer than k:
        hybrid search has BM25's filtered candidates besides). The compressed index's
        candidates are checked before they are rescored."""
        with self._lock:
            total = (
                self._ann.ntotal
                if self._ann is not None
                else (self._flat.ntotal if self._flat is not None else 0)
            )
        if k <= 0 or total == 0:
            return []
        most = min(total, max(MAX_POOL, k))
        pool = min(most, allowed.pool(k, total))
        while True:
            drawn = self._draw(query, pool)
            kept = allowed.keep(np.array([r for r, _ in drawn], dtype=np.int64))
            hits = [(r, s) for r, s in drawn if r in kept]
            if len(hits) >= k or pool >= most:
                break
            pool = min(most, pool * 4)
        if self._ann is None:
            return hits[:k]
        ids = np.array([[r for r, _ in hits]], dtype=np.int64).reshape(1, -1)
        return self._rescored(query.reshape(1, -1), ids, k)[0]

    def _draw(self, query: np.ndarray, pool: int) -> list[tuple[int, float]]:
        """Up to ``pool`` candidates, best first: exact scores from the exact index,
        approximate ones from the compressed index."""
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with self._lock:
            if self._ann is not None:
                scores, ids = self._ann.search(q, pool)
            elif self._flat is not None and self._flat.ntotal:
                scores, ids = self._flat.search(q, min(pool, self._flat.ntotal))
            else:
                return []
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _rescored(
        self, queries: np.ndarray, candidates: np.ndarray, k: int
    ) -> list[list[tuple[int, float]]]:
        ids, vectors = self._exact(np.unique(candidates[candidates >= 0]))
        if len(ids) == 0:
            return [[] for _ in queries]
        order = np.argsort(ids)
        ids, vectors = ids[order], vectors[order]
        out = []
        for query, row in zip(queries, candidates, strict=True):
            at = np.minimum(np.searchsorted(ids, row), len(ids) - 1)
            at = at[ids[at] == row]  # candidates with a stored vector (-1 pads never match)
            if len(at) == 0:
                out.append([])
                continue
            scores = vectors[at] @ query
            best = np.argsort(-scores, kind="stable")[:k]
            out.append([(int(ids[at[i]]), float(scores[i])) for i in best])
        return out

    def embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, embeddings) of every paper in memory: aligned read-only arrays of shapes
        (n,) and (n, dim), for scoring all papers with one matrix product. The copy (4 bytes
        per dimension per paper) is kept until the index changes; with the compressed index
        it is read from the encoding table."""
        self.refresh()
        with self._lock:
            if self._matrix is None:
                if self._flat is not None and self._flat.ntotal:
                    ids = faiss.vector_to_array(self._flat.id_map).astype(np.int64)
                    vectors = self._flat.index.reconstruct_n(0, self._flat.ntotal)
                elif self._ann is not None and self._ann.ntotal:
                    parts = [
                        (np.array(i, dtype=np.int64), np.frombuffer(b, dtype=np.float32))
                        for i, b in self.table.iter_vectors()
                    ]
                    ids = np.concatenate([p[0] for p in parts])
                    vectors = np.concatenate([p[1] for p in parts]).reshape(len(ids), -1)
                else:
                    dim = self._flat.d if self._flat is not None else 0
                    ids, vectors = np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
                ids.flags.writeable = False
                vectors.flags.writeable = False
                self._matrix = (ids, vectors)
            return self._matrix

    def scores(self, query: np.ndarray, rowids: Sequence[int]) -> dict[int, float]:
        """Exact inner products of the query with the given papers' embeddings."""
        self.refresh()
        with self._lock:
            if self._flat is not None:
                out = {}
                for r in rowids:
                    try:
                        out[r] = float(np.dot(self._flat.reconstruct(int(r)), query))
                    except RuntimeError:
                        continue
                return out
        ids, vectors = self._exact(rowids)
        if len(ids) == 0:
            return {}
        return {int(r): float(s) for r, s in zip(ids, vectors @ query, strict=True)}
