"""Training data for the encoders: (query, positive, negative) rows and topic batches.

Pairs come from judgments (a BEIR qrels split, or a JSONL of query/paper pairs) or, with no
judgments at all, from the corpus itself (each title -> its abstract). Each pair gets one
negative: usually a hard one mined from the current BM25 and dense rankings of its query
(positives removed, the very top ranks skipped since they are often unjudged relevant papers),
sometimes a random paper, as STAR mixes random with hard negatives. Batches are drawn from
k-means clusters of the queries (TAS-Balanced), so in-batch negatives are on topic too.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sciseek.errors import BadInput
from sciseek.ingest.papers import Paper
from sciseek.search.engine import Engine

MINING_DEPTH = 30  # hard negatives come from this many top results of each retriever
SKIP_TOP = 2  # ...minus this many at the very top, which are often unjudged positives
RANDOM_SHARE = 0.25  # share of pairs whose negative is a random paper instead
MIN_ABSTRACT_WORDS = 8  # a shorter abstract gives no unsupervised pair


class InvalidTraining(BadInput, ValueError):
    """A training run that cannot go ahead as asked: bad or missing training data, judgments
    that must not be trained on, or an output folder already in use."""


@dataclass(frozen=True)
class Pair:
    """A training query and one relevant text; ``positive_ids`` are all its relevant papers."""

    query: str
    positive: str
    positive_ids: frozenset[str] = frozenset()


def judged_pairs(dataset_dir: str | Path, split: str, store_texts: dict[str, str]) -> list[Pair]:
    """Pairs from a BEIR dataset's ``qrels/{split}.tsv`` (relevance > 0) and its queries.

    ``store_texts`` maps paper ids to their text. The test split is refused: a model trained on
    the judgments it is evaluated on proves nothing.
    """
    from .evaluation import load_dataset

    if split == "test":
        raise InvalidTraining("refusing to train on the test judgments; use --split train (or dev)")
    dataset = load_dataset(dataset_dir, split)
    positives: dict[str, list[str]] = {}
    for q in dataset.qrels:
        if q.relevance > 0 and q.doc_id in store_texts:
            positives.setdefault(q.query_id, []).append(q.doc_id)
    pairs = []
    for qid, ids in positives.items():
        query = dataset.queries.get(qid, "").strip()
        if query:
            pairs += [Pair(query, store_texts[d], frozenset(ids)) for d in ids]
    return pairs


def jsonl_pairs(path: str | Path, store_texts: dict[str, str]) -> list[Pair]:
    """Pairs from JSON lines: ``{"query": Q, "paper": ID}`` or ``{"query": Q, "positive": TEXT}``.

    A paper id must be in the data dir. A bad line raises an error naming file and line.
    """
    pairs = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except ValueError:
                raise InvalidTraining(f"{where}: not valid JSON") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("query"), str):
                raise InvalidTraining(f'{where}: expected {{"query": ..., "paper": ID}}')
            query = obj["query"].strip()
            if not query:
                raise InvalidTraining(f"{where}: empty query")
            if "paper" in obj:
                pid = str(obj["paper"])
                if pid not in store_texts:
                    raise InvalidTraining(f"{where}: paper {pid!r} is not in the data dir")
                pairs.append(Pair(query, store_texts[pid], frozenset([pid])))
            elif isinstance(obj.get("positive"), str) and obj["positive"].strip():
                pairs.append(Pair(query, obj["positive"].strip()))
            else:
                raise InvalidTraining(f'{where}: needs "paper" (an id) or "positive" (a text)')
    return pairs


def corpus_pairs(papers: Sequence[Paper], min_words: int = MIN_ABSTRACT_WORDS) -> list[Pair]:
    """Unsupervised pairs from the corpus alone: each title -> its abstract.

    Papers without a title or an abstract of ``min_words`` give none: text-only pseudo-queries
    (first words, random crops) taught the encoder to match passages rather than questions and
    lowered retrieval quality where we measured them.
    """
    return [
        Pair(p.title.strip(), p.abstract.strip(), frozenset([p.id]))
        for p in papers
        if p.title.strip() and len(p.abstract.split()) >= min_words
    ]


# -- negatives and batches -------------------------------------------------------------------


def mine_negatives(
    engine: Engine,
    pairs: Sequence[Pair],
    texts: Mapping[str, str],
    *,
    depth: int = MINING_DEPTH,
    skip_top: int = SKIP_TOP,
    random_share: float = RANDOM_SHARE,
    seed: int = 42,
    progress: Callable[[int], None] | None = None,
) -> list[tuple[str, str, str]]:
    """(query, positive, negative) rows: a hard negative from the BM25 and dense top ``depth``
    of the query (minus its positives and the top ``skip_top`` of each), or a random paper.

    ``texts`` maps every paper id of the engine to its text (``document_text``).
    """
    rng = random.Random(seed)
    ids = sorted(texts)
    ranked: dict[str, list[str]] = {}
    rows = []
    for pair in pairs:
        if pair.query not in ranked:
            seen: dict[str, None] = {}
            for mode in ("bm25", "dense"):
                for pid, _ in engine.search_ids(pair.query, mode=mode, k=depth)[skip_top:]:
                    seen.setdefault(pid)
            ranked[pair.query] = list(seen)
        candidates = [
            pid
            for pid in ranked[pair.query]
            if pid in texts and pid not in pair.positive_ids and texts[pid] != pair.positive
        ]
        if candidates and rng.random() >= random_share:
            negative = texts[rng.choice(candidates)]
        else:
            negative = pair.positive
            for _ in range(100):
                pid = rng.choice(ids)
                if pid not in pair.positive_ids and texts[pid] != pair.positive:
                    negative = texts[pid]
                    break
        if negative != pair.positive:
            rows.append((pair.query, pair.positive, negative))
        if progress:
            progress(1)
    return rows


def cluster_batches(
    embeddings: np.ndarray, positives: Sequence[str], batch_size: int, seed: int, epoch: int = 0
) -> list[list[int]]:
    """Row indices grouped into batches of topic neighbours (TAS-Balanced).

    Queries are clustered by k-means (about one cluster per batch); each epoch the clusters are
    shuffled and cut into batches in turn, so a batch holds one or two neighbouring clusters. A
    batch never holds the same positive text twice (it would be its own in-batch negative).
    """
    from sklearn.cluster import KMeans

    n = len(embeddings)
    k = max(1, min(n, math.ceil(n / batch_size)))
    labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(embeddings)
    rng = random.Random(seed * 1000 + epoch)
    clusters = [[i for i in range(n) if labels[i] == c] for c in range(k)]
    rng.shuffle(clusters)
    order = []
    for members in clusters:
        rng.shuffle(members)
        order += members
    batches: list[list[int]] = []
    current: list[int] = []
    held: set[str] = set()
    deferred: list[int] = []
    for i in order:
        if positives[i] in held:
            deferred.append(i)
            continue
        current.append(i)
        held.add(positives[i])
        if len(current) == batch_size:
            batches.append(current)
            current, held = [], set()
            # rows deferred for a duplicate positive start the next batch
            for j in list(deferred):
                if positives[j] not in held and len(current) < batch_size:
                    current.append(j)
                    held.add(positives[j])
                    deferred.remove(j)
    for j in deferred:
        if positives[j] in held or len(current) == batch_size:
            batches.append(current)
            current, held = [], set()
        current.append(j)
        held.add(positives[j])
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def calibration_candidates(
    engine: Engine,
    pairs: Sequence[Pair],
    *,
    depth: int = 100,
    max_queries: int = 200,
    seed: int = 42,
) -> list[tuple[str, list[tuple[str, bool]]]]:
    """(query, [(paper id, judged relevant)]) for up to ``max_queries`` judged queries: their
    top ``depth`` hybrid candidates, the papers a relevance calibration is fitted on. A query
    whose relevant papers are not known by id (a JSONL pair with a positive text) gives none."""
    judged: dict[str, set[str]] = {}
    for pair in pairs:
        if pair.positive_ids:
            judged.setdefault(pair.query, set()).update(pair.positive_ids)
    queries = sorted(judged)
    random.Random(seed).shuffle(queries)
    return [
        (q, [(pid, pid in judged[q]) for pid, _ in engine.search_ids(q, mode="hybrid", k=depth)])
        for q in queries[:max_queries]
    ]
