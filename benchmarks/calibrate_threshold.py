"""Fit a cosine-only relevance calibration, P(relevant) = 1 / (1 + exp(-(a * cos + b))).

This is the bundled model's map for long queries (questions, claims, descriptions) and the
form a trained model's ``sciseek-calibration.json`` holds. Short topic phrases are scored by
another map, fitted on judged topic phrases by ``digest_quality.py`` (BENCHMARKS.md, "Digest
quality"); the figures below are of long queries and unchanged by it.

python benchmarks/calibrate_threshold.py [--fit med:test,...] [--test scifact:test] [--work DIR]
    [--model DIR [--write]]

``cos`` is the cosine between a query's embedding and a paper's embedding (the bundled encoder,
or ``--model``'s, the same calls the digest makes). With ``--model`` the test set is also
scored with the bundled model's fit, for comparison, and ``--write`` saves the new fit as the
model folder's ``sciseek-calibration.json``, which search and digests then use.

Pairs come from judged BEIR-format datasets: for every judged
query, its top ``--depth`` hybrid candidates (the digest's retrieval, default 100) are scored;
the judged-relevant ones are positives and the rest are negatives. a and b are fitted by
logistic regression on the ``--fit`` sets, each set weighing the same; precision and recall of
"P >= threshold" are reported on the ``--test`` set, recall counting every judged-relevant
document (retrieved or not). Each dataset is indexed once into DIR/NAME[-MODEL] and its pairs
are cached in DIR/NAME[-MODEL]-SPLIT-DEPTH.json, so reruns are quick. Prints Markdown.

Why positives come from the candidates too: the digest only ever scores retrieved candidates.
Taking *every* judged-relevant document as a positive but only top-ranked documents as
negatives compares two differently selected samples; on CISI and CACM that gives a negative
slope (relevant documents the retriever misses have low cosines). Unjudged documents count as
not relevant, so the precision figures are a lower bound.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from sciseek import Engine
from sciseek.quality.evaluation import load_dataset
from sciseek.search.indexing import index_files
from sciseek.search.relevance import A, B, fit, save_calibration

# Smaller sets first: a first run encodes each corpus (minutes on a 2-core CPU).
FIT = ("med:test", "cisi:test", "cacm:test", "scifact:train", "npl:test")
TEST = "scifact:test"
THRESHOLDS = [round(0.3 + 0.05 * i, 2) for i in range(11)]


def _pairs(shared: Path, work: Path, spec: str, depth: int, model: str | None = None) -> dict:
    """{"pairs": [(cosine, judged relevant)], "relevant": judged-relevant total} of one
    dataset split, cached under ``work``."""
    name, _, split = spec.partition(":")
    split = split or "test"
    tag = f"-{Path(model).name}" if model else ""
    cache = work / f"{name}{tag}-{split}-{depth}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    ds = load_dataset(shared / name, split)
    start = time.perf_counter()
    with Engine.open(work / f"{name}{tag}", model=model, log=lambda m: None) as engine:
        if engine.store.count() == 0:
            index_files(engine, [ds.corpus], "beir")
        relevant: dict[str, set[str]] = {}
        for q in ds.qrels:
            if q.relevance > 0:
                relevant.setdefault(q.query_id, set()).add(q.doc_id)
        dense = engine.dense
        pairs: list[tuple[float, int]] = []
        total = 0
        for qid, text in ds.queries.items():
            wanted = relevant.get(qid, set()) - {qid}
            if not wanted or not text.strip():
                continue
            total += len(wanted)
            qvec = dense.encode_query(text)
            for hit in engine.search(text, mode="hybrid", k=depth + 1):
                if hit.paper.id == qid:  # BEIR: a document never answers itself
                    continue
                rowid = engine.store.rowid(hit.paper.id)
                vec = dense.vector(rowid) if rowid is not None else None
                if vec is not None:
                    pairs.append((float(np.dot(qvec, vec)), int(hit.paper.id in wanted)))
    result = {"pairs": pairs, "relevant": total}
    work.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(cache)
    print(f"{spec}: {len(pairs)} pairs in {time.perf_counter() - start:.0f} s", flush=True)
    return result


def table(
    cos: np.ndarray, y: np.ndarray, relevant: int, a: float, b: float
) -> list[dict[str, float]]:
    """Precision, recall and F1 of "P >= t" for every threshold t."""
    p = 1.0 / (1.0 + np.exp(-(a * cos + b)))
    rows = []
    for t in THRESHOLDS:
        chosen = p >= t
        tp = int(np.sum(chosen & (y == 1)))
        precision = tp / int(np.sum(chosen)) if chosen.any() else 1.0
        recall = tp / relevant
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        cut = (math.log(t / (1 - t)) - b) / a
        rows.append(
            {
                "threshold": t,
                "cos": cut,
                "kept": int(np.sum(chosen)),
                "precision": precision,
                "recall": recall,
                "f1": f1,
            }
        )
    return rows


def _arrays(pairs: list) -> tuple[np.ndarray, np.ndarray]:
    return np.array([c for c, _ in pairs]), np.array([t for _, t in pairs], dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser.add_argument("--fit", default=",".join(FIT), help="NAME:SPLIT,... to fit on")
    parser.add_argument("--test", default=TEST, help="NAME:SPLIT to report on")
    parser.add_argument("--depth", type=int, default=100, help="candidates per query")
    parser.add_argument("--work", default=tempfile.gettempdir() + "/sciseek-calibrate")
    parser.add_argument(
        "--model", metavar="DIR", help="a trained encoder folder instead of the bundled model"
    )
    parser.add_argument(
        "--write", action="store_true", help="save the fit as --model's sciseek-calibration.json"
    )
    args = parser.parse_args()
    shared, work = Path(args.shared), Path(args.work)

    cos_parts, y_parts, weight_parts = [], [], []
    print("| fit set | pairs | relevant | a (alone) | b (alone) |")
    print("|---|---:|---:|---:|---:|")
    for spec in args.fit.split(","):
        cos, y = _arrays(_pairs(shared, work, spec, args.depth, args.model)["pairs"])
        alone = fit(cos, y)
        print(f"| {spec} | {len(y)} | {int(y.sum())} | {alone[0]:.3f} | {alone[1]:.3f} |")
        cos_parts.append(cos)
        y_parts.append(y)
        weight_parts.append(np.full(len(y), 1.0 / len(y)))  # every set weighs the same
    a, b = fit(np.concatenate(cos_parts), np.concatenate(y_parts), np.concatenate(weight_parts))
    print(f"\nall fit sets, equal weight: a = {a:.4f}, b = {b:.4f}")

    test = _pairs(shared, work, args.test, args.depth, args.model)
    tcos, ty = _arrays(test["pairs"])
    print(
        f"\n{args.test}: {len(ty)} candidates, {int(ty.sum())} of them relevant, "
        f"{test['relevant']} judged relevant in all\n"
    )
    print("| P >= | cosine >= | kept | precision | recall | F1 |")
    print("|---:|---:|---:|---:|---:|---:|")
    rows = table(tcos, ty, test["relevant"], a, b)
    for r in rows:
        print(
            f"| {r['threshold']:.2f} | {r['cos']:.3f} | {r['kept']} | {r['precision']:.3f} "
            f"| {r['recall']:.3f} | {r['f1']:.3f} |"
        )
    best = max(rows, key=lambda r: r["f1"])
    print(f"\nbest F1: P >= {best['threshold']:.2f} (cosine >= {best['cos']:.3f})")
    if args.model:
        print(
            f"\nthe same {args.test} candidates with the bundled model's fit (a = {A}, b = {B}):\n"
        )
        print("| P >= | cosine >= | kept | precision | recall | F1 |")
        print("|---:|---:|---:|---:|---:|---:|")
        for r in table(tcos, ty, test["relevant"], A, B):
            print(
                f"| {r['threshold']:.2f} | {r['cos']:.3f} | {r['kept']} | {r['precision']:.3f} "
                f"| {r['recall']:.3f} | {r['f1']:.3f} |"
            )
    if args.write:
        if not args.model:
            raise SystemExit("--write needs --model")
        path = save_calibration(Path(args.model), a, b, fit=args.fit)
        print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
