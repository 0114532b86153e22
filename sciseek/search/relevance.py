"""Calibrated relevance: one probability scale, and one threshold, for every search result.

Raw BM25, dense and fused scores cannot be compared across queries, so a single cut-off on them
means nothing. A paper's relevance to a query is instead mapped to
P(relevant) = 1 / (1 + exp(-(a * cos + b))) of the cosine between their embeddings, a logistic
map fitted on judged query-paper pairs (`benchmarks/calibrate_threshold.py`, BENCHMARKS.md,
"Relevance threshold"); a model trained with ``sciseek train`` carries its own fit in
``sciseek-calibration.json``. Search results of any mode can be filtered on it
(``--min-score``) and digests keep only papers at or above ``THRESHOLD``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Logistic regression of judged relevance on the query-paper cosine of the bundled encoder
# (all-MiniLM-L6-v2) over the top-100 hybrid candidates of the judged queries of SciFact
# train and the CACM, CISI, MED and NPL test sets. A paper needs cosine >= 0.615 to pass.
A = 8.1043
B = -5.6023
C = 0.0
D = 0.0
MAX_WORDS = 64  # longer queries count as this long
# The threshold with the best F1 on the SciFact test judgments (same command).
THRESHOLD = 0.35
BUNDLED_MODEL = "all-MiniLM-L6-v2"
CALIBRATION_FILE = "sciseek-calibration.json"  # {"a": ..., "b": ...} in a model folder


@dataclass(frozen=True)
class Calibration:
    """P(relevant) = 1 / (1 + exp(-((a + c * s) * cos + b + d * s))), s = ln(query words).

    With c = d = 0 the probability depends on the cosine alone (the form every calibration
    file written before length terms existed holds).
    """

    a: float
    b: float
    c: float = 0.0
    d: float = 0.0

    def probability(self, cos: float, words: int) -> float:
        """Calibrated probability that a paper with cosine ``cos`` to a query of ``words``
        words is relevant to it."""
        s = math.log(min(max(words, 1), MAX_WORDS))
        z = (self.a + self.c * s) * cos + self.b + self.d * s
        return 1.0 / (1.0 + math.exp(-z))

    def cosine_for(self, p: float, words: int) -> float:
        """The cosine at which a query of ``words`` words reaches probability ``p``."""
        s = math.log(min(max(words, 1), MAX_WORDS))
        return (math.log(p / (1 - p)) - self.b - self.d * s) / (self.a + self.c * s)


BUNDLED = Calibration(A, B, C, D)


def query_words(query: str) -> int:
    """How many words a query has, the length the relevance model is conditioned on."""
    return len(query.split())


def relevance(cos: float, words: int = 1, model: Calibration = BUNDLED) -> float:
    """Calibrated probability that a paper is relevant to a query of ``words`` words, from
    their cosine."""
    return model.probability(cos, words)


def calibration(model_name: str, model_path: Path | None = None) -> tuple[Calibration, bool]:
    """(model, calibrated) for a dense model: its own fit when its folder holds one, the
    bundled model's fit otherwise (``calibrated`` is then False for any other model). A file
    without length terms (``c``, ``d``) maps the cosine alone, as such files always did."""
    if model_path is not None and (model_path / CALIBRATION_FILE).exists():
        fit = json.loads((model_path / CALIBRATION_FILE).read_text(encoding="utf-8"))
        terms = (float(fit.get(name, 0.0)) for name in ("a", "b", "c", "d"))
        return Calibration(*terms), True
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
