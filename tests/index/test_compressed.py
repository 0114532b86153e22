"""The compressed dense index: exact top-k after rescoring, changes in place, its snapshot
across processes, kills and damage."""

import signal
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

from sciseek import Paper
from sciseek.index.vectors import DenseIndex
from sciseek.storage.store import Store

DIM = 384
CENTRES = np.random.default_rng(3).normal(size=(40, DIM)).astype(np.float32)


def vector(paper: Paper) -> np.ndarray:
    """A clustered unit vector decided by the paper's id and abstract (an edit moves it)."""
    seed = zlib.crc32(f"{paper.id}|{paper.abstract}".encode())
    rng = np.random.default_rng(seed)
    v = CENTRES[seed % len(CENTRES)] + rng.normal(0, 0.6, DIM).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32)


def encode(papers: list[Paper]) -> list[tuple[None, bytes]]:
    return [(None, vector(p).tobytes()) for p in papers]


def corpus(n: int, start: int = 0) -> list[Paper]:
    return [Paper(f"p{i}", f"Paper {i}", f"abstract {i}") for i in range(start, start + n)]


def open_dense(data, store, log=None):
    return DenseIndex(data / "dense", store, compressed=True, log=log or (lambda m: None))


def exact_top(store: Store, queries: np.ndarray, k: int) -> list[list[int]]:
    """Each query's top-k row ids by exact inner product over the store's current papers."""
    rows = store.get_by_rowids(list(range(1, 100_000)))
    ids = np.array(sorted(rows), dtype=np.int64)
    matrix = np.stack([vector(rows[int(r)]) for r in ids])
    return [ids[np.argsort(-(matrix @ q), kind="stable")[:k]].tolist() for q in queries]


def queries(n: int = 20) -> np.ndarray:
    rng = np.random.default_rng(11)
    q = CENTRES[rng.integers(0, len(CENTRES), n)] + rng.normal(0, 0.6, (n, DIM))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def caught_up(dense: DenseIndex) -> DenseIndex:
    dense.table.sync(encode)
    dense.refresh()
    return dense


@pytest.fixture
def built(tmp_path):
    store = Store(tmp_path / "sciseek.db")
    store.upsert(corpus(3000))
    return tmp_path, store


def test_rescored_candidates_give_the_exact_top_k_and_scores(built):
    data, store = built
    dense = caught_up(open_dense(data, store))
    assert dense.compressed and dense.rebuilds == 1
    qs = queries()
    found = dense.search_many(qs, 10)
    assert [[r for r, _ in hits] for hits in found] == exact_top(store, qs, 10)
    rows = store.get_by_rowids([r for r, _ in found[0]])
    for r, score in found[0]:
        assert score == pytest.approx(float(vector(rows[r]) @ qs[0]), abs=1e-5)


def test_adds_updates_and_deletes_change_it_in_place_and_reopen_from_the_snapshot(built):
    data, store = built
    dense = caught_up(open_dense(data, store))
    store.upsert(corpus(500, start=3000))
    store.upsert([Paper("p7", "Paper 7", "rewritten abstract")])  # same row id, new vector
    store.delete([f"p{i}" for i in range(100, 400)])
    caught_up(dense)
    assert dense.rebuilds == 1  # the first build only
    qs = queries()
    truth = exact_top(store, qs, 10)
    assert [[r for r, _ in h] for h in dense.search_many(qs, 10)] == truth
    assert dense._ann.ntotal == store.count() == 3200

    again = caught_up(open_dense(data, store))
    assert again.compressed and again.rebuilds == 0
    assert [[r for r, _ in h] for h in again.search_many(qs, 10)] == truth


def test_filters_search_inside_the_allowed_papers(built):
    data, store = built
    dense = caught_up(open_dense(data, store))
    qs = queries(5)
    for allowed in (np.arange(1, 3001, 2), np.arange(1, 3001, 97)):  # wide, and exact-sized
        top = exact_top(store, qs, 3000)
        wanted = [[r for r in t if r in set(allowed.tolist())][:10] for t in top]
        assert [[r for r, _ in h] for h in dense.search_many(qs, 10, allowed)] == wanted


KILLED_WHILE_SAVING = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import faiss
    from tests.index import test_compressed as t
    from sciseek.index import vectors
    from sciseek.storage.store import Store

    data = Path(sys.argv[1])
    store = Store(data / "sciseek.db")
    store.upsert(t.corpus(700, start=5000))
    store.delete(["p1", "p2", "p3"])
    dense = t.open_dense(data, store)

    def write_half(index, path):
        with open(path, "wb") as f:
            f.write(b"half a faiss file")
        os.kill(os.getpid(), signal.SIGKILL)

    faiss.write_index = write_half
    vectors.SAVE_AFTER = 1
    dense._encode = t.encode
    dense.sync()  # commits the new chunks, then is killed writing the snapshot
    """
)


def test_a_kill_while_saving_leaves_a_snapshot_that_catches_up(built):
    data, store = built
    caught_up(open_dense(data, store))
    r = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_SAVING, str(data)], capture_output=True, text=True
    )
    assert r.returncode == -signal.SIGKILL, r.stderr
    store = Store(data / "sciseek.db")
    dense = open_dense(data, store)
    dense.refresh()
    assert dense.rebuilds == 0  # the previous snapshot, plus the committed chunks after it
    assert dense._ann.ntotal == store.count() == 3697
    qs = queries()
    assert [[r for r, _ in h] for h in dense.search_many(qs, 10)] == exact_top(store, qs, 10)


def test_a_damaged_snapshot_is_rebuilt_with_a_message(built):
    data, store = built
    caught_up(open_dense(data, store))
    (snapshot,) = (data / "dense").glob("ann-*.faiss")
    snapshot.write_bytes(snapshot.read_bytes()[:1000])
    said = []
    dense = open_dense(data, store, log=said.append)
    dense.refresh()
    assert dense.rebuilds == 1 and any("unusable" in m and "rebuilding" in m for m in said)
    qs = queries()
    assert [[r for r, _ in h] for h in dense.search_many(qs, 10)] == exact_top(store, qs, 10)
