"""Query latency on the Milvus backend next to the local indexes, over the same data dir.

python benchmarks/milvus_latency.py --data-dir DIR [--uri URI] [--queries 200]

``--data-dir`` is a complete data dir (e.g. the shared arXiv papers, ``benchmarks/scale.py``'s
WORK/real75k). Without ``--uri`` a milvus-lite server is started on loopback over a temporary
folder (as the tests do) and stopped at the end. The collection is filled first (its time and
rate are reported), then ``--queries`` titles of seeded random papers are searched in each
mode, the local engine and the Milvus one in turn per query; p50/p99 in milliseconds, query
encoding included, and how often the two top-10 lists agree. Prints a Markdown table and the
CPU flags.
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
        local = stack.enter_context(Engine.open(args.data_dir, **quiet))
        remote = stack.enter_context(
            Engine.open(args.data_dir, backend="milvus", milvus_uri=uri, **quiet)
        )
        start = time.perf_counter()
        filled = remote.sync_mirror()
        fill_s = time.perf_counter() - start
        quiet_server(uri)  # its compaction after the fill would slow both sides' queries
        papers = remote.mirror.count()
        rng = np.random.default_rng(7)
        sample = local.store.rowid_sample(min(local.store.count(), 10_000))
        picks = rng.choice(len(sample), size=args.queries, replace=False)
        titles = [p.title for p in local.store.get_by_rowids([sample[i] for i in picks]).values()]
        for q in titles[:5]:  # first calls: model, readers, channels
            local.search(q, mode="hybrid")
            remote.search(q, mode="hybrid")
        times = {(side, mode): [] for side in ("local", "milvus") for mode in MODES}
        agree = {mode: [] for mode in MODES}
        for mode in MODES:
            for q in titles:
                found = {}
                for side, engine in (("local", local), ("milvus", remote)):
                    t0 = time.perf_counter()
                    found[side] = [h.paper.id for h in engine.search(q, mode=mode, k=10)]
                    times[side, mode].append((time.perf_counter() - t0) * 1000)
                agree[mode].append(len(set(found["local"]) & set(found["milvus"])) / 10)
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
