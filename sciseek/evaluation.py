"""Evaluation on BEIR-format datasets with the standard trec_eval metrics (via ir-measures)."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ir_measures
from ir_measures import RR, R, nDCG

from .engine import Engine
from .readers import UnreadableSource, resolve_source

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
    run: dict[str, list[tuple[str, float]]] = {}
    for qid, text in dataset.queries.items():
        hits = engine.search_ids(text, mode=mode, k=RUN_DEPTH + 1)
        # BEIR convention: a document never counts as an answer to itself.
        run[qid] = [(did, s) for did, s in hits if did != qid][:RUN_DEPTH]
        if progress:
            progress(1)
    seconds = time.perf_counter() - start
    return EvalResult(dataset.name, mode, len(dataset.queries), evaluate_run(run, dataset), seconds)
