"""Query encoding: how long one search query takes to encode on each CPU path, on one thread.

python benchmarks/query_encoding.py [--queries 200] [--rounds 3]

A hybrid search encodes its query on one thread while BM25 runs on the other core, so that is
the case measured: ``--queries`` arXiv titles one at a time, each path in turn per round, p50
and p90 in milliseconds, plus the cosine to torch fp32 (each path forced with
``SCISEEK_ENCODER``, so torch rows are torch itself, not the query session). A second table
sweeps the tokens of one forward pass (1 to 64 titles or abstracts) for torch bf16 against
fp32, which is where ``BF16_MIN_TOKENS`` comes from. CPU flags are printed with the figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import cpu_flags  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv" / "papers.jsonl.gz"


def load(n: int) -> tuple[list[str], list[str]]:
    titles, abstracts = [], []
    with gzip.open(SHARED, "rt") as f:
        for line in f:
            paper = json.loads(line)
            titles.append(paper["title"])
            abstracts.append(paper["title"] + "\n" + paper["abstract"])
            if len(titles) >= n:
                break
    return titles, abstracts


def encoder(runtime: str):
    from sciseek.index.models import Encoder

    os.environ["SCISEEK_ENCODER"] = runtime
    try:
        return Encoder()
    finally:
        del os.environ["SCISEEK_ENCODER"]


def timed(enc, batches: list[list[str]], *, bf16_from: int | None = None) -> list[float]:
    """Milliseconds to encode each batch on one thread; ``bf16_from`` stands in for
    ``BF16_MIN_TOKENS`` during the call (0: bf16 on every pass)."""
    from sciseek.index import models

    shipped = models.BF16_MIN_TOKENS
    if bf16_from is not None:
        models.BF16_MIN_TOKENS = bf16_from
    try:
        out = []
        for batch in batches:
            start = time.perf_counter()
            enc.encode_queries(batch, threads=1)
            out.append((time.perf_counter() - start) * 1000)
        return out
    finally:
        models.BF16_MIN_TOKENS = shipped


def main() -> None:
    from sciseek.index import models

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    every_title, abstracts = load(max(args.queries, 64))
    titles = every_title[: args.queries]
    print("cpu flags:", " ".join(cpu_flags()))
    fp32 = encoder("torch-fp32")
    reference = fp32.encode_queries(titles, threads=1)
    paths = {"torch fp32": (fp32, None)}
    if models.native_bf16():
        bf16 = encoder("torch-bf16")
        paths["torch bf16 on every pass (before)"] = (bf16, 0)
        paths[f"torch bf16 from {models.BF16_MIN_TOKENS} tokens (shipped)"] = (bf16, None)
    paths["ONNX Runtime fp32, one-thread session (queries on torch paths)"] = (
        encoder("onnx-fp32"),
        None,
    )
    paths["ONNX Runtime int8, one-thread session (the AVX2 path)"] = (encoder("onnx-int8"), None)
    times: dict[str, list[float]] = {name: [] for name in paths}
    singles = [[t] for t in titles]
    for enc, bf16_from in paths.values():
        timed(enc, singles[:5], bf16_from=bf16_from)  # first calls
    for _ in range(args.rounds):
        for name, (enc, bf16_from) in paths.items():
            times[name] += timed(enc, singles, bf16_from=bf16_from)
    print(f"\none title query, one thread ({args.queries} titles x {args.rounds} rounds)")
    print("| path | p50 ms | p90 ms | vs torch fp32 | cosine to fp32 min / mean |")
    print("|---|---:|---:|---:|---|")
    base = float(np.median(times["torch fp32"]))
    for name, (enc, _) in paths.items():
        vectors = enc.encode_queries(titles, threads=1)
        cos = np.sum(vectors * reference, axis=1)
        p50 = float(np.median(times[name]))
        print(
            f"| {name} | {p50:.2f} | {np.percentile(times[name], 90):.2f} | "
            f"{base / p50:.2f}x | {cos.min():.4f} / {cos.mean():.4f} |"
        )
    if not models.native_bf16():
        return
    print("\none forward pass, one thread: torch fp32 time / bf16 time (above 1: bf16 faster)")
    print("| texts | batch | padded tokens | bf16 ms | fp32 ms | fp32 / bf16 |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, source in (("titles", every_title), ("abstracts", abstracts)):
        for size in (1, 2, 4, 16, 64):
            batch = source[:size]
            tokens = bf16.model.tokenizer(
                batch, truncation=True, padding=True, max_length=bf16.max_length
            )
            padded = len(tokens["input_ids"]) * len(tokens["input_ids"][0])
            reps = [batch] * max(3, args.rounds)
            row = [
                float(np.median(timed(bf16, reps, bf16_from=0))),
                float(np.median(timed(fp32, reps))),
            ]
            print(
                f"| {kind} | {size} | {padded} | {row[0]:.1f} | {row[1]:.1f} | "
                f"{row[1] / row[0]:.2f} |"
            )


if __name__ == "__main__":
    main()
