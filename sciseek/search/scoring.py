"""Scoring papers' relevance to a query with the dense model's calibration (``relevance``).

A paper's probability comes from its cosine with the query, and for a short query from how far
that cosine stands above the query's cosines with an evenly spread sample of stored papers and
from how well the paper holds the query's words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sciseek.index.lexical import LexicalIndex
from sciseek.index.vectors import DenseIndex
from sciseek.index.word_match import NO_MATCH, WordMatch, word_matches
from sciseek.storage.store import Store

from .relevance import MIN_SPREAD_PAPERS, SPREAD_SAMPLE, TYPICAL_SPREAD, Calibration
from .relevance import calibration as relevance_fit


class RelevanceScorer:
    """Calibrated relevance over a store and its (caught-up) dense index."""

    def __init__(
        self,
        dense: Callable[[], DenseIndex],
        lexical: Callable[[], LexicalIndex],
        store: Store,
        log: Callable[[str], None],
    ):
        self._dense = dense
        self._lexical = lexical
        self._store = store
        self._log = log
        self._model: Calibration | None = None
        self._sample: tuple[int, list[int]] = (-1, [])  # (store generation, row ids)

    def model(self) -> Calibration:
        """The calibration of the dense model in use (read once; warns if it has none), for
        the store's current size (``Calibration.for_store``)."""
        return self._fit().for_store(len(self._rowid_sample()))

    def _fit(self) -> Calibration:
        if self._model is None:
            dense = self._dense()
            model, calibrated = relevance_fit(dense.model_name, dense.model_path)
            if not calibrated:
                self._log(
                    f"warning: no relevance calibration for model {dense.model_name}; using the "
                    "bundled model's (add sciseek-calibration.json to the model folder)"
                )
            self._model = model
        return self._model

    def relevance(self, query: str, paper_ids: Sequence[str]) -> list[float | None]:
        """P(relevant) of each paper for ``query``; None for a paper without a vector yet."""
        dense = self._dense()
        model = self.model()
        rowids = {pid: self._store.rowid(pid) for pid in paper_ids}
        qvec = dense.encode_query(query)
        cos = dense.scores(qvec, [r for r in rowids.values() if r])
        short = model.is_short(query)
        spread = self.spread(qvec) if short else TYPICAL_SPREAD
        words = self._words(query, rowids) if short and model.reads_words else {}
        out: list[float | None] = []
        for pid in paper_ids:
            r = rowids[pid]
            ok = r is not None and r in cos
            lexical = words.get(r, NO_MATCH)
            out.append(model.probability(query, cos[r], spread, lexical) if ok else None)
        return out

    def _words(self, query: str, rowids: dict[str, int | None]) -> dict[int, WordMatch]:
        """{row id: WordMatch} of the papers ({paper id: row id}) that hold some of the
        query's words."""
        stored = [r for r in rowids.values() if r is not None]
        titles = {r: p.title for r, p in self._store.get_by_rowids(stored).items()}
        return word_matches(self._lexical(), query, list(rowids), titles)

    def _rowid_sample(self) -> list[int]:
        """An evenly spread sample of SPREAD_SAMPLE stored papers' row ids (all of them in a
        smaller store), drawn again only when the store changed."""
        generation = self._store.generation
        if self._sample[0] != generation:
            self._sample = (generation, self._store.rowid_sample(SPREAD_SAMPLE))
        return self._sample[1]

    def spread(self, qvec: np.ndarray) -> tuple[float, float]:
        """(mean, std) of the query's cosines with an evenly spread sample of stored papers;
        a typical spread when there are too few papers to measure it."""
        rowids = self._rowid_sample()
        if len(rowids) < MIN_SPREAD_PAPERS:
            return TYPICAL_SPREAD
        values = np.fromiter(self._dense().scores(qvec, rowids).values(), dtype=np.float64)
        if len(values) < MIN_SPREAD_PAPERS or values.std() <= 0:
            return TYPICAL_SPREAD
        return float(values.mean()), float(values.std())
