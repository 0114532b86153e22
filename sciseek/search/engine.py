"""The engine: the one entry point interfaces use to add, delete, search and inspect papers.

A query runs ``search`` -> ``retrieval.Retrieval.ranked`` (retrievers, fusion, re-ranking,
exact matches) -> the indexes. Rankings carry store row ids inside; every public result of the
engine is keyed by paper id.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sciseek.errors import BadInput
from sciseek.index.encoded import Allowed
from sciseek.index.lexical import LexicalIndex
from sciseek.index.milvus import MilvusMirror
from sciseek.index.sparse import SparseIndex
from sciseek.index.vector_table import Stream
from sciseek.index.vectors import DenseIndex
from sciseek.ingest.papers import Filters, Paper
from sciseek.storage.store import Store, UpsertResult

from .catchup import IndexNotReady  # noqa: F401 - re-exported
from .feedback import PRF
from .indexes import INLINE_CATCH_UP, Indexes  # noqa: F401 - re-exported
from .relevance import Calibration
from .retrieval import (  # noqa: F401 - re-exported: the engine's limits and modes
    DEFAULT_MODE,
    MAX_K,
    MODES,
    RERANK_DEPTH,
    InvalidQuery,
    Retrieval,
    check_k,
)
from .scoring import RelevanceScorer
from .settings import Settings, load_settings, save_settings, with_backend


class NotADataDir(BadInput, NotADirectoryError):
    """A data dir path that is not a directory (a file, or a path under a file)."""


class UnknownPaper(BadInput, KeyError):
    """No paper with that id; ``args[0]`` is the id."""

    status = 404

    def __str__(self) -> str:
        return f"no paper with id {self.args[0]!r}"


def default_data_dir() -> Path:
    """The data directory: $SCISEEK_HOME, else ./sciseek-data."""
    return Path(os.environ.get("SCISEEK_HOME") or "sciseek-data")


@dataclass
class Hit:
    """One search result."""

    paper: Paper
    score: float
    relevance: float | None = None  # calibrated P(relevant), when asked for

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
            **({"relevance": round(self.relevance, 4)} if self.relevance is not None else {}),
        }


class Engine:
    """Papers in a data directory: the store plus the indexes derived from it."""

    def __init__(
        self,
        data_dir: Path,
        store: Store,
        lexical: LexicalIndex,
        dense: DenseIndex,
        log: Callable[[str], None],
        *,
        settings: Settings,
        reranker: Any = None,
        rerank_depth: int = RERANK_DEPTH,
        background: bool = False,
    ):
        self.data_dir = data_dir
        self.store = store
        mirror = None
        if settings.backend == "milvus" and settings.milvus_uri:
            mirror = MilvusMirror(
                data_dir, settings.milvus_uri, store, dense.table, lexical.terms, log
            )
        self._indexes = Indexes(
            data_dir, store, lexical, dense, log, background=background, mirror=mirror
        )
        self._log = log
        self._settings = settings
        self._retrieval = Retrieval(self, reranker, rerank_depth)
        self._scorer = RelevanceScorer(lambda: self.dense, lambda: self.lexical, store, log)

    @classmethod
    def open(
        cls,
        data_dir: str | Path | None = None,
        *,
        model: str | Path | None = None,
        log: Callable[[str], None] | None = None,
        settings: Settings | None = None,
        reranker: Any = None,
        rerank_depth: int = RERANK_DEPTH,
        background: bool = False,
        device: str = "auto",
        backend: str | None = None,
        milvus_uri: str | None = None,
    ) -> Engine:
        """Open (creating if needed) a data directory and bring its indexes up to date.

        ``model`` names the dense encoder ('minilm', 'mpnet' or a local folder); by default
        the one the data dir was built with. A different model than the index's is refused.
        ``settings`` (fusion, weights, PRF) default to the ones stored in the data dir;
        ``reranker`` (a ``rerank.Reranker``) re-scores the top ``rerank_depth`` results.
        With ``background`` (servers), queries never wait for index work: see ``catchup``.
        ``device`` ('auto', 'cpu', 'cuda') is where the dense encoder runs. ``backend``
        ('local' or 'milvus', with ``milvus_uri``) is where BM25 and dense retrieval run;
        by default the data dir's stored one (``settings``), else local.
        """
        path = Path(data_dir) if data_dir is not None else default_data_dir()
        if path.exists() and not path.is_dir():
            raise NotADataDir(f"data dir {path} is not a directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except NotADirectoryError as e:  # a parent is a file
            raise NotADataDir(str(e)) from None
        log = log or (lambda msg: print(msg, file=sys.stderr))
        settings = settings if settings is not None else load_settings(path)
        if backend is not None or milvus_uri is not None:
            settings = with_backend(settings, backend, milvus_uri)
        store = Store(path / "sciseek.db")
        lexical = LexicalIndex(path / "lexical", store, log=log)
        lexical.verify()
        dense = DenseIndex(path / "dense", store, model, log=log, device=device)
        return cls(
            path,
            store,
            lexical,
            dense,
            log,
            settings=settings,
            reranker=reranker,
            rerank_depth=rerank_depth,
            background=background,
        )

    def close(self) -> None:
        """Release the store connection."""
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- settings ------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """How hybrid search combines its retrievers (fusion, weights, PRF)."""
        return self._settings

    @property
    def fusion(self) -> str:
        """The hybrid fusion method."""
        return self._settings.fusion

    @property
    def weights(self) -> dict[str, float]:
        """The hybrid retrievers' weights."""
        return dict(self._settings.weights)

    @property
    def prf(self) -> PRF | None:
        """Pseudo-relevance feedback settings, or None."""
        return self._settings.prf

    @property
    def reranker(self) -> Any:
        """The re-ranker given to ``open``, or None."""
        return self._retrieval.reranker

    def save_config(self, settings: Settings | None = None, **provenance: Any) -> Path:
        """Store ``settings`` (default: the engine's) in the data dir, for later opens."""
        return save_settings(self.data_dir, settings or self._settings, **provenance)

    # -- indexes -------------------------------------------------------------------------

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index."""
        return self._indexes.lexical

    @property
    def dense(self) -> DenseIndex:
        """The dense index, caught up with the store first if it is behind by at most
        ``INLINE_CATCH_UP`` papers. A larger backlog, or any in the background mode, is encoded
        off the query path (``sync``, ``catch_up_in_background``): meanwhile the index answers
        from the embeddings committed so far, and BM25 finds the rest."""
        return self._indexes.dense

    @property
    def mirror(self) -> MilvusMirror | None:
        """The Milvus collection that BM25 and dense retrieval run on with the ``milvus``
        backend (caught up first), else None."""
        return self._indexes.mirror

    @property
    def sparse(self) -> SparseIndex:
        """The SPLADE index, built (and then kept up to date) from the first time it is used.

        In the background mode a query before the first build is done raises IndexNotReady.
        """
        return self._indexes.sparse

    def wait_for_indexes(self, timeout: float | None = None) -> bool:
        """Wait for background index work to finish; True when none is running."""
        return self._indexes.wait(timeout)

    def catch_up_in_background(self) -> None:
        """Start bringing the vector indexes up to the store in a background thread (an engine
        opened with ``background=True``); queries answer meanwhile; see ``index_progress``."""
        self._indexes.catch_up_in_background()

    @property
    def dense_model_path(self) -> Path:
        """The folder of the dense encoder's weights (what a remote encoder loads)."""
        return self._indexes.dense_as_is.model_path

    def warm_up(self) -> None:
        """Load the dense encoder now (a server's first query then does not wait for it)."""
        self._indexes.dense_as_is.encoder.query_graph_ready(0)  # loads it, starts the rest

    def stop_background(self, timeout: float = 2.0) -> bool:
        """Ask background index work to stop after its current chunk and wait up to
        ``timeout`` seconds; True when it has stopped. Committed chunks stay."""
        return self._indexes.stop_background(timeout)

    def dense_up_to_date(self) -> bool:
        """Whether the dense index reflects the store's current generation (two reads, no
        counting: cheap enough for every page)."""
        return self._indexes.dense_up_to_date()

    def index_progress(self) -> dict[str, dict[str, Any]]:
        """Per index: papers it holds, papers in the store, whether it is up to date, and (for
        the vector indexes) ``pending``, the papers changed since its last full catch-up."""
        return self._indexes.progress()

    # -- writes --------------------------------------------------------------------------

    def add(
        self,
        papers: Iterable[Paper],
        progress: Callable[[int], None] | None = None,
        *,
        dense: bool = True,
    ) -> UpsertResult:
        """Upsert papers into the store, then commit them to every index.

        With ``dense=False`` the vector indexes are left behind; they catch up the first time
        a query needs them.
        """
        result = self.store.upsert(papers)
        if dense:
            self.sync(progress)
        else:
            self._indexes.lexical.sync()
        return result

    def delete(self, ids: Iterable[str]) -> list[str]:
        """Delete papers by id from the store and the indexes; returns the ids that existed."""
        deleted = self.store.delete(ids)
        self._indexes.after_delete()
        return deleted

    def sync(
        self,
        progress: Callable[[int], None] | None = None,
        *,
        wait: bool = True,
        stop: Callable[[], bool] | None = None,
        stream: Stream | None = None,
    ) -> None:
        """Bring every index up to the store's current generation.

        ``progress`` is called with the number of papers each dense-encoding chunk finished;
        ``stop`` is asked between chunks (True ends the encoding early, committed work stays);
        ``stream`` encodes the chunks elsewhere (``ray_encoding.ray_stream``), committed as
        they come back.
        """
        self._indexes.sync(progress, wait=wait, stop=stop, stream=stream)

    def sync_mirror(self, progress: Callable[[int], None] | None = None) -> int:
        """Bring the Milvus collection (``milvus`` backend) up to the encoded papers; returns
        the papers written or removed (0 on the local backend)."""
        return self._indexes.sync_mirror(progress)

    # -- reads ---------------------------------------------------------------------------

    def get(self, paper_id: str) -> Paper | None:
        """The paper with this id, or None."""
        return self.store.get(paper_id)

    def search(
        self,
        query: str,
        mode: str = DEFAULT_MODE,
        k: int = 10,
        filters: Filters | None = None,
        min_score: float | None = None,
    ) -> list[Hit]:
        """Top-k papers for a free-text query (keywords, a title, an id or a question).

        With ``min_score``, only papers whose calibrated relevance (``relevance``) reaches it
        are kept, whatever the mode; ``Hit.relevance`` is then set.
        """
        hits = self._hits(self._retrieval.ranked(query, mode, k, filters))
        if min_score is None:
            return hits
        for hit, p in zip(hits, self.relevance(query, hits), strict=True):
            hit.relevance = p
        return [h for h in hits if h.relevance is not None and h.relevance >= min_score]

    def search_ids(
        self, query: str, mode: str = DEFAULT_MODE, k: int = 10, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Top-k (paper id, score) pairs, without loading the papers."""
        return self._by_id(self._retrieval.ranked(query, mode, k, filters))

    def similar(self, paper_id: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        """The k papers nearest to ``paper_id`` by embedding, the paper itself excluded."""
        check_k(k)
        rowid = self.store.rowid(paper_id)
        if rowid is None:
            raise UnknownPaper(paper_id)
        dense = self.dense
        vector = dense.vector(rowid)
        if vector is None:
            return []
        allowed = self._retrieval.allowed(filters)
        ranked = [(r, s) for r, s in dense.search(vector, k + 1, allowed) if r != rowid]
        return self._hits(ranked[:k])

    def relevance(self, query: str, hits: Sequence[Hit]) -> list[float | None]:
        """Calibrated probability that each hit is relevant to ``query`` (None: no vector yet).

        The same scale for every mode: a logistic map of the query-paper cosine, or for a short
        query of how far that cosine stands above the query's cosines with the stored papers
        (``sciseek.search.relevance``), fitted for the dense model in use.
        """
        return self._scorer.relevance(query, [h.paper.id for h in hits])

    def relevance_model(self) -> Calibration:
        """The relevance calibration of the dense model in use (warns once if it has none)."""
        return self._scorer.model()

    def relevance_threshold(self, query: str) -> float:
        """The digest's relevance threshold for ``query`` (it depends on the query's kind)."""
        return self._scorer.model().threshold(query)

    def runs(
        self,
        query: str,
        retrievers: Iterable[str],
        filters: Filters | None = None,
        *,
        exact_dense: bool = True,
    ) -> dict[str, dict[str, float]]:
        """Each retriever's top candidates {paper id: score} for a query, ready for ``fuse``.

        Dense scores are cheap to compute exactly, so with ``exact_dense`` the dense run also
        scores every other retriever's candidates: no candidate is fused with a guessed score.
        """
        runs = self._retrieval.runs(query, retrievers, filters, exact_dense=exact_dense)
        ids = self.store.ids_by_rowids(sorted({r for run in runs.values() for r in run}))
        return {n: {ids[r]: s for r, s in run.items() if r in ids} for n, run in runs.items()}

    def fuse(
        self,
        runs: Mapping[str, Mapping[str, float]],
        k: int,
        weights: Mapping[str, float] | None = None,
        method: str | None = None,
        complete: Iterable[str] = (),
    ) -> list[tuple[str, float]]:
        """Top-k (paper id, score) of ``runs`` fused with ``weights`` and ``method``.

        Defaults: the engine's settings. ``complete`` names runs that scored every candidate
        they hold (exact dense scores): a candidate missing from one (a paper not encoded yet)
        is fused over the other runs instead of as that run's worst.
        """
        return self._retrieval.fuse(runs, k, weights, method, complete)

    def dense_query(self, query: str, allowed: Allowed = None) -> np.ndarray:
        """The query's embedding, moved towards its top papers (Rocchio) when ``prf`` is set."""
        return self._retrieval.dense_query(query, allowed)

    def stats(self) -> dict[str, Any]:
        """Counts and index state, JSON-ready."""
        return self._indexes.stats()

    def _hits(self, ranked: list[tuple[int, float]]) -> list[Hit]:
        papers = self.store.get_by_rowids([r for r, _ in ranked])
        return [Hit(papers[r], s) for r, s in ranked if r in papers]

    def _by_id(self, ranked: list[tuple[int, float]]) -> list[tuple[str, float]]:
        ids = self.store.ids_by_rowids([r for r, _ in ranked])
        return [(ids[r], s) for r, s in ranked if r in ids]
