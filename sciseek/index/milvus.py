"""A Milvus collection that mirrors the store: BM25 text, dense vectors and the filter fields.

The SQLite store stays the truth and sciseek keeps encoding into its own vector table; the
collection follows that table chunk by chunk, as the local dense index does (the papers the
chunks wrote upserted, the row ids they removed deleted), so it is as far behind the store as
the encodings are and catches up the same way. Its position is recorded in the data dir
(``milvus.json``, written after the collection has the changes), so a kill at any moment
leaves at most a batch to be upserted again. A collection made for another store or vector
table is dropped and filled again, with a message.

The text field holds the paper's BM25 terms as sciseek's own analyzer produces them (stemmed,
stop words dropped) and queries are analysed the same way, because Milvus analyzers differ
between servers (milvus-lite has no stemmer); Milvus's BM25 function then scores them with
tantivy's parameters (k1 1.2, b 0.75), so the two backends rank alike.

Why pymilvus's ``MilvusClient``: it is the Milvus project's client, and the same calls serve
milvus-lite (the tests' server), Milvus standalone and a Milvus cluster.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sciseek.errors import BadInput
from sciseek.index.vector_table import EncodingTable
from sciseek.ingest.papers import Filters, Paper
from sciseek.storage.files import atomic_write
from sciseek.storage.store import Store

STATE_FILE = "milvus.json"
BATCH = 1000  # papers upserted at a time (a few MB a message)
BM25_K1, BM25_B = 1.2, 0.75  # tantivy's, so both backends score BM25 alike
MAX_TEXT = 60_000  # bytes of analysed text kept (Milvus VARCHAR holds at most 65,535)
MAX_LIST, MAX_ITEM = 1024, 256  # categories / author-name keys per paper, and their length
CONNECT_TIMEOUT = 10.0  # seconds to reach the server


class MilvusUnavailable(BadInput):
    """The Milvus backend was asked for but its client or server cannot be reached."""


@dataclass
class MirrorState:
    """Where the collection stands: the vector table and the last chunk it reflects."""

    uri: str
    collection: str
    store_id: str
    table_id: str
    chunk: int = 0


def connect(uri: str) -> Any:
    """A ``MilvusClient`` for ``uri`` (``http://host:port``), or MilvusUnavailable saying why."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise MilvusUnavailable(
            "the Milvus backend needs pymilvus: pip install 'sciseek[milvus]'"
        ) from None
    try:
        # gRPC servers refuse pings more often than every 5 minutes by default (milvus-lite
        # answers pymilvus's 10 s keepalive with "too_many_pings" and drops the channel)
        return MilvusClient(
            uri=uri,
            timeout=CONNECT_TIMEOUT,
            grpc_options={
                "grpc.keepalive_time_ms": 300_000,
                "grpc.keepalive_permit_without_calls": False,
            },
        )
    except Exception as e:  # pymilvus raises its own MilvusException, or grpc errors
        raise MilvusUnavailable(f"cannot reach the Milvus server at {uri}: {e}") from None


def author_keys(authors: Iterable[str]) -> list[str]:
    """Every run of consecutive words of every author name, lower-cased: an author filter
    (the words, in order, in one name; ``Filters.matches``) is then one array lookup."""
    keys: dict[str, None] = {}
    for name in authors:
        words = re.findall(r"\w+", name.lower())
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                key = " ".join(words[i:j])
                if len(key) <= MAX_ITEM:
                    keys[key] = None
    return list(keys)[:MAX_LIST]


def day_number(date: str | None) -> int:
    """An ISO date as yyyymmdd (0 for none), the collection's date field."""
    return int(date.replace("-", "")[:8]) if date else 0


def _literal(text: str) -> str:
    return json.dumps(text)  # a double-quoted string with escapes, as Milvus expressions read


def filter_expression(filters: Filters | None) -> str:
    """The Milvus boolean expression for ``filters`` ('' when they restrict nothing)."""
    if not filters:
        return ""
    parts = []
    if filters.date_from:
        parts.append(f"published >= {day_number(filters.date_from)}")
    if filters.date_to:
        parts.append(f"published > 0 and published <= {day_number(filters.date_to)}")
    if filters.categories:
        listed = ", ".join(_literal(c) for c in filters.categories)
        parts.append(f"array_contains_any(categories, [{listed}])")
    if filters.ids:
        parts.append(f"paper_id in [{', '.join(_literal(i) for i in filters.ids)}]")
    for author in filters.authors:
        key = " ".join(re.findall(r"\w+", author.lower()))
        parts.append(f"array_contains(authors, {_literal(key)})")
    return " and ".join(f"({p})" for p in parts)


class MilvusMirror:
    """One data dir's papers in a Milvus collection, kept in step with its vector table."""

    def __init__(
        self,
        data_dir: Path,
        uri: str,
        store: Store,
        table: EncodingTable,
        analyze: Callable[[str], list[str]],
        log: Callable[[str], None],
        *,
        collection: str | None = None,
    ):
        self.path = data_dir / STATE_FILE
        self.uri = uri
        self.store = store
        self.table = table
        self.analyze = analyze
        self.log = log
        # one collection per store: data dirs sharing a server do not meet
        self.name = collection or f"sciseek_{store.store_id[:16]}"
        self.client = connect(uri)
        self._write = threading.Lock()  # Milvus collections take one writer at a time
        self.state = self._load()

    # -- state ---------------------------------------------------------------------------

    def _load(self) -> MirrorState | None:
        try:
            state = MirrorState(**json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as e:
            self.log(f"{self.path} is unreadable ({e}); filling the Milvus collection again")
            return None
        same = (state.uri, state.collection) == (self.uri, self.name)
        if not same or state.store_id != self.store.store_id:
            return None
        return state

    def _save(self, state: MirrorState) -> None:
        atomic_write(self.path, json.dumps(asdict(state)) + "\n")
        self.state = state

    @property
    def chunk(self) -> int:
        """The last vector-table chunk the collection reflects (0: not filled yet)."""
        return self.state.chunk if self.state is not None else 0

    def up_to_date(self) -> bool:
        """Whether the collection reflects every chunk of the vector table."""
        return (
            self.state is not None
            and self.state.table_id == self.table.table_id
            and self.state.chunk == self.table.last_chunk
        )

    def count(self) -> int:
        """Papers in the collection."""
        if not self.client.has_collection(self.name):
            return 0
        rows = self.client.query(self.name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    # -- writes --------------------------------------------------------------------------

    def _create(self, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        if self.client.has_collection(self.name):
            self.client.drop_collection(self.name)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("rowid", DataType.INT64, is_primary=True)
        schema.add_field("paper_id", DataType.VARCHAR, max_length=MAX_ITEM)
        schema.add_field(
            "text",
            DataType.VARCHAR,
            max_length=65_535,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard"},  # splits the stored terms apart again
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("published", DataType.INT64)
        for name in ("categories", "authors"):
            schema.add_field(
                name,
                DataType.ARRAY,
                element_type=DataType.VARCHAR,
                max_capacity=MAX_LIST,
                max_length=MAX_ITEM,
            )
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        index = self.client.prepare_index_params()
        # exact inner products: HNSW drops hits under selective filters in milvus-lite
        index.add_index(field_name="dense", index_type="FLAT", metric_type="IP")
        index.add_index(
            field_name="sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            # nested: pymilvus flattens top-level params, which some servers then ignore
            params={"params": {"bm25_k1": BM25_K1, "bm25_b": BM25_B}},
        )
        index.add_index(field_name="published", index_type="INVERTED")
        self.client.create_collection(
            self.name, schema=schema, index_params=index, consistency_level="Strong"
        )

    def _rows(self, rowids: Sequence[int], vectors: np.ndarray) -> list[dict[str, Any]]:
        papers = self.store.get_by_rowids(list(rowids))
        rows = []
        for rowid, vector in zip(rowids, vectors, strict=True):
            paper: Paper | None = papers.get(rowid)
            if paper is None:  # deleted since it was encoded: a later chunk removes it
                continue
            text = " ".join(self.analyze(f"{paper.title}\n{paper.abstract}"))
            rows.append(
                {
                    "rowid": int(rowid),
                    "paper_id": paper.id[:MAX_ITEM],
                    "text": text.encode()[:MAX_TEXT].decode(errors="ignore"),
                    "dense": vector.astype(np.float32).tolist(),
                    "published": day_number(paper.published),
                    "categories": [c[:MAX_ITEM] for c in paper.categories][:MAX_LIST],
                    "authors": author_keys(paper.authors),
                }
            )
        return rows

    def _upsert(self, rowids: Sequence[int], vectors: np.ndarray) -> None:
        for start in range(0, len(rowids), BATCH):
            rows = self._rows(rowids[start : start + BATCH], vectors[start : start + BATCH])
            if rows:
                self.client.upsert(self.name, rows)

    def sync(self, progress: Callable[[int], None] | None = None) -> int:
        """Bring the collection up to the vector table's last chunk; returns the papers
        written or removed. A collection of another table is filled again from scratch."""
        with self._write:
            table_id, last = self.table.table_id, self.table.last_chunk
            state = self.state
            if (
                state is not None
                and state.table_id == table_id
                and not self.client.has_collection(self.name)
            ):
                self.log(f"the Milvus collection {self.name!r} is gone; filling it again")
                state = None
            if state is None or state.table_id != table_id:
                if not self.table.count():
                    return 0  # nothing encoded yet: no collection (searches stay local)
                return self._fill(table_id, last, progress)
            if state.chunk == last:
                return 0
            changed = self._apply_after(state.chunk, table_id, last)
            if progress:
                progress(changed)
            return changed

    def _apply_after(self, chunk: int, table_id: str, last: int) -> int:
        """Apply what the table's chunks after ``chunk`` changed (removals first), flush, and
        record ``last`` as the position; returns the papers removed or written."""
        gone, rows = self.table.changes_after_chunk(chunk)
        if gone:
            self.client.delete(self.name, ids=[int(r) for r in gone])
        if rows:
            vectors = np.stack([np.frombuffer(b, np.float32) for *_, b in rows])
            self._upsert([r for _, r, _, _ in rows], vectors)
        self.client.flush(self.name)
        self._save(MirrorState(self.uri, self.name, self.store.store_id, table_id, last))
        return len(gone) + len(rows)

    def _fill(self, table_id: str, last: int, progress: Callable[[int], None] | None) -> int:
        papers = self.table.count()
        self.log(f"filling the Milvus collection {self.name!r} at {self.uri} ({papers:,} papers)")
        written = 0
        for ids, blob in self.table.iter_vectors(BATCH * 10):
            vectors = np.frombuffer(blob, dtype=np.float32).reshape(len(ids), -1)
            if not written:
                self._create(vectors.shape[1])
            self._upsert(ids, vectors)
            written += len(ids)
            if progress:
                progress(len(ids))
        self._apply_after(last, table_id, last)  # what was committed while we read
        return written

    # -- reads ---------------------------------------------------------------------------

    def _hits(self, results: Any, sign: float) -> list[tuple[int, float]]:
        hits = results[0] if results else []
        return [(int(h["rowid"]), sign * float(h["distance"])) for h in hits]

    def search_text(
        self, query: str, k: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (row id, BM25 score) for a free-text query, analysed as the papers were."""
        terms = self.analyze(query)
        if not terms or k <= 0 or self.state is None:
            return []
        results = self.client.search(
            self.name,
            data=[" ".join(terms)],
            anns_field="sparse",
            limit=k,
            filter=filter_expression(filters),
            search_params={"metric_type": "BM25"},
            output_fields=["rowid"],
        )
        # some servers report BM25 as a distance (negated), others as a similarity
        hits = self._hits(results, 1.0)
        if hits and max(s for _, s in hits) <= 0:
            hits = [(r, -s) for r, s in hits]
        return hits

    def search_vector(
        self, qvec: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (row id, inner product) for a unit query vector."""
        if k <= 0 or self.state is None:
            return []
        results = self.client.search(
            self.name,
            data=[np.asarray(qvec, dtype=np.float32).tolist()],
            anns_field="dense",
            limit=k,
            filter=filter_expression(filters),
            search_params={"metric_type": "IP"},
            output_fields=["rowid"],
        )
        return self._hits(results, 1.0)

    def drop(self) -> None:
        """Remove the collection from the server and forget its position."""
        with self._write:
            if self.client.has_collection(self.name):
                self.client.drop_collection(self.name)
            self.path.unlink(missing_ok=True)
            self.state = None

    def describe(self) -> dict[str, Any]:
        """Where the collection is and how far it has caught up, JSON-ready."""
        return {
            "uri": self.uri,
            "collection": self.name,
            "papers": self.count(),
            "chunk": self.chunk,
            "up_to_date": self.up_to_date(),
        }
