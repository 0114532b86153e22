"""Scale: an N-paper data dir built from the shared arXiv papers, and what serving it costs.

python benchmarks/scale.py --papers N --work DIR [--json] [--source DIR] [--queries 200]

Building N papers' data dir does not encode N papers. The source is a real data dir of the
shared arXiv listings (``--source``, default WORK/real75k; built with ``sciseek index`` when
missing, which encodes the 74,728 papers once). The first 74,728 papers of a scaled dir are the
real ones with their real embeddings; every further paper copies one real paper's metadata
under a new id (``<id>#<round>``), keeps the first half of its abstract and takes the second
half from another paper, and gets the embedding 0.75 x its paper's + 0.25 x the other's + a
little noise, renormalised. The texts stay varied and the vectors keep the real embeddings'
structure (never uniform random). Building is done once per N under WORK/scale-N.

Measured in a fresh process whose data dir's files are first dropped from the page cache
(``posix_fadvise`` DONTNEED), with ``--json`` printed as one JSON line: ``papers``,
``disk_bytes``; ``import_s`` (Python and sciseek imports), ``model_load_s`` (loading the
encoder and its query session, excluded from ``open_s``), ``open_s`` (open the data dir and
answer one hybrid query); ``warm_up_s`` (then waiting for the background reads of the vector
table and the BM25 files into the page cache, which the latency phases come after);
``rss_bytes`` (the serving process after warm-up) and ``vector_ram_bytes_per_paper`` (the
process's memory growth from opening the dense index, over the papers: what the dense index
holds in RAM); ``p50_ms``/``p99_ms`` per mode (bm25, dense, hybrid; ``--queries`` titles of
seeded random papers each, query encoding included); ``recall_at_10`` (the dense index's top 10
against exact inner products over the same vectors); ``add_10k_s`` and ``delete_1k_s`` (adding
10,000 derived papers, then deleting 1,000 of them, each until a query sees the change, with
``*_parts_s`` splitting each into the store, BM25, and the vector table plus the dense index
and the query; the other 9,000 are deleted afterwards, so the dir keeps N papers);
``hybrid_filter_broad/week/author_p50/p99_ms`` (hybrid under the commonest category, one week
of it, and one author; ``filter_*_papers`` passing) and ``similar_p50/p99_ms``. The CPU flags
are printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import zlib
from pathlib import Path

BUILD_BATCH = 20_000  # papers upserted and committed to the store and BM25 at a time
MIX, NOISE = 0.25, 0.02  # share of the second paper's embedding; noise per dimension


def cpu_flags() -> list[str]:
    """The SIMD flags of this CPU that decide which paths are fast."""
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni")
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if "flags" in ln), [])
    return [f for f in wanted if f in flags]


def disk_bytes(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# -- building ----------------------------------------------------------------------------


class Source:
    """The real papers and their embeddings, in one order."""

    def __init__(self, data_dir: Path):
        import numpy as np

        from sciseek import Engine

        with Engine.open(data_dir, log=lambda m: None) as engine:
            if not engine.dense_up_to_date() or engine.store.count() == 0:
                raise SystemExit(f"{data_dir}: its dense index is not complete ('sciseek sync')")
            rowids, vectors = engine.dense.embeddings()
            papers = engine.store.get_by_rowids([int(r) for r in rowids])
            keep = [i for i, r in enumerate(rowids) if int(r) in papers]
            self.papers = [papers[int(rowids[i])] for i in keep]
            self.vectors = np.array(vectors[keep], dtype=np.float32)
        self.index = {p.id: i for i, p in enumerate(self.papers)}

    def __len__(self) -> int:
        return len(self.papers)

    def partner(self, i: int, rnd: int) -> int:
        """The paper whose text and embedding paper ``i`` of round ``rnd`` mixes in."""
        return (i + 1 + zlib.crc32(f"{i}:{rnd}".encode()) % (len(self) - 1)) % len(self)

    def paper(self, n: int):
        """Paper number ``n`` of a scaled dir (round 0: the real ones)."""
        from dataclasses import replace

        rnd, i = divmod(n, len(self))
        p = self.papers[i]
        if rnd == 0:
            return p
        other = self.papers[self.partner(i, rnd)]
        half, rest = p.abstract[: len(p.abstract) // 2], other.abstract[len(other.abstract) // 2 :]
        return replace(p, id=f"{p.id}#{rnd}", abstract=f"{half} {rest}".strip())

    def vector(self, paper_id: str):
        """The embedding of a scaled dir's paper, from its id alone."""
        import numpy as np

        base, _, rnd = paper_id.partition("#")
        i = self.index[base if rnd else paper_id]
        if not rnd:
            return self.vectors[i]
        rng = np.random.default_rng(zlib.crc32(paper_id.encode()))
        v = (1 - MIX) * self.vectors[i] + MIX * self.vectors[self.partner(i, int(rnd))]
        v = v + rng.normal(0.0, NOISE, v.shape).astype(np.float32)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def encode(self, papers: list) -> list[tuple[None, bytes]]:
        """``EncodingTable.sync``'s encode step: derived vectors instead of the encoder."""
        return [(None, self.vector(p.id).tobytes()) for p in papers]


def build(source: Source, n: int, target: Path) -> None:
    """Write the N-paper data dir (store, BM25, embeddings) unless it is already complete."""
    from sciseek import Engine

    marker = target / "scale.json"
    if marker.exists() and json.loads(marker.read_text()).get("papers") == n:
        saved_index(target)
        return
    start = time.perf_counter()
    with Engine.open(target, log=lambda m: None) as engine:
        for first in range(engine.store.count(), n, BUILD_BATCH):
            batch = [source.paper(i) for i in range(first, min(n, first + BUILD_BATCH))]
            engine.store.upsert(batch)
            engine.lexical.sync()
            took = time.perf_counter() - start
            print(
                f"  {first + len(batch):,} papers stored and BM25-indexed, {took:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        engine.dense.table.sync(source.encode)
    took = time.perf_counter() - start
    marker.write_text(json.dumps({"papers": n, "build_s": round(took, 1)}))
    print(f"built {target} in {took:.0f} s", file=sys.stderr, flush=True)
    saved_index(target)


def saved_index(target: Path) -> None:
    """Open the dir's dense index once, so that a compressed one is built and saved (as the
    first query after ``sciseek index`` does) before the serving process is measured."""
    from sciseek import Engine

    start = time.perf_counter()
    with Engine.open(target, log=lambda m: print(f"  {m}", file=sys.stderr)) as engine:
        engine.dense.refresh()
        kind = "compressed" if engine.dense.compressed else "exact"
    took = time.perf_counter() - start
    print(f"  dense index ({kind}) opened or built in {took:.0f} s", file=sys.stderr, flush=True)


# -- measuring (in a fresh process) --------------------------------------------------------


def evict(path: Path) -> None:
    """Drop the files under ``path`` from the system's page cache (clean pages), so that a
    measurement starts cold whatever ran before."""
    for f in path.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def rss() -> int:
    """This process's resident memory now, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Figures(dict):
    """The measured figures, each also logged to stderr as it is set: a run stopped midway
    keeps what it measured."""

    def __setitem__(self, key: str, value) -> None:
        super().__setitem__(key, value)
        print(f"  {key}: {value}", file=sys.stderr, flush=True)


def exact_top10(dense, qvecs):
    """Each query's exact top-10 row ids by inner product over every stored embedding, read
    from the encoding table in batches (memory stays bounded at any size)."""
    import numpy as np

    best_ids = np.full((len(qvecs), 10), -1, dtype=np.int64)
    best = np.full((len(qvecs), 10), -np.inf, dtype=np.float32)
    for ids, blob in dense.table.iter_vectors(100_000):
        matrix = np.frombuffer(blob, dtype=np.float32).reshape(len(ids), -1)
        scores = np.concatenate([best, qvecs @ matrix.T], axis=1)
        every = np.concatenate([best_ids, np.tile(np.array(ids, np.int64), (len(qvecs), 1))], 1)
        top = np.argpartition(-scores, 9, axis=1)[:, :10]
        best = np.take_along_axis(scores, top, 1)
        best_ids = np.take_along_axis(every, top, 1)
    return best_ids


def filtered_and_similar(engine, titles: list[str], out: dict) -> None:
    """Hybrid latency under a broad filter (the commonest category), that category in one
    week, and one author's papers, and ``similar`` for sampled papers."""
    from collections import Counter

    from sciseek import Filters

    sample = engine.store.get_by_rowids(engine.store.rowid_sample(2000))
    common = Counter(c for p in sample.values() for c in p.categories[:1]).most_common(1)[0][0]
    months = Counter((p.published or "")[:7] for p in sample.values() if p.published)
    month = months.most_common(1)[0][0]
    author = next(p.authors[0] for p in sample.values() if p.authors)
    kinds = {
        "broad": Filters(categories=(common,)),
        "week": Filters(categories=(common,), date_from=f"{month}-01", date_to=f"{month}-07"),
        "author": Filters(authors=(author,)),
    }
    per = len(titles) // len(kinds)
    for n, (name, filters) in enumerate(kinds.items()):
        out[f"filter_{name}_papers"] = engine.lexical.filter_count(filters)
        times = []
        for q in titles[n * per : (n + 1) * per]:
            start = time.perf_counter()
            engine.search(q, mode="hybrid", k=10, filters=filters)
            times.append((time.perf_counter() - start) * 1000)
        out[f"hybrid_filter_{name}_p50_ms"] = round(percentile(times, 0.5), 2)
        out[f"hybrid_filter_{name}_p99_ms"] = round(percentile(times, 0.99), 2)
    times = []
    for p in list(sample.values())[:per]:
        start = time.perf_counter()
        engine.similar(p.id, k=10)
        times.append((time.perf_counter() - start) * 1000)
    out["similar_p50_ms"] = round(percentile(times, 0.5), 2)
    out["similar_p99_ms"] = round(percentile(times, 0.99), 2)


def measure(data_dir: Path, source_dir: Path, queries: int) -> dict:
    """The contract's figures for one data dir; see the module docstring."""
    import numpy as np

    import sciseek  # noqa: F401  (imports counted in import_s)

    import_s = time.perf_counter() - float(os.environ["SCALE_T0"])
    from sciseek import Engine

    out = Figures()
    out["cpu_flags"] = cpu_flags()
    out["import_s"] = round(import_s, 3)
    evict(data_dir)
    t0 = time.perf_counter()
    engine = Engine.open(data_dir, log=lambda m: None)
    t1 = time.perf_counter()
    engine.dense.encoder.encode_queries(["warm up"])  # loads the model and runs it once
    engine.dense.encoder.query_graph_ready()  # and its query session (part of the model)
    t2 = time.perf_counter()
    rss_before = rss()
    engine.dense.refresh()  # opens the dense index
    dense_ram = rss() - rss_before
    engine.search("graph neural networks for molecules", mode="hybrid", k=10)
    t3 = time.perf_counter()
    engine.dense.warmed()
    engine.lexical.warmed()
    out["warm_up_s"] = round(time.perf_counter() - t3, 3)
    out["papers"] = engine.store.count()
    out["model_load_s"] = round(t2 - t1, 3)
    out["open_s"] = round((t1 - t0) + (t3 - t2), 3)
    out["vector_ram_bytes_per_paper"] = round(dense_ram / max(1, out["papers"]), 1)

    rng = np.random.default_rng(7)
    sample = engine.store.rowid_sample(min(engine.store.count(), 10_000))
    # distinct titles for each of the 3 modes and 3 filters (the query vector cache holds 256)
    picks = rng.choice(len(sample), size=6 * queries, replace=len(sample) < 6 * queries)
    titles = [p.title for p in engine.store.get_by_rowids([sample[i] for i in picks]).values()]
    titles = (titles * 6)[: 6 * queries]
    for m, mode in enumerate(("bm25", "dense", "hybrid")):
        times = []
        for q in titles[m * queries : (m + 1) * queries]:
            start = time.perf_counter()
            engine.search(q, mode=mode, k=10)
            times.append((time.perf_counter() - start) * 1000)
        out[f"{mode}_p50_ms"] = round(percentile(times, 0.5), 2)
        out[f"{mode}_p99_ms"] = round(percentile(times, 0.99), 2)
    filtered_and_similar(engine, titles[3 * queries :], out)
    out["rss_bytes"] = rss()
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    dense = engine.dense
    qvecs = np.stack([dense.encode_query(q) for q in titles[:queries]])
    exact = exact_top10(dense, qvecs)
    found = [[r for r, _ in hits] for hits in dense.search_many(qvecs, 10)]
    overlap = [len(set(f) & set(e.tolist())) / 10 for f, e in zip(found, exact, strict=True)]
    out["recall_at_10"] = round(float(np.mean(overlap)), 4)
    out["compressed"] = dense.compressed

    source = Source(source_dir)
    base = out["papers"] + 99 * len(source)  # a round far past any built one
    added = [source.paper(base + i) for i in range(10_000)]
    changes = {
        "add_10k": lambda: engine.store.upsert(added),
        "delete_1k": lambda: engine.store.delete([p.id for p in added[:1000]]),
    }
    for name, change in changes.items():
        start = time.perf_counter()
        change()
        store_s = time.perf_counter() - start
        engine.lexical.sync()
        lexical_s = time.perf_counter() - start - store_s
        dense.table.sync(source.encode)
        engine.search(added[0].title, mode="hybrid", k=10)
        out[f"{name}_s"] = round(time.perf_counter() - start, 3)
        out[f"{name}_parts_s"] = {
            "store": round(store_s, 3),
            "bm25": round(lexical_s, 3),
            "dense_and_query": round(out[f"{name}_s"] - store_s - lexical_s, 3),
        }
    engine.delete([p.id for p in added[1000:]])
    dense.table.sync(source.encode)
    out["disk_bytes"] = disk_bytes(data_dir)
    engine.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, required=True, help="papers in the data dir")
    parser.add_argument("--work", required=True, help="folder for the data dirs")
    parser.add_argument("--source", help="a complete data dir of the shared arXiv papers")
    parser.add_argument("--queries", type=int, default=200, help="queries per mode")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the fresh measuring process
    parser.add_argument(
        "--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    args = parser.parse_args()
    work = Path(args.work)
    source_dir = Path(args.source) if args.source else work / "real75k"
    if args.measure:
        print(json.dumps(measure(Path(args.measure), source_dir, args.queries)))
        return
    if not (source_dir / "sciseek.db").exists():
        print(f"encoding the shared arXiv papers into {source_dir} (once)", file=sys.stderr)
        papers = Path(args.shared) / "arxiv" / "papers.jsonl.gz"
        subprocess.run(
            [sys.executable, "-m", "sciseek", "index", str(papers), "--data-dir", str(source_dir)],
            check=True,
        )
    source = Source(source_dir)
    target = source_dir if args.papers == len(source) else work / f"scale-{args.papers}"
    if target != source_dir:
        build(source, args.papers, target)
    env = {**os.environ, "SCALE_T0": str(time.perf_counter()), "HF_HUB_OFFLINE": "1"}
    del source
    cmd = [
        sys.executable,
        __file__,
        "--papers",
        str(args.papers),
        "--work",
        str(work),
        "--source",
        str(source_dir),
        "--queries",
        str(args.queries),
        "--measure",
        str(target),
    ]
    result = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)  # stderr: live
    if result.returncode:
        raise SystemExit(f"the measuring process failed (exit {result.returncode})")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value}")


if __name__ == "__main__":
    main()
