"""Calibrated relevance: one probability scale, and one threshold, for every search result.

Raw BM25, dense and fused scores cannot be compared across queries, so a single cut-off on them
means nothing. A paper's relevance to a query is instead mapped to
P(relevant) = 1 / (1 + exp(-(a * cos + b))) of the cosine between their embeddings, a logistic
map fitted on judged query-paper pairs (`benchmarks/calibrate_threshold.py`, BENCHMARKS.md,
"Relevance threshold"). Search results of any mode can be filtered on it (``--min-score``) and
digests keep only papers at or above ``THRESHOLD``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

# Logistic regression of judged relevance on the query-paper cosine of the bundled encoder
# (all-MiniLM-L6-v2) over the top-100 hybrid candidates of the judged queries of SciFact
# train and the CACM, CISI, MED and NPL test sets. A paper needs cosine >= 0.615 to pass.
A = 8.1043
B = -5.6023
# The threshold with the best F1 on the SciFact test judgments (same command).
THRESHOLD = 0.35
BUNDLED_MODEL = "all-MiniLM-L6-v2"
CALIBRATION_FILE = "sciseek-calibration.json"  # {"a": ..., "b": ...} in a model folder


def relevance(cos: float, a: float = A, b: float = B) -> float:
    """Calibrated probability that a paper is relevant to a query, from their cosine."""
    return 1.0 / (1.0 + math.exp(-(a * cos + b)))


def calibration(model_name: str, model_path: Path | None = None) -> tuple[float, float, bool]:
    """(a, b, calibrated) for a dense model: its own fit when its folder holds one, the
    bundled model's fit otherwise (``calibrated`` is then False for any other model)."""
    if model_path is not None and (model_path / CALIBRATION_FILE).exists():
        fit = json.loads((model_path / CALIBRATION_FILE).read_text(encoding="utf-8"))
        return float(fit["a"]), float(fit["b"]), True
    return A, B, model_name == BUNDLED_MODEL
