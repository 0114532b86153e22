"""Cross-encoder re-ranking: a query and a candidate text read together, scored as one pair.

A ``Reranker`` re-scores the head of a first-stage ranking (BM25, dense or hybrid) with a local
sentence-transformers ``CrossEncoder`` folder (``sciseek.train.train_cross_encoder`` makes one
from judged pairs). Models are never downloaded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sciseek.index.model_files import ModelNotFound
from sciseek.index.models import (
    native_bf16,
    quiet_sentence_transformers,
    quiet_transformers,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

MAX_LENGTH = 256  # tokens of query + text the cross-encoder reads
BATCH_SIZE = 32


def _check_cross_encoder_folder(path: Path) -> None:
    """Raises ModelNotFound unless ``path`` holds a sequence-classification model."""
    config = path / "config.json"
    if not path.is_dir() or not config.exists():
        raise ModelNotFound(
            f"{path}: not a cross-encoder model folder (no config.json); "
            "models are never downloaded"
        )
    try:
        architectures = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, ValueError, AttributeError):
        raise ModelNotFound(f"{path}: config.json is unreadable") from None
    if architectures and not any(a.endswith("ForSequenceClassification") for a in architectures):
        raise ModelNotFound(
            f"{path}: a {architectures[0]} model, not a cross-encoder "
            "(train one with train_cross_encoder)"
        )


class Reranker:
    """A sentence-transformers cross-encoder on the CPU, loaded offline from a local folder."""

    def __init__(self, path: str | Path):
        import torch
        from sentence_transformers.cross_encoder import CrossEncoder

        folder = Path(path).expanduser().resolve()
        _check_cross_encoder_folder(folder)
        quiet_transformers()
        try:
            with quiet_sentence_transformers():
                self.model = CrossEncoder(
                    str(folder), device="cpu", local_files_only=True, max_length=MAX_LENGTH
                )
        except (OSError, ValueError, RuntimeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelNotFound(f"{folder}: cannot load the cross-encoder: {first}") from None
        self.path: Path = folder
        self.name: str = f"local:{folder}"
        self.precision = "bf16" if native_bf16() else "fp32"
        self._identity = torch.nn.Identity()

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Float32 relevance scores (raw logits, higher is more relevant), one per text."""
        import torch

        if not texts:
            return np.zeros(0, dtype=np.float32)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            scores = self.model.predict(
                [(query, t) for t in texts],
                batch_size=BATCH_SIZE,
                activation_fn=self._identity,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return np.asarray(scores, dtype=np.float32).reshape(len(texts))

    def rerank(
        self, query: str, candidates: Sequence[tuple[int, str]], depth: int = 50
    ) -> list[tuple[int, float]]:
        """(key, score) for every candidate, best first.

        ``candidates`` are (key, text) in first-stage order. The first ``depth`` of them are
        re-ordered by cross-encoder score (ties keep their first-stage order) and carry that
        score; the rest follow in their original order with made-up scores strictly below the
        lowest cross-encoder score and strictly decreasing (between 1 and 2 below it), so the
        whole list stays sorted by score, descending.
        """
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        head = list(candidates[:depth])
        tail = list(candidates[depth:])
        if not head:
            return []
        scores = self.score(query, [text for _, text in head])
        order = np.argsort(-scores, kind="stable")
        ranked = [(head[i][0], float(scores[i])) for i in order]
        floor = float(scores.min()) - 1.0
        ranked += [(key, floor - i / len(tail)) for i, (key, _) in enumerate(tail)]
        return ranked
