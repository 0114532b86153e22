"""Lexical retrieval: a BM25 index over title + abstract, derived from the store.

Backend: tantivy (a Rust, Lucene-like engine). We measured it against bm25s on the shared
benchmarks (see BENCHMARKS.md): tantivy with English Snowball stemming and stopwords over one
concatenated title+abstract field matches or beats bm25s (k1=0.9, b=0.4) in nDCG@10 on SciFact
and Cranfield and stays within 0.01 on CACM and NPL, answers queries faster, and unlike bm25s it
is incremental (new segments, real deletes), applies filters inside retrieval and commits
atomically (a crash leaves the last commit readable). One concatenated field beat a fielded
title/abstract index on three of four sets, so the index is flat.

The index directory holds tantivy's files plus ``state.json`` (written atomically after each
commit) naming the store and the store generation the index reflects. Catching up replays the
store's changes since that generation; replay is idempotent (delete by id, then add), so a crash
between tantivy's commit and the state file only costs a replay.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import tantivy

from sciseek.ingest.papers import Filters, Paper
from sciseek.storage.files import atomic_write, read_once
from sciseek.storage.store import Store

from .filtering import filter_query, to_datetime
from .snippets import snippet

SCHEMA_VERSION = 1
WRITER_WAIT_SECONDS = 120
RELOAD_TRIES = 5  # reader reloads that meet a file another process's merge just deleted
WARM_ABOVE = 64 << 20  # an index of more bytes is read once in the background when opened
_ANALYZER = "en_stem_stop"


def _analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.stopword("english"))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=False, tokenizer_name="raw")
    sb.add_unsigned_field("rowid", stored=False, indexed=False, fast=True)
    sb.add_text_field("text", stored=False, tokenizer_name=_ANALYZER)
    sb.add_text_field("category", stored=False, tokenizer_name="raw")
    sb.add_text_field("author", stored=False, tokenizer_name="default")
    sb.add_date_field("published", stored=False, indexed=True, fast=True)
    return sb.build()


class LexicalIndex:
    """BM25 over title + abstract with date, category and author filters."""

    def __init__(
        self, directory: str | Path, store: Store, *, log: Callable[[str], None] | None = None
    ):
        self.directory = Path(directory)
        self.store = store
        self._log = log or (lambda msg: print(msg, file=sys.stderr))
        self._analyzer = _analyzer()
        self._author_analyzer = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.lowercase())
            .build()
        )
        self._lock = threading.RLock()
        self._warming: threading.Thread | None = None
        self._open()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def _state_path(self) -> Path:
        return self.directory / "state.json"

    def _read_state(self) -> dict:
        try:
            return json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            return {}

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        state = self._read_state()
        fresh = not state
        if state and (
            state.get("schema_version") != SCHEMA_VERSION
            or state.get("store_id") != self.store.store_id
        ):
            self._log("lexical index was built for another store or schema; rebuilding it")
            fresh = True
        if not fresh:
            try:
                self._index = tantivy.Index.open(str(self.directory))
                self._index.register_tokenizer(_ANALYZER, self._analyzer)
                self._index.reload()
                self._index.searcher()
                self.generation = int(state.get("generation", 0))
                self._warm()
                return
            except (ValueError, OSError) as e:
                self._log(f"lexical index is damaged ({e}); rebuilding it from the store")
        self._reset()

    def _warm(self) -> None:
        """Read a large index's files once, behind (tantivy reads them through memory maps:
        a cold query otherwise waits on the disk for each block it touches)."""
        files = [f for f in self.directory.iterdir() if f.is_file()]
        if sum(f.stat().st_size for f in files) > WARM_ABOVE:
            self._warming = threading.Thread(
                target=read_once, args=(files,), name="warm-bm25", daemon=True
            )
            self._warming.start()

    def warmed(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the background read of a large index's files to
        end; True once it has, or when none runs."""
        if self._warming is not None:
            self._warming.join(timeout)
            return not self._warming.is_alive()
        return True

    def _reset(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._index = tantivy.Index(_schema(), path=str(self.directory), reuse=False)
        self._index.register_tokenizer(_ANALYZER, self._analyzer)
        self.generation = 0
        self._save_state()

    def _save_state(self) -> None:
        atomic_write(
            self._state_path,
            json.dumps(
                {
                    "schema_version": SCHEMA_VERSION,
                    "store_id": self.store.store_id,
                    "generation": self.generation,
                }
            ),
        )

    def refresh(self) -> None:
        """See commits made by other processes since this one opened the index."""
        with self._lock:
            state = self._read_state()
            if state.get("store_id") == self.store.store_id:
                self.generation = int(state.get("generation", 0))
            self._reload()

    def _reload(self) -> None:
        # A writer in another process may merge and delete segment files between this
        # reader's read of the index's meta and its opening of them: read the meta again.
        for attempt in range(RELOAD_TRIES):
            try:
                self._index.reload()
                return
            except ValueError as e:
                if "FileDoesNotExist" not in str(e) or attempt == RELOAD_TRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    # -- writing -------------------------------------------------------------------------

    def _document(self, rowid: int, p: Paper) -> tantivy.Document:
        doc = tantivy.Document(id=p.id, text=f"{p.title}\n{p.abstract}")
        doc.add_unsigned("rowid", rowid)
        for c in p.categories:
            doc.add_text("category", c)
        for a in p.authors:
            doc.add_text("author", a)
        if p.published:
            doc.add_date("published", to_datetime(p.published))
        return doc

    def _writer(self, wait: bool) -> tantivy.IndexWriter | None:
        deadline = time.monotonic() + WRITER_WAIT_SECONDS
        while True:
            try:
                return self._index.writer(heap_size=64_000_000, num_threads=1)
            except ValueError as e:
                if "lock" not in str(e).lower():
                    raise
                if not wait:
                    return None
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.directory} is locked by another writer for over "
                        f"{WRITER_WAIT_SECONDS} s"
                    ) from None
                time.sleep(0.05)

    def sync(
        self, progress: Callable[[int], None] | None = None, *, wait: bool = True
    ) -> int | None:
        """Apply the store's changes since this index's generation; commit atomically.

        Returns the number of papers (re)indexed or deleted. When another process holds the
        index's writer lock, waits for it, or with ``wait=False`` returns None at once (the
        index then serves its last commit).
        """
        with self._lock:
            self.refresh()
            target = self.store.generation
            if target == self.generation:
                return 0
            writer = self._writer(wait)
            if writer is None:
                return None
            self.refresh()  # the previous lock holder may have caught up already
            target = self.store.generation
            if target == self.generation:
                del writer
                return 0
            since = self.generation
            changes = 0
            for pid in self.store.deleted_since(since):
                writer.delete_documents_by_term("id", pid)
                changes += 1
            for batch in self.store.iter_batches(2000, since=since):
                for rowid, _, paper in batch:
                    if since:
                        writer.delete_documents_by_term("id", paper.id)
                    writer.add_document(self._document(rowid, paper))
                changes += len(batch)
                if progress:
                    progress(len(batch))
            writer.commit()
            writer.wait_merging_threads()
            self.generation = target
            self._save_state()
            self._reload()
        return changes

    def verify(self) -> bool:
        """True when the index holds exactly as many papers as the store; else rebuild it."""
        with self._lock:
            if self.generation == self.store.generation and self.count() == self.store.count():
                return True
            if self.sync(wait=False) is None:
                return True  # another process is writing; it will bring the index up to date
            if self.count() == self.store.count():
                return True
            self._log("lexical index disagrees with the store; rebuilding it")
            self._reset()
            self.sync()
            return False

    # -- reading -------------------------------------------------------------------------

    def count(self) -> int:
        """Number of papers in the last committed index."""
        return self._index.searcher().num_docs

    def _filter_query(self, filters: Filters) -> tantivy.Query | None:
        return filter_query(self._index.schema, self._author_analyzer, filters)

    def terms(self, text: str) -> list[str]:
        """The index terms of ``text`` (lower-cased, stemmed, stopwords removed)."""
        return self._analyzer.analyze(text)

    def snippet(self, text: str, query: str, width: int = 280) -> list[tuple[str, bool]]:
        """A passage of ``text`` around the query's terms: (text, is_match) segments."""
        return snippet(self.terms, text, query, width)

    def rare_terms(self, query: str, rare: int) -> list[str]:
        """The query's index terms that occur in at most ``rare`` papers (at least one)."""
        searcher = self._index.searcher()
        terms = dict.fromkeys(self.terms(query))
        return [t for t in terms if 0 < searcher.doc_freq("text", t) <= rare]

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25's IDF of each index term, over the papers indexed now."""
        searcher = self._index.searcher()
        n = searcher.num_docs
        return {
            t: math.log(1.0 + (n - (df := searcher.doc_freq("text", t)) + 0.5) / (df + 0.5))
            for t in terms
        }

    def holding(self, term: str, ids: Sequence[str]) -> set[int]:
        """The row ids of the papers ``ids`` whose title or abstract holds the index term."""
        q = tantivy.Query.term_query(self._index.schema, "text", term)
        return {rowid for rowid, _ in self._top_k(q, len(ids), Filters(ids=tuple(ids)))}

    def _author_query(self, name: str) -> tantivy.Query | None:
        words = self._author_analyzer.analyze(name)
        schema = self._index.schema
        if len(words) == 1:
            return tantivy.Query.term_query(schema, "author", words[0])
        return tantivy.Query.phrase_query(schema, "author", words) if words else None

    def author_count(self, name: str) -> int:
        """How many papers list an author whose name contains ``name`` (words in order)."""
        q = self._author_query(name)
        return self._index.searcher().search(q, 1, count=True).count if q is not None else 0

    def text_count(self, text: str) -> int:
        """How many papers hold every index term of ``text`` in their title or abstract."""
        terms = self.terms(text)
        if not terms:
            return 0
        schema = self._index.schema
        q = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, tantivy.Query.term_query(schema, "text", t)) for t in terms]
        )
        return self._index.searcher().search(q, 1, count=True).count

    def by_author(
        self, name: str, k: int, filters: Filters | None = None, year: int | None = None
    ) -> list[int]:
        """Row ids of up to k papers by an author named ``name`` (of ``year``), newest first."""
        q = self._author_query(name)
        if q is None or k <= 0:
            return []
        parts = [(tantivy.Occur.Must, q)]
        fq = self._filter_query(filters) if filters else None
        if fq is not None:
            parts.append((tantivy.Occur.Must, fq))
        if year is not None:
            span = tantivy.Query.range_query(
                self._index.schema,
                "published",
                tantivy.FieldType.Date,
                to_datetime(f"{year}-01-01"),
                to_datetime(f"{year}-12-31"),
            )
            parts.append((tantivy.Occur.Must, span))
        searcher = self._index.searcher()
        hits = searcher.search(
            tantivy.Query.boolean_query(parts), k, count=False, order_by_field="published"
        ).hits
        if not hits:
            return []
        return list(searcher.fast_field_values("rowid", [addr for _, addr in hits]))

    def filter_count(self, filters: Filters) -> int:
        """How many papers pass ``filters`` (counted inside tantivy)."""
        fq = self._filter_query(filters)
        searcher = self._index.searcher()
        return searcher.search(fq, 1, count=True).count if fq is not None else 0

    def passing(self, filters: Filters, ids: Sequence[str]) -> set[int]:
        """Row ids of those of the papers ``ids`` that pass ``filters``."""
        fq = self._filter_query(filters)
        if fq is None or not ids:
            return set()
        searcher = self._index.searcher()
        schema = self._index.schema
        q = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, fq),
                (tantivy.Occur.Must, tantivy.Query.term_set_query(schema, "id", list(ids))),
            ]
        )
        hits = searcher.search(q, len(ids), count=False).hits
        return (
            set(searcher.fast_field_values("rowid", [addr for _, addr in hits])) if hits else set()
        )

    def filter_rowids(self, filters: Filters, limit: int | None = None) -> np.ndarray | int:
        """Row ids of every paper that passes ``filters``; with ``limit``, when more than
        that many pass, how many do instead (both from one pass over the index)."""
        fq = self._filter_query(filters)
        searcher = self._index.searcher()
        if fq is None:
            return np.zeros(0, dtype=np.int64)
        wanted = max(searcher.num_docs, 1) if limit is None else limit + 1
        found = searcher.search(fq, wanted, count=limit is not None)
        if limit is not None and found.count > limit:
            return found.count
        hits = found.hits
        if not hits:
            return np.zeros(0, dtype=np.int64)
        rowids = searcher.fast_field_values("rowid", [addr for _, addr in hits])
        return np.array(rowids, dtype=np.int64)

    def search(
        self, query: str, k: int = 10, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (row id, BM25 score) pairs for a free-text query, filters applied in retrieval."""
        terms = self._analyzer.analyze(query)
        if not terms or k <= 0:
            return []
        schema = self._index.schema
        q = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "text", t)) for t in terms]
        )
        return self._top_k(q, k, filters)

    def search_weighted(
        self, weights: Mapping[str, float], k: int = 10, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (row id, score) pairs for index terms each boosted by its weight.

        The terms are taken as they are (e.g. from ``terms``); terms weighted zero or less
        are dropped. The score is the weighted sum of the terms' BM25 scores.
        """
        bad = sorted(t for t, w in weights.items() if not math.isfinite(w))
        if bad:
            raise ValueError(f"term weights must be finite: {', '.join(bad)}")
        schema = self._index.schema
        clauses = [
            (
                tantivy.Occur.Should,
                tantivy.Query.boost_query(tantivy.Query.term_query(schema, "text", t), float(w)),
            )
            for t, w in weights.items()
            if t and w > 0
        ]
        if not clauses or k <= 0:
            return []
        return self._top_k(tantivy.Query.boolean_query(clauses), k, filters)

    def _top_k(self, q: tantivy.Query, k: int, filters: Filters | None) -> list[tuple[int, float]]:
        fq = self._filter_query(filters) if filters else None
        if fq is not None:
            q = tantivy.Query.boolean_query([(tantivy.Occur.Must, q), (tantivy.Occur.Must, fq)])
        searcher = self._index.searcher()
        hits = searcher.search(q, k, count=False).hits
        if not hits:
            return []
        rowids = searcher.fast_field_values("rowid", [addr for _, addr in hits])
        return [(rowid, score) for (score, _), rowid in zip(hits, rowids, strict=True)]
