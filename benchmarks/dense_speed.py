"""Dense-retrieval speed on the shared arXiv file: encoding, full indexing, query latency.

python benchmarks/dense_speed.py [--sample 1500] [--full] [--queries 200]

- encoding papers/s on a random sample: plain SentenceTransformer.encode (fp32, and under
  bf16 autocast) next to sciseek's Encoder (token-budget length-sorted batches; bf16 where
  the CPU has it, and forced fp32 to isolate the batching);
- with --full: time to index all papers (store + BM25 + dense), disk and RAM per paper;
- hybrid / dense / bm25 query latency p50 and p99 over --queries queries, encoding included.
Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from sciseek import Engine
from sciseek.index.models import Encoder, document_text
from sciseek.ingest.papers import Paper
from sciseek.ingest.readers import read_valid


def _rate(n: int, fn) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def encoding(papers: list[Paper]) -> list[tuple[str, float]]:
    texts = [document_text(p) for p in papers]
    enc = Encoder()
    model = enc.model
    model.encode(texts[:64])  # warm-up

    def plain_bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model.encode(texts, batch_size=32, normalize_embeddings=True)

    rows = [
        (
            "SentenceTransformer.encode, fp32, batch 32 (plain)",
            _rate(
                len(texts), lambda: model.encode(texts, batch_size=32, normalize_embeddings=True)
            ),
        ),
        ("SentenceTransformer.encode under bf16 autocast, batch 32", _rate(len(texts), plain_bf16)),
    ]
    forced = {"SCISEEK_ENCODER": "torch", "SCISEEK_PRECISION": "fp32"}
    saved = {k: os.environ.get(k) for k in forced}
    os.environ.update(forced)
    try:
        fp32 = Encoder()
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    rows.append(
        (
            "sciseek Encoder, torch fp32 (token-budget length-sorted batches only)",
            _rate(len(papers), lambda: fp32.encode_documents(papers)),
        )
    )
    if enc.runtime != "torch-fp32":
        rows.append(
            (
                f"sciseek Encoder, {enc.runtime} (default on this CPU)",
                _rate(len(papers), lambda: enc.encode_documents(papers)),
            )
        )
    return rows


def _du(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True).stdout
    return int(out.split()[0])


def latency(engine: Engine, queries: list[str], mode: str) -> tuple[float, float]:
    engine.search(queries[0], mode=mode)
    times = []
    for q in queries:
        start = time.perf_counter()
        engine.search(q, mode=mode, k=10)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.99 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser.add_argument("--sample", type=int, default=1500)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--full", action="store_true", help="index all papers (long)")
    parser.add_argument("--data-dir", help="reuse (or keep) this data dir for --full")
    args = parser.parse_args()
    papers = list(read_valid(Path(args.shared) / "arxiv" / "papers.jsonl.gz"))
    rng = random.Random(0)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads; {len(papers)} papers"
    )

    sample = rng.sample(papers, args.sample)
    rows = encoding(sample)
    base = rows[0][1]
    print(
        f"\n| encoder ({args.sample} random arXiv papers, title + abstract) | papers/s |"
        " vs plain |\n|---|---:|---:|"
    )
    for name, rate in rows:
        print(f"| {name} | {rate:.1f} | {rate / base:.2f}x |")

    queries = [" ".join(p.title.split()[:8]) for p in rng.sample(papers, args.queries)]
    if args.full:
        data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="sciseek-bench-"))
        start = time.perf_counter()
        with Engine.open(data_dir) as engine:
            for i in range(0, len(papers), 2000):
                engine.add(papers[i : i + 2000])
        index_s = time.perf_counter() - start
        peak_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size = _du(data_dir)
        print(
            f"\nfull index of {len(papers)} papers: {index_s / 60:.1f} min "
            f"({len(papers) / index_s:.1f} papers/s), disk {size / 2**20:.0f} MiB "
            f"({size / len(papers) / 1024:.2f} KiB/paper; "
            + ", ".join(
                f"{d.name} {_du(d) / 2**20:.0f} MiB"
                for d in sorted(data_dir.iterdir())
                if d.is_dir()
            )
            + f"), peak RSS while indexing "
            f"{peak_index:.0f} MiB"
        )
    else:
        data_dir = Path(args.data_dir) if args.data_dir else None
    if data_dir is None:
        return
    rss_before = _rss_mib()
    with Engine.open(data_dir) as engine:
        n = engine.stats()["papers"]
        print(
            f"\n| mode | p50 ms | p99 ms |  ({len(queries)} queries, k=10, {n} papers, "
            "query encoding included)\n|---|---:|---:|"
        )
        for mode in ("hybrid", "dense", "bm25"):
            p50, p99 = latency(engine, queries, mode)
            print(f"| {mode} | {p50:.1f} | {p99:.1f} |")
        serving = _rss_mib() - rss_before
        print(
            f"\nserving memory (RSS growth after opening and querying): {serving:.0f} MiB "
            f"({serving * 1024 / n:.2f} KiB/paper)"
        )


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()
