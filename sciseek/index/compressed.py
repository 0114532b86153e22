"""The compressed dense index of a large store: compact FAISS codes of every paper in RAM,
persisted in the data dir so that a process opens it instead of building it.

The first pass is FAISS's IVF over RaBitQ codes (``IVF<n>,RaBitQ``: one bit a dimension plus
two floats, 56 bytes a paper for 384 dimensions, and its 8-byte id). Its candidates are
rescored with the exact fp32 vectors by the caller (``vectors.DenseIndex``), read from the
encoding table. Why this one (``benchmarks/ann_choice.py`` over 500,000 derived arXiv
embeddings, BENCHMARKS.md "Dense index at scale"): after rescoring 200 candidates, IVF with
PQ48, RaBitQ or 8-bit scalar codes reach the same recall@10 at the same lists searched (0.96 at
64 lists), so the inverted lists, not the codes, set the recall; RaBitQ needs no codebook
(trained 4x faster than PQ48, and it works on a corpus of any size), at 73 bytes a paper
against SQ8's 401; binary codes scanned in full gave 0.936 and cost time linear in the store.
IVF also removes and adds codes in place, which graph indexes (HNSW) do not.

A snapshot is one FAISS file named by the encoding-table chunk it reflects, and ``ann.json``,
replaced atomically, names it with the table it came from: a crash leaves the previous
snapshot or the new one. A process applies the table's chunks after the snapshot's on open.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from sciseek.storage.files import atomic_write

SNAPSHOT = "ann.json"
# Inverted lists searched a query: as many as hold about SCAN_BUDGET codes (all of them in a
# store of up to that many papers), at least NPROBE. Measured (BENCHMARKS.md, "Scale"): title
# queries on the 74,728 arXiv papers find their own paper among 200 candidates 97.1% of the time
# with 64 of 546 lists, 99.4% with 256, 99.6% with all (exact search: 97.8% in its top 10);
# recall@10 at 2.5M papers, 3,162 lists: 0.946 with 64, 0.964 with 99, 0.970 with 131.
NPROBE = 64
SCAN_BUDGET = 100_000


def probes(nlist: int, papers: int) -> int:
    """Inverted lists searched a query, of ``nlist`` holding ``papers`` codes."""
    return min(nlist, max(NPROBE, math.ceil(nlist * SCAN_BUDGET / max(papers, 1))))


TRAIN_SAMPLE = 100_000  # vectors the coarse and product quantizers are trained on


@dataclass(frozen=True)
class Stamp:
    """What a snapshot reflects: the encoding table (by its id) up to one chunk."""

    table_id: str
    model: str
    chunk: int
    papers: int
    factory: str


def lists_for(papers: int) -> int:
    """The number of inverted lists for a store of ``papers`` papers."""
    return max(16, min(16_384, int(2 * math.sqrt(max(papers, 1)))))


class CompressedIndex:
    """IVF-RaBitQ codes of every encoded paper, keyed by store row id."""

    def __init__(self, index: faiss.IndexIVF, factory: str):
        self.index = index
        self.factory = factory

    @classmethod
    def trained(cls, sample: np.ndarray, papers: int) -> CompressedIndex:
        """An empty index whose quantizers are trained on ``sample`` (n x dim) for a store of
        about ``papers`` papers."""
        dim = sample.shape[1]
        nlist = min(lists_for(papers), max(1, len(sample) // 39))
        factory = f"IVF{nlist},RaBitQ"
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        return cls(index, factory)

    @property
    def ntotal(self) -> int:
        """Papers with a code."""
        return int(self.index.ntotal)

    def add(self, rowids: Iterable[int], vectors: np.ndarray) -> None:
        """Add codes of papers not in the index."""
        ids = np.fromiter(rowids, dtype=np.int64)
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def remove(self, rowids: Iterable[int]) -> None:
        """Remove the codes of these papers (those without one are ignored)."""
        ids = np.unique(np.fromiter(rowids, dtype=np.int64))
        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(ids))

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(approximate scores, row ids) of each query's top-k candidates (ids -1 pad rows
        with fewer). With ``allowed``, only those row ids are candidates; the lists searched
        grow as the allowed share shrinks, so a narrow filter still finds its papers."""
        nlist = self.index.nlist
        nprobe = probes(nlist, self.ntotal)
        selector = None
        if allowed is not None:
            share = len(allowed) / max(1, self.ntotal)
            nprobe = min(nlist, int(math.ceil(nprobe / max(share, 1e-9))))
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
        params = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)

    # -- snapshots -------------------------------------------------------------------------

    def save(self, directory: Path, stamp: Stamp) -> None:
        """Write the index as the directory's snapshot, replacing the previous one."""
        name = f"ann-{stamp.table_id[:8]}-{stamp.chunk}.faiss"
        tmp = directory / f".{name}.tmp"
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, directory / name)
        atomic_write(directory / SNAPSHOT, json.dumps({"file": name, **asdict(stamp)}))
        for old in directory.glob("ann-*.faiss"):
            if old.name != name:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path) -> tuple[CompressedIndex, Stamp]:
        """The directory's snapshot; raises OSError or ValueError when it is missing or
        damaged (RuntimeError from FAISS is turned into ValueError)."""
        meta = json.loads((directory / SNAPSHOT).read_text())
        name = meta.pop("file")
        stamp = Stamp(**meta)
        try:
            index = faiss.read_index(str(directory / name))
        except RuntimeError as e:
            raise ValueError(f"{name}: {e}") from None
        if not isinstance(index, faiss.IndexIVF) or index.ntotal != stamp.papers:
            raise ValueError(f"{name} does not hold the {stamp.papers} codes it should")
        return cls(index, stamp.factory), stamp
