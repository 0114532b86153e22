"""Encoding on a Ray cluster against local encoding, on one machine: papers/s and equality.

python benchmarks/ray_encoding.py [--work DIR] [--dataset scifact]

Starts a local two-node Ray cluster on loopback (one CPU a node, as the tests do), then
encodes the dataset's corpus three ways into fresh data dirs: locally (``sciseek index``, all
cores), with ``--ray ADDRESS --ray-actors 1`` and with ``--ray-actors 2``. Reports for each the
encoding papers/s (the ``encoding`` phase alone, from the progress line's own timer: reading
and BM25 are the same in all three), the cosine of every paper's vector to the local one
(min and mean), and ``sciseek eval`` nDCG@10 in dense and hybrid mode on each data dir.
Prints a Markdown table and the CPU flags. On one machine two actors share the cores the
local run has, so the table shows Ray's overhead and that the vectors are the same, not a
speed-up; on a cluster the rate adds up per node (docs/scale.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from scale import cpu_flags  # noqa: E402

from tests.helpers import RAY_ENV, ray_cluster  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
ENV = {**os.environ, **RAY_ENV, "HF_HUB_OFFLINE": "1"}


def vectors(data_dir: Path) -> dict[str, np.ndarray]:
    db = sqlite3.connect(f"file:{data_dir / 'dense' / 'vectors.db'}?mode=ro", uri=True)
    try:
        return {i: np.frombuffer(b, np.float32) for i, b in db.execute("SELECT id, b FROM enc")}
    finally:
        db.close()


def index(corpus: Path, data_dir: Path, extra: list[str]) -> float:
    """Encoding papers/s of ``sciseek index`` into a fresh ``data_dir``."""
    shutil.rmtree(data_dir, ignore_errors=True)
    cmd = [sys.executable, "-m", "sciseek", "index", str(corpus), "--format", "beir", *extra]
    start = time.perf_counter()
    done = subprocess.run(
        [*cmd, "--data-dir", str(data_dir)], env=ENV, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    rates = re.findall(r"encoding: [\d,]+ of [\d,]+ papers, ([\d.]+) papers/s", done.stderr)
    print(f"  {' '.join(extra) or 'local'}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return float(rates[-1]) if rates else float("nan")


def ndcg(dataset: Path, data_dir: Path, mode: str) -> float:
    cmd = [sys.executable, "-m", "sciseek", "eval", str(dataset), "--mode", mode, "--json"]
    done = subprocess.run(
        [*cmd, "--data-dir", str(data_dir)], env=ENV, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)["metrics"]["ndcg@10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=None, help="folder for the data dirs (default: temp)")
    parser.add_argument("--dataset", default="scifact", help="a dataset under shared/data")
    args = parser.parse_args()
    dataset = SHARED / args.dataset
    work = Path(args.work or tempfile.mkdtemp(prefix="sciseek-ray-"))
    work.mkdir(parents=True, exist_ok=True)
    print("cpu flags:", " ".join(cpu_flags()))
    runs: dict[str, list[str]] = {"local (2 cores)": []}
    root = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths
    rows = []
    try:
        with ray_cluster(root / "t", nodes=2, cpus=1) as address:
            runs["Ray, 1 actor (1 CPU)"] = ["--ray", address, "--ray-actors", "1"]
            runs["Ray, 2 actors (2 nodes x 1 CPU)"] = ["--ray", address, "--ray-actors", "2"]
            rates = {}
            for n, (name, extra) in enumerate(runs.items()):
                corpus = next(dataset.glob("corpus.jsonl*"))
                rates[name] = index(corpus, work / f"run{n}", extra)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    reference = vectors(work / "run0")
    base = rates["local (2 cores)"]
    for n, name in enumerate(runs):
        got = vectors(work / f"run{n}")
        assert got.keys() == reference.keys(), "every paper is encoded"
        cos = np.array([float(reference[i] @ got[i]) for i in reference])
        scores = [ndcg(dataset, work / f"run{n}", mode) for mode in ("dense", "hybrid")]
        rows.append(
            f"| {name} | {rates[name]:.1f} | {rates[name] / base:.2f}x | "
            f"{cos.min():.6f} / {cos.mean():.6f} | {scores[0]:.4f} | {scores[1]:.4f} |"
        )
    print(f"\n{args.dataset}: {len(reference):,} papers")
    print(
        "| encoding | papers/s | vs local | cosine to local min / mean | nDCG@10 dense | hybrid |"
    )
    print("|---|---:|---:|---|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
