"""Recommendations learned from a reader's papers: a model of what they saved, applied to all.

A model is fitted on positive papers (a tag's saved papers, or all of them) and negative ones
(papers marked not relevant) and scores every encoded paper in bulk, with matrix products over
the dense index's embeddings (``DenseIndex.embeddings``) or the TF-IDF matrix (``tfidf``):

- ``centroid``: cosine to the mean of the positives' embeddings, less ``NEGATIVE_PULL`` times
  the cosine to the mean of the negatives' (Rocchio);
- ``linear``: logistic regression on the embeddings, the positives against the negatives
  (weighted ``NEGATIVE_WEIGHT`` each) and ``SAMPLED_NEGATIVES`` papers drawn with ``seed``;
- ``tfidf-svm``: as arxiv-sanity does it, a linear SVM on TF-IDF vectors of title and abstract,
  the positives against every other paper (the negatives weighted ``NEGATIVE_WEIGHT``).

Only papers with an embedding take part: positives, negatives and candidates not encoded yet
are skipped. ``TagModel.threshold`` is calibrated by held-out scoring (``fit_tag_model``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from sciseek.errors import BadInput
from sciseek.ingest.papers import Filters, Paper
from sciseek.search.engine import Engine, check_k

from . import tfidf

METHODS = ("centroid", "linear", "tfidf-svm")
# best on category topics of the arXiv papers (tfidf-svm wins on title-phrase topics, which
# favour it) and 15x faster than tfidf-svm: benchmarks/recommend.py
DEFAULT_METHOD = "linear"
NEGATIVE_PULL = 0.5  # centroid: weight of the negatives' mean
NEGATIVE_WEIGHT = 5.0  # linear, tfidf-svm: an explicit negative counts this many sampled ones
SAMPLED_NEGATIVES = 300  # linear: random papers taken as negatives
LINEAR_C = 1.0
SVM_C = 0.01
FOLDS = 5  # held-out folds for the threshold
THRESHOLD_QUANTILE = 0.2  # the threshold: this quantile of the held-out positives' scores
_SCAN = 1024  # at most this many candidates loaded at a time


class InvalidRecommendation(BadInput, ValueError):
    """A recommendation that cannot be made as asked (no positives, an unknown method)."""


@dataclass
class Recommendation:
    """A recommended paper, its model score and the positive paper nearest to it."""

    paper: Paper
    score: float
    because: str  # id of the positive with the highest cosine to the paper


class _Corpus:
    """The encoded papers of an engine: aligned row ids and embeddings, positions by row id."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.rowids, self.vectors = engine.dense.embeddings()
        self._order = np.argsort(self.rowids, kind="stable")
        self._sorted = self.rowids[self._order]

    def positions(self, rowids: Sequence[int]) -> np.ndarray:
        """Positions of the given row ids (those not encoded are left out)."""
        rows = np.asarray(rowids, dtype=np.int64)
        if len(rows) == 0 or len(self._sorted) == 0:
            return np.zeros(0, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._sorted, rows), len(self._sorted) - 1)
        hit = self._sorted[at] == rows
        return self._order[at[hit]]

    def positions_of(self, paper_ids: Collection[str]) -> np.ndarray:
        """Positions of the given papers, in order, duplicates and unknown papers left out."""
        store = self.engine.store
        rowids = [r for r in (store.rowid(i) for i in dict.fromkeys(paper_ids)) if r is not None]
        return self.positions(rowids)


class _Model:
    """A fitted scorer over a corpus: ``score(positions)`` on the model's own scale."""

    def score(self, positions: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError


class _Dense(_Model):
    """Scores ``vectors @ weights + bias``."""

    def __init__(self, corpus: _Corpus, weights: np.ndarray, bias: float = 0.0):
        self.corpus, self.weights, self.bias = corpus, weights.astype(np.float32), bias

    def score(self, positions: np.ndarray | None = None) -> np.ndarray:
        vectors = self.corpus.vectors if positions is None else self.corpus.vectors[positions]
        return vectors @ self.weights + np.float32(self.bias)


class _Tfidf(_Model):
    """Scores TF-IDF rows with a linear SVM (a paper without a row scores the bias)."""

    def __init__(self, corpus: _Corpus, matrix: tfidf.TfidfMatrix, svm: LinearSVC):
        self.corpus, self.matrix = corpus, matrix
        self.bias = float(svm.intercept_[0])
        self.all = matrix.matrix @ svm.coef_[0] + self.bias  # one score per TF-IDF row

    def score(self, positions: np.ndarray | None = None) -> np.ndarray:
        rowids = self.corpus.rowids if positions is None else self.corpus.rowids[positions]
        rows = self.matrix.rows(rowids)
        return np.where(rows >= 0, self.all[np.maximum(rows, 0)], self.bias)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def _fit(
    corpus: _Corpus,
    positives: np.ndarray,
    negatives: np.ndarray,
    method: str,
    seed: int,
    held_out: np.ndarray | None = None,
) -> _Model:
    """Fit ``method`` on corpus positions; ``held_out`` positions take no part at all."""
    vectors = corpus.vectors
    if method == "centroid":
        query = _unit(vectors[positives].mean(axis=0))
        if len(negatives):
            query = query - NEGATIVE_PULL * _unit(vectors[negatives].mean(axis=0))
        return _Dense(corpus, query)
    if method == "linear":
        free = np.ones(len(vectors), dtype=bool)
        free[positives] = free[negatives] = False
        if held_out is not None:
            free[held_out] = False
        rng = np.random.default_rng(seed)
        pool = np.flatnonzero(free)
        sampled = rng.choice(pool, min(SAMPLED_NEGATIVES, len(pool)), replace=False)
        sampled.sort()
        x = vectors[np.concatenate([positives, negatives, sampled])]
        y = np.r_[np.ones(len(positives)), np.zeros(len(negatives) + len(sampled))]
        w = np.r_[np.ones(len(positives)), np.full(len(negatives), NEGATIVE_WEIGHT)]
        w = np.r_[w, np.ones(len(sampled))]
        if len(negatives) + len(sampled) == 0:  # nothing to contrast with: the centroid
            return _fit(corpus, positives, negatives, "centroid", seed)
        model = LogisticRegression(C=LINEAR_C, class_weight="balanced", max_iter=1000)
        model.fit(x, y, sample_weight=w)
        return _Dense(corpus, model.coef_[0], float(model.intercept_[0]))
    matrix = tfidf.corpus_matrix(corpus.engine.store)
    rows = matrix.rows(corpus.rowids)
    y = np.zeros(matrix.matrix.shape[0])
    y[rows[positives][rows[positives] >= 0]] = 1
    weights = np.ones(matrix.matrix.shape[0])
    neg_rows = rows[negatives]
    weights[neg_rows[neg_rows >= 0]] = NEGATIVE_WEIGHT
    if held_out is not None:
        out_rows = rows[held_out]
        weights[out_rows[out_rows >= 0]] = 0.0
    if y.sum() == 0 or y.sum() == len(y) or matrix.matrix.shape[1] == 0:
        return _fit(corpus, positives, negatives, "centroid", seed)
    # the dual solver, as arxiv-sanity had it (3x faster here than the primal one that
    # dual="auto" picks for more papers than terms, with the same ranking)
    svm = LinearSVC(
        C=SVM_C, class_weight="balanced", dual=True, max_iter=10_000, tol=1e-6, random_state=seed
    )
    svm.fit(matrix.matrix, y, sample_weight=weights)
    return _Tfidf(corpus, matrix, svm)


def _prepare(
    engine: Engine, positives: Sequence[str], negatives: Sequence[str], method: str
) -> tuple[_Corpus, np.ndarray, np.ndarray]:
    if isinstance(positives, str) or isinstance(negatives, str):
        raise InvalidRecommendation("positives and negatives are sequences of paper ids")
    if not positives:
        raise InvalidRecommendation("no positive papers: save at least one paper first")
    if method not in METHODS:
        raise InvalidRecommendation(
            f"unknown recommendation method {method!r}; choose one of {', '.join(METHODS)}"
        )
    corpus = _Corpus(engine)
    pos = corpus.positions_of(positives)
    neg = np.setdiff1d(corpus.positions_of(negatives), pos)
    return corpus, pos, neg


def recommend(
    engine: Engine,
    positives: Sequence[str],
    negatives: Sequence[str] = (),
    *,
    k: int = 20,
    exclude: Collection[str] = (),
    filters: Filters | None = None,
    exclude_categories: Collection[str] = (),
    method: str = DEFAULT_METHOD,
    seed: int = 0,
) -> list[Recommendation]:
    """The ``k`` papers the model fitted on ``positives`` and ``negatives`` scores highest.

    Never returns a positive, a negative or a paper in ``exclude``; ``filters`` (dates,
    categories, authors) apply, and a paper with any category in ``exclude_categories`` is
    left out. Papers not encoded yet are skipped, as candidates and as examples: when no
    positive is encoded the answer is empty. ``seed`` fixes the sampled negatives. Raises
    InvalidRecommendation for no positives or an unknown method.
    """
    check_k(k)
    corpus, pos, neg = _prepare(engine, positives, negatives, method)
    if len(pos) == 0:
        return []
    scores = _fit(corpus, pos, neg, method, seed).score()
    keep = np.ones(len(scores), dtype=bool)
    keep[pos] = keep[neg] = False
    keep[corpus.positions_of(exclude)] = False
    if filters:
        keep &= np.isin(corpus.rowids, engine.lexical.filter_rowids(filters))
    candidates = np.flatnonzero(keep)
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    return _top(corpus, order, scores, pos, k, set(exclude_categories))


def _top(
    corpus: _Corpus,
    order: np.ndarray,
    scores: np.ndarray,
    positives: np.ndarray,
    k: int,
    excluded: set[str],
) -> list[Recommendation]:
    chosen: list[tuple[Paper, int]] = []
    store = corpus.engine.store
    start, step = 0, 2 * k  # a block of candidates, doubled while exclusions thin it
    while start < len(order):
        block = [int(i) for i in order[start : start + step]]
        start, step = start + step, min(2 * step, _SCAN)
        papers = store.get_by_rowids([int(corpus.rowids[i]) for i in block])
        for i in block:
            paper = papers.get(int(corpus.rowids[i]))
            if paper is not None and not excluded & set(paper.categories):
                chosen.append((paper, i))
                if len(chosen) == k:
                    break
        if len(chosen) == k:
            break
    if not chosen:
        return []
    at = np.array([i for _, i in chosen])
    nearest = np.argmax(corpus.vectors[at] @ corpus.vectors[positives].T, axis=1)
    ids = store.ids_by_rowids([int(corpus.rowids[p]) for p in positives])
    return [
        Recommendation(paper, float(scores[i]), ids[int(corpus.rowids[positives[n]])])
        for (paper, i), n in zip(chosen, nearest, strict=True)
    ]


@dataclass
class TagModel:
    """A model of one tag's papers, for scoring new papers (tag digests).

    ``threshold`` is on the model's own score scale: the ``THRESHOLD_QUANTILE`` quantile of
    the scores the tag's own papers get when each is held out of the fit (``FOLDS``-fold), so
    a new paper above it scores like most of the tag's papers would if they were new.
    """

    method: str
    threshold: float
    positives: tuple[str, ...]
    _corpus: _Corpus = field(repr=False)
    _model: _Model = field(repr=False)

    def score(self, paper_ids: Collection[str]) -> dict[str, float]:
        """Model scores of the given papers (papers unknown or not encoded are left out)."""
        store = self._corpus.engine.store
        rowids = {i: store.rowid(i) for i in dict.fromkeys(paper_ids)}
        known = {i: r for i, r in rowids.items() if r is not None}
        positions = self._corpus.positions(list(known.values()))
        scores = self._model.score(positions)
        by_rowid = {
            int(self._corpus.rowids[p]): float(s) for p, s in zip(positions, scores, strict=True)
        }
        return {i: by_rowid[r] for i, r in known.items() if r in by_rowid}


def fit_tag_model(
    engine: Engine,
    positives: Sequence[str],
    negatives: Sequence[str] = (),
    method: str = DEFAULT_METHOD,
    *,
    seed: int = 0,
) -> TagModel:
    """A model of ``positives`` against ``negatives`` with a calibrated ``threshold``.

    The threshold comes from held-out scoring: the positives are split into ``FOLDS`` folds
    (leave-one-out below that), a model is fitted without each fold and scores it, and the
    ``THRESHOLD_QUANTILE`` quantile of those scores is taken. With a single positive nothing
    can be held out: the threshold is then the score of the 20th best other paper. Raises
    InvalidRecommendation for no positives, an unknown method, or no positive encoded yet.
    """
    corpus, pos, neg = _prepare(engine, positives, negatives, method)
    if len(pos) == 0:
        raise InvalidRecommendation("none of the positive papers has an embedding yet")
    model = _fit(corpus, pos, neg, method, seed)
    if len(pos) >= 2:
        rng = np.random.default_rng(seed)
        folds = np.array_split(rng.permutation(pos), min(FOLDS, len(pos)))
        held = np.concatenate(
            [
                _fit(corpus, np.setdiff1d(pos, f), neg, method, seed, held_out=f).score(f)
                for f in folds
            ]
        )
        threshold = float(np.quantile(held, THRESHOLD_QUANTILE))
    else:
        scores = model.score()
        scores[pos] = -np.inf
        top = np.sort(scores)[::-1][:20]
        threshold = float(top[-1]) if len(top) else 0.0
    ids = corpus.engine.store.ids_by_rowids([int(corpus.rowids[p]) for p in pos])
    own = tuple(ids[int(corpus.rowids[p])] for p in pos)
    return TagModel(method, threshold, own, corpus, model)
