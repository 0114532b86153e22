import json

import pytest

from sciseek import Engine
from sciseek.ingest.readers import UnreadableSource
from sciseek.quality.pipelines import (
    index_corpus,
    judged,
    train_model,
    trained_on,
    tune_weights,
)
from sciseek.quality.train import TRAINING_FILE
from tests.helpers import write_jsonl


def test_index_corpus_adds_good_papers_and_warns_about_bad_ones(tmp_path):
    source = write_jsonl(
        tmp_path / "papers.jsonl",
        [{"id": "a", "title": "Alpha"}, "oops", {"id": "b", "title": "B"}],
    )
    warnings = []
    with Engine.open(tmp_path / "data") as engine:
        assert index_corpus(engine, source, dense=False, on_error=warnings.append) == 2
        assert engine.store.count() == 2
    assert [w.line for w in warnings] == [2]


def test_trained_on_reads_the_recorded_training_data(tmp_path):
    assert trained_on(tmp_path) is None
    (tmp_path / TRAINING_FILE).write_text(json.dumps({"data": judged("scifact", "train")}))
    assert trained_on(tmp_path) == "judged (scifact train)"


def test_train_model_refuses_sources_without_training_data(tmp_path):
    with pytest.raises(UnreadableSource, match="no such file"):
        train_model(tmp_path / "missing", tmp_path / "m", tmp_path / "data")
    untitled = write_jsonl(tmp_path / "untitled.jsonl", [{"id": "x", "title": "Short"}])
    with pytest.raises(UnreadableSource, match="title -> abstract"):
        train_model(untitled, tmp_path / "m", tmp_path / "data", unsupervised=True)
    assert not (tmp_path / "m").exists()


def test_tune_weights_refuses_the_test_split_and_bad_steps(tmp_path):
    with Engine.open(tmp_path / "data") as engine:
        with pytest.raises(ValueError, match="test judgments"):
            tune_weights(engine, None, "test")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="step"):
            tune_weights(engine, None, "train", step=0.9)  # type: ignore[arg-type]
