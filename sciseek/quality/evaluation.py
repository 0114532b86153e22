"""Evaluation on BEIR-format datasets with the standard trec_eval metrics (via ir-measures)."""

from __future__ import annotations

import csv
import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ir_measures
from ir_measures import RR, R, nDCG

from sciseek.ingest.readers import UnreadableSource, resolve_source
from sciseek.search.engine import Engine

METRICS = {"ndcg@10": nDCG @ 10, "recall@100": R @ 100, "mrr@10": RR @ 10, "recall@5": R @ 5}
RUN_DEPTH = 100


@dataclass
class Dataset:
    """A BEIR-format dataset: corpus file, judged queries of one split, and their judgments."""

    name: str
    corpus: Path
    queries: dict[str, str]
    qrels: list[ir_measures.Qrel]


@dataclass
class EvalResult:
    """Metrics averaged over every judged query (a query with no results scores 0)."""

    dataset: str
    mode: str
    queries: int
    metrics: dict[str, float]
    seconds: float
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready result in the CLI contract's shape."""
        return {
            "dataset": self.dataset,
            "mode": self.mode,
            "queries": self.queries,
            "metrics": self.metrics,
            "seconds": round(self.seconds, 2),
            **self.extra,
        }


def load_dataset(dataset_dir: str | Path, split: str = "test") -> Dataset:
    """Read a BEIR dataset directory; only queries judged in ``qrels/{split}.tsv`` are kept."""
    root = Path(dataset_dir)
    corpus = resolve_source(root)
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise UnreadableSource(f"{qrels_path}: no judgments for split {split!r}")
    qrels = []
    with open(qrels_path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t")
        for lineno, row in enumerate(rows, 1):
            if not row or (lineno == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3:
                raise UnreadableSource(f"{qrels_path}:{lineno}: expected 3 tab-separated columns")
            try:
                qrels.append(ir_measures.Qrel(row[0], row[1], int(row[2])))
            except ValueError:
                raise UnreadableSource(f"{qrels_path}:{lineno}: score is not an integer") from None
    judged = {q.query_id for q in qrels}
    queries: dict[str, str] = {}
    queries_path = root / "queries.jsonl"
    if not queries_path.is_file():
        raise UnreadableSource(f"{queries_path}: missing")
    with open(queries_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                qid = str(obj["_id"])
            except (ValueError, KeyError, TypeError):
                raise UnreadableSource(f"{queries_path}:{lineno}: not a BEIR query") from None
            if qid in judged:
                queries[qid] = obj.get("text") or ""
    missing = judged - queries.keys()
    if missing:
        raise UnreadableSource(
            f"{qrels_path}: {len(missing)} judged queries have no text "
            f"in queries.jsonl (e.g. {sorted(missing)[0]})"
        )
    return Dataset(root.resolve().name, corpus, dict(sorted(queries.items())), qrels)


def evaluate_run(run: dict[str, list[tuple[str, float]]], dataset: Dataset) -> dict[str, float]:
    """Average each metric over all judged queries of ``dataset``; missing queries score 0."""
    scored = [
        ir_measures.ScoredDoc(qid, did, score) for qid, hits in run.items() for did, score in hits
    ]
    per_query: dict[str, dict] = {qid: {} for qid in dataset.queries}
    measures = list(METRICS.values())
    for m in ir_measures.iter_calc(measures, dataset.qrels, scored):
        per_query.setdefault(m.query_id, {})[m.measure] = m.value
    n = len(dataset.queries)
    return {
        name: round(sum(q.get(m, 0.0) for q in per_query.values()) / n, 4) if n else 0.0
        for name, m in METRICS.items()
    }


def evaluate(
    engine: Engine, dataset: Dataset, mode: str, progress: Callable[[int], None] | None = None
) -> EvalResult:
    """Run every judged query through ``engine`` and score the ranking."""
    start = time.perf_counter()
    run = run_queries(engine, dataset, mode, progress)
    seconds = time.perf_counter() - start
    return EvalResult(dataset.name, mode, len(dataset.queries), evaluate_run(run, dataset), seconds)


def run_queries(
    engine: Engine, dataset: Dataset, mode: str, progress: Callable[[int], None] | None = None
) -> dict[str, list[tuple[str, float]]]:
    """Each judged query's top ``RUN_DEPTH`` (paper id, score), as ``evaluate`` scores them."""
    run: dict[str, list[tuple[str, float]]] = {}
    for qid, text in dataset.queries.items():
        hits = engine.search_ids(text, mode=mode, k=RUN_DEPTH + 1)
        # BEIR convention: a document never counts as an answer to itself.
        run[qid] = [(did, s) for did, s in hits if did != qid][:RUN_DEPTH]
        if progress:
            progress(1)
    return run


def collect_runs(
    engine: Engine,
    dataset: Dataset,
    retrievers: Sequence[str],
    progress: Callable[[int], None] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Every retriever's candidates for every judged query: {query id: {retriever: run}}."""
    out = {}
    for qid, text in dataset.queries.items():
        out[qid] = engine.runs(text, retrievers)
        if progress:
            progress(1)
    return out


def _weight_grid(names: Sequence[str], step: float) -> list[dict[str, float]]:
    n = round(1 / step)
    grid = []
    for combo in itertools.product(range(n + 1), repeat=len(names)):
        if sum(combo) == n and sum(1 for c in combo if c) >= 2:
            grid.append({name: round(c * step, 4) for name, c in zip(names, combo, strict=True)})
    return grid


def tune_fusion(
    engine: Engine,
    dataset: Dataset,
    runs: dict[str, dict[str, dict[str, float]]],
    *,
    step: float = 0.1,
    methods: Sequence[str] = ("zscore", "minmax"),
    metric: str = "ndcg@10",
    progress: Callable[[int], None] | None = None,
) -> list[tuple[float, str, dict[str, float]]]:
    """(metric, fusion, weights) for every weight split on a ``step`` grid, best first.

    ``runs`` come from ``collect_runs`` on the same (train or dev) queries.
    """
    names = sorted({n for per_query in runs.values() for n in per_query})
    results = []
    for method in methods:
        for weights in _weight_grid(names, step):
            run = {}
            for qid, per_query in runs.items():
                fused = engine.fuse(per_query, RUN_DEPTH + 1, weights, method)
                run[qid] = [(pid, s) for pid, s in fused if pid != qid]
            results.append((evaluate_run(run, dataset)[metric], method, weights))
            if progress:
                progress(1)
    results.sort(key=lambda t: (-t[0], t[1], sorted(t[2].items())))
    return results
