"""BibTeX export, read back with bibtexparser 2.x: every field intact."""

import bibtexparser
import pytest
from bibtexparser.middlewares.names import (
    parse_single_name_into_parts,
    split_multiple_persons_names,
)
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from sciseek import read_papers
from sciseek.export import to_bibtex
from sciseek.ingest.papers import Paper
from tests.export.cases import ABSTRACT, GROUP, NAMES, TITLE, tricky_paper
from tests.helpers import FIXTURES


def _decoder() -> LatexNodes2Text:
    """TeX to text as a reference manager shows it (math kept as written)."""
    db = get_default_latex_context_db()
    # pylatexenc renders \textasciicircum as the modifier letter; a reader types "^"
    db.add_context_category("plain", prepend=True, macros=[MacroTextSpec("textasciicircum", "^")])
    return LatexNodes2Text(latex_context=db, math_mode="verbatim")


def parse(text: str) -> list:
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return library.entries


def test_an_arxiv_paper_is_a_misc_entry_with_its_eprint_fields():
    (entry,) = parse(to_bibtex([tricky_paper()]))
    assert entry.entry_type == "misc"
    assert entry.key == "beethoven2024sets"
    assert entry["eprint"] == "2401.00001"
    assert entry["archivePrefix"] == "arXiv"
    assert entry["primaryClass"] == "cs.CL"
    assert entry["url"] == "https://arxiv.org/abs/2401.00001"
    assert (entry["year"], entry["month"]) == ("2024", "mar")
    assert entry.fields_dict["month"].enclosing == "no-enclosing"  # the month macro


def test_title_and_abstract_round_trip_with_math_kept():
    (entry,) = parse(to_bibtex([tricky_paper()]))
    decode = _decoder().latex_to_text
    assert decode(entry["title"]) == TITLE
    assert "$x^2$" in entry["title"] and "$O(n\\log n)$" in entry["title"]
    assert "{BERT}" in entry["title"]
    # an abstract written in TeX keeps its escapes and math; the rest is escaped
    assert decode(entry["abstract"]) == ABSTRACT.replace("\\%", "%")
    assert "20.43\\%" in entry["abstract"] and "$\\alpha_1$" in entry["abstract"]
    assert "Ødegård" in entry["abstract"]  # UTF-8, not TeX accents


def test_every_author_reads_back_with_its_parts():
    (entry,) = parse(to_bibtex([tricky_paper()]))
    people = split_multiple_persons_names(entry["author"])
    assert len(people) == len(NAMES) + 1
    for raw, written in zip(NAMES, people, strict=False):
        parts = parse_single_name_into_parts(written)
        given, particle, family, suffix = NAMES[raw]
        assert " ".join(parts.first) == given, raw
        assert " ".join(parts.von) == particle, raw
        assert " ".join(parts.last) == family, raw
        assert " ".join(parts.jr) == suffix, raw
    assert people[-1] == "{" + GROUP + "}"
    assert "van Beethoven, Ludwig" in people and "King, Jr., Martin Luther" in people


def test_keys_are_stable_and_unique_within_one_export():
    papers = [
        Paper("2401.00002", "The Graph Method", authors=["Wei Zhang"], published="2024-01-01"),
        Paper("2401.00003", "Graph methods", authors=["Li Zhang"], published="2024-05-01"),
        Paper("2401.00004", "A graph", authors=["Jun Zhang"], published="2024-06-01"),
        Paper("2401.00005", "Graphs", authors=["Zoë Ødegård"], published=None),
        Paper("2401.00006", "日本語", authors=["张伟"]),
    ]
    keys = [e.key for e in parse(to_bibtex(papers))]
    assert keys == ["zhang2024graph", "zhang2024grapha", "zhang2024graphb", "odegardgraphs", "anon"]
    assert [e.key for e in parse(to_bibtex(papers))] == keys
    # the same paper twice is one entry
    assert len(parse(to_bibtex([papers[0], papers[0]]))) == 1


def test_non_arxiv_papers_get_their_doi_url_or_journal():
    papers = [
        Paper("doc-17", "A Report", authors=["Ada Lovelace"], url="https://example.org/r_1%20x#p"),
        Paper(
            "doc-18",
            "On Engines",
            authors=["Ada Lovelace"],
            published="1843-09-01",
            url="https://doi.org/10.1000/ab_c",
            extra={"journal": "Taylor's Scientific Memoirs", "volume": 3, "pages": "666-731"},
        ),
        Paper("doc-19", "Notes", extra={"doi": "10.1145/3397271.3401075"}),
        Paper("doc-20", "Unsafe", url="javascript:alert(1)", extra={"url_text": "file:///x"}),
    ]
    report, article, with_doi, unsafe = parse(to_bibtex(papers))
    assert report.entry_type == "misc"
    assert report["url"] == "https://example.org/r_1%20x#p"
    assert report["howpublished"] == "\\url{https://example.org/r_1\\%20x\\#p}"
    assert "eprint" not in report.fields_dict
    assert article.entry_type == "article"
    assert article["journal"] == "Taylor's Scientific Memoirs"
    assert (article["volume"], article["pages"], article["year"]) == ("3", "666--731", "1843")
    assert article["doi"] == "10.1000/ab_c"
    assert with_doi["doi"] == "10.1145/3397271.3401075"
    assert with_doi.key == "anonnotes"
    assert not {"url", "howpublished"} & set(unsafe.fields_dict)


@pytest.mark.parametrize("paper", list(read_papers(FIXTURES / "papers.jsonl")), ids=lambda p: p.id)
def test_every_fixture_paper_parses(paper):
    (entry,) = parse(to_bibtex([paper]))
    assert _decoder().latex_to_text(entry["title"]) == paper.title
    assert len(split_multiple_persons_names(entry["author"])) == len(paper.authors)
