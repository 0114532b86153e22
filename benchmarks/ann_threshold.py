"""Where exact inner-product search gets too slow and HNSW takes over (faiss, one query).

python benchmarks/ann_threshold.py --data-dir DIR [--sizes 75000,150000,300000,600000]

1. Exact search (IndexFlatIP) latency p50 for growing corpus sizes (random unit vectors of
   the data dir's dimension: exact search costs the same whatever the vectors hold).
2. HNSW (M=32, efConstruction=80, efSearch=128) on the data dir's real paper embeddings,
   queried with 200 real paper titles encoded by the same model: build time, latency and
   recall@10 against exact search.
Prints Markdown.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import time
from pathlib import Path

import faiss
import numpy as np

from sciseek import Engine
from sciseek.search import listings


def _p50(index: faiss.Index, queries: np.ndarray) -> float:
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search(q.reshape(1, -1), 10)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="a data dir with a dense index")
    parser.add_argument("--sizes", default="75000,150000,300000,600000")
    args = parser.parse_args()
    db = sqlite3.connect(Path(args.data_dir) / "dense" / "vectors.db")
    blobs = [r[0] for r in db.execute("SELECT b FROM enc")]
    real = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
    dim = real.shape[1]
    with Engine.open(args.data_dir, log=lambda m: None) as engine:
        titles = [p.title for p in random.Random(0).sample(listings.new(engine, len(blobs)), 200)]
        queries = engine.dense.encoder.encode_queries(titles)
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, dim {dim}\n")

    rng = np.random.default_rng(0)
    print("| papers | exact search p50 ms |\n|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        data = rng.standard_normal((n, dim), dtype=np.float32)
        data /= np.linalg.norm(data, axis=1, keepdims=True)
        flat = faiss.IndexFlatIP(dim)
        flat.add(data)
        print(f"| {n:,} | {_p50(flat, queries):.1f} |", flush=True)
        del flat, data

    flat = faiss.IndexFlatIP(dim)
    flat.add(real)
    _, truth = flat.search(queries, 10)
    hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 80
    start = time.perf_counter()
    hnsw.add(real)
    build = time.perf_counter() - start
    hnsw.hnsw.efSearch = 128
    _, found = hnsw.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)])
    print(
        f"\n| real embeddings | exact p50 ms | HNSW build s | HNSW p50 ms | HNSW recall@10 |\n"
        f"|---:|---:|---:|---:|---:|\n| {len(real):,} | {_p50(flat, queries):.1f} | "
        f"{build:.0f} | {_p50(hnsw, queries):.2f} | {recall:.3f} |"
    )


if __name__ == "__main__":
    main()
