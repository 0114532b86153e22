"""Draft search: splitting a long text into passages, and aggregating their rankings."""

from __future__ import annotations

import pytest

from sciseek.errors import BadInput
from sciseek.ingest.papers import Filters
from sciseek.search.draft import (
    MAX_CHARS,
    DraftTooLong,
    EmptyDraft,
    aggregated,
    search_draft,
    search_draft_passages,
)
from sciseek.search.passages import MAX_WORDS, TARGET_WORDS, clean, passages, sentences


def numbered(n: int, words: int = 10) -> str:
    """n distinct sentences of exactly ``words`` words each."""
    filler = " ".join(["word"] * (words - 3))
    return " ".join(f"Sentence s{i} has {filler}." for i in range(n))


# -- splitting -------------------------------------------------------------------------------


def test_passages_are_overlapping_sentence_windows():
    text = numbered(40)
    cut = passages(text)
    assert len(cut) > 2
    for p in cut:
        assert len(p.split()) <= MAX_WORDS
    for p in cut[:-1]:
        assert len(p.split()) >= TARGET_WORDS
    for a, b in zip(cut, cut[1:], strict=False):
        last = a.rsplit(". ", 1)[-1]
        assert b.startswith(last.rstrip(".")), "consecutive windows share a sentence"
    ids = {w for p in cut for w in p.split() if w.startswith("s")}
    assert ids == {f"s{i}" for i in range(40)}
    # 12 ten-word sentences close a window and the next starts at its last: windows start at
    # sentences 0, 11, 22 and 33, the last one holding the remaining 7
    assert len(cut) == 4


def test_short_text_is_one_passage_and_a_short_tail_joins_the_last_window():
    assert passages("Dense retrieval with product quantization.") == [
        "Dense retrieval with product quantization."
    ]
    text = numbered(TARGET_WORDS // 10 + 1)  # one window plus one short sentence
    assert len(passages(text)) == 1


def test_a_sentence_longer_than_a_window_is_cut():
    text = " ".join(f"w{i}" for i in range(3 * MAX_WORDS))
    cut = passages(text)
    assert all(len(p.split()) <= MAX_WORDS for p in cut)
    assert {w for p in cut for w in p.split()} == set(text.split())


def test_sentences_do_not_end_at_abbreviations():
    para = (
        "Models fail, e.g. on long inputs, as Smith et al. show in Fig. 3 and Eq. 2. "
        "J. Doe disagrees! Does it matter? Yes."
    )
    assert sentences(para) == [
        "Models fail, e.g. on long inputs, as Smith et al. show in Fig. 3 and Eq. 2.",
        "J. Doe disagrees!",
        "Does it matter?",
        "Yes.",
    ]


def test_clean_strips_latex_and_keeps_the_prose():
    tex = r"""\section{Introduction}
% a comment line
Dense retrieval~\cite{karpukhin2020} maps text to \emph{dense \textbf{vectors}}, see
Fig.~\ref{fig:one} and \eqref{eq:loss}. We reach 50\% recall and 75% precision at \$5.
The loss $\mathcal{L} = \sum_i x_i$ is minimised; \begin{equation} y = f(x) \end{equation}
and $$z$$ too. Code: \href{https://example.org}{our site} and \url{https://x.org}. % note"""
    out = clean(tex)
    for gone in ("\\", "{", "}", "karpukhin", "fig:one", "mathcal", "sum", "f(x)", "note", "$$"):
        assert gone not in out
    assert out.startswith("Introduction\n\nDense retrieval maps text to dense vectors")
    assert "50% recall and 75% precision at $5." in out
    assert "our site" in out and "https" not in out


def test_clean_strips_reference_markers():
    text = (
        "BM25 is strong [12]. Fusion helps [3, 5-7] and [BHK+20; Rad19]. "
        "Dense models differ (Smith et al., 2020; Doe and Roe, 2019). See (cf. Lee 2021). "
        "Scores lie in (0, 1) and the year 2020 was good."
    )
    assert clean(text) == (
        "BM25 is strong. Fusion helps and. Dense models differ. See. "
        "Scores lie in (0, 1) and the year 2020 was good."
    )


def test_paragraphs_are_sentence_boundaries():
    assert clean("first part\n\n\n  second  part\nsame paragraph") == (
        "first part\n\nsecond part same paragraph"
    )
    cut = passages("first part\n\nsecond part")
    assert cut == ["first part second part"]


# -- aggregation ------------------------------------------------------------------------------


def test_aggregation_rewards_papers_several_passages_agree_on():
    # paper 1 is second in two passages; paper 2 first in one, with the best score of all
    rankings = [[(2, 0.95), (1, 0.60), (3, 0.10)], [(4, 0.70), (1, 0.65), (3, 0.20)]]
    for method in ("rrf", "sum"):
        scores = aggregated(rankings, method)
        assert scores[1][0] > max(scores[2][0], scores[3][0]), method
    top = aggregated(rankings, "max")
    assert top[2][0] > top[1][0]
    assert top[2][1] == 0 and top[4][1] == 1  # the passage each paper did best in


@pytest.fixture
def topic_draft() -> str:
    protein = (
        "Attention layers over pairs of residues let a transformer infer the folded "
        "three-dimensional shape of a protein from its amino acid sequence. "
    )
    molecule = (
        "Message passing networks predict solubility and toxicity of small molecules from "
        "their chemical graphs. "
    )
    # two protein paragraphs around one paragraph that is the molecule paper's own abstract
    return "\n\n".join([protein * 6, molecule * 8, protein * 6])


def test_a_paper_related_to_two_passages_outranks_one_related_to_one(engine, topic_draft):
    assert len(passages(topic_draft)) >= 3
    for mode in ("dense", "hybrid"):
        ids = [h.paper.id for h in search_draft(engine, topic_draft, mode, k=5)]
        assert ids.index("2403.00006") < ids.index("2402.00003"), mode


def test_hits_carry_the_passage_that_found_them(engine, topic_draft):
    found = {d.hit.paper.id: d.passage for d in search_draft_passages(engine, topic_draft, k=3)}
    assert "solubility" in found["2402.00003"]
    assert "residues" in found["2403.00006"]


def test_every_passage_is_encoded_in_one_batch(engine, topic_draft, monkeypatch):
    encoder = engine.dense.encoder
    calls = []
    real = encoder.encode_queries

    def counting(texts):
        calls.append(len(texts))
        return real(texts)

    monkeypatch.setattr(encoder, "encode_queries", counting)
    search_draft(engine, topic_draft, "hybrid", k=3)
    assert calls == [len(passages(topic_draft))]


def test_filters_apply_to_every_passage(engine, topic_draft):
    assert len(passages(topic_draft)) > 1
    cases = [
        (Filters(categories=("cs.LG",)), lambda p: "cs.LG" in p.categories),
        (Filters(date_from="2024-03-01"), lambda p: p.published >= "2024-03-01"),
        (Filters(authors=("Marie Curie",)), lambda p: "Marie Curie" in p.authors),
    ]
    for filters, ok in cases:
        for mode in ("dense", "bm25", "hybrid"):
            hits = search_draft(engine, topic_draft, mode, k=12, filters=filters)
            assert hits, (filters, mode)
            assert all(ok(h.paper) for h in hits), (filters, mode)
    hits = search_draft(engine, topic_draft, "dense", k=12, filters=Filters(categories=("cs.LG",)))
    assert "2403.00006" in [h.paper.id for h in hits]


def test_one_sentence_is_a_plain_search(engine):
    for query in ("protein structure prediction", "How can a query encoder be made smaller?"):
        for mode in ("dense", "hybrid", "bm25"):
            draft_hits = search_draft(engine, query, mode, k=5)
            plain = engine.search(query, mode, k=5)
            assert draft_hits[0].paper.id == plain[0].paper.id
            assert [h.paper.id for h in draft_hits] == [h.paper.id for h in plain]


def test_the_length_limit_is_an_error_not_a_cut(engine):
    sentence = "Product quantization compresses embeddings for nearest neighbour search. "
    at_limit = (sentence * (MAX_CHARS // len(sentence) + 1))[:MAX_CHARS]
    assert len(at_limit) == MAX_CHARS
    assert search_draft(engine, at_limit, "bm25", k=3)[0].paper.id == "2406.00011"
    with pytest.raises(DraftTooLong, match="20,001 characters; the limit is 20,000"):
        search_draft(engine, at_limit + "x", "bm25")
    assert issubclass(DraftTooLong, BadInput)


@pytest.mark.parametrize("text", ["", "   \n\n ", r"\cite{a} $x$ [12] % only markup"])
def test_a_draft_without_words_is_refused(engine, text):
    with pytest.raises(EmptyDraft):
        search_draft(engine, text)


def test_bad_mode_k_and_aggregation_are_bad_input(engine):
    for kwargs in ({"mode": "fuzzy"}, {"k": 0}, {"aggregate": "mean"}):
        with pytest.raises(BadInput):
            search_draft(engine, "protein structure", **kwargs)


def test_sparse_mode_searches_every_passage_too(engine, topic_draft):
    ids = [h.paper.id for h in search_draft(engine, topic_draft, "sparse", k=3)]
    assert "2403.00006" in ids and "2402.00003" in ids


def test_a_paper_not_encoded_yet_competes_on_its_other_scores(engine, topic_draft, monkeypatch):
    from sciseek import Paper
    from sciseek.search import indexes

    monkeypatch.setattr(indexes, "INLINE_CATCH_UP", 0)  # leave the new paper unencoded
    fresh = Paper(
        "2405.09999",
        "Message passing networks predict solubility and toxicity of small molecules",
        "Solubility and toxicity of small molecules predicted from their chemical graphs "
        "by message passing networks.",
    )
    engine.add([fresh], dense=False)
    assert engine.index_progress()["dense"]["pending"] == 1
    ids = [h.paper.id for h in search_draft(engine, topic_draft, "hybrid", k=5)]
    assert "2405.09999" in ids[:3]
