"""Searching while the embeddings are computed in the background: partial indexes, deletes."""

import threading

import pytest

from sciseek import Engine, Paper
from sciseek.index import vector_table
from sciseek.index.vectors import DenseIndex
from tests.helpers import synthetic_papers

N = 40
CHUNK = 8


@pytest.fixture
def stepped(monkeypatch):
    """The dense encoder encodes one chunk each time the test releases it."""
    monkeypatch.setattr(vector_table, "CHUNK", CHUNK)
    gate = threading.Semaphore(0)
    real = DenseIndex._encode

    def encode(self, papers):
        assert gate.acquire(timeout=60), "the test never released the encoder"
        return real(self, papers)

    monkeypatch.setattr(DenseIndex, "_encode", encode)
    return gate


def _papers():
    return [Paper(**p) for p in synthetic_papers(N)]


def _wait_for(engine, documents, timeout=60.0):
    deadline = threading.Event()
    for _ in range(int(timeout * 20)):
        if engine.index_progress()["dense"]["documents"] >= documents:
            return
        deadline.wait(0.05)
    raise AssertionError(f"dense index never reached {documents} papers")


def test_search_during_background_encoding(tmp_path, stepped):
    with Engine.open(tmp_path / "data", background=True) as engine:
        engine.add(_papers(), dense=False)
        assert engine.search("token3", mode="bm25", k=1)[0].paper.id == "syn-3"
        engine.catch_up_in_background()
        deleted: set[str] = set()
        seen_partial = False
        for step in range(N // CHUNK):
            stepped.release()
            _wait_for(engine, CHUNK * (step + 1) - len(deleted & encoded_ids(engine)))
            gone = f"syn-{step * CHUNK + 1}"  # one paper of each chunk, some encoded already
            engine.delete([gone])
            deleted.add(gone)
            state = engine.index_progress()["dense"]
            for mode in ("bm25", "dense", "hybrid"):
                hits = engine.search("study on vision", mode=mode, k=N)
                assert hits, mode
                assert not deleted & {h.paper.id for h in hits}, mode
            if 0 < state["documents"] < N - len(deleted):
                seen_partial = True
                dense_ids = {h.paper.id for h in engine.search("vision", mode="dense", k=N)}
                assert dense_ids <= encoded_ids(engine)
                # a paper not encoded yet still comes back in hybrid, on its BM25 score alone
                late = f"syn-{N - 1}"
                assert late not in encoded_ids(engine)
                hybrid = {h.paper.id for h in engine.search("study on vision token39", k=5)}
                assert late in hybrid
        for _ in range(20):
            stepped.release()  # the deletes' catch-up passes
        assert engine.wait_for_indexes(60)
        assert seen_partial
        state = engine.index_progress()["dense"]
        assert state["up_to_date"]
        assert state["documents"] == state["papers"] == N - len(deleted)
        ids = {h.paper.id for h in engine.search("study", mode="dense", k=N)}
        assert ids == {f"syn-{i}" for i in range(N)} - deleted


def encoded_ids(engine) -> set[str]:
    return {row[0] for row in engine.dense.table.rows_since(-1)}


def test_a_large_backlog_is_not_encoded_inside_a_query(tmp_path, monkeypatch):
    from sciseek.search import indexes as engine_module

    monkeypatch.setattr(engine_module, "INLINE_CATCH_UP", 5)
    logged = []
    with Engine.open(tmp_path / "data", log=logged.append) as engine:
        engine.add(_papers()[:3])
        engine.add(_papers()[3:20], dense=False)
        hits = engine.search("study on speech token12", k=3)  # BM25 has it, dense does not
        assert hits[0].paper.id == "syn-12"
        assert engine.index_progress()["dense"]["documents"] == 3
        assert any("sciseek sync" in m for m in logged)
        engine.sync()
        assert engine.index_progress()["dense"]["documents"] == 20


def test_a_stopped_catch_up_ends_after_its_step_even_with_a_run_pending():
    import time

    from sciseek.search.catchup import BackgroundSync

    steps = []

    def work():
        for i in range(200):
            if sync.stopping():
                return
            steps.append(i)
            time.sleep(0.01)

    sync = BackgroundSync(work, log=lambda message: None)
    sync.request()
    sync.request()  # asked again while running: one more run is pending
    time.sleep(0.1)
    sync.stop()
    assert sync.wait(5)  # returns although a run was pending when it stopped
    assert 0 < len(steps) < 200
    sync.request()  # ignored once stopped
    assert not sync.running
