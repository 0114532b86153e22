"""The search path: one query's retrievers, fusion, re-ranking and exact-match pinning.

``Retrieval.ranked`` is what ``Engine.search`` runs: each retriever's candidates (BM25 with RM3,
dense with Rocchio, SPLADE) from the indexes, fused by normalised scores or ranks (``fusion``),
the top re-scored by a cross-encoder when one is set, and a paper whose id or exact title is
the query put first. Rankings here are (store row id, score) pairs; the engine turns them into
papers and paper ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from sciseek.errors import BadInput
from sciseek.index.encoded import Allowed, CandidateFilter
from sciseek.index.lexical import LexicalIndex
from sciseek.index.milvus import MilvusMirror
from sciseek.index.models import document_text
from sciseek.index.sparse import SparseIndex
from sciseek.index.vectors import DenseIndex
from sciseek.ingest.papers import Filters, normalise_id
from sciseek.storage.store import Store

from . import feedback, fusion, intents
from .feedback import PRF
from .settings import Settings

MODES = ("bm25", "dense", "sparse", "hybrid")
DEFAULT_MODE = "hybrid"
MAX_K = 1000
CANDIDATES = 100  # per retriever, before fusion
RERANK_DEPTH = 50  # fused results a re-ranker re-scores
# A filter passing more papers than this is not listed: the vector retrievers check their
# candidates against it instead (listing 1M row ids from tantivy costs about a second).
FILTER_LIST_MAX = 20_000
_LEXICAL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bm25")  # BM25 beside dense


class InvalidQuery(BadInput, ValueError):
    """A search the engine cannot run as asked (k out of range, unknown mode or retriever)."""


def check_k(k: int) -> None:
    """Refuse a result count outside 1..MAX_K."""
    if not 1 <= k <= MAX_K:
        raise InvalidQuery(f"k must be between 1 and {MAX_K}, got {k}")


def allowed_by(store: Store, lexical: LexicalIndex, filters: Filters | None) -> Allowed:
    """The papers a vector search may return under ``filters``: None for all, their row ids
    for a narrow filter, a ``CandidateFilter`` for a broad one (see ``FILTER_LIST_MAX``)."""
    if not filters:
        return None
    listed = lexical.filter_rowids(filters, limit=FILTER_LIST_MAX)
    if not isinstance(listed, int):
        return listed

    def keep(rowids: np.ndarray) -> set[int]:
        ids = store.ids_by_rowids([int(r) for r in rowids])
        return lexical.passing(filters, list(ids.values()))

    return CandidateFilter(listed / max(1, lexical.count()), keep)


class Indexes(Protocol):
    """What the search path reads: the store, each index caught up, and the settings."""

    store: Store

    @property
    def lexical(self) -> LexicalIndex: ...
    @property
    def dense(self) -> DenseIndex: ...
    @property
    def sparse(self) -> SparseIndex: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def prf(self) -> PRF | None: ...
    @property
    def mirror(self) -> MilvusMirror | None: ...


class Retrieval:
    """The search path over one engine's store and indexes, with its settings."""

    def __init__(self, engine: Indexes, reranker: Any = None, rerank_depth: int = RERANK_DEPTH):
        self.engine = engine
        self.reranker = reranker
        self.rerank_depth = rerank_depth

    def ranked(
        self, query: str, mode: str, k: int, filters: Filters | None
    ) -> list[tuple[int, float]]:
        """The top-k (row id, score) for a query in one mode."""
        if mode not in MODES:
            raise InvalidQuery(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        check_k(k)
        settings = self.engine.settings
        depth = max(k, self.rerank_depth) if self.reranker is not None else k
        named: list[int] = []  # papers the query names, put first in this order
        if mode == "hybrid":
            names = [n for n, w in settings.weights.items() if w > 0]
            exact = settings.fusion != "rrf"
            runs = self.runs(query, names, filters, exact_dense=exact)
            titled = self.titled(query, runs.get("bm25", {})) if settings.adaptive else set()
            weights = intents.known_item_weights(settings.weights) if titled else None
            pool = len({r for run in runs.values() for r in run})
            # with exact dense scores for every candidate, a candidate missing from the dense
            # run is a paper not encoded yet: it competes on the other retrievers' scores
            complete = {"dense"} if exact else set()
            ranked = [
                (int(r), s)
                for r, s in self.fuse(runs, max(depth, pool, 1), weights, complete=complete)
            ]
            if settings.adaptive:
                # a query that names a title is not taken for a bare author name
                author = self.by_author(query, filters, guess=not titled)
                named = (
                    author
                    + self.title_starts(query, filters)
                    + [r for r, _ in ranked if r in titled]
                )
        else:
            allowed = self.allowed(filters) if mode != "bm25" else None
            ranked = self.run(mode, query, depth, filters, allowed)
        if self.reranker is not None:
            ranked = self.rerank(query, ranked)
        ranked = self.put_first(named, ranked)[:depth]
        return self.pin_exact(query, ranked[:k], k, filters)

    def runs(
        self,
        query: str,
        retrievers: Iterable[str],
        filters: Filters | None,
        *,
        exact_dense: bool,
    ) -> dict[str, dict[int, float]]:
        """Each retriever's top candidates {row id: score}; dense also scores the others'.

        With dense among them, BM25 runs in a second thread meanwhile (tantivy leaves Python
        free) and the query is encoded on one CPU thread, so the two overlap on two cores."""
        retrievers = list(retrievers)
        allowed = self.allowed(filters)
        depth = max(CANDIDATES, self.rerank_depth if self.reranker is not None else 0)
        found: dict[str, Any] = {}
        alongside = "dense" in retrievers and "bm25" in retrievers
        if alongside:
            found["bm25"] = _LEXICAL.submit(self.run, "bm25", query, depth, filters, None)
        qvec = None
        for name in retrievers:
            if name == "dense":
                qvec = self.dense_query(query, allowed, threads=1 if alongside else None)
            if name not in found:
                found[name] = self.run(name, query, depth, filters, allowed, qvec)
        out: dict[str, dict[int, float]] = {
            name: dict(found[name].result() if name == "bm25" and alongside else found[name])
            for name in retrievers
        }
        if qvec is not None and exact_dense:
            missing = {r for run in out.values() for r in run} - out["dense"].keys()
            out["dense"].update(self.engine.dense.scores(qvec, sorted(missing)))
        return out

    def allowed(self, filters: Filters | None) -> Allowed:
        """See ``allowed_by`` (nothing to list with the Milvus backend, which filters)."""
        if filters and self.engine.mirror is not None:
            return None
        return allowed_by(self.engine.store, self.engine.lexical, filters)

    def run(
        self,
        name: str,
        query: str,
        depth: int,
        filters: Filters | None,
        allowed: Allowed,
        qvec: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """One retriever's ranking, with pseudo-relevance feedback when ``prf`` is set."""
        if name == "bm25":
            return self.bm25_run(query, depth, filters)
        if name == "dense":
            qvec = self.dense_query(query, allowed) if qvec is None else qvec
            mirror = self.engine.mirror
            if mirror is not None:
                return mirror.search_vector(qvec, depth, filters)
            return self.engine.dense.search(qvec, depth, allowed)
        if name == "sparse":
            sparse = self.engine.sparse
            return sparse.search(sparse.encode_query(query), depth, allowed)
        raise InvalidQuery(f"unknown retriever {name!r}")

    # -- pseudo-relevance feedback: RM3 for BM25, Rocchio for dense ---------------------------

    def bm25_run(self, query: str, depth: int, filters: Filters | None) -> list[tuple[int, float]]:
        """BM25's ranking, expanded with RM3 from its top papers when ``prf`` is set (not
        with the Milvus backend, which runs the query as it is)."""
        mirror = self.engine.mirror
        if mirror is not None:
            return mirror.search_text(query, depth, filters)
        lexical = self.engine.lexical
        ranked = lexical.search(query, depth, filters)
        prf = self.engine.prf
        if prf is None or prf.query_weight >= 1.0 or not ranked:
            return ranked
        top = ranked[: prf.docs]
        papers = self.engine.store.get_by_rowids([r for r, _ in top])
        docs = [(lexical.terms(document_text(papers[r])), s) for r, s in top if r in papers]
        weights = feedback.rm3(lexical.terms(query), docs, prf.terms, prf.query_weight)
        return lexical.search_weighted(weights, depth, filters)

    def dense_query(
        self, query: str, allowed: Allowed = None, threads: int | None = None
    ) -> np.ndarray:
        """The query's embedding, moved towards its top papers (Rocchio) when ``prf`` is set;
        ``threads``: see ``Encoder.encode_queries``."""
        dense = self.engine.dense
        qvec = dense.encode_query(query, threads)
        prf = self.engine.prf
        if prf is None or prf.beta == 0:
            return qvec
        top = dense.search(qvec, prf.docs, allowed)
        docs = [v for v in (dense.vector(r) for r, _ in top) if v is not None]
        if not docs:
            return qvec
        return feedback.rocchio(qvec, np.stack(docs), prf.alpha, prf.beta)

    # -- fusion, re-ranking, exact matches ---------------------------------------------------

    def fuse(
        self,
        runs: Mapping[str, Mapping[Any, float]],
        k: int,
        weights: Mapping[str, float] | None = None,
        method: str | None = None,
        complete: Iterable[str] = (),
    ) -> list[tuple[Any, float]]:
        """Top-k of the runs fused with ``weights`` and ``method`` (default: the settings');
        ``complete`` names the runs that scored every candidate they can (see fusion.fuse)."""
        settings = self.engine.settings
        weights = settings.weights if weights is None else weights
        names = [n for n, w in weights.items() if w > 0 and n in runs]
        if not names:
            raise InvalidQuery("no retriever with a positive weight")
        complete = set(complete)
        fused = fusion.fuse(
            [runs[n] for n in names],
            [weights[n] for n in names],
            method or settings.fusion,
            complete=[n in complete for n in names],
        )
        return fusion.top(fused, k)

    def rerank(self, query: str, ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """The top ``rerank_depth`` re-scored by the re-ranker, the rest below in order."""
        depth = self.rerank_depth
        head = ranked[:depth]
        papers = self.engine.store.get_by_rowids([r for r, _ in head])
        candidates = [(r, document_text(papers[r])) for r, _ in head if r in papers]
        reranked = self.reranker.rerank(query, candidates, depth)
        floor = min((s for _, s in reranked), default=0.0)
        tail = ranked[depth:]
        return reranked + [(r, floor - 1.0 - i) for i, (r, _) in enumerate(tail)]

    # -- what a query names: rare title terms, authors (``intents``) ----------------------

    def titled(self, query: str, candidates: Iterable[int]) -> set[int]:
        """Candidates whose title holds every rare term of a short query (``intents``)."""
        lexical = self.engine.lexical
        if not intents.is_short(lexical.terms(query)):
            return set()
        rare = set(lexical.rare_terms(query, intents.rare_limit(lexical.count())))
        if not rare:
            return set()
        papers = self.engine.store.get_by_rowids(list(candidates))
        return {r for r, p in papers.items() if rare <= set(lexical.terms(p.title))}

    def title_starts(self, query: str, filters: Filters | None) -> list[int]:
        """The few papers whose title starts with the query's words (a long enough query)."""
        if len(query.split()) < intents.PREFIX_WORDS:
            return []
        store = self.engine.store
        rows = store.rowids_by_title_prefix(query, intents.PREFIX_TITLES + 1)
        if not rows or len(rows) > intents.PREFIX_TITLES:
            return []
        if filters:
            papers = store.get_by_rowids(rows)
            rows = [r for r in rows if r in papers and filters.matches(papers[r])]
        return rows

    def by_author(self, query: str, filters: Filters | None, *, guess: bool = True) -> list[int]:
        """Papers by the author the query names (that year's first, newest first), if any.

        With ``guess=False`` only a cued name ("papers by", "et al") counts.
        """
        author = intents.author_query(query)
        if author is None or not (author.cued or guess):
            return []
        lexical = self.engine.lexical
        as_author = lexical.author_count(author.name)
        in_text = 0 if author.cued or not as_author else lexical.text_count(author.name)
        if not intents.names_author(author, as_author, in_text):
            return []
        limit = intents.AUTHOR_LIMIT
        rows = lexical.by_author(author.name, limit, filters, author.year) if author.year else []
        return list(dict.fromkeys(rows + lexical.by_author(author.name, limit, filters)))[:limit]

    def put_first(
        self, first: list[int], ranked: list[tuple[int, float]]
    ) -> list[tuple[int, float]]:
        """``first`` (in its order) above the rest of ``ranked``, scored above its top."""
        first = list(dict.fromkeys(first))
        if not first:
            return ranked
        top_score = max((s for _, s in ranked), default=0.0)
        pinned = [(r, top_score + 1.0 - i * 1e-6) for i, r in enumerate(first)]
        chosen = set(first)
        return pinned + [(r, s) for r, s in ranked if r not in chosen]

    def pin_exact(
        self, query: str, ranked: list[tuple[int, float]], k: int, filters: Filters | None
    ) -> list[tuple[int, float]]:
        """Put a paper whose id or exact title is the query first."""
        exact = []
        rowid = self.engine.store.rowid(normalise_id(query))
        if rowid is not None:
            exact.append(rowid)
        exact += [r for r in self.engine.store.rowids_by_title(query) if r not in exact]
        if not exact:
            return ranked
        if filters:
            papers = self.engine.store.get_by_rowids(exact)
            exact = [r for r in exact if r in papers and filters.matches(papers[r])]
        return self.put_first(exact, ranked)[:k]
