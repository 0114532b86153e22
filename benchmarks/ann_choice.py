"""Which compressed first pass for the dense index: recall@10 after exact rescoring, bytes a
paper and query time of FAISS's compact codes, over one data dir's stored embeddings.

python benchmarks/ann_choice.py DATA_DIR [--papers N] [--queries 200] [--rescore 200]

Queries are titles of seeded random papers of the dir, encoded by its model. Every candidate
structure returns ``--rescore`` candidates, rescored with the exact fp32 vectors, and its top 10
is compared with exact inner-product search over the same vectors. Prints one line per
structure and setting; the CPU flags come first.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from scale import cpu_flags  # noqa: E402


def load(data_dir: Path, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, vectors) of up to ``limit`` stored embeddings."""
    db = sqlite3.connect(data_dir / "dense" / "vectors.db")
    rows = db.execute("SELECT rowid_, b FROM enc ORDER BY rowid_ LIMIT ?", (limit,)).fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
    return ids, vectors.reshape(len(rows), -1).copy()


def queries(data_dir: Path, ids: np.ndarray, n: int) -> np.ndarray:
    """Encoded titles of ``n`` seeded random papers among ``ids``."""
    from sciseek.index.model_files import resolve_model
    from sciseek.index.models import Encoder

    db = sqlite3.connect(data_dir / "sciseek.db")
    picks = np.random.default_rng(7).choice(ids, size=n, replace=False)
    titles = [
        db.execute("SELECT title FROM papers WHERE rowid=?", (int(r),)).fetchone()[0] for r in picks
    ]
    model = (
        sqlite3.connect(data_dir / "dense" / "vectors.db")
        .execute("SELECT value FROM meta WHERE key='model'")
        .fetchone()
    )
    _, path = resolve_model(model[0].removeprefix("local:") if model else None)
    return Encoder(path).encode_queries(titles)


def rescored_recall(
    vectors: np.ndarray, qs: np.ndarray, candidates: np.ndarray, exact: np.ndarray
) -> float:
    """Mean overlap of the rescored candidates' top 10 with the exact top 10."""
    hits = []
    for q, cand, truth in zip(qs, candidates, exact, strict=True):
        cand = cand[cand >= 0]
        scores = vectors[cand] @ q
        top = cand[np.argsort(-scores)[:10]]
        hits.append(len(set(top.tolist()) & set(truth.tolist())) / 10)
    return float(np.mean(hits))


def timed(search, qs: np.ndarray) -> tuple[np.ndarray, float]:
    """Candidates of every query (one at a time) and the median ms a query."""
    out, times = [], []
    for q in qs:
        start = time.perf_counter()
        out.append(search(q.reshape(1, -1))[0])
        times.append((time.perf_counter() - start) * 1000)
    return np.stack(out), float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--papers", type=int, default=500_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rescore", type=int, default=200)
    args = parser.parse_args()
    print("cpu flags:", " ".join(cpu_flags()), flush=True)
    ids, vectors = load(args.data_dir, args.papers)
    n, dim = vectors.shape
    qs = queries(args.data_dir, ids, args.queries)
    exact = np.stack([np.argpartition(-(vectors @ q), 10)[:10] for q in qs])
    r = args.rescore
    print(f"{n:,} papers, {dim} dims, rescoring {r} candidates", flush=True)
    train = vectors[np.random.default_rng(1).choice(n, size=min(n, 100_000), replace=False)]

    def report(name: str, index_bytes: int, cand: np.ndarray, ms: float) -> None:
        recall = rescored_recall(vectors, qs, cand, exact)
        print(
            f"{name:28s} {index_bytes / n:7.1f} B/paper  recall@10 {recall:.4f}  {ms:6.2f} ms",
            flush=True,
        )

    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors)
    cand, ms = timed(lambda q: flat.search(q, 10)[1], qs)
    report("exact fp32", n * dim * 4, cand, ms)

    bits = faiss.IndexBinaryFlat(dim)
    codes = np.packbits(vectors > 0, axis=1)
    bits.add(codes)
    cand, ms = timed(lambda q: bits.search(np.packbits(q > 0, axis=1), r)[1], qs)
    report("binary flat (hamming)", codes.nbytes, cand, ms)

    nlist = int(4 * np.sqrt(n))
    for key in (f"IVF{nlist},PQ48", f"IVF{nlist},RaBitQ", f"IVF{nlist},SQ8"):
        index = faiss.index_factory(dim, key, faiss.METRIC_INNER_PRODUCT)
        start = time.perf_counter()
        index.train(train)
        index.add(vectors)
        build = time.perf_counter() - start
        size = faiss.serialize_index(index).nbytes
        print(f"{key}: trained and added in {build:.0f} s", flush=True)
        for nprobe in (16, 32, 64):
            index.nprobe = nprobe
            cand, ms = timed(lambda q, ix=index: ix.search(q, r)[1], qs)
            report(f"{key} nprobe={nprobe}", size, cand, ms)


if __name__ == "__main__":
    main()
