"""Encoder training, fusion tuning, pseudo-relevance feedback wiring and the relevance filter."""

import json
import os

import numpy as np
import pytest

from sciseek import Engine, Paper
from sciseek.index.models import document_text
from sciseek.quality.training_data import (
    Pair,
    calibration_candidates,
    cluster_batches,
    corpus_pairs,
    mine_negatives,
)
from sciseek.search.feedback import PRF
from sciseek.search.relevance import BUNDLED, TYPICAL_SPREAD, calibration, fit
from sciseek.search.settings import Settings
from tests.helpers import run_sciseek, write_jsonl

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TOPICS = {
    "proteins": "protein folding structure prediction with attention over residues",
    "climate": "climate model downscaling of precipitation extremes over regions",
    "speech": "speech recognition acoustic models for noisy low resource languages",
    "graphs": "graph neural networks message passing over molecular graphs",
    "vision": "image segmentation of cells in microscopy with convolutional networks",
    "robots": "robot grasping policies learned from demonstrations in simulation",
}


def _tiny_beir(root):
    """A BEIR-format dataset: 36 papers on 6 topics, one train and one test query per paper."""
    corpus, queries, train, test = [], [], [], []
    for t, (topic, text) in enumerate(TOPICS.items()):
        for i in range(6):
            did = f"d{t}{i}"
            corpus.append(
                {"_id": did, "title": f"{topic.title()} study {i}", "text": f"{text}, case {i}."}
            )
            queries += [
                {"_id": f"tr{t}{i}", "text": f"{topic} case {i} of {text.split()[0]}"},
                {"_id": f"te{t}{i}", "text": f"what is known about {text.split()[-1]} case {i}"},
            ]
            train.append(f"tr{t}{i}\t{did}\t1")
            test.append(f"te{t}{i}\t{did}\t1")
    root.mkdir()
    write_jsonl(root / "corpus.jsonl", corpus)
    write_jsonl(root / "queries.jsonl", queries)
    (root / "qrels").mkdir()
    header = "query-id\tcorpus-id\tscore\n"
    (root / "qrels" / "train.tsv").write_text(header + "\n".join(train) + "\n")
    (root / "qrels" / "test.tsv").write_text(header + "\n".join(test) + "\n")
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return _tiny_beir(tmp_path_factory.mktemp("beir") / "tiny")


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "tiny-model"
    r = run_sciseek(
        "train", str(tiny), "--out", str(out), "--batch-size", "8", "--epochs", "1", "--json"
    )
    assert r.returncode == 0, r.stderr
    return out, json.loads(r.stdout)


@pytest.mark.slow
def test_train_writes_a_model_that_eval_and_search_use(trained, tiny, tmp_path):
    out, summary = trained
    assert summary["pairs"] == 36 and summary["steps"] >= 4 and summary["seed"] == 42
    assert (out / "modules.json").exists()
    recorded = json.loads((out / "sciseek-training.json").read_text())
    assert recorded["command"].startswith("sciseek train") and recorded["steps"] == summary["steps"]
    # its own relevance calibration, fitted on the judged queries' candidates: relevant papers
    # have the higher cosines, so the slope is positive
    fitted = json.loads((out / "sciseek-calibration.json").read_text())
    assert fitted["a"] > 0 and fitted["queries"] == 36
    assert summary["calibration"] == {"a": fitted["a"], "b": fitted["b"]}
    model, calibrated = calibration(f"local:{out.resolve()}", out)
    assert calibrated and (model.a, model.b) == (fitted["a"], fitted["b"])

    r = run_sciseek("eval", str(tiny), "--model", str(out), "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["model"] == f"local:{out.resolve()}"
    assert result["metrics"]["ndcg@10"] > 0.3

    data = tmp_path / "data"
    r = run_sciseek("index", str(tiny / "corpus.jsonl"), "--model", str(out), data_dir=data)
    assert r.returncode == 0, r.stderr
    r = run_sciseek("search", "cells in microscopy", "--mode", "dense", "--json", data_dir=data)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["hits"][0]["id"].startswith("d4")
    r = run_sciseek("search", "cells in microscopy", "--min-score", "0.01", data_dir=data)
    assert r.returncode == 0 and "no relevance calibration" not in r.stderr

    # tuning fusion weights on the very queries the encoder learned is flagged
    args = ("--model", str(out), "--retrievers", "bm25,dense", "--step", "0.5")
    r = run_sciseek("tune", str(tiny), *args, data_dir=tmp_path / "tuned")
    assert r.returncode == 0 and "trained on tiny train" in r.stderr


@pytest.mark.slow
def test_training_is_refused_on_test_judgments_and_over_an_existing_model(trained, tiny, tmp_path):
    r = run_sciseek("train", str(tiny), "--split", "test", "--out", str(tmp_path / "m"))
    assert r.returncode == 2 and "test judgments" in r.stderr
    r = run_sciseek("train", str(tiny), "--out", str(trained[0]))
    assert r.returncode == 2 and "not empty" in r.stderr


@pytest.mark.slow
def test_unsupervised_training_from_a_paper_file(tiny, tmp_path):
    out = tmp_path / "unsup"
    r = run_sciseek(
        "train",
        "--unsupervised",
        str(tiny / "corpus.jsonl"),
        "--out",
        str(out),
        "--batch-size",
        "12",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["pairs"] == 36 and summary["merge"] == 0.5  # WiSE-FT by default
    assert (out / "model.safetensors").exists()
    assert not (out / "sciseek-calibration.json").exists()  # no judgments to fit one on


def test_calibration_fit_recovers_a_known_logistic_map():
    rng = np.random.default_rng(0)
    cos = rng.uniform(0.0, 1.0, 20_000)
    y = (rng.uniform(size=cos.size) < 1 / (1 + np.exp(-(10 * cos - 6)))).astype(float)
    a, b = fit(cos, y)
    assert a == pytest.approx(10, abs=0.6) and b == pytest.approx(-6, abs=0.4)


def test_calibration_candidates_label_judged_papers_and_skip_unknown_ones(engine, papers):
    target = papers[0]
    pairs = [
        Pair(target.title, "its text", frozenset([target.id])),
        Pair("a query judged by text only", "some relevant text"),  # no id: cannot label
    ]
    found = calibration_candidates(engine, pairs, depth=5)
    assert [q for q, _ in found] == [target.title]
    labels = dict(found[0][1])
    assert len(labels) == 5 and labels[target.id] is True and sum(labels.values()) == 1


def test_interpolate_averages_floating_point_weights():
    import torch

    from sciseek.quality.train import interpolate

    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[2.0, 4.0]]))
        model.bias.copy_(torch.tensor([1.0]))
    base = {"weight": torch.tensor([[0.0, 0.0]]), "bias": torch.tensor([3.0])}
    interpolate(model, base, 0.25)
    assert model.weight.tolist() == [[0.5, 1.0]] and model.bias.tolist() == [2.5]


@pytest.mark.slow
def test_jsonl_pairs_name_their_bad_line(tiny, tmp_path):
    data = tmp_path / "data"
    assert run_sciseek("index", str(tiny / "corpus.jsonl"), data_dir=data).returncode == 0
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [{"query": "q", "paper": "d00"}, "{oops"])
    r = run_sciseek("train", str(pairs), "--out", str(tmp_path / "m"), data_dir=data)
    assert r.returncode == 2 and "pairs.jsonl:2" in r.stderr
    assert not (tmp_path / "m").exists()


def test_corpus_pairs_are_titles_with_their_abstracts():
    papers = [
        Paper(id="a", title="A title", abstract="one two three four five six seven eight nine"),
        Paper(id="b", title="", abstract="First sentence is here. Then the rest goes on and on."),
        Paper(id="c", title="Short", abstract="too short"),
    ]
    pairs = corpus_pairs(papers)
    assert [(p.query, p.positive, p.positive_ids) for p in pairs] == [
        ("A title", "one two three four five six seven eight nine", frozenset({"a"}))
    ]


@pytest.mark.slow
def test_unsupervised_training_refuses_a_corpus_without_titles(tmp_path):
    words = " ".join(f"w{i}" for i in range(30))
    beir = tmp_path / "untitled"  # like NPL: BEIR records with empty titles
    beir.mkdir()
    write_jsonl(
        beir / "corpus.jsonl", [{"_id": f"p{i}", "title": "", "text": words} for i in range(20)]
    )
    out = tmp_path / "m"
    r = run_sciseek("train", "--unsupervised", str(beir), "--out", str(out))
    assert r.returncode == 2 and "no paper has both a title and an abstract" in r.stderr
    assert not out.exists()


def test_cluster_batches_hold_each_row_once_and_no_positive_twice():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(50, 8)).astype(np.float32)
    positives = [f"p{i % 40}" for i in range(50)]  # ten positives shared by two rows
    batches = cluster_batches(emb, positives, batch_size=8, seed=1)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(50))
    for b in batches:
        assert 1 <= len(b) <= 8
        assert len({positives[i] for i in b}) == len(b)
    assert batches == cluster_batches(emb, positives, batch_size=8, seed=1)
    assert batches != cluster_batches(emb, positives, batch_size=8, seed=1, epoch=1)


def test_mined_negatives_are_never_positives_and_are_reproducible(tiny, tmp_path):
    from sciseek import read_papers

    with Engine.open(tmp_path / "d") as engine:
        engine.add(read_papers(tiny / "corpus.jsonl"))
        texts = {p.id: document_text(p) for p in read_papers(tiny / "corpus.jsonl")}
        pairs = [
            Pair(f"{topic} study", texts[f"d{t}0"], frozenset({f"d{t}0", f"d{t}1"}))
            for t, topic in enumerate(TOPICS)
        ]
        rows = mine_negatives(engine, pairs, texts, seed=3, random_share=0.0, skip_top=0)
        assert len(rows) == len(pairs)
        for pair, (_, _, negative) in zip(pairs, rows, strict=True):
            assert negative not in {texts[i] for i in pair.positive_ids}
        assert rows == mine_negatives(engine, pairs, texts, seed=3, random_share=0.0, skip_top=0)


@pytest.mark.slow
def test_tune_stores_weights_that_search_and_eval_then_use(tiny, tmp_path):
    data = tmp_path / "data"
    r = run_sciseek(
        "tune", str(tiny), "--retrievers", "bm25,dense", "--step", "0.25", "--json", data_dir=data
    )
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr
    best = json.loads(r.stdout)
    config = json.loads((data / "config.json").read_text())
    assert config["weights"] == best["weights"] and config["fusion"] == best["fusion"]
    assert sum(best["weights"].values()) == pytest.approx(1.0)
    r = run_sciseek("eval", str(tiny), "--json", data_dir=data)
    assert json.loads(r.stdout)["weights"] == best["weights"]
    r = run_sciseek("tune", str(tiny), "--split", "test", data_dir=data)
    assert r.returncode == 2 and "test judgments" in r.stderr


def _prf_engine(tmp_path):
    engine = Engine.open(tmp_path / "prf")
    papers = [
        Paper(id="seed1", title="Zebrafish fins", abstract="zebrafish fin regeneration blastema"),
        Paper(id="seed2", title="Zebrafish hearts", abstract="zebrafish heart blastema"),
        # no query word at all, but the feedback documents' vocabulary
        Paper(id="target", title="Axolotl limbs", abstract="axolotl limb blastema blastema"),
        Paper(id="other", title="Axolotl genome", abstract="axolotl genome assembly"),
    ]
    engine.add(papers, dense=False)
    return engine


def test_rm3_feedback_retrieves_papers_sharing_the_feedback_vocabulary(tmp_path):
    with _prf_engine(tmp_path) as engine:
        plain = [h.paper.id for h in engine.search("zebrafish regeneration", mode="bm25")]
        assert "target" not in plain
        prf = Settings(prf=PRF(docs=2, terms=5, query_weight=0.5, beta=0.0))
        with Engine.open(engine.data_dir, settings=prf) as with_prf:
            expanded = [h.paper.id for h in with_prf.search("zebrafish regeneration", mode="bm25")]
        assert expanded[:2] == plain[:2] and "target" in expanded


def test_rocchio_moves_the_dense_query_towards_its_top_papers(engine):
    query = "graph neural networks"
    plain = engine.dense_query(query)
    rocchio = Settings(prf=PRF(docs=3, alpha=1.0, beta=1.0))
    with Engine.open(engine.data_dir, settings=rocchio) as with_prf:
        moved = with_prf.dense_query(query)
    top = [engine.dense.vector(r) for r, _ in engine.dense.search(plain, 3)]
    expected = plain + np.mean(top, axis=0)
    np.testing.assert_allclose(moved, expected / np.linalg.norm(expected), atol=1e-5)


def test_min_score_keeps_only_calibrated_relevant_results(engine):
    query = "graph neural networks"
    everything = engine.search(query, mode="bm25", k=20, min_score=1e-9)
    assert everything and all(h.relevance is not None for h in everything)
    qvec = engine.dense_query(query)
    for h in everything:
        cos = float(engine.dense.vector(engine.store.rowid(h.paper.id)) @ qvec)
        # a short query on a store too small to measure its spread or its words' rarity:
        # the typical spread, and z alone
        small = BUNDLED.for_store(engine.store.count())
        assert not small.reads_words
        expected = small.probability(query, cos, TYPICAL_SPREAD)
        assert h.relevance == pytest.approx(expected, abs=1e-5)
    cut = sorted(h.relevance for h in everything)[len(everything) // 2]
    kept = engine.search(query, mode="bm25", k=20, min_score=cut)
    assert {h.paper.id for h in kept} == {h.paper.id for h in everything if h.relevance >= cut}
    assert 0 < len(kept) < len(everything)


class _ReverseReranker:
    """Stands in for a cross-encoder: scores a candidate by its position, reversed."""

    name = "reverse"

    def __init__(self):
        self.seen = []

    def rerank(self, query, candidates, depth):
        self.seen.append([key for key, _ in candidates])
        head = list(candidates[:depth])[::-1]
        return [(key, float(len(head) - i)) for i, (key, _) in enumerate(head)]


def test_rerank_stage_reorders_the_top_and_keeps_the_rest(engine):
    query = "neural networks for retrieval"
    before = engine.search_ids(query, mode="bm25", k=8)
    reranker = _ReverseReranker()
    with Engine.open(engine.data_dir, reranker=reranker, rerank_depth=4) as reranked:
        after = reranked.search_ids(query, mode="bm25", k=8)
    assert [i for i, _ in after[:4]] == [i for i, _ in before[:4]][::-1]
    assert [i for i, _ in after[4:]] == [i for i, _ in before[4:8]]
    assert [s for _, s in after] == sorted((s for _, s in after), reverse=True)
    assert len(reranker.seen[0]) == 4  # only the top rerank_depth are re-scored


def test_a_bad_stored_config_is_a_clear_error(tmp_path):
    data = tmp_path / "data"
    with Engine.open(data) as engine:
        engine.save_config(
            Settings("zscore", {"bm25": 0.3, "sparse": 0.7}, PRF(docs=5)), tuned_on="hand"
        )
    with Engine.open(data) as engine:
        assert engine.weights == {"bm25": 0.3, "sparse": 0.7} and engine.prf == PRF(docs=5)
    (data / "config.json").write_text('{"weights": {"bm25": "x"}}')
    with pytest.raises(ValueError, match="config.json: bad retrieval settings"):
        Engine.open(data)
