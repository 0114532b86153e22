"""Where exact inner-product search gets too slow and HNSW takes over (faiss, one query).

python benchmarks/ann_threshold.py [--sizes 75000,150000,300000,600000]

Random unit vectors of 384 dimensions (MiniLM's size). For each size: exact (IndexFlatIP)
latency p50, HNSW (M=32, efConstruction=80, efSearch=128) build time, latency p50 and
recall@10 against exact search. Prints Markdown.
"""

from __future__ import annotations

import argparse
import statistics
import time

import faiss
import numpy as np


def _p50(index, queries) -> float:
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search(q.reshape(1, -1), 10)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="75000,150000,300000,600000")
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads\n")
    print("| papers | exact p50 ms | HNSW build s | HNSW p50 ms | HNSW recall@10 |")
    print("|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        data = rng.standard_normal((n, args.dim), dtype=np.float32)
        data /= np.linalg.norm(data, axis=1, keepdims=True)
        # queries near real points, as real queries are near real papers
        queries = data[rng.choice(n, 200, replace=False)] + 0.05 * rng.standard_normal(
            (200, args.dim), dtype=np.float32
        )
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        flat = faiss.IndexFlatIP(args.dim)
        flat.add(data)
        exact_ms = _p50(flat, queries)
        _, truth = flat.search(queries, 10)
        hnsw = faiss.IndexHNSWFlat(args.dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        start = time.perf_counter()
        hnsw.add(data)
        build = time.perf_counter() - start
        hnsw.hnsw.efSearch = 128
        hnsw_ms = _p50(hnsw, queries)
        _, found = hnsw.search(queries, 10)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)])
        print(
            f"| {n:,} | {exact_ms:.1f} | {build:.0f} | {hnsw_ms:.2f} | {recall:.3f} |", flush=True
        )


if __name__ == "__main__":
    main()
