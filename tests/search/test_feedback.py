import math

import numpy as np
import pytest

from sciseek.ingest.papers import Filters, Paper
from sciseek.search.engine import Engine
from sciseek.search.feedback import PRF, parse, rm3, rocchio

# Two feedback documents: A = [a, a, b, c] scored 3, B = [b, d] scored 1.
# Document weights 3/4 and 1/4; P(w|A) = a 1/2, b 1/4, c 1/4; P(w|B) = b 1/2, d 1/2.
# P(w|R): a = 1/2·3/4 = 0.375, b = 1/4·3/4 + 1/2·1/4 = 0.3125, c = 0.1875, d = 0.125.
FEEDBACK = [(["a", "a", "b", "c"], 3.0), (["b", "d"], 1.0)]
QUERY = ["a", "q"]  # P(w|Q): a = 1/2, q = 1/2


def test_rm3_matches_the_hand_computed_weights():
    got = rm3(QUERY, FEEDBACK, terms=10, query_weight=0.5)
    expected = {
        "a": 0.5 * 0.5 + 0.5 * 0.375,
        "q": 0.5 * 0.5,
        "b": 0.5 * 0.3125,
        "c": 0.5 * 0.1875,
        "d": 0.5 * 0.125,
    }
    assert got == pytest.approx(expected)
    assert sum(got.values()) == pytest.approx(1.0)


def test_rm3_keeps_the_top_terms_and_renormalises_them():
    # Top two of P(w|R): a 0.375, b 0.3125 -> renormalised 6/11 and 5/11.
    got = rm3(QUERY, FEEDBACK, terms=2, query_weight=0.3)
    assert got == pytest.approx({"a": 0.3 * 0.5 + 0.7 * 6 / 11, "q": 0.3 * 0.5, "b": 0.7 * 5 / 11})
    assert sum(got.values()) == pytest.approx(1.0)


def test_rm3_breaks_ties_by_word():
    got = rm3(["q"], [(["y", "x", "z"], 2.0)], terms=1, query_weight=0.5)
    assert got == pytest.approx({"q": 0.5, "x": 0.5})


def test_rm3_query_weight_one_is_the_query_model_and_zero_the_relevance_model():
    assert rm3(["a", "a", "q", "r"], FEEDBACK, query_weight=1.0) == pytest.approx(
        {"a": 0.5, "q": 0.25, "r": 0.25}
    )
    assert rm3(QUERY, FEEDBACK, query_weight=0.0) == pytest.approx(
        {"a": 0.375, "b": 0.3125, "c": 0.1875, "d": 0.125}
    )


def test_rm3_edge_cases():
    assert rm3([], FEEDBACK) == {}
    assert rm3(["a", "q", "q"], []) == pytest.approx({"a": 1 / 3, "q": 2 / 3})
    # Documents without terms are skipped, not counted in the document weights.
    assert rm3(["q"], [([], 5.0), (["x"], 1.0)], query_weight=0.0) == pytest.approx({"x": 1.0})
    assert rm3(["q"], [([], 5.0)]) == {"q": 1.0}
    with pytest.raises(ValueError, match="terms"):
        rm3(QUERY, FEEDBACK, terms=0)
    with pytest.raises(ValueError, match="query_weight"):
        rm3(QUERY, FEEDBACK, query_weight=1.5)


def test_rm3_handles_non_positive_scores():
    # Scores 2, 0, -2 shift to 4, 2, 0: weights 2/3, 1/3, 0 (the last document adds nothing).
    feedback = [(["x"], 2.0), (["y"], 0.0), (["z"], -2.0)]
    assert rm3(["q"], feedback, query_weight=0.0) == pytest.approx({"x": 2 / 3, "y": 1 / 3})
    # Equal scores: equal weights.
    assert rm3(["q"], [(["x"], 0.0), (["y", "y", "x"], 0.0)], query_weight=0.0) == pytest.approx(
        {"x": 0.5 * 1 + 0.5 * 1 / 3, "y": 0.5 * 2 / 3}
    )
    with pytest.raises(ValueError, match="finite"):
        rm3(["q"], [(["x"], math.nan)])


def test_rocchio_matches_the_hand_computed_vector():
    q = np.array([1.0, 0.0])
    docs = np.array([[0.0, 1.0], [0.0, 3.0]])  # mean [0, 2]; [1, 0] + 0.5·[0, 2] = [1, 1]
    got = rocchio(q, docs, alpha=1.0, beta=0.5)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [1 / math.sqrt(2), 1 / math.sqrt(2)], rtol=1e-6)
    # 3·[1, 0, 0] + 2·mean([0, 2, 0], [0, 0, 0]) = [3, 2, 0], norm √13.
    got = rocchio(np.array([1.0, 0, 0]), np.array([[0, 2.0, 0], [0, 0, 0]]), alpha=3, beta=2)
    np.testing.assert_allclose(got, np.array([3, 2, 0]) / math.sqrt(13), rtol=1e-6)


def test_rocchio_without_docs_normalises_the_query():
    got = rocchio(np.array([3.0, 4.0]), np.zeros((0, 2)))
    np.testing.assert_allclose(got, [0.6, 0.8], rtol=1e-6)
    assert got.dtype == np.float32
    with pytest.raises(ValueError, match="dimension"):
        rocchio(np.array([1.0, 0.0]), np.ones((2, 3)))


def test_prf_validation():
    assert PRF() == PRF(docs=10, terms=10, query_weight=0.5, alpha=1.0, beta=0.5)
    for kwargs, message in [
        ({"docs": 0}, "docs must be at least 1"),
        ({"terms": -1}, "terms must be at least 1"),
        ({"docs": 2.5}, "docs must be an integer"),
        ({"query_weight": 1.1}, "query_weight must be between 0 and 1"),
        ({"query_weight": -0.1}, "query_weight must be between 0 and 1"),
        ({"alpha": -1.0}, "must not be negative"),
        ({"beta": -0.5}, "must not be negative"),
        ({"alpha": 0.0, "beta": 0.0}, "must not both be 0"),
        ({"beta": math.inf}, "beta must be finite"),
    ]:
        with pytest.raises(ValueError, match=message):
            PRF(**kwargs)
    assert PRF(alpha=0.0).beta == 0.5


def test_prf_dict_round_trip():
    prf = PRF(docs=5, terms=20, query_weight=0.7, alpha=0.8, beta=0.2)
    d = prf.to_dict()
    assert d == {"docs": 5, "terms": 20, "query_weight": 0.7, "alpha": 0.8, "beta": 0.2}
    assert PRF.from_dict(d) == prf
    assert PRF.from_dict({"terms": 3}) == PRF(terms=3)
    with pytest.raises(ValueError, match="fbDocs, weight"):
        PRF.from_dict({"docs": 3, "weight": 1, "fbDocs": 2})


def test_parse():
    assert parse("") == PRF()
    assert parse("on") == PRF()
    assert parse("docs=3, terms=7,query_weight=0.25,beta=1") == PRF(
        docs=3, terms=7, query_weight=0.25, beta=1.0
    )
    assert parse("alpha=2").alpha == 2.0
    for spec, message in [
        ("docs", "key=value"),
        ("docs=", "key=value"),
        ("depth=3", "unknown PRF setting 'depth'"),
        ("docs=three", "docs must be an integer, got 'three'"),
        ("docs=1.5", "docs must be an integer"),
        ("beta=x", "beta must be a number"),
        ("docs=2,docs=3", "given twice"),
        ("query_weight=2", "between 0 and 1"),
        ("off", "key=value"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse(spec)


def test_search_weighted_boosts_terms_and_applies_filters(tmp_path):
    papers = [
        Paper("p1", "Neural ranking", "neural neural ranking", categories=["cs.IR"]),
        Paper("p2", "Graph ranking", "graph ranking methods", categories=["cs.DS"]),
        Paper("p3", "Cooking", "recipes for bread", categories=["cs.IR"]),
    ]
    with Engine.open(tmp_path / "d") as engine:
        engine.add(papers, dense=False)
        lex = engine.lexical
        rowid = {p.id: engine.store.rowid(p.id) for p in papers}
        name = {r: pid for pid, r in rowid.items()}

        def top(weights, **kw):
            return [name[r] for r, _ in lex.search_weighted(weights, **kw)]

        # Unit weights score exactly like the plain query.
        plain = lex.search("neural graph")
        weighted = lex.search_weighted({"neural": 1.0, "graph": 1.0})
        assert [r for r, _ in weighted] == [r for r, _ in plain]
        assert [s for _, s in weighted] == pytest.approx([s for _, s in plain])
        assert top({"neural": 1.0, "graph": 1.0})[0] == "p1"
        # Boosting 'graph' puts p2 first; a boost scales that term's score.
        assert top({"neural": 1.0, "graph": 5.0})[0] == "p2"
        ((r1, s1),) = lex.search_weighted({"graph": 1.0})
        ((r3, s3),) = lex.search_weighted({"graph": 3.0})
        assert r1 == r3 == rowid["p2"] and s3 == pytest.approx(3 * s1)
        # Filters still apply: p2 is cs.DS.
        assert top({"neural": 1.0, "graph": 5.0}, filters=Filters(categories=("cs.IR",))) == ["p1"]
        assert top({"graph": 1.0}, filters=Filters(categories=("cs.IR",))) == []
        # Terms are index terms as given (stemmed, lower-case), not analysed again.
        assert lex.terms("Ranking") == ["rank"]
        assert set(top({"rank": 1.0})) == {"p1", "p2"}
        assert top({"Ranking": 1.0}) == []
        # Zero and negative weights are dropped; k limits the hits.
        assert top({"neural": 0.0, "graph": -1.0}) == []
        assert top({"neural": 0.0, "graph": 1.0}) == ["p2"]
        assert top({"rank": 1.0}, k=1) in (["p1"], ["p2"])
        with pytest.raises(ValueError, match="finite"):
            lex.search_weighted({"graph": math.nan})
