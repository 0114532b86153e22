"""Fusion of ranked lists: normalised-score convex combination and reciprocal-rank fusion.

A *run* is a dict {key: score} from one retriever (higher is better). Normalisation maps each
run to a comparable scale before the weighted sum; a key missing from a run scores 0 after
min-max normalisation, or the run's lowest standardised score after z-score normalisation.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

FUSIONS = ("minmax", "zscore", "rrf")
RRF_K = 60

Run = Mapping[Hashable, float]


def minmax(run: Run) -> dict[Hashable, float]:
    """Scale scores to [0, 1]; a run whose scores are all equal maps to 1."""
    if not run:
        return {}
    lo, hi = min(run.values()), max(run.values())
    span = hi - lo
    return {k: (v - lo) / span if span > 0 else 1.0 for k, v in run.items()}


def zscore(run: Run) -> dict[Hashable, float]:
    """Standardise scores to mean 0, standard deviation 1 (all-equal runs map to 0)."""
    if not run:
        return {}
    values = list(run.values())
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return {k: (v - mean) / std if std > 0 else 0.0 for k, v in run.items()}


def rrf(
    runs: Sequence[Run], weights: Sequence[float] | None = None, k: int = RRF_K
) -> dict[Hashable, float]:
    """Reciprocal-rank fusion: sum over runs of weight / (k + rank), ranks from 1."""
    weights = weights or [1.0] * len(runs)
    fused: dict[Hashable, float] = {}
    for run, w in zip(runs, weights, strict=True):
        ranked = sorted(run.items(), key=lambda kv: -kv[1])
        for rank, (key, _) in enumerate(ranked, 1):
            fused[key] = fused.get(key, 0.0) + w / (k + rank)
    return fused


def fuse(
    runs: Sequence[Run],
    weights: Sequence[float] | None = None,
    method: str = "minmax",
    *,
    complete: Sequence[bool] | None = None,
) -> dict[Hashable, float]:
    """Combine runs into one {key: fused score}; ``weights`` default to equal.

    A run marked ``complete`` scored every key it can score (e.g. dense scores for every
    candidate of the other runs): a key missing from it is one it cannot score (a paper not
    encoded yet), so that key is fused over the other runs alone, their weights scaled up to
    the full weight, instead of being ranked as if the run had rejected it."""
    if method not in FUSIONS:
        raise ValueError(f"unknown fusion {method!r}; choose one of {', '.join(FUSIONS)}")
    weights = list(weights) if weights is not None else [1.0 / len(runs)] * len(runs)
    if len(weights) != len(runs):
        raise ValueError(f"{len(runs)} runs but {len(weights)} weights")
    complete = list(complete) if complete is not None else [False] * len(runs)
    if method == "rrf":
        fused = rrf(runs, weights)
        normalised: list[Mapping[Hashable, float]] = list(runs)
    else:
        norm = minmax if method == "minmax" else zscore
        normalised = [norm(r) for r in runs]
        keys = {k for r in runs for k in r}
        # absent from a run = below everything the run retrieved (0 after min-max, one standard
        # deviation under its lowest z-score), so a run with a single match still lifts it
        floors = [0.0 if method == "minmax" or not n else min(n.values()) - 1.0 for n in normalised]
        fused = {
            key: sum(
                w * n.get(key, floor)
                for w, n, floor in zip(weights, normalised, floors, strict=True)
            )
            for key in keys
        }
    if not any(complete):
        return fused
    total = sum(weights)
    for key in fused:
        unscored = [
            w for w, n, c in zip(weights, normalised, complete, strict=True) if c and key not in n
        ]
        if unscored and sum(unscored) < total:
            # what the runs that could score the key give, scaled to the full weight; the
            # floor the complete runs added for it is taken back out first
            kept = fused[key] - sum(
                w * _floor(n, method)
                for w, n, c in zip(weights, normalised, complete, strict=True)
                if c and key not in n
            )
            fused[key] = kept * total / (total - sum(unscored))
    return fused


def _floor(normalised: Mapping[Hashable, float], method: str) -> float:
    """What a key absent from a normalised run scores in it."""
    if method != "zscore" or not normalised:
        return 0.0
    return min(normalised.values()) - 1.0


def top(fused: Mapping[Hashable, float], k: int) -> list[tuple[Hashable, float]]:
    """The k best (key, score) pairs, best first; ties broken by key for stability."""
    return sorted(fused.items(), key=lambda kv: (-kv[1], str(kv[0])))[:k]
