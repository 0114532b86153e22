"""RIS export, read back with rispy: the same authors, title and year."""

import rispy

from sciseek.export import to_ris
from sciseek.export.names import split_name
from sciseek.ingest.papers import Paper
from tests.export.cases import GROUP, NAMES, TITLE, tricky_paper


def test_an_arxiv_paper_reads_back_with_its_authors_title_and_year():
    (record,) = rispy.loads(to_ris([tricky_paper()]))
    assert record["type_of_reference"] == "GEN"
    assert record["title"] == TITLE  # RIS is plain text: nothing escaped
    assert record["year"] == "2024"
    assert record["date"] == "2024/03/05/"
    assert record["authors"] == [split_name(n).inverted for n in NAMES] + [GROUP]
    assert record["authors"][:4] == [
        "van Beethoven, Ludwig",
        "de la Fontaine, Jean-Pierre",
        "García-López, José María",
        "King, Martin Luther, Jr.",
    ]
    assert record["accession_number"] == "arXiv:2401.00001"
    assert record["urls"] == ["https://arxiv.org/abs/2401.00001"]
    assert record["keywords"] == ["cs.CL", "cs.IR"]
    assert record["id"] == "beethoven2024sets"


def test_records_are_separate_and_lines_end_with_crlf():
    papers = [
        tricky_paper("2401.00001"),
        Paper(
            "doc-18",
            "On Engines",
            "Line one\nline two",
            authors=["Ada Lovelace"],
            published="1843-09-01",
            extra={"journal": "Scientific Memoirs", "pages": "666-731", "doi": "10.1000/ab_c"},
        ),
    ]
    text = to_ris(papers)
    assert all(line.endswith("\r") for line in text.split("\n")[:-1])
    first, second = rispy.loads(text)
    assert first["title"] == TITLE
    assert second["type_of_reference"] == "JOUR"
    assert (second["journal_name"], second["start_page"], second["end_page"]) == (
        "Scientific Memoirs",
        "666",
        "731",
    )
    assert second["doi"] == "10.1000/ab_c"
    assert second["abstract"] == "Line one line two"  # one line per tag
    assert second["authors"] == ["Lovelace, Ada"]
