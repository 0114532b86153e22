"""The Milvus backend against a real milvus-lite server on 127.0.0.1: the same answers as the
local indexes, writes that reach the collection, and searches that never fail during a sync."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest

from sciseek import Engine, Filters, Paper, read_papers
from sciseek.index.milvus import STATE_FILE, author_keys, filter_expression
from sciseek.search.settings import load_settings
from tests.helpers import FIXTURES

pytest.importorskip("pymilvus")

QUERIES = [
    "dense retrieval with distilled query encoders",
    "graph neural networks molecules",
    "diffusion image synthesis",
    "sparse representations inverted index",
]


def test_filters_become_milvus_expressions():
    f = Filters(
        date_from="2024-01-01",
        date_to="2024-02-29",
        categories=("cs.IR", 'odd"cat'),
        authors=("Turing",),
    )
    expr = filter_expression(f)
    assert "published >= 20240101" in expr and "published <= 20240229" in expr
    assert 'array_contains_any(categories, ["cs.IR", "odd\\"cat"])' in expr
    assert 'array_contains(authors, "turing")' in expr
    assert filter_expression(None) == "" and filter_expression(Filters()) == ""


def test_author_keys_let_a_filter_match_any_run_of_words_in_one_name():
    keys = author_keys(["Karen Sparck Jones", "A. Turing"])
    for wanted in ("karen sparck jones", "sparck jones", "jones", "turing", "a turing"):
        assert wanted in keys
    assert "karen jones" not in keys  # not consecutive
    assert "jones a" not in keys  # across two names


@pytest.fixture(scope="module")
def pair(tmp_path_factory, milvus_uri):
    """The fixture papers in a local engine and in one on the Milvus backend (a test that
    changes the second puts it back)."""
    root = tmp_path_factory.mktemp("pair")
    papers = list(read_papers(FIXTURES / "papers.jsonl"))
    with (
        Engine.open(root / "local") as local,
        Engine.open(root / "milvus", backend="milvus", milvus_uri=milvus_uri) as remote,
    ):
        local.add(papers)
        remote.add(papers)
        yield local, remote


def ids(hits) -> list[str]:
    return [h.paper.id for h in hits]


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_every_mode_answers_as_the_local_indexes_do(pair, mode):
    local, remote = pair
    assert remote.mirror is not None and remote.mirror.count() == local.store.count()
    for q in QUERIES:
        here, there = local.search(q, mode=mode, k=5), remote.search(q, mode=mode, k=5)
        assert ids(here) == ids(there), q
        if mode != "hybrid":  # same BM25 parameters and terms; the same inner products
            for a, b in zip(here, there, strict=True):
                assert b.score == pytest.approx(a.score, rel=0.02), (q, a.paper.id)


@pytest.mark.parametrize(
    "filters",
    [
        Filters(categories=("cs.IR",)),
        Filters(authors=("Turing",)),
        Filters(date_from="2024-02-01", date_to="2024-03-31"),
        Filters(categories=("cs.LG",), authors=("marie curie",)),
    ],
)
@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_filters_run_inside_milvus_with_the_local_meaning(pair, mode, filters):
    local, remote = pair
    for q in QUERIES:
        there = remote.search(q, mode=mode, k=10, filters=filters)
        assert all(filters.matches(h.paper) for h in there)
        assert set(ids(there)) == set(ids(local.search(q, mode=mode, k=10, filters=filters)))


def test_add_update_and_delete_reach_the_collection(pair):
    _, remote = pair
    mirror = remote.mirror
    before = mirror.count()
    new = Paper(
        id="2412.09999",
        title="Zeolite catalysts for ammonia cracking",
        abstract="Porous zeolite frameworks crack ammonia into hydrogen at low temperature.",
        authors=["Fritz Haber"],
        categories=["physics.chem-ph"],
        published="2024-12-01",
    )
    remote.add([new])
    assert remote.mirror.count() == before + 1
    assert ids(remote.search("zeolite ammonia", mode="bm25", k=1)) == [new.id]
    # an update replaces the text the collection scores
    remote.add(
        [
            Paper(
                **{
                    **new.to_dict(),
                    "title": "Perovskite catalysts for ammonia cracking",
                    "abstract": "Perovskite oxides crack ammonia into hydrogen.",
                }
            )
        ]
    )
    assert remote.mirror.count() == before + 1
    assert new.id not in ids(remote.search("zeolite", mode="bm25", k=5))
    assert ids(remote.search("perovskite", mode="bm25", k=1)) == [new.id]
    remote.delete([new.id])
    assert remote.mirror.count() == before
    for mode in ("bm25", "dense"):
        assert new.id not in ids(remote.search("perovskite ammonia", mode=mode, k=5))


def test_a_lost_position_refills_the_collection_and_the_backend_is_stored(
    tmp_path, papers, milvus_uri
):
    data = tmp_path / "data"
    with Engine.open(data, backend="milvus", milvus_uri=milvus_uri) as engine:
        engine.add(papers)
        engine.save_config()
        assert engine.mirror.count() == len(papers)
        name = engine.mirror.name
    # a kill between the collection's write and the position file: the file is missing
    (data / STATE_FILE).unlink()
    assert load_settings(data).backend == "milvus"  # stored: opened without options
    with Engine.open(data) as engine:
        assert engine.mirror is not None and engine.mirror.name == name
        assert engine.mirror.count() == len(papers)
        assert ids(engine.search("diffusion image synthesis", mode="bm25", k=1)) == ["2402.00004"]
    assert json.loads((data / STATE_FILE).read_text())["collection"] == name


def test_searches_during_a_sync_never_fail(tmp_path, papers, milvus_uri):
    data = tmp_path / "data"
    errors: list[BaseException] = []
    answered = 0
    done = threading.Event()
    with Engine.open(data, backend="milvus", milvus_uri=milvus_uri) as engine:
        engine.add(papers)
        mirror = engine.mirror

        def search() -> None:
            nonlocal answered
            deadline = time.monotonic() + 60
            while not done.is_set() and time.monotonic() < deadline:
                try:
                    mirror.search_text("retrieval of papers", 5)
                    answered += 1
                except BaseException as e:  # noqa: BLE001 - any failure fails the test
                    errors.append(e)
                    return

        reader = threading.Thread(target=search)
        reader.start()
        try:
            for round_ in range(5):
                batch = [
                    Paper(
                        id=f"2501.{round_:02d}{i:03d}",
                        title=f"Retrieval of papers, batch {round_} number {i}",
                        abstract="Papers retrieved while the collection is being written.",
                    )
                    for i in range(40)
                ]
                engine.add(batch)
                engine.sync_mirror()
                if round_ % 2:
                    engine.delete([p.id for p in batch[:20]])
                    engine.sync_mirror()
        finally:
            done.set()
            reader.join()
        assert not errors, errors
        assert answered > 0
        assert mirror.count() == len(papers) + 5 * 40 - 2 * 20


def test_the_web_api_and_digest_selection_run_on_the_milvus_backend(pair):
    from fastapi.testclient import TestClient

    from sciseek.digests.digest import select
    from sciseek.digests.interests import Interests
    from sciseek.web.app import create_app

    local, remote = pair
    api = TestClient(create_app(remote))
    for mode in ("bm25", "dense", "hybrid"):
        got = api.get("/api/search", params={"q": QUERIES[1], "mode": mode, "k": 5})
        assert got.status_code == 200
        assert [h["id"] for h in got.json()["hits"]] == ids(
            local.search(QUERIES[1], mode=mode, k=5)
        )
    similar = api.get("/api/papers/2402.00003/similar")
    assert similar.status_code == 200 and similar.json()["hits"]
    # a digest's candidates are an id filter: it runs inside Milvus too
    candidates = ["2402.00003", "2402.00004", "2401.00002"]
    sub = SimpleNamespace(interests=Interests(queries=("graph neural networks molecules",)))
    chosen, _ = select(remote, sub, candidates, threshold=0.0)
    assert {m.paper.id for m in chosen} <= set(candidates)
    assert chosen[0].paper.id == "2402.00003"
