"""CSL-JSON export: name parts, types, dates and identifiers."""

import json

from sciseek.export import FORMATS, to_bibtex, to_csl_json
from sciseek.ingest.papers import Paper
from tests.export.cases import GROUP, NAMES, TITLE, tricky_paper


def test_names_carry_family_given_particle_and_suffix():
    (item,) = to_csl_json([tricky_paper()])
    authors = item["author"]
    assert authors[0] == {"family": "Beethoven", "given": "Ludwig", "non-dropping-particle": "van"}
    assert authors[1] == {
        "family": "Fontaine",
        "given": "Jean-Pierre",
        "non-dropping-particle": "de la",
    }
    assert authors[3] == {"family": "King", "given": "Martin Luther", "suffix": "Jr."}
    assert {"family": "Plato"} in authors
    assert authors[-1] == {"literal": GROUP}
    for raw, name in zip(NAMES, authors, strict=False):
        given, particle, family, suffix = NAMES[raw]
        assert name.get("given", "") == given
        assert name.get("non-dropping-particle", "") == particle
        assert name["family"] == family
        assert name.get("suffix", "") == suffix


def test_an_arxiv_paper_is_a_preprint_item():
    (item,) = to_csl_json([tricky_paper()])
    assert item["type"] == "article"
    assert item["title"] == TITLE
    assert item["issued"] == {"date-parts": [[2024, 3, 5]]}
    assert (item["publisher"], item["number"]) == ("arXiv", "arXiv:2401.00001")
    assert item["URL"] == "https://arxiv.org/abs/2401.00001"
    # the same key as the BibTeX entry
    assert to_bibtex([tricky_paper()]).startswith("@misc{" + item["id"] + ",")


def test_other_papers_are_journal_articles_or_documents():
    article, document = to_csl_json(
        [
            Paper("doc-1", "On Engines", extra={"journal": "Memoirs", "doi": "10.1000/ab_c"}),
            Paper("doc-2", "Notes", published="2020-01-01", url="https://example.org/n"),
        ]
    )
    assert article["type"] == "article-journal"
    assert (article["container-title"], article["DOI"]) == ("Memoirs", "10.1000/ab_c")
    assert "author" not in article and "issued" not in article
    assert document["type"] == "document"
    assert document["URL"] == "https://example.org/n"


def test_the_csl_file_is_a_json_array_in_utf8():
    text = FORMATS["csl"].render([tricky_paper()])
    assert "Ødegård" in text  # not \u escapes
    assert json.loads(text) == to_csl_json([tricky_paper()])
