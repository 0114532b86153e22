"""Recommendations from saved papers, on the fixture papers with the bundled encoder."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sciseek import Engine, Filters, Paper, read_papers
from sciseek.errors import BadInput
from sciseek.library import tfidf
from sciseek.library.recommend import (
    DEFAULT_METHOD,
    METHODS,
    InvalidRecommendation,
    fit_tag_model,
    recommend,
)
from sciseek.search import indexes
from tests.helpers import FIXTURES, synthetic_papers

IR = "2401.00001"  # Distilling Query Encoders for Efficient Dense Retrieval
DIFFUSION = "2402.00004"  # Diffusion Models for High Resolution Image Synthesis
SPARSE = "2403.00005"  # Learned Sparse Representations for First-Stage Retrieval
PRF = "2405.00009"  # Pseudo-Relevance Feedback for Neural Retrieval


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with Engine.open(tmp_path_factory.mktemp("rec") / "data", log=lambda m: None) as e:
        e.add(read_papers(FIXTURES / "papers.jsonl"))
        yield e


@pytest.fixture(scope="module")
def stored(shared):
    return {p.id: p for batch in shared.store.iter_batches() for _, _, p in batch}


def ids(recs):
    return [r.paper.id for r in recs]


def cosine(engine, a: str, b: str) -> float:
    va = engine.dense.vector(engine.store.rowid(a))
    vb = engine.dense.vector(engine.store.rowid(b))
    return float(va @ vb)


def test_default_method_is_one_of_the_methods():
    assert DEFAULT_METHOD in METHODS


@pytest.mark.parametrize("method", ["centroid", "linear"])
def test_a_saved_papers_nearest_neighbour_comes_first(shared, method):
    nearest = shared.similar(IR, 1)[0].paper.id
    recs = recommend(shared, [IR], k=3, method=method)
    assert recs[0].paper.id == nearest
    assert recs[0].because == IR


def test_because_names_the_nearest_positive(shared):
    positives = [IR, DIFFUSION]
    near_ir, near_diffusion = (shared.similar(p, 1)[0].paper.id for p in positives)
    recs = {r.paper.id: r for r in recommend(shared, positives, k=4, method="linear")}
    assert recs[near_ir].because == IR
    assert recs[near_diffusion].because == DIFFUSION
    for method in METHODS:
        for r in recommend(shared, positives, k=6, method=method):
            expected = max(positives, key=lambda p, r=r: cosine(shared, p, r.paper.id))
            assert r.because == expected, (method, r.paper.id)


@pytest.mark.parametrize("method", METHODS)
def test_a_negative_pushes_its_neighbours_down(shared, method):
    neighbour = next(h.paper.id for h in shared.similar(SPARSE, 3) if h.paper.id != IR)
    without = ids(recommend(shared, [IR], k=20, method=method))
    marked = ids(recommend(shared, [IR], [SPARSE], k=20, method=method))
    assert SPARSE in without and SPARSE not in marked
    assert neighbour in without
    assert neighbour not in marked or marked.index(neighbour) > without.index(neighbour)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_k_distinct_papers_none_of_the_positives(shared, method):
    positives = [IR, SPARSE]
    recs = recommend(shared, positives, k=5, method=method)
    assert len(recs) == 5
    assert len(set(ids(recs))) == 5
    assert not set(ids(recs)) & set(positives)
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True)
    assert all(r.because in positives for r in recs)


@pytest.mark.parametrize("method", METHODS)
def test_exclude_filters_and_excluded_categories_hold(shared, stored, method):
    papers = stored
    nearest = shared.similar(IR, 1)[0].paper.id
    recs = recommend(shared, [IR], k=20, exclude=[nearest], method=method)
    assert nearest not in ids(recs)
    assert len(recs) == len(papers) - 2  # every other paper, less the positive and the excluded

    only_ir = recommend(shared, [IR], k=10, filters=Filters(categories=("cs.IR",)), method=method)
    assert only_ir and all("cs.IR" in r.paper.categories for r in only_ir)
    assert len(only_ir) == sum("cs.IR" in p.categories for p in papers.values()) - 1

    dated = recommend(shared, [IR], k=10, filters=Filters(date_from="2024-04-01"), method=method)
    assert dated and all(r.paper.published >= "2024-04-01" for r in dated)

    no_cl = recommend(shared, [IR], k=10, exclude_categories={"cs.CL", "cs.LG"}, method=method)
    expected = [
        p for p in papers.values() if p.id != IR and not {"cs.CL", "cs.LG"} & set(p.categories)
    ]
    assert sorted(ids(no_cl)) == sorted(p.id for p in expected)
    # the retrieval papers nearest to a retrieval paper excluded, the next ones fill the list
    no_ir = recommend(shared, [IR], k=3, exclude_categories={"cs.IR"}, method=method)
    assert len(no_ir) == 3 and not any("cs.IR" in r.paper.categories for r in no_ir)


def test_author_filter_holds(shared):
    recs = recommend(shared, [IR], k=10, filters=Filters(authors=("Alan Turing",)))
    assert recs and all("Alan Turing" in r.paper.authors for r in recs)


@pytest.mark.parametrize("method", METHODS)
def test_threshold_is_on_the_models_score_scale(shared, stored, method):
    papers = stored
    retrieval = [p.id for p in papers.values() if "cs.IR" in p.categories]
    held_out = PRF
    model = fit_tag_model(shared, [p for p in retrieval if p != held_out], method=method)
    scores = model.score(list(papers))
    assert set(scores) == set(papers)
    assert model.method == method
    if method != "tfidf-svm":  # twelve papers share too few words for the lexical model
        # the left-out paper of the tag's topic passes; a paper far from it does not
        assert scores[held_out] > model.threshold > scores[DIFFUSION]
    # and it sits among the scores: most of the tag's own papers are above it
    own = [scores[p] for p in model.positives]
    assert min(scores.values()) < model.threshold < max(scores.values())
    assert np.mean([s > model.threshold for s in own]) >= 0.5


def test_threshold_with_a_single_positive_lets_some_papers_through(shared, stored):
    model = fit_tag_model(shared, [IR])
    scores = model.score([p for p in stored if p != IR])
    assert 0 < sum(s >= model.threshold for s in scores.values()) <= 20


def test_tag_model_scores_agree_with_recommend(shared):
    model = fit_tag_model(shared, [IR, SPARSE], method="linear")
    recs = recommend(shared, [IR, SPARSE], k=4, method="linear")
    scores = model.score(ids(recs) + ["no-such-paper"])
    assert "no-such-paper" not in scores
    for r in recs:
        assert scores[r.paper.id] == pytest.approx(r.score, abs=1e-5)


@pytest.mark.parametrize("positives", [[], ["no-such-paper"]])
def test_no_positives(shared, positives):
    if not positives:
        with pytest.raises(BadInput, match="no positive papers"):
            recommend(shared, positives)
        with pytest.raises(BadInput, match="no positive papers"):
            fit_tag_model(shared, positives)
    else:  # papers that are not (or no longer) in the index: nothing to learn from
        assert recommend(shared, positives) == []
        with pytest.raises(BadInput, match="embedding"):
            fit_tag_model(shared, positives)


def test_bad_arguments_are_bad_input(shared):
    with pytest.raises(InvalidRecommendation, match="unknown recommendation method"):
        recommend(shared, [IR], method="magic")
    with pytest.raises(InvalidRecommendation, match="sequences of paper ids"):
        recommend(shared, IR)
    with pytest.raises(BadInput, match="k must be"):
        recommend(shared, [IR], k=0)


@pytest.mark.parametrize("method", METHODS)
def test_deterministic_for_a_seed(shared, method):
    first = recommend(shared, [IR, PRF], [DIFFUSION], k=6, method=method, seed=7)
    again = recommend(shared, [IR, PRF], [DIFFUSION], k=6, method=method, seed=7)
    assert [(r.paper.id, r.score, r.because) for r in first] == [
        (r.paper.id, r.score, r.because) for r in again
    ]
    t1 = fit_tag_model(shared, [IR, PRF, SPARSE], method=method, seed=7).threshold
    assert fit_tag_model(shared, [IR, PRF, SPARSE], method=method, seed=7).threshold == t1


def test_unencoded_papers_are_skipped(tmp_path, papers, monkeypatch):
    monkeypatch.setattr(indexes, "INLINE_CATCH_UP", 0)  # a query leaves the backlog alone
    with Engine.open(tmp_path / "data", log=lambda m: None) as engine:
        engine.add(papers)
        engine.add([replace(papers[3], id="late-paper")], dense=False)
        recs = recommend(engine, [IR], k=20, method="tfidf-svm")
        assert "late-paper" not in ids(recs) and len(recs) == len(papers) - 1
        assert recommend(engine, ["late-paper"]) == []


def test_tfidf_matrix_follows_the_store(tmp_path, stored):
    papers = stored
    with Engine.open(tmp_path / "data", log=lambda m: None) as engine:
        engine.add(list(papers.values())[:6], dense=False)
        first = tfidf.corpus_matrix(engine.store)
        assert first.ids == sorted(first.ids, key=engine.store.rowid) and len(first.ids) == 6
        assert tfidf.corpus_matrix(engine.store) is first  # cached while nothing changes
        engine.add(list(papers.values())[6:7], dense=False)
        engine.delete([first.ids[0]])
        second = tfidf.corpus_matrix(engine.store)
        assert len(second.ids) == 6 and first.ids[0] not in second.ids
        assert list(papers)[6] in second.ids
        assert second.matrix.shape[0] == 6 and list(second.rowids) == sorted(second.rowids)
        row = second.rows(np.array([engine.store.rowid(list(papers)[6])]))[0]
        assert row >= 0 and second.matrix[row].nnz > 0


def synthetic(n: int, start: int = 0) -> list[Paper]:
    return [Paper(**r) for r in synthetic_papers(n, start)]


def test_tfidf_matrix_transforms_a_few_changed_papers_with_its_vocabulary(tmp_path):
    with Engine.open(tmp_path / "data", log=lambda m: None) as engine:
        engine.add(synthetic(40), dense=False)
        first = tfidf.corpus_matrix(engine.store)
        engine.add(synthetic(1, 40), dense=False)
        second = tfidf.corpus_matrix(engine.store)
        assert second.vectorizer is first.vectorizer  # not fitted again for one paper
        assert len(second.ids) == 41 and second.ids[-1] == "syn-40"
        row = second.rows(np.array([engine.store.rowid("syn-40")]))[0]
        assert second.matrix[row].nnz > 0
        engine.add(synthetic(20, 41), dense=False)
        assert tfidf.corpus_matrix(engine.store).vectorizer is not first.vectorizer
