"""The word-match features of short queries (``word_matches``) on hand-made papers."""

import math

import pytest

from sciseek.index.word_match import acronyms, word_matches
from tests.index.conftest import paper


def test_coverage_is_the_idf_share_of_the_terms_a_paper_holds(mixture_engine):
    lexical = mixture_engine.lexical
    rows = {pid: mixture_engine.store.rowid(pid) for pid in ("all", "twice", "half", "none")}
    found = word_matches(lexical, "mixture of experts", list(rows))  # paper ids in, row ids out
    assert found[rows["all"]][1] == pytest.approx(1.0)
    assert found[rows["twice"]][1] == pytest.approx(1.0)
    assert rows["none"] not in found  # holds no term: left out
    # "half" holds "expert" only: its share of the two terms' IDF
    n, df = mixture_engine.store.count(), {"mixtur": 2, "expert": 3}
    idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
    assert found[rows["half"]][1] == pytest.approx(idf["expert"] / sum(idf.values()))


def test_bm25_share_grows_with_the_terms_and_their_repetitions(mixture_engine):
    rows = {pid: mixture_engine.store.rowid(pid) for pid in ("all", "twice", "half")}
    found = word_matches(mixture_engine.lexical, "mixture of experts", list(rows))
    bm25 = {pid: found[r][0] for pid, r in rows.items()}
    assert bm25["twice"] > bm25["all"] > bm25["half"] > 0
    # about 1 for each term once at about average length
    assert 0.5 < bm25["all"] < 1.5


def test_phrase_is_the_query_s_terms_side_by_side_in_the_title(mixture_engine):
    rows = {pid: mixture_engine.store.rowid(pid) for pid in ("all", "twice", "half")}
    titles = {
        rows["all"]: "Routing tokens in a Mixture-of-Experts",  # hyphens, other case
        rows["twice"]: "Experts and their mixture",  # both words, other order
    }
    found = word_matches(mixture_engine.lexical, "mixture of experts", list(rows), titles)
    assert found[rows["all"]].phrase
    assert not found[rows["twice"]].phrase
    assert not found[rows["half"]].phrase  # no title given
    untitled = word_matches(mixture_engine.lexical, "mixture of experts", list(rows))
    assert not any(m.phrase for m in untitled.values())


def test_no_terms_or_no_papers_match_nothing(mixture_engine):
    assert word_matches(mixture_engine.lexical, "of the", ["all"]) == {}
    assert word_matches(mixture_engine.lexical, "mixture", []) == {}


def test_acronyms_are_the_initials_with_and_without_small_words_and_model():
    assert acronyms("mixture of experts") == ["moe"]
    assert acronyms("graph neural networks") == ["gnn"]
    assert acronyms("vision language action models") == ["vlam", "vla"]
    assert acronyms("large language models") == ["llm"]
    assert acronyms("world models") == []  # two letters: too short to tell
    assert acronyms("diffusion") == []


def test_a_paper_that_uses_the_acronym_matches_without_the_words(mixture_engine):
    mixture_engine.add(
        [
            paper("moe", "Sparse MoEs at scale", "Routing tokens in MoE layers."),
            paper("gnn", "Equivariant GNNs", "Message passing over molecules."),  # plural
        ]
    )
    rows = {pid: mixture_engine.store.rowid(pid) for pid in ("all", "moe", "gnn", "none")}
    found = word_matches(mixture_engine.lexical, "mixture of experts", list(rows))
    assert found[rows["moe"]].acronym and found[rows["moe"]].coverage == 0.0
    assert not found[rows["all"]].acronym
    assert rows["none"] not in found and rows["gnn"] not in found
    gnn = word_matches(mixture_engine.lexical, "graph neural networks", list(rows))
    assert gnn[rows["gnn"]].acronym
