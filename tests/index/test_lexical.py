"""The BM25 index: its word-match features (``LexicalIndex.matches``) on hand-made papers, its
background warm-up and its reader reloads."""

import math

import pytest

from sciseek import Engine, Paper


def paper(pid: str, title: str, abstract: str) -> Paper:
    return Paper(pid, title, abstract, published="2026-01-01")


@pytest.fixture
def engine(tmp_path):
    with Engine.open(tmp_path / "data") as e:
        e.add(
            [
                paper("all", "Mixture of experts routing", "Experts share one gate."),
                paper("twice", "Mixture of experts", "A mixture of many experts, experts."),
                paper("half", "Experts in chess", "How grandmasters choose a move."),
                paper("none", "Sourdough fermentation", "Yeast and bacteria at low heat."),
                *[paper(f"bg{i}", f"Background {i}", "Nothing of note here.") for i in range(6)],
            ]
        )
        yield e


def test_coverage_is_the_idf_share_of_the_terms_a_paper_holds(engine):
    lexical = engine.lexical
    rows = {pid: engine.store.rowid(pid) for pid in ("all", "twice", "half", "none")}
    found = lexical.matches("mixture of experts", list(rows))  # paper ids in, row ids out
    assert found[rows["all"]][1] == pytest.approx(1.0)
    assert found[rows["twice"]][1] == pytest.approx(1.0)
    assert rows["none"] not in found  # holds no term: left out
    # "half" holds "expert" only: its share of the two terms' IDF
    n, df = engine.store.count(), {"mixtur": 2, "expert": 3}
    idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
    assert found[rows["half"]][1] == pytest.approx(idf["expert"] / sum(idf.values()))


def test_bm25_share_grows_with_the_terms_and_their_repetitions(engine):
    rows = {pid: engine.store.rowid(pid) for pid in ("all", "twice", "half")}
    found = engine.lexical.matches("mixture of experts", list(rows))
    bm25 = {pid: found[r][0] for pid, r in rows.items()}
    assert bm25["twice"] > bm25["all"] > bm25["half"] > 0
    # about 1 for each term once at about average length
    assert 0.5 < bm25["all"] < 1.5


def test_no_terms_or_no_papers_match_nothing(engine):
    assert engine.lexical.matches("of the", ["all"]) == {}
    assert engine.lexical.matches("mixture", []) == {}


def test_a_large_index_is_read_once_in_the_background_and_still_answers(
    tmp_path, papers, monkeypatch
):
    import sciseek.index.lexical as lexical
    import sciseek.storage.files as files

    with Engine.open(tmp_path / "d") as e:
        e.add(papers, dense=False)
    read = []
    monkeypatch.setattr(lexical, "WARM_ABOVE", 0)
    monkeypatch.setattr(lexical, "read_once", lambda paths: read.append(files.read_once(paths)))
    with Engine.open(tmp_path / "d") as e:
        assert e.lexical.warmed(timeout=30)
        size = sum(f.stat().st_size for f in (tmp_path / "d" / "lexical").iterdir() if f.is_file())
        assert read == [size] and size > 0
        assert e.search("graph neural networks", mode="bm25")


def test_a_reload_that_meets_a_file_another_writer_deleted_reads_the_index_again(engine):
    lexical = engine.lexical
    real = lexical._index

    class Racing:
        calls = 0

        def reload(self):
            Racing.calls += 1
            if Racing.calls == 1:
                raise ValueError("Failed to open file for read: 'FileDoesNotExist(\"x.idx\")'")
            real.reload()

        def __getattr__(self, name):
            return getattr(real, name)

    lexical._index = Racing()
    try:
        lexical.refresh()
        assert Racing.calls == 2
        assert engine.search("mixture of experts", mode="bm25")[0].paper.id == "twice"
    finally:
        lexical._index = real
