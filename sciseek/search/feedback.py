"""Pseudo-relevance feedback: RM3 query expansion for BM25 and Rocchio for dense vectors.

Both take the top of a first-pass ranking as if it were relevant. RM3 (Lavrenko & Croft's
relevance model, interpolated with the query as in Anserini) turns the feedback documents'
terms into a weighted bag of index terms; Rocchio moves a query embedding towards the centroid
of the feedback documents' embeddings.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

_INT_FIELDS = ("docs", "terms")
_FLOAT_FIELDS = ("query_weight", "alpha", "beta")


@dataclass(frozen=True)
class PRF:
    """Pseudo-relevance feedback settings.

    ``docs`` feedback documents are taken from the top of the first-pass ranking. RM3 keeps
    ``terms`` expansion terms and gives the original query model ``query_weight`` (Anserini's
    originalQueryWeight). Rocchio weighs the query vector by ``alpha`` and the feedback
    centroid by ``beta``.
    """

    docs: int = 10
    terms: int = 10
    query_weight: float = 0.5
    alpha: float = 1.0
    beta: float = 0.5

    def __post_init__(self) -> None:
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"PRF {name} must be an integer, got {value!r}")
            if value < 1:
                raise ValueError(f"PRF {name} must be at least 1, got {value}")
            object.__setattr__(self, name, int(value))
        for name in _FLOAT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ValueError(f"PRF {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"PRF {name} must be finite, got {value}")
            object.__setattr__(self, name, float(value))
        if not 0.0 <= self.query_weight <= 1.0:
            raise ValueError(f"PRF query_weight must be between 0 and 1, got {self.query_weight}")
        if self.alpha < 0 or self.beta < 0:
            raise ValueError(
                f"PRF alpha and beta must not be negative, got alpha={self.alpha}, beta={self.beta}"
            )
        if self.alpha == 0 and self.beta == 0:
            raise ValueError("PRF alpha and beta must not both be 0")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PRF:
        """Settings from a dict like ``to_dict``'s; missing keys take their defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown PRF setting(s): {', '.join(unknown)} "
                f"(known: {', '.join(f.name for f in fields(cls))})"
            )
        return cls(**d)


def parse(spec: str) -> PRF:
    """Settings from a string like ``"docs=10,terms=10,query_weight=0.5,beta=0.5"``.

    An empty string or ``"on"`` gives the defaults.
    """
    spec = spec.strip()
    if spec in ("", "on"):
        return PRF()
    names = [f.name for f in fields(PRF)]
    values: dict[str, Any] = {}
    for item in spec.split(","):
        key, sep, raw = (part.strip() for part in item.partition("="))
        if not sep or not key or not raw:
            raise ValueError(f"PRF setting {item.strip()!r} is not of the form key=value")
        if key not in names:
            raise ValueError(f"unknown PRF setting {key!r} (known: {', '.join(names)})")
        if key in values:
            raise ValueError(f"PRF setting {key!r} is given twice")
        try:
            values[key] = int(raw) if key in _INT_FIELDS else float(raw)
        except ValueError:
            kind = "an integer" if key in _INT_FIELDS else "a number"
            raise ValueError(f"PRF {key} must be {kind}, got {raw!r}") from None
    return PRF(**values)


def _document_weights(scores: Sequence[float]) -> list[float]:
    """Feedback document weights summing to 1, from first-pass scores."""
    if any(not math.isfinite(s) for s in scores):
        raise ValueError("feedback scores must be finite")
    lo = min(scores)
    shifted = [s - lo for s in scores] if lo <= 0 else list(scores)
    total = sum(shifted)
    if total <= 0:
        return [1.0 / len(scores)] * len(scores)
    return [s / total for s in shifted]


def rm3(
    query_terms: Sequence[str],
    feedback: Sequence[tuple[Sequence[str], float]],
    terms: int = 10,
    query_weight: float = 0.5,
) -> dict[str, float]:
    """RM3 expanded query: {term: weight}, weights summing to 1.

    ``query_terms`` are the query's index terms (repeats count); ``feedback`` holds each
    feedback document's index terms with its first-pass score. The relevance model is
    P(w|R) ∝ Σ_D P(w|D)·w_D with P(w|D) = tf/|D| and w_D the scores normalised to sum to 1;
    its top ``terms`` words (ties broken by word) are renormalised and interpolated with the
    query model P(w|Q) = count/|Q| as query_weight·P(w|Q) + (1 − query_weight)·P(w|R).
    Terms whose weight comes to 0 are left out.

    Documents without terms are skipped. When some score is zero or negative (e.g. cosine
    similarities), scores are shifted so the lowest becomes 0, so that document adds nothing;
    when all scores are equal the documents weigh the same. An empty query gives {}; no usable
    feedback gives the query model.
    """
    if terms < 1:
        raise ValueError(f"terms must be at least 1, got {terms}")
    if not 0.0 <= query_weight <= 1.0:
        raise ValueError(f"query_weight must be between 0 and 1, got {query_weight}")
    if not query_terms:
        return {}
    query_model = {w: c / len(query_terms) for w, c in Counter(query_terms).items()}
    usable = [(doc_terms, score) for doc_terms, score in feedback if len(doc_terms) > 0]
    if not usable:
        return query_model
    relevance: Counter[str] = Counter()
    weights = _document_weights([score for _, score in usable])
    for (doc_terms, _), w_d in zip(usable, weights, strict=True):
        if w_d <= 0:
            continue
        length = len(doc_terms)
        for w, tf in Counter(doc_terms).items():
            relevance[w] += tf / length * w_d
    top = sorted(relevance.items(), key=lambda item: (-item[1], item[0]))[:terms]
    total = sum(p for _, p in top)
    out = {w: query_weight * p for w, p in query_model.items()}
    for w, p in top:
        out[w] = out.get(w, 0.0) + (1.0 - query_weight) * p / total
    return {w: p for w, p in out.items() if p > 0}


def rocchio(
    query: np.ndarray, docs: np.ndarray, alpha: float = 1.0, beta: float = 0.5
) -> np.ndarray:
    """alpha·query + beta·mean(docs' rows), L2-normalised, as float32.

    With no feedback documents the query alone is normalised; a zero vector stays zero.
    """
    q = np.asarray(query, dtype=np.float64).reshape(-1)
    d = np.asarray(docs, dtype=np.float64)
    if d.size == 0:
        v = q
    else:
        d = np.atleast_2d(d)
        if d.ndim != 2 or d.shape[1] != q.shape[0]:
            raise ValueError(
                f"feedback vectors of shape {d.shape} do not match a query of dimension "
                f"{q.shape[0]}"
            )
        v = alpha * q + beta * d.mean(axis=0)
    norm = float(np.linalg.norm(v))
    if norm > 0:
        v = v / norm
    return v.astype(np.float32)
