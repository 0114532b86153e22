"""Retrieval settings stored with the indexes: fusion method, retriever weights, PRF, adaptivity.

``sciseek tune`` writes them to the data dir's ``config.json``; ``Engine.open`` reads them back,
so a tuned data dir searches the way it was tuned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sciseek.errors import BadInput
from sciseek.storage.files import atomic_write

from .feedback import PRF
from .fusion import FUSIONS

CONFIG_FILE = "config.json"
RETRIEVERS = ("bm25", "dense", "sparse")
BACKENDS = ("local", "milvus")
# Chosen by measurement on the shared datasets (BENCHMARKS.md, "Fusion").
DEFAULT_FUSION = "zscore"
DEFAULT_WEIGHTS: Mapping[str, float] = {"bm25": 0.4, "dense": 0.6}


@dataclass
class Settings:
    """How hybrid search combines its retrievers."""

    fusion: str = DEFAULT_FUSION
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    prf: PRF | None = None
    # hybrid only: weights adapted to the query, author and title-name intents (``intents``)
    adaptive: bool = True
    # where BM25 and dense retrieval run: "local" (tantivy, FAISS) or "milvus" (a server)
    backend: str = "local"
    milvus_uri: str | None = None


def backend_problem(backend: str, milvus_uri: str | None) -> str | None:
    """What is wrong with a backend choice, or None when it can be used."""
    if backend not in BACKENDS:
        return f"unknown backend {backend!r}; choose {' or '.join(BACKENDS)}"
    if backend == "milvus" and not milvus_uri:
        return "the milvus backend needs a server: --milvus-uri http://HOST:PORT"
    return None


def with_backend(settings: Settings, backend: str | None, milvus_uri: str | None) -> Settings:
    """``settings`` with the retrieval backend changed; BadInput names a bad combination."""
    backend = backend or ("milvus" if milvus_uri else settings.backend)
    uri = milvus_uri or settings.milvus_uri
    problem = backend_problem(backend, uri)
    if problem:
        raise BadInput(problem)
    return replace(settings, backend=backend, milvus_uri=uri if backend == "milvus" else None)


def load_settings(data_dir: Path) -> Settings:
    """The data dir's stored settings, or the defaults; raises ValueError naming a bad file."""
    path = data_dir / CONFIG_FILE
    if not path.exists():
        return Settings()
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        method = config.get("fusion", DEFAULT_FUSION)
        if method not in FUSIONS:
            raise ValueError(f"unknown fusion {method!r}")
        weights = {str(k): float(v) for k, v in config.get("weights", {}).items()}
        if not weights or set(weights) - set(RETRIEVERS):
            raise ValueError("weights must name bm25, dense or sparse")
        prf = PRF.from_dict(config["prf"]) if config.get("prf") else None
        adaptive = config.get("adaptive", True)
        if not isinstance(adaptive, bool):
            raise ValueError("adaptive must be true or false")
        backend, uri = config.get("backend", "local"), config.get("milvus_uri")
        problem = backend_problem(backend, uri)
        if problem:
            raise ValueError(problem)
    except (ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: bad retrieval settings ({e}); fix or delete it") from None
    return Settings(method, weights, prf, adaptive, backend, uri)


def save_settings(data_dir: Path, settings: Settings, **provenance: Any) -> Path:
    """Write ``settings`` (and how they were chosen) to the data dir's config file."""
    path = data_dir / CONFIG_FILE
    config = {
        "fusion": settings.fusion,
        "weights": settings.weights,
        "prf": settings.prf.to_dict() if settings.prf else None,
        "adaptive": settings.adaptive,
        **(
            {"backend": settings.backend, "milvus_uri": settings.milvus_uri}
            if settings.backend != "local"
            else {}
        ),
        **provenance,
    }
    atomic_write(path, json.dumps(config, indent=2) + "\n")
    return path
