"""A TF-IDF matrix of every stored paper's title and abstract, built once per process.

The vocabulary and weights follow arxiv-sanity: word unigrams and bigrams, English stopwords
removed, sublinear term frequency, L2-normalised rows, at most ``MAX_FEATURES`` terms, and on a
corpus of at least ``LARGE_CORPUS`` papers only terms in 5 or more papers and at most 10 % of
them. The matrix is kept per store and follows the store's changes: papers written since it was
built are transformed with the fitted vocabulary and replace their old rows, deleted papers are
dropped, and the vocabulary is fitted again once more than ``REFIT_SHARE`` of the rows changed.
On the 74,728 arXiv papers it holds 6.9 M non-zeros (about 85 MB as float64, the type liblinear
reads; building it takes 1.3 GB more memory at its peak) and takes 35-65 s to build on a 2-core
CPU (benchmarks/recommend.py measures it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from sciseek.index.models import document_text
from sciseek.storage.store import Store

MAX_FEATURES = 20_000
LARGE_CORPUS = 1_000  # below it every term counts (a small library has few repeated terms)
REFIT_SHARE = 0.2
_BATCH = 2_000


@dataclass
class TfidfMatrix:
    """Rows of TF-IDF weights of the stored papers: ``matrix[i]`` is paper ``rowids[i]``."""

    rowids: np.ndarray  # (n,) store row ids, ascending
    ids: list[str]  # paper ids, aligned with rowids
    matrix: sparse.csr_matrix  # (n, terms), float64
    vectorizer: TfidfVectorizer
    generation: int  # the store generation reflected
    fitted_rows: int  # rows when the vocabulary was fitted

    def rows(self, rowids: np.ndarray) -> np.ndarray:
        """Positions in the matrix of the given row ids (-1 for papers it does not hold)."""
        pos = np.searchsorted(self.rowids, rowids)
        pos = np.minimum(pos, max(len(self.rowids) - 1, 0))
        found = len(self.rowids) > 0
        hit = (self.rowids[pos] == rowids) if found else np.zeros(len(rowids), dtype=bool)
        return np.where(hit, pos, -1)


def _vectorizer(n: int) -> TfidfVectorizer:
    large = n >= LARGE_CORPUS
    return TfidfVectorizer(
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
        max_features=MAX_FEATURES,
        norm="l2",
        sublinear_tf=True,
        min_df=5 if large else 1,
        max_df=0.1 if large else 1.0,
        dtype=np.float64,
    )


def _papers(store: Store, since: int) -> tuple[list[int], list[str], list[str]]:
    rowids, ids, texts = [], [], []
    for batch in store.iter_batches(_BATCH, since=since):
        for rowid, _, paper in batch:
            rowids.append(rowid)
            ids.append(paper.id)
            texts.append(document_text(paper))
    return rowids, ids, texts


def _build(store: Store) -> TfidfMatrix:
    generation = store.generation
    rowids, ids, texts = _papers(store, 0)
    vectorizer = _vectorizer(len(texts))
    if texts:
        try:
            matrix = sparse.csr_matrix(vectorizer.fit_transform(texts), dtype=np.float64)
        except ValueError:  # no term survives (texts without words)
            matrix = sparse.csr_matrix((len(texts), 0), dtype=np.float64)
    else:
        matrix = sparse.csr_matrix((0, 0), dtype=np.float64)
    return TfidfMatrix(
        np.array(rowids, dtype=np.int64), ids, matrix, vectorizer, generation, len(rowids)
    )


def _update(old: TfidfMatrix, store: Store) -> TfidfMatrix:
    generation = store.generation
    changed = store.changed_count(old.generation)
    gone = set(store.deleted_since(old.generation))
    if (changed + len(gone)) > REFIT_SHARE * max(old.fitted_rows, 1) or old.matrix.shape[1] == 0:
        return _build(store)
    rowids, ids, texts = _papers(store, old.generation)
    dropped = gone | set(ids)  # deleted, or written again (a re-added paper has a new row id)
    keep = np.array([i not in dropped for i in old.ids], dtype=bool)
    new = sparse.csr_matrix(old.vectorizer.transform(texts), dtype=np.float64)
    all_rowids = np.concatenate([old.rowids[keep], np.array(rowids, dtype=np.int64)])
    all_ids = [i for i, k in zip(old.ids, keep, strict=True) if k] + ids
    matrix = sparse.vstack([old.matrix[keep], new], format="csr")
    order = np.argsort(all_rowids, kind="stable")
    return TfidfMatrix(
        all_rowids[order],
        [all_ids[i] for i in order],
        matrix[order],
        old.vectorizer,
        generation,
        old.fitted_rows,
    )


_cache: dict[tuple[str, str], TfidfMatrix] = {}
_lock = threading.Lock()


def corpus_matrix(store: Store) -> TfidfMatrix:
    """The TF-IDF matrix of every paper in the store, up to its current generation (built the
    first time, then updated; kept for the life of the process)."""
    key = (str(store.path.resolve()), store.store_id)
    with _lock:
        cached = _cache.get(key)
        if cached is None:
            cached = _build(store)
        elif cached.generation != store.generation:
            cached = _update(cached, store)
        _cache[key] = cached
        return cached
