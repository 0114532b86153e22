"""The indexes derived from the store, and how each is kept up to date with it.

BM25 is committed with every write. The vector indexes follow: a query process encodes a
small backlog (up to ``INLINE_CATCH_UP`` papers) before answering, a server (``background``)
leaves every backlog to its background thread (``catchup``), and a larger one waits for
``sync``. Meanwhile the dense index answers from the embeddings committed so far.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sciseek.index.encoded import describe
from sciseek.index.lexical import LexicalIndex
from sciseek.index.milvus import MilvusMirror
from sciseek.index.sparse import SparseIndex, check_sparse_size, sparse_fits
from sciseek.index.vector_table import Stream
from sciseek.index.vectors import DenseIndex
from sciseek.storage.store import Store

from .catchup import BackgroundSync, IndexNotReady

INLINE_CATCH_UP = 2000  # papers a query process encodes itself before answering


class Indexes:
    """The BM25, dense and (once used) sparse indexes of one store, kept up to date."""

    def __init__(
        self,
        data_dir: Path,
        store: Store,
        lexical: LexicalIndex,
        dense: DenseIndex,
        log: Callable[[str], None],
        *,
        background: bool = False,
        mirror: MilvusMirror | None = None,
    ):
        self.data_dir = data_dir
        self._mirror = mirror
        self.store = store
        self.lexical = lexical
        self._dense = dense
        self._log = log
        self._sparse: SparseIndex | None = None
        if (data_dir / "sparse" / "sparse.db").exists():
            self._sparse = SparseIndex(data_dir / "sparse", store, log=log)
        self._sparse_wanted = self._sparse is not None
        self._background = BackgroundSync(self._catch_up, log) if background else None
        self._warned_behind = False
        self._warned_mirror = False
        self._warned_sparse = False

    @property
    def dense(self) -> DenseIndex:
        """The dense index, caught up first when the backlog is small (see the module)."""
        self.keep_dense_up()
        return self._dense

    @property
    def dense_as_is(self) -> DenseIndex:
        """The dense index as it is, without catching up."""
        return self._dense

    def keep_dense_up(self) -> None:
        """Start (or, for a small backlog, do) the dense index's catch-up with the store."""
        if self._dense.generation == self.store.generation:
            return
        if self._background is not None:
            self._background.request()
        elif self._dense.table.pending() <= INLINE_CATCH_UP:
            self._dense.sync(wait=False)
        elif not self._warned_behind:
            self._warned_behind = True
            self._log(
                f"the dense index is behind the store ({self._dense.count()} of "
                f"{self.store.count()} papers encoded): dense and hybrid search use the "
                "encoded ones, BM25 covers all; 'sciseek sync' finishes the encoding"
            )

    @property
    def mirror(self) -> MilvusMirror | None:
        """The Milvus collection BM25 and dense retrieval run on (None: the local indexes),
        caught up with the vector table first unless a background thread does that. Until
        its first fill is done, searches answer from the local indexes (said once)."""
        mirror = self._mirror
        if mirror is None:
            return None
        self.keep_dense_up()
        if not mirror.up_to_date():
            if self._background is not None:
                self._background.request()
            elif mirror.state is not None or self._dense.table.count() <= INLINE_CATCH_UP:
                mirror.sync()
        if mirror.state is None:
            if not self._warned_mirror:
                self._warned_mirror = True
                self._log(
                    "the Milvus collection is not filled yet ('sciseek sync' fills it): "
                    "searches answer from the local indexes until then"
                )
            return None
        return mirror

    @property
    def sparse(self) -> SparseIndex:
        """The SPLADE index, built (and then kept up to date) from the first time it is used.

        In the background mode a query before the first build is done raises IndexNotReady;
        above ``sparse.SPARSE_MAX_PAPERS`` papers it raises SparseRefused.
        """
        check_sparse_size(self.store.count())
        if self._background is None:
            if self._sparse is None:
                self._sparse = SparseIndex(self.data_dir / "sparse", self.store, log=self._log)
            if self._sparse.generation != self.store.generation:
                self._sparse.sync()
            return self._sparse
        self._sparse_wanted = True
        sparse = self._sparse
        if sparse is None or sparse.generation != self.store.generation:
            self._background.request()
        if sparse is None or (sparse.generation == 0 and self.store.generation > 0):
            raise IndexNotReady(
                "the sparse (SPLADE) index is being built; sparse mode answers once it is done"
                " (the other modes work now)"
            )
        return sparse

    # -- background work -----------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for background index work to finish; True when none is running."""
        return self._background is None or self._background.wait(timeout)

    def catch_up_in_background(self) -> None:
        """Start bringing the vector indexes up to the store in the background thread."""
        if self._background is None:
            raise RuntimeError("catch_up_in_background needs Engine.open(..., background=True)")
        self._background.request()

    def stop_background(self, timeout: float = 2.0) -> bool:
        """Ask background work to stop after its current chunk; True once it has stopped."""
        if self._background is None:
            return True
        self._background.stop()
        return self._background.wait(timeout)

    def _catch_up(self) -> None:
        stop = self._background.stopping if self._background is not None else None
        self._dense.sync(wait=False, stop=stop)
        self._dense.refresh()
        if self._mirror is not None:
            self._mirror.sync()
        if self._sparse_wanted and sparse_fits(self.store.count()):
            if self._sparse is None:
                self._sparse = SparseIndex(self.data_dir / "sparse", self.store, log=self._log)
            self._sparse.sync(wait=False, stop=stop)

    # -- writes --------------------------------------------------------------------------

    def _sparse_kept(self) -> bool:
        """Whether an existing sparse index is still kept up to date: not once the store has
        grown past the size it serves (said once; sparse queries are then refused)."""
        if self._sparse is None:
            return False
        if sparse_fits(self.store.count()):
            return True
        if not self._warned_sparse:
            self._warned_sparse = True
            self._log(
                "the store has grown past what the sparse (SPLADE) index serves: it is no "
                "longer updated, and sparse queries are refused"
            )
        return False

    def after_delete(self) -> None:
        """Bring the indexes past a delete (a large dense backlog does not block it)."""
        self.lexical.sync()
        self.keep_dense_up()
        if self._background is None and self._sparse_kept():
            self._sparse.sync(wait=False)

    def sync(
        self,
        progress: Callable[[int], None] | None = None,
        *,
        wait: bool = True,
        stop: Callable[[], bool] | None = None,
        stream: Stream | None = None,
    ) -> None:
        """Bring every index up to the store's current generation (see ``Engine.sync``)."""
        self.lexical.sync(wait=wait)
        self._dense.sync(progress, wait=wait, stop=stop, stream=stream)
        if self._mirror is not None and (stop is None or not stop()):
            self._mirror.sync()
        if self._sparse_kept():
            self._sparse.sync(wait=wait)

    def sync_mirror(self, progress: Callable[[int], None] | None = None) -> int:
        """Bring the Milvus collection up to the vector table (0 without one)."""
        return self._mirror.sync(progress) if self._mirror is not None else 0

    # -- state ---------------------------------------------------------------------------

    def dense_up_to_date(self) -> bool:
        """Whether the dense index reflects the store's current generation."""
        return self._dense.generation == self.store.generation

    def progress(self) -> dict[str, dict[str, Any]]:
        """Per index: papers it holds, papers in the store, whether it is up to date, and (for
        the vector indexes) ``pending``, the papers changed since its last full catch-up."""
        papers, generation = self.store.count(), self.store.generation
        out: dict[str, dict[str, Any]] = {
            "lexical": {
                "documents": self.lexical.count(),
                "papers": papers,
                "up_to_date": self.lexical.generation == generation,
            }
        }
        for name, index in (("dense", self._dense), ("sparse", self._sparse)):
            if index is not None:
                out[name] = {
                    "documents": index.count(),
                    "papers": papers,
                    "up_to_date": index.generation == generation,
                    "pending": index.table.pending(),
                }
        return out

    def stats(self) -> dict[str, Any]:
        """Counts and index state, JSON-ready."""
        generation = self.store.generation
        self.lexical.refresh()
        out = {
            "papers": self.store.count(),
            "generation": generation,
            "data_dir": str(self.data_dir),
            "lexical": {
                "documents": self.lexical.count(),
                "generation": self.lexical.generation,
            },
            "dense": describe(self._dense),
        }
        if self._mirror is not None:
            out["milvus"] = self._mirror.describe()
        if self._sparse is not None:
            out["sparse"] = describe(self._sparse)
        for name in ("lexical", "dense", "sparse"):
            if name in out:
                out[name]["up_to_date"] = out[name]["generation"] == generation
        return out
