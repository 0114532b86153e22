"""Query latency on the Milvus backend next to the local indexes, over the same data dir.

python benchmarks/milvus_latency.py --data-dir DIR [--uri URI] [--queries 200]

``--data-dir`` is a complete data dir (e.g. the shared arXiv papers, ``benchmarks/scale.py``'s
WORK/real75k). Without ``--uri`` a milvus-lite server is started on loopback over a temporary
folder (as the tests do) and stopped at the end. ``--queries`` titles of seeded random papers
are searched in each mode by the local engine alone first; then the collection is filled (its
time and rate are reported) and, once the server is quiet, the Milvus engine searches them.
p50/p99 in milliseconds, query encoding included, and how often the two top-10 lists agree.
Prints a Markdown table and the CPU flags.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from scale import cpu_flags, percentile  # noqa: E402

from sciseek import Engine  # noqa: E402
from tests.helpers import milvus_server  # noqa: E402

MODES = ("bm25", "dense", "hybrid")


def server_cpu(port: str) -> float:
    """CPU seconds used so far by the processes serving ``port`` (a milvus-lite server)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if b"milvus_lite" in b" ".join(cmdline) and port.encode() in cmdline:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return total


def quiet_server(uri: str, idle_s: float = 3.0, limit_s: float = 600.0) -> None:
    """Wait until the local server at ``uri`` has used no CPU for ``idle_s`` seconds."""
    port = uri.rsplit(":", 1)[1]
    deadline = time.monotonic() + limit_s
    last = server_cpu(port)
    while time.monotonic() < deadline:
        time.sleep(idle_s)
        now = server_cpu(port)
        if now - last < 0.05 * idle_s:
            return
        last = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--uri", help="a running Milvus server (default: start milvus-lite)")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    print("cpu flags:", " ".join(cpu_flags()))
    with contextlib.ExitStack() as stack:
        uri = args.uri or stack.enter_context(
            milvus_server(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "data")
        )
        quiet = {"log": lambda m: print(f"  {m}", file=sys.stderr)}
        times: dict[tuple[str, str], list[float]] = {}
        found: dict[tuple[str, str], list[list[str]]] = {}

        def timed(side: str, engine: Engine, titles: list[str]) -> None:
            for q in titles[:5]:  # first calls: model, readers, channels
                engine.search(q, mode="hybrid")
            for mode in MODES:
                times[side, mode], found[side, mode] = [], []
                for q in titles:
                    t0 = time.perf_counter()
                    hits = engine.search(q, mode=mode, k=10)
                    times[side, mode].append((time.perf_counter() - t0) * 1000)
                    found[side, mode].append([h.paper.id for h in hits])

        # each side timed alone: a Milvus client in the process slowed the local searches
        with Engine.open(args.data_dir, **quiet) as local:
            local.dense.warmed()
            rng = np.random.default_rng(7)
            sample = local.store.rowid_sample(min(local.store.count(), 10_000))
            picks = rng.choice(len(sample), size=args.queries, replace=False)
            rows = [sample[i] for i in picks]
            titles = [p.title for p in local.store.get_by_rowids(rows).values()]
            timed("local", local, titles)
        remote = stack.enter_context(
            Engine.open(args.data_dir, backend="milvus", milvus_uri=uri, **quiet)
        )
        start = time.perf_counter()
        filled = remote.sync_mirror()
        fill_s = time.perf_counter() - start
        quiet_server(uri)  # its compaction after the fill would slow the queries
        papers = remote.mirror.count()
        remote.dense.warmed()
        timed("milvus", remote, titles)
        agree = {
            mode: [
                len(set(a) & set(b)) / 10
                for a, b in zip(found["local", mode], found["milvus", mode], strict=True)
            ]
            for mode in MODES
        }
        if not args.uri:
            remote.mirror.drop()
    print(
        f"\n{papers:,} papers; collection filled in {fill_s:.1f} s ({filled:,} papers, "
        f"{filled / max(fill_s, 1e-9):.0f} papers/s)"
    )
    print("| mode | local p50 / p99 ms | Milvus p50 / p99 ms | top-10 overlap |")
    print("|---|---:|---:|---:|")
    for mode in MODES:
        cells = [
            f"{percentile(times[side, mode], 0.5):.1f} / {percentile(times[side, mode], 0.99):.1f}"
            for side in ("local", "milvus")
        ]
        print(f"| {mode} | {cells[0]} | {cells[1]} | {np.mean(agree[mode]):.3f} |")


if __name__ == "__main__":
    main()
