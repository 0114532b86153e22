"""Cross-encoder re-ranking: training on toy examples, loading, scoring and re-ordering."""

import json
import os

import numpy as np
import pytest

from sciseek.index.model_files import ModelNotFound, resolve_model
from sciseek.quality.train import train_cross_encoder
from sciseek.search.rerank import Reranker

os.environ["HF_HUB_OFFLINE"] = "1"

TOPICS = [
    ("graph neural networks", "Graph neural networks pass messages between the nodes of a graph."),
    ("protein folding", "We predict how a protein folds from its amino acid sequence."),
    ("speech recognition", "Speech recognition turns spoken audio into written text."),
    ("climate models", "Climate models simulate the atmosphere and oceans to project warming."),
    ("image segmentation", "Image segmentation labels every pixel of a photo with its class."),
    ("quantum error correction", "Quantum error correction protects qubits from noise."),
    ("reinforcement learning for robots", "Robots learn to grasp objects from rewards."),
    ("machine translation", "Machine translation converts sentences into another language."),
    ("dark matter detection", "Underground detectors search for dark matter particles."),
    ("gene expression", "Gene expression profiles measure how strongly each gene is transcribed."),
    ("battery chemistry", "New lithium battery chemistry raises energy density."),
    ("earthquake prediction", "Seismic sensors are used to forecast earthquakes along faults."),
]
# each query: its own text as the positive, two other topics' texts as negatives
EXAMPLES = [
    (query, positive, [TOPICS[(i + k) % len(TOPICS)][1] for k in (1, 5)])
    for i, (query, positive) in enumerate(TOPICS)
]
TEXTS = [text for _, text in TOPICS]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: the tests share a couple of busy cores, where more threads thrash."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_thread):
    """A cross-encoder trained for 20 steps on the toy examples; the log lines it wrote."""
    lines: list[str] = []
    out = tmp_path_factory.mktemp("rerank") / "model"
    path = train_cross_encoder(
        EXAMPLES,
        out,
        epochs=20,
        batch_size=12,
        learning_rate=2e-4,
        progress=False,
        log=lines.append,
    )
    return path, lines


@pytest.fixture(scope="module")
def reranker(trained):
    return Reranker(trained[0])


@pytest.mark.slow
def test_training_saves_a_loadable_cross_encoder(trained, reranker):
    path, lines = trained
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # temp dir gone
    assert "trained 20 steps" in "\n".join(lines)
    assert reranker.path == path.resolve()
    assert reranker.name == f"local:{path.resolve()}"
    scores = reranker.score("protein folding", TEXTS)
    assert scores.dtype == np.float32 and scores.shape == (len(TEXTS),)
    assert reranker.score("protein folding", []).shape == (0,)


def test_training_ranks_positives_above_negatives(reranker):
    # an untrained head gets about a third of these right; training gets every one by a margin
    for query, positive, negatives in EXAMPLES:
        scores = reranker.score(query, [positive, *negatives])
        assert scores[0] > scores[1:].max() + 0.5, query


def test_rerank_reorders_the_head_and_keeps_the_tail(reranker):
    query = "speech recognition"
    keys = [100 + 7 * i for i in range(len(TEXTS))]
    candidates = list(zip(keys, TEXTS, strict=True))
    depth = 5
    ranked = reranker.rerank(query, candidates, depth=depth)

    assert sorted(k for k, _ in ranked) == sorted(keys)  # every candidate exactly once
    head_scores = reranker.score(query, TEXTS[:depth])
    expected = sorted(range(depth), key=lambda i: -head_scores[i])
    assert [k for k, _ in ranked[:depth]] == [keys[i] for i in expected]
    assert [s for _, s in ranked[:depth]] == pytest.approx([head_scores[i] for i in expected])
    assert [k for k, _ in ranked[depth:]] == keys[depth:]  # tail keeps its order
    scores = [s for _, s in ranked]
    assert all(a > b for a, b in zip(scores[depth - 1 :], scores[depth:], strict=False))
    assert max(scores[depth:]) < min(scores[:depth])
    assert all(isinstance(k, int) and isinstance(s, float) for k, s in ranked)


def test_rerank_edge_cases(reranker):
    candidates = list(enumerate(TEXTS[:3]))
    everything = reranker.rerank("climate models", candidates, depth=50)
    assert sorted(k for k, _ in everything) == [0, 1, 2]
    assert [s for _, s in everything] == sorted((s for _, s in everything), reverse=True)
    assert reranker.rerank("climate models", []) == []
    with pytest.raises(ValueError):
        reranker.rerank("climate models", candidates, depth=0)


def test_a_folder_without_a_model_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    for path in (tmp_path, tmp_path / "missing"):
        with pytest.raises(ModelNotFound, match="not a cross-encoder model folder"):
            Reranker(path)


def test_a_bi_encoder_folder_is_refused():
    with pytest.raises(ModelNotFound, match="not a cross-encoder"):
        Reranker(resolve_model(None)[1])


def test_a_non_empty_output_folder_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(ValueError, match="not empty"):
        train_cross_encoder(EXAMPLES, tmp_path, progress=False, log=lambda _: None)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_time_budget_stops_early_and_keeps_the_model_deterministically(tmp_path):
    runs = []
    for name in ("a", "b"):
        lines: list[str] = []
        path = train_cross_encoder(
            EXAMPLES, tmp_path / name, epochs=5, max_minutes=0, progress=False, log=lines.append
        )
        assert "trained 1 step," in "\n".join(lines) and "time budget" in "\n".join(lines)
        runs.append(Reranker(path).score("gene expression", TEXTS))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.slow
def test_cli_search_and_eval_rerank_with_the_trained_model(trained, tmp_path):
    from tests.helpers import FIXTURES, run_sciseek

    data = tmp_path / "data"
    assert run_sciseek("index", str(FIXTURES / "papers.jsonl"), data_dir=data).returncode == 0
    r = run_sciseek("search", "neural retrieval", "--json", "-k", "5", data_dir=data)
    plain = [h["id"] for h in json.loads(r.stdout)["hits"]]
    r = run_sciseek(
        "search",
        "neural retrieval",
        "--json",
        "-k",
        "5",
        "--rerank",
        str(trained[0]),
        "--rerank-depth",
        "5",
        data_dir=data,
    )
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)["hits"]
    assert sorted(h["id"] for h in hits) == sorted(plain)  # the same five, re-scored
    scores = Reranker(trained[0]).score("neural retrieval", [_fixture_text(h["id"]) for h in hits])
    # ordered by the cross-encoder (bf16 scores may differ by rounding across processes)
    assert all(a >= b - 0.05 for a, b in zip(scores, scores[1:], strict=False))
    r = run_sciseek("search", "x", "--rerank", str(tmp_path), data_dir=data)
    assert r.returncode == 2 and "not a cross-encoder model folder" in r.stderr


def _fixture_text(paper_id):
    from sciseek import read_papers
    from sciseek.index.models import document_text
    from tests.helpers import FIXTURES

    return next(
        document_text(p) for p in read_papers(FIXTURES / "papers.jsonl") if p.id == paper_id
    )
