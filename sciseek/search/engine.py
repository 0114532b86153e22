"""The engine: the one entry point interfaces use to add, delete, search and inspect papers."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sciseek.errors import BadInput
from sciseek.index.lexical import LexicalIndex
from sciseek.index.models import document_text
from sciseek.index.vectors import DenseIndex, SparseIndex, describe
from sciseek.ingest.papers import Filters, Paper, normalise_id
from sciseek.search import feedback, fusion, trending
from sciseek.storage.store import Store, UpsertResult

from .feedback import PRF
from .relevance import calibration as relevance_fit
from .relevance import relevance as relevance_of
from .settings import Settings, load_settings, save_settings

MODES = ("bm25", "dense", "sparse", "hybrid")
DEFAULT_MODE = "hybrid"
MAX_K = 1000
CANDIDATES = 100  # per retriever, before fusion
RERANK_DEPTH = 50  # fused results a re-ranker re-scores


class InvalidQuery(BadInput, ValueError):
    """A search the engine cannot run as asked (k out of range, unknown mode or retriever)."""


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
    ):
        self.data_dir = data_dir
        self.store = store
        self.lexical = lexical
        self.dense = dense
        self._log = log
        self._sparse: SparseIndex | None = None
        if (data_dir / "sparse" / "sparse.db").exists():
            self._sparse = SparseIndex(data_dir / "sparse", store, log=log)
        settings = load_settings(data_dir)
        self.fusion = settings.fusion
        self.weights: dict[str, float] = settings.weights
        self.prf: PRF | None = settings.prf
        self.reranker: Any = None  # a rerank.Reranker, loaded on demand (torch)
        self.rerank_depth = RERANK_DEPTH
        self._warned_calibration = False

    @classmethod
    def open(
        cls,
        data_dir: str | Path | None = None,
        *,
        model: str | Path | None = None,
        log: Callable[[str], None] | None = None,
    ) -> Engine:
        """Open (creating if needed) a data directory and bring its indexes up to date.

        ``model`` names the dense encoder ('minilm', 'mpnet' or a local folder); by default
        the one the data dir was built with. A different model than the index's is refused.
        """
        path = Path(data_dir) if data_dir is not None else default_data_dir()
        if path.exists() and not path.is_dir():
            raise NotADataDir(f"data dir {path} is not a directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except NotADirectoryError as e:  # a parent is a file
            raise NotADataDir(str(e)) from None
        log = log or (lambda msg: print(msg, file=sys.stderr))
        store = Store(path / "sciseek.db")
        lexical = LexicalIndex(path / "lexical", store, log=log)
        lexical.verify()
        dense = DenseIndex(path / "dense", store, model, log=log)
        return cls(path, store, lexical, dense, log)

    def close(self) -> None:
        """Release the store connection."""
        self.store.close()

    def save_config(self, **provenance: Any) -> Path:
        """Store the current fusion, weights and PRF settings with the indexes."""
        return save_settings(
            self.data_dir, Settings(self.fusion, self.weights, self.prf), **provenance
        )

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            self.lexical.sync()
        return result

    def delete(self, ids: Iterable[str]) -> list[str]:
        """Delete papers by id from the store and the indexes; returns the ids that existed."""
        deleted = self.store.delete(ids)
        self.sync()
        return deleted

    @property
    def vectors(self) -> DenseIndex:
        """The dense index, caught up with the store first if it is behind."""
        if self.dense.generation != self.store.generation:
            self.dense.sync(wait=False)
        return self.dense

    def sync(self, progress: Callable[[int], None] | None = None, *, wait: bool = True) -> None:
        """Bring every index up to the store's current generation.

        ``progress`` is called with the number of papers each dense-encoding chunk finished.
        """
        self.lexical.sync(wait=wait)
        self.dense.sync(progress, wait=wait)
        if self._sparse is not None:
            self._sparse.sync(wait=wait)

    @property
    def sparse(self) -> SparseIndex:
        """The SPLADE index, built (and then kept up to date) from the first time it is used."""
        if self._sparse is None:
            self._sparse = SparseIndex(self.data_dir / "sparse", self.store, log=self._log)
        if self._sparse.generation != self.store.generation:
            self._sparse.sync()
        return self._sparse

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
        hits = self._hits(self._retrieve(query, mode, k, filters))
        if min_score is None:
            return hits
        for hit, p in zip(hits, self.relevance(query, hits), strict=True):
            hit.relevance = p
        return [h for h in hits if h.relevance is not None and h.relevance >= min_score]

    def relevance(self, query: str, hits: Sequence[Hit]) -> list[float | None]:
        """Calibrated probability that each hit is relevant to ``query`` (None: no vector yet).

        The same scale for every mode: a logistic map of the query-paper cosine
        (``sciseek.relevance``), fitted for the dense model in use.
        """
        dense = self.vectors
        a, b, calibrated = relevance_fit(dense.model_name, dense.model_path)
        if not calibrated and not self._warned_calibration:
            self._log(
                f"warning: no relevance calibration for model {dense.model_name}; using the "
                "bundled model's (add sciseek-calibration.json to the model folder)"
            )
            self._warned_calibration = True
        rowids = {h.paper.id: self.store.rowid(h.paper.id) for h in hits}
        cos = dense.scores(dense.encode_query(query), [r for r in rowids.values() if r])
        out: list[float | None] = []
        for h in hits:
            r = rowids[h.paper.id]
            out.append(relevance_of(cos[r], a, b) if r is not None and r in cos else None)
        return out

    def search_ids(
        self, query: str, mode: str = DEFAULT_MODE, k: int = 10, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Top-k (paper id, score) pairs, without loading the papers."""
        ranked = self._retrieve(query, mode, k, filters)
        ids = self.store.ids_by_rowids([r for r, _ in ranked])
        return [(ids[r], s) for r, s in ranked if r in ids]

    def similar(self, paper_id: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        """The k papers nearest to ``paper_id`` by embedding, the paper itself excluded."""
        self._check_k(k)
        rowid = self.store.rowid(paper_id)
        if rowid is None:
            raise UnknownPaper(paper_id)
        vector = self.vectors.vector(rowid)
        if vector is None:
            return []
        allowed = self.lexical.filter_rowids(filters) if filters else None
        ranked = [(r, s) for r, s in self.vectors.search(vector, k + 1, allowed) if r != rowid]
        return self._hits(ranked[:k])

    def _hits(self, ranked: list[tuple[int, float]]) -> list[Hit]:
        papers = self.store.get_by_rowids([r for r, _ in ranked])
        return [Hit(papers[r], s) for r, s in ranked if r in papers]

    @staticmethod
    def _check_k(k: int) -> None:
        if not 1 <= k <= MAX_K:
            raise InvalidQuery(f"k must be between 1 and {MAX_K}, got {k}")

    def _retrieve(
        self, query: str, mode: str, k: int, filters: Filters | None
    ) -> list[tuple[int, float]]:
        if mode not in MODES:
            raise InvalidQuery(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        self._check_k(k)
        depth = max(k, self.rerank_depth) if self.reranker is not None else k
        if mode == "hybrid":
            names = [n for n, w in self.weights.items() if w > 0]
            runs = self.runs(query, names, filters, exact_dense=self.fusion != "rrf")
            ranked = self.fuse(runs, depth)
        else:
            allowed = self.lexical.filter_rowids(filters) if filters else None
            ranked = self._run(mode, query, depth, filters, allowed)
        if self.reranker is not None:
            ranked = self._rerank(query, ranked)
        return self._pin_exact(query, ranked[:k], k, filters)

    def _run(
        self,
        name: str,
        query: str,
        depth: int,
        filters: Filters | None,
        allowed: np.ndarray | None,
        qvec: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """One retriever's ranking, with pseudo-relevance feedback when ``prf`` is set."""
        if name == "bm25":
            ranked = self.lexical.search(query, depth, filters)
            if self.prf is None or self.prf.query_weight >= 1.0 or not ranked:
                return ranked
            top = ranked[: self.prf.docs]
            papers = self.store.get_by_rowids([r for r, _ in top])
            docs = [
                (self.lexical.terms(document_text(papers[r])), s) for r, s in top if r in papers
            ]
            weights = feedback.rm3(
                self.lexical.terms(query), docs, self.prf.terms, self.prf.query_weight
            )
            return self.lexical.search_weighted(weights, depth, filters)
        if name == "dense":
            qvec = self.dense_query(query, allowed) if qvec is None else qvec
            return self.vectors.search(qvec, depth, allowed)
        if name == "sparse":
            sparse = self.sparse
            return sparse.search(sparse.encode_query(query), depth, allowed)
        raise InvalidQuery(f"unknown retriever {name!r}")

    def dense_query(self, query: str, allowed: np.ndarray | None = None) -> np.ndarray:
        """The query's embedding, moved towards its top papers (Rocchio) when ``prf`` is set."""
        qvec = self.vectors.encode_query(query)
        if self.prf is None or self.prf.beta == 0:
            return qvec
        top = self.vectors.search(qvec, self.prf.docs, allowed)
        docs = [v for v in (self.vectors.vector(r) for r, _ in top) if v is not None]
        if not docs:
            return qvec
        return feedback.rocchio(qvec, np.stack(docs), self.prf.alpha, self.prf.beta)

    def runs(
        self,
        query: str,
        retrievers: Iterable[str],
        filters: Filters | None = None,
        *,
        exact_dense: bool = True,
    ) -> dict[str, dict[int, float]]:
        """Each retriever's top candidates {row id: score} for a query, ready for ``fuse``.

        Dense scores are cheap to compute exactly, so with ``exact_dense`` the dense run also
        scores every other retriever's candidates: no candidate is fused with a guessed score.
        """
        allowed = self.lexical.filter_rowids(filters) if filters else None
        depth = max(CANDIDATES, self.rerank_depth if self.reranker is not None else 0)
        out: dict[str, dict[int, float]] = {}
        qvec = None
        for name in retrievers:
            if name == "dense":
                qvec = self.dense_query(query, allowed)
            out[name] = dict(self._run(name, query, depth, filters, allowed, qvec))
        if qvec is not None and exact_dense:
            missing = {r for run in out.values() for r in run} - out["dense"].keys()
            out["dense"].update(self.vectors.scores(qvec, sorted(missing)))
        return out

    def fuse(
        self,
        runs: Mapping[str, Mapping[int, float]],
        k: int,
        weights: Mapping[str, float] | None = None,
        method: str | None = None,
    ) -> list[tuple[int, float]]:
        """Top-k of the runs fused with ``weights`` and ``method`` (default: the engine's)."""
        weights = self.weights if weights is None else weights
        names = [n for n, w in weights.items() if w > 0 and n in runs]
        if not names:
            raise InvalidQuery("no retriever with a positive weight")
        fused = fusion.fuse(
            [runs[n] for n in names], [weights[n] for n in names], method or self.fusion
        )
        return [(int(r), s) for r, s in fusion.top(fused, k)]

    def _rerank(self, query: str, ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
        head = ranked[: self.rerank_depth]
        papers = self.store.get_by_rowids([r for r, _ in head])
        candidates = [(r, document_text(papers[r])) for r, _ in head if r in papers]
        reranked = self.reranker.rerank(query, candidates, self.rerank_depth)
        floor = min((s for _, s in reranked), default=0.0)
        tail = ranked[self.rerank_depth :]
        # the rest keep their order, below every re-scored paper
        return reranked + [(r, floor - 1.0 - i) for i, (r, _) in enumerate(tail)]

    def _pin_exact(
        self, query: str, ranked: list[tuple[int, float]], k: int, filters: Filters | None
    ) -> list[tuple[int, float]]:
        """Put a paper whose id or exact title is the query first."""
        exact = []
        rowid = self.store.rowid(normalise_id(query))
        if rowid is not None:
            exact.append(rowid)
        exact += [r for r in self.store.rowids_by_title(query) if r not in exact]
        if not exact:
            return ranked
        if filters:
            papers = self.store.get_by_rowids(exact)
            exact = [r for r in exact if r in papers and filters.matches(papers[r])]
        top_score = max((s for _, s in ranked), default=0.0)
        pinned = [(r, top_score + 1.0 - i * 1e-6) for i, r in enumerate(exact)]
        rest = [(r, s) for r, s in ranked if r not in set(exact)]
        return (pinned + rest)[:k]

    # -- pages: new, trending, votes, snippets ----------------------------------------------

    def new(self, k: int = 20, offset: int = 0) -> list[Paper]:
        """The most recently published papers."""
        return self.store.newest(k, offset)

    def trending(
        self, k: int = 20, days: int = 7, gravity: float = 1.8, now: dt.datetime | None = None
    ) -> list[tuple[Paper, int, float]]:
        """(paper, votes, score) by upvotes in the last ``days`` with a gravity time decay."""
        return trending.trending(self.store, k, days, gravity, now)

    def vote(self, paper_id: str, voter: str, on: bool = True) -> int:
        """Set one voter's upvote on a paper; returns its vote count."""
        if self.store.rowid(paper_id) is None:
            raise UnknownPaper(paper_id)
        return self.store.set_vote(paper_id, voter, on)

    def votes(self, paper_ids: list[str]) -> dict[str, int]:
        """Upvote counts by paper id."""
        return self.store.vote_counts(paper_ids)

    def voted(self, voter: str, paper_id: str) -> bool:
        """Whether this voter upvoted this paper."""
        return self.store.has_vote(voter, paper_id)

    def snippet(self, paper: Paper, query: str, width: int = 280) -> list[tuple[str, bool]]:
        """A passage of the abstract around the query's words: (text, is_match) segments."""
        return self.lexical.snippet(paper.abstract or paper.title, query, width)

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
            "dense": describe(self.dense),
        }
        if self._sparse is not None:
            out["sparse"] = describe(self._sparse)
        for name in ("lexical", "dense", "sparse"):
            if name in out:
                out[name]["up_to_date"] = out[name]["generation"] == generation
        return out
