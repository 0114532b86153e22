import json

import pytest

from sciseek import Engine, Filters, Paper


def ids(hits):
    return [h.paper.id for h in hits]


def test_bm25_finds_stemmed_words_and_ignores_stopwords(engine):
    hits = engine.search("the distillation of query encoders", mode="bm25")
    assert ids(hits)[0] == "2401.00001"
    assert engine.search("of the and", mode="bm25") == []


def test_search_returns_full_papers_and_scores_in_order(engine):
    hits = engine.search("retrieval", mode="bm25", k=20)
    assert len(hits) >= 4
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
    assert hits[0].to_dict()["title"] == hits[0].paper.title


def test_incremental_add_and_delete(engine):
    before = engine.stats()["lexical"]["generation"]
    engine.add([Paper("new-1", "Quantum error correction with surface codes")])
    assert ids(engine.search("surface codes", mode="bm25"))[0] == "new-1"
    engine.delete(["new-1", "2401.00002"])
    assert "new-1" not in ids(engine.search("surface codes", mode="bm25"))
    assert "2401.00002" not in ids(engine.search("reciprocal rank fusion", mode="bm25", k=50))
    stats = engine.stats()
    assert stats["papers"] == stats["lexical"]["documents"] == 11
    assert stats["lexical"]["generation"] > before and stats["lexical"]["up_to_date"]


def test_update_replaces_the_indexed_text(engine):
    engine.add([Paper("2402.00004", "Completely different topic: beekeeping")])
    assert engine.search("latent diffusion", mode="bm25") == [] or "2402.00004" not in ids(
        engine.search("latent diffusion", mode="bm25")
    )
    assert ids(engine.search("beekeeping", mode="bm25")) == ["2402.00004"]
    assert engine.stats()["lexical"]["documents"] == 12


def test_filters_are_applied_in_retrieval(engine):
    # k=2 with a filter must still return two matching papers, not a post-filtered top-2.
    f = Filters(categories=("cs.LG",))
    hits = engine.search("networks learning prediction", mode="bm25", k=2, filters=f)
    assert len(hits) == 2 and all("cs.LG" in h.paper.categories for h in hits)
    dated = engine.search(
        "retrieval", k=20, filters=Filters(date_from="2024-03-01", date_to="2024-05-07")
    )
    assert ids(dated) and all("2024-03-01" <= h.paper.published <= "2024-05-07" for h in dated)
    assert "2405.00009" in ids(dated) and "2401.00002" not in ids(dated)
    by_author = engine.search(
        "retrieval", mode="bm25", k=20, filters=Filters(authors=("Karen Sparck Jones",))
    )
    assert set(ids(by_author)) == {"2403.00005", "2405.00009"}
    by_last_name = engine.search(
        "retrieval", mode="bm25", k=20, filters=Filters(authors=("hopper",))
    )
    assert set(ids(by_last_name)) == {"2401.00002", "2404.00007"}


def test_filters_do_not_change_scores(engine):
    plain = {h.paper.id: h.score for h in engine.search("retrieval", mode="bm25", k=20)}
    filtered = engine.search("retrieval", mode="bm25", k=20, filters=Filters(categories=("cs.IR",)))
    assert all(abs(plain[h.paper.id] - h.score) < 1e-6 for h in filtered)


def test_bad_arguments(engine):
    with pytest.raises(ValueError, match="mode"):
        engine.search("x", mode="telepathy")
    with pytest.raises(ValueError, match="k must be"):
        engine.search("x", k=0)


def test_index_behind_the_store_catches_up_on_open(tmp_path, papers):
    data = tmp_path / "d"
    with Engine.open(data) as e:
        e.add(papers[:6])
        e.store.upsert(papers[6:])  # written to the store only, as after a crash
        assert e.stats()["lexical"]["up_to_date"] is False
    with Engine.open(data) as e:
        stats = e.stats()
        assert stats["lexical"]["up_to_date"] and stats["lexical"]["documents"] == 12
        assert ids(e.search("robotic grasping", mode="bm25"))[0] == "2406.00012"


def test_damaged_index_is_rebuilt_with_a_message(tmp_path, papers, capsys):
    data = tmp_path / "d"
    with Engine.open(data) as e:
        e.add(papers)
    (data / "lexical" / "meta.json").write_text("{not json")
    with Engine.open(data) as e:
        assert e.stats()["lexical"]["documents"] == 12
        assert ids(e.search("protein structure", mode="bm25"))[0] == "2403.00006"
    assert "rebuilding" in capsys.readouterr().err


def test_deleted_index_directory_is_rebuilt(tmp_path, papers):
    import shutil

    data = tmp_path / "d"
    with Engine.open(data) as e:
        e.add(papers)
    shutil.rmtree(data / "lexical")
    with Engine.open(data) as e:
        assert e.stats()["lexical"]["documents"] == 12


def test_index_for_another_store_is_rebuilt(tmp_path, papers):
    data = tmp_path / "d"
    with Engine.open(data) as e:
        e.add(papers)
    state = json.loads((data / "lexical" / "state.json").read_text())
    state["store_id"] = "someone-else"
    (data / "lexical" / "state.json").write_text(json.dumps(state))
    with Engine.open(data) as e:
        assert e.stats()["lexical"]["documents"] == 12


def test_adding_papers_indexes_only_the_changes(tmp_path):
    from sciseek.ingest.papers import paper_from_dict
    from tests.helpers import synthetic_papers

    with Engine.open(tmp_path / "d") as e:
        e.add(paper_from_dict(r) for r in synthetic_papers(1000))
        e.store.upsert(paper_from_dict(r) for r in synthetic_papers(100, start=1000))
        assert e.lexical.sync() == 100
        e.store.delete(["syn-3"])
        assert e.lexical.sync() == 1
        assert e.stats()["lexical"]["documents"] == 1099


def test_id_filter_restricts_every_mode(engine):
    f = Filters(ids=("2402.00004", "2406.00012", "missing"))
    for mode in ("bm25", "dense", "hybrid"):
        hits = engine.search("learning images robots", mode=mode, k=10, filters=f)
        assert set(ids(hits)) <= {"2402.00004", "2406.00012"} and hits, mode


def test_blank_author_and_category_filters_restrict_nothing(engine):
    blank = Filters(authors=("", "  ", "--"), categories=("", " "))
    assert not blank
    hits = engine.search("retrieval", mode="bm25", k=5, filters=blank)
    assert [h.paper.id for h in hits] == [
        h.paper.id for h in engine.search("retrieval", mode="bm25", k=5)
    ]


@pytest.mark.parametrize(
    ("mode", "compressed"),
    [("dense", False), ("hybrid", False), ("sparse", False), ("dense", True)],
)
def test_a_broad_filter_checked_on_candidates_gives_what_the_listed_one_does(
    tmp_path, papers, monkeypatch, mode, compressed
):
    import sciseek.index.vectors as vectors
    import sciseek.search.retrieval as retrieval
    from sciseek.index.encoded import CandidateFilter

    if compressed:
        monkeypatch.setattr(vectors, "COMPRESS_ABOVE", 5)
    engine = Engine.open(tmp_path / "d")
    engine.add(papers)
    assert engine.dense.compressed == compressed

    query = "neural networks for retrieval"
    filters = [
        Filters(categories=("cs.IR",)),
        Filters(date_from="2024-02-01"),
        Filters(categories=("cs.CV", "cs.IR"), date_to="2024-06-01"),
    ]
    listed = [
        [h.paper.id for h in engine.search(query, mode=mode, k=5, filters=f)] for f in filters
    ]
    monkeypatch.setattr(retrieval, "FILTER_LIST_MAX", 0)
    assert isinstance(engine._retrieval.allowed(filters[0]), CandidateFilter)
    checked = [
        [h.paper.id for h in engine.search(query, mode=mode, k=5, filters=f)] for f in filters
    ]
    assert checked == listed and all(listed)
    for f, ids in zip(filters, checked, strict=True):
        assert all(f.matches(engine.get(i)) for i in ids)
    engine.close()
