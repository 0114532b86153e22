"""Dense, sparse and hybrid retrieval with the bundled models, on the fixture papers."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sciseek import Engine, Filters, Paper
from sciseek.index.model_files import resolve_model
from sciseek.index.models import Encoder
from sciseek.index.vector_table import ModelMismatch
from tests.helpers import FIXTURES, run_sciseek

# shares almost no words with 2401.00001 ("Distilling Query Encoders ..."): BM25 misses it
PARAPHRASE = "compressing the network that embeds search requests using a bigger teacher network"


def ids(hits):
    return [h.paper.id for h in hits]


@pytest.fixture(scope="module")
def shared_engine(tmp_path_factory):
    from sciseek import read_papers

    with Engine.open(tmp_path_factory.mktemp("dense") / "data") as e:
        e.add(read_papers(FIXTURES / "papers.jsonl"))
        yield e


@pytest.mark.slow
def test_encoder_loads_offline_in_a_fresh_process():
    code = (
        "import numpy as np\n"
        "from sciseek.index.models import Encoder\n"
        "e = Encoder()\n"
        "v = e.encode_queries(['graph neural networks'])\n"
        "assert v.shape == (1, 384) and v.dtype == np.float32\n"
        "assert abs(float(np.linalg.norm(v[0])) - 1) < 1e-4\n"
        "print(e.name)\n"
    )
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME="/nonexistent",
        HTTPS_PROXY="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "all-MiniLM-L6-v2"


def test_length_sorted_document_encoding_matches_plain_encoding(papers):
    enc = Encoder()
    ours = enc.encode_documents(papers)
    texts = [f"{p.title}\n{p.abstract}" for p in papers]
    plain = enc.model.encode(texts, normalize_embeddings=True)
    assert ours.shape == (12, 384)
    # same order as the input, same vectors (up to bf16 rounding, or int8 weights, where used)
    floor = 0.98 if enc.precision == "int8" else 0.999
    assert np.all(np.sum(ours * plain, axis=1) > floor)


def test_dense_search_finds_a_paraphrase(shared_engine):
    assert ids(shared_engine.search(PARAPHRASE, mode="bm25"))[0] != "2401.00001"
    assert ids(shared_engine.search(PARAPHRASE, mode="dense"))[0] == "2401.00001"
    question = "teacher student compression of the question side in bi-encoder search"
    assert ids(shared_engine.search(question, mode="hybrid"))[0] == "2401.00001"


def test_filters_work_in_every_mode(shared_engine):
    f = Filters(categories=("q-bio.BM",), date_from="2024-01-01")
    for mode in ("bm25", "dense", "hybrid", "sparse"):
        hits = shared_engine.search("protein molecules networks", mode=mode, k=10, filters=f)
        assert hits, mode
        assert set(ids(hits)) <= {"2402.00003", "2403.00006"}, mode
    none = Filters(date_from="2030-01-01")
    for mode in ("bm25", "dense", "hybrid", "sparse"):
        assert shared_engine.search("protein", mode=mode, filters=none) == [], mode


@pytest.mark.parametrize("mode", ["bm25", "dense", "sparse", "hybrid"])
def test_exact_title_and_arxiv_id_rank_first(shared_engine, mode):
    title = "climate model downscaling with neural networks"  # case differs from the record
    assert ids(shared_engine.search(title, mode=mode))[0] == "2404.00008"
    assert ids(shared_engine.search("2406.00011", mode=mode))[0] == "2406.00011"
    assert ids(shared_engine.search("arXiv:2406.00011v2", mode=mode))[0] == "2406.00011"


def test_similar_excludes_the_paper_itself(shared_engine):
    hits = shared_engine.similar("2403.00006", k=3)
    assert len(hits) == 3 and "2403.00006" not in ids(hits)
    assert ids(hits)[0] == "2402.00003"  # proteins -> molecules, the nearest topic
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
    with pytest.raises(KeyError):
        shared_engine.similar("no-such-paper")


def test_sparse_mode_finds_expanded_terms(shared_engine):
    hits = shared_engine.search("SPLADE vocabulary expansion", mode="sparse", k=3)
    assert ids(hits)[0] == "2403.00005"


def test_incremental_add_and_delete_in_the_vector_index(engine):
    stats = engine.stats()
    assert stats["dense"]["documents"] == 12 and stats["dense"]["up_to_date"]
    engine.add(
        [
            Paper(
                "bees-1",
                "Honeybee colony collapse",
                "Pesticides and mites weaken hives of pollinating insects.",
            )
        ]
    )
    assert ids(engine.search("why are pollinators dying", mode="dense"))[0] == "bees-1"
    engine.delete(["bees-1"])
    assert "bees-1" not in ids(engine.search("why are pollinators dying", mode="dense", k=20))
    engine.add([Paper("2402.00004", "Honeybee colony collapse", "Mites weaken hives.")])
    assert ids(engine.search("why are pollinators dying", mode="dense"))[0] == "2402.00004"
    stats = engine.stats()
    assert stats["dense"]["documents"] == stats["papers"] == 12


@pytest.mark.parametrize("compressed", [False, True])
def test_all_embeddings_follow_adds_and_deletes(tmp_path, papers, monkeypatch, compressed):
    import sciseek.index.vectors as vectors

    if compressed:
        monkeypatch.setattr(vectors, "COMPRESS_ABOVE", 5)
    with Engine.open(tmp_path / "d") as e:
        e.add(papers)
        rowids, matrix = e.dense.embeddings()
        assert matrix.shape == (12, 384) and len(rowids) == 12 and not matrix.flags.writeable
        for r, v in zip(rowids, matrix, strict=True):
            assert np.array_equal(v, e.dense.vector(int(r)))
        assert e.dense.embeddings()[1] is matrix  # kept while nothing changes
        gone = e.store.rowid("2401.00001")
        e.delete(["2401.00001"])
        e.add([Paper("bees-1", "Honeybee colony collapse", "Mites weaken hives.")])
        rowids, matrix = e.dense.embeddings()
        assert gone not in rowids and e.store.rowid("bees-1") in rowids and len(matrix) == 12
        for r, v in zip(rowids, matrix, strict=True):
            assert np.array_equal(v, e.dense.vector(int(r)))


def test_embeddings_are_stored_and_not_recomputed(tmp_path, papers, monkeypatch):
    data = tmp_path / "d"
    with Engine.open(data) as e:
        e.add(papers)
    calls = []
    original = Encoder.encode_documents
    monkeypatch.setattr(
        Encoder,
        "encode_documents",
        lambda self, p, progress=None: calls.append(len(p)) or original(self, p),
    )
    with Engine.open(data) as e:
        assert ids(e.search(PARAPHRASE, mode="dense"))[0] == "2401.00001"
        e.add(papers)  # unchanged papers: nothing to encode
        e.add([Paper("one-more", "A new paper")])
    assert calls == [1]


@pytest.mark.slow
def test_another_model_is_refused_clearly(tmp_path, papers):
    data = tmp_path / "d"
    with Engine.open(data) as e:
        e.add(papers[:3])
    other = tmp_path / "other-model"
    other.symlink_to(resolve_model(None)[1], target_is_directory=True)
    with pytest.raises(ModelMismatch, match="all-MiniLM-L6-v2"):
        Engine.open(data, model=other)
    r = run_sciseek("search", "x", "--model", str(other), data_dir=data)
    assert r.returncode == 2 and "reindex" in r.stderr and "Traceback" not in r.stderr
    r = run_sciseek("search", "x", "--model", str(tmp_path / "nowhere"), data_dir=data)
    assert r.returncode == 2 and "never downloaded" in r.stderr
    r = run_sciseek("reindex", "--model", str(other), data_dir=data)
    assert r.returncode == 0, r.stderr
    r = run_sciseek("search", "graph", "--json", data_dir=data)
    assert r.returncode == 0, r.stderr
    stats = json.loads(run_sciseek("stats", "--json", data_dir=data).stdout)
    assert stats["dense"]["model"].startswith("local:") and stats["dense"]["documents"] == 3


def test_cli_similar_and_modes(cli):
    cli("index", str(FIXTURES / "papers.jsonl"))
    code, out, err = cli("similar", "2403.00006", "-k", "2", "--json")
    assert code == 0, err
    assert [h["id"] for h in json.loads(out)["hits"]][0] == "2402.00003"
    code, _, err = cli("similar", "nope")
    assert code == 2 and "no paper" in err
    for mode in ("bm25", "dense", "sparse", "hybrid"):
        code, out, err = cli("search", PARAPHRASE, "--mode", mode, "--json")
        assert code == 0, err
        assert json.loads(out)["mode"] == mode
    code, out, _ = cli(
        "search", PARAPHRASE, "--fusion", "rrf", "--weights", "bm25=0.1,dense=0.9", "--json"
    )
    assert json.loads(out)["hits"][0]["id"] == "2401.00001"
    code, _, err = cli("search", "x", "--weights", "bm25=0,dense=0")
    assert code == 2


def test_compressed_above_the_threshold_searches_filters_and_deletes(tmp_path, papers, monkeypatch):
    import sciseek.index.vectors as vectors

    monkeypatch.setattr(vectors, "COMPRESS_ABOVE", 5)
    with Engine.open(tmp_path / "d") as e:
        e.add(papers)
        assert e.dense.compressed
        assert ids(e.search(PARAPHRASE, mode="dense"))[0] == "2401.00001"
        f = Filters(categories=("cs.CV",))
        assert ids(e.search(PARAPHRASE, mode="dense", filters=f)) == ["2402.00004"]
        e.delete(["2401.00001"])
        assert "2401.00001" not in ids(e.search(PARAPHRASE, mode="dense", k=12))
        assert len(e.search(PARAPHRASE, mode="dense", k=12)) == 11


def test_many_queries_in_one_call_rank_as_each_alone(shared_engine):
    dense = shared_engine.dense
    queries = ["protein structure", "dense retrieval distillation", "graph neural networks"]
    vectors = dense.encoder.encode_queries(queries)
    allowed = np.array(sorted(r for r, _ in dense.search(vectors[0], 8)), dtype=np.int64)
    for subset in (None, allowed):
        together = dense.search_many(vectors, 5, subset)
        alone = [dense.search(v, 5, subset) for v in vectors]
        assert [[r for r, _ in run] for run in together] == [[r for r, _ in run] for run in alone]
        assert len({tuple(r for r, _ in run) for run in together}) == len(queries)
    assert dense.search_many(vectors[:0], 5) == []


def test_sparse_index_is_refused_above_its_size_and_writes_go_on(
    data_dir, monkeypatch, papers, cli
):
    from fastapi.testclient import TestClient

    from sciseek.index import sparse
    from sciseek.index.sparse import SparseRefused
    from sciseek.web.app import create_app

    with Engine.open(data_dir) as engine:
        engine.add(papers[:3])
        assert engine.search("SPLADE vocabulary expansion", mode="sparse")  # builds it
        monkeypatch.setattr(sparse, "SPARSE_MAX_PAPERS", 5)
        engine.add(papers[3:])  # past the limit: stored and indexed, the sparse index is left
        assert engine.store.count() == len(papers)
        assert ids(engine.search("SPLADE vocabulary expansion", mode="hybrid"))
        with pytest.raises(SparseRefused, match="at most 5 papers") as refused:
            engine.search("SPLADE vocabulary expansion", mode="sparse")
        assert refused.value.status == 409 and "hybrid" in str(refused.value)
        engine.delete([papers[-1].id])  # deletes go on too
        assert engine.get(papers[-1].id) is None
        with TestClient(create_app(engine)) as client:
            r = client.get("/api/search", params={"q": "SPLADE", "mode": "sparse"})
            assert r.status_code == 409 and "at most 5 papers" in r.json()["detail"]
            assert client.get("/api/search", params={"q": "SPLADE"}).status_code == 200
    code, out, err = cli("search", "SPLADE", "--mode", "sparse")
    assert code == 2 and "at most 5 papers" in err and not out
