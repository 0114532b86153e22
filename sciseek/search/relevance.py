"""Calibrated relevance: one probability scale for every search result and every interest.

Raw BM25, dense and fused scores cannot be compared across queries, so a single cut-off on them
means nothing. A paper's relevance to a query is instead a probability fitted on judged
query-paper pairs, from the cosine between their embeddings: for a long query (a question, a
claim, a description, a liked paper's title) a logistic map of the cosine
(`benchmarks/calibrate_threshold.py`, BENCHMARKS.md, "Relevance threshold"); for a short topic
phrase a logistic map of how far the cosine stands above the phrase's cosines with the stored
papers in general and of how well the paper holds the phrase's words
(`benchmarks/digest_quality.py`, "Digest quality"). A model trained with
``sciseek train`` carries its own fit in ``sciseek-calibration.json``. Search results of any
mode can be filtered on it (``--min-score``); digests keep the papers at or above the threshold
of the query's kind (``Calibration.threshold``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sciseek.index.word_match import NO_MATCH, WordMatch

# Long queries (questions, claims, descriptions, a liked paper's title): logistic regression of
# judged relevance on the query-paper cosine of the bundled encoder (all-MiniLM-L6-v2) over the
# top-100 hybrid candidates of the judged queries of SciFact train and the CACM, CISI, MED and
# NPL test sets. A paper needs cosine >= 0.615 to pass THRESHOLD.
A = 8.1043
B = -5.6023
# The threshold with the best F1 on the SciFact test judgments (same command).
THRESHOLD = 0.35
# Short queries (topic phrases of at most SHORT_WORDS words, not sentences) have low cosines
# even with papers squarely on topic, and how low depends on the phrase. Their probability is a
# logistic map of z, how many standard deviations the cosine stands above the query's cosines
# with a sample of the stored papers, and of four lexical features of the paper
# (``index.word_match``): its BM25 score over the query's IDF sum, capped at SHORT_BM25_CAP,
# the IDF share of the query's terms it holds, whether its title holds the query's terms side
# by side, and whether it uses the query's acronym. Fitted on topic phrases of the arXiv
# listings judged by reading (the fit phrases on the fit week of benchmarks/digest_quality.py;
# digest_pool.py, digest_fit.py; BENCHMARKS.md, "Digest quality").
SHORT_WORDS = 5
SHORT_A = 0.8530
SHORT_BM25 = 4.0547
SHORT_COVERAGE = 6.4943
SHORT_PHRASE = 4.3764
SHORT_ACRONYM = 9.8587
SHORT_B = -14.8541
SHORT_THRESHOLD = 0.375  # the best F1 on the fit phrases' candidates
SHORT_BM25_CAP = 1.5
# Under MIN_SPREAD_PAPERS stored papers the terms' document frequencies say little about how
# rare a word is, so short phrases are scored by z alone (the same fit without the words):
# (z coefficient, constant, threshold).
SHORT_Z_ONLY = (1.4788, -6.0720, 0.15)
# Below this many stored papers the spread is too noisy to measure; a typical one is used (the
# median over the fit phrases on the arXiv listings).
MIN_SPREAD_PAPERS = 200
TYPICAL_SPREAD = (0.1314, 0.0781)  # mean, standard deviation of a short query's cosines
SPREAD_SAMPLE = 1000  # stored papers the spread is measured on
BUNDLED_MODEL = "all-MiniLM-L6-v2"
CALIBRATION_FILE = "sciseek-calibration.json"  # {"a": ..., "b": ...} in a model folder


@dataclass(frozen=True)
class Calibration:
    """How a dense model's query-paper cosine becomes P(relevant).

    Long queries: P = 1 / (1 + exp(-(a * cos + b))). Short queries, when the model has short
    terms: P = 1 / (1 + exp(-(short_a * z + short_bm25 * min(bm25, SHORT_BM25_CAP) +
    short_coverage * coverage + short_phrase * phrase + short_acronym * acronym + short_b))),
    z = (cos - mean) / std over the query's cosines with the stored papers, the rest from
    ``index.word_match`` (phrase and acronym 1 or 0); without short terms (a calibration
    file written before they existed) short queries use the cosine map too.
    """

    a: float
    b: float
    short_a: float | None = None
    short_b: float | None = None
    short_threshold: float = THRESHOLD
    short_bm25: float = 0.0
    short_coverage: float = 0.0
    short_phrase: float = 0.0
    short_acronym: float = 0.0

    def is_short(self, query: str) -> bool:
        """Whether ``query`` is scored by the short-query map: a topic phrase of at most
        SHORT_WORDS words, not a sentence (a short claim or question ends in . ? or !)."""
        if self.short_a is None or query_words(query) > SHORT_WORDS:
            return False
        return not query.rstrip().endswith((".", "?", "!"))

    def probability(
        self,
        query: str,
        cos: float,
        spread: tuple[float, float],
        lexical: WordMatch = NO_MATCH,
    ) -> float:
        """Calibrated probability that a paper with cosine ``cos`` to ``query`` is relevant;
        ``spread`` is (mean, std) of the query's cosines with the stored papers, ``lexical``
        how the paper holds the query's words (read for short queries only)."""
        if self.is_short(query):
            mean, std = spread
            return _sigmoid(
                self.short_a * (cos - mean) / std
                + self.short_bm25 * min(lexical.bm25, SHORT_BM25_CAP)
                + self.short_coverage * lexical.coverage
                + self.short_phrase * float(lexical.phrase)
                + self.short_acronym * float(lexical.acronym)
                + self.short_b
            )
        return _sigmoid(self.a * cos + self.b)

    @property
    def reads_words(self) -> bool:
        """Whether short queries' probabilities read the lexical features."""
        words = (self.short_bm25, self.short_coverage, self.short_phrase, self.short_acronym)
        return any(words)

    def for_store(self, papers: int) -> Calibration:
        """The calibration to use over a store of ``papers`` papers: this one, or under
        MIN_SPREAD_PAPERS papers, when it reads words, short phrases scored by z alone."""
        if papers >= MIN_SPREAD_PAPERS or not self.reads_words:
            return self
        a, b, threshold = SHORT_Z_ONLY
        return replace(
            self,
            short_a=a,
            short_b=b,
            short_threshold=threshold,
            short_bm25=0.0,
            short_coverage=0.0,
            short_phrase=0.0,
            short_acronym=0.0,
        )

    def threshold(self, query: str) -> float:
        """The digest's threshold for ``query``: the best-F1 one of its kind."""
        return self.short_threshold if self.is_short(query) else THRESHOLD


BUNDLED = Calibration(
    A,
    B,
    SHORT_A,
    SHORT_B,
    SHORT_THRESHOLD,
    SHORT_BM25,
    SHORT_COVERAGE,
    SHORT_PHRASE,
    SHORT_ACRONYM,
)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-500.0, min(500.0, z))))


def query_words(query: str) -> int:
    """How many words a query has."""
    return len(query.split())


def relevance(cos: float, a: float = A, b: float = B) -> float:
    """The cosine map of long queries: calibrated probability from the cosine alone."""
    return _sigmoid(a * cos + b)


def calibration(model_name: str, model_path: Path | None = None) -> tuple[Calibration, bool]:
    """(model, calibrated) for a dense model: its own fit when its folder holds one, the
    bundled model's fit otherwise (``calibrated`` is then False for any other model). A file
    without short terms (``short_a``, ``short_b``, ``short_threshold``) maps every query by
    the cosine alone, as such files always did; one without lexical terms (``short_bm25``,
    ``short_coverage``) scores short queries by z alone."""
    if model_path is not None and (model_path / CALIBRATION_FILE).exists():
        fit = json.loads((model_path / CALIBRATION_FILE).read_text(encoding="utf-8"))
        if "short_a" in fit and "short_b" in fit:
            short = (float(fit["short_a"]), float(fit["short_b"]))
            words = ("short_bm25", "short_coverage", "short_phrase", "short_acronym")
            lexical = (float(fit.get(w, 0.0)) for w in words)
            return Calibration(
                float(fit["a"]), float(fit["b"]), *short, float(fit["short_threshold"]), *lexical
            ), True
        return Calibration(float(fit["a"]), float(fit["b"])), True
    return BUNDLED, model_name == BUNDLED_MODEL


def fit(cos: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> tuple[float, float]:
    """Logistic regression of y (1 relevant, 0 not) on cos: the (a, b) that minimise the
    weighted mean log loss."""
    from scipy.optimize import minimize

    w = np.ones_like(cos) if weight is None else weight
    w = w / w.sum()

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = params[0] * cos + params[1]
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.sum(w * (np.logaddexp(0.0, z) - y * z)))
        grad = np.array([np.sum(w * (p - y) * cos), np.sum(w * (p - y))])
        return value, grad

    result = minimize(loss, np.zeros(2), jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])


def save_calibration(model_dir: Path, a: float, b: float, **provenance: Any) -> Path:
    """Write a model folder's own fit, which ``calibration`` then prefers."""
    from sciseek.storage.files import atomic_write

    path = Path(model_dir) / CALIBRATION_FILE
    atomic_write(path, json.dumps({"a": round(a, 4), "b": round(b, 4), **provenance}) + "\n")
    return path
