"""Generated titles and names: every export still parses, with every author kept."""

import bibtexparser
import rispy
from bibtexparser.middlewares.names import split_multiple_persons_names
from hypothesis import given
from hypothesis import strategies as st

from sciseek.export import to_bibtex, to_csl_json, to_ris
from sciseek.export.names import split_names
from sciseek.ingest.papers import Paper

SPECIAL = list("&%$#_{}~^\\,.-' ") + ["and", "van", "Jr.", "III", "$x^2$", "\\textbf{", "é", "李"]
text = st.lists(
    st.one_of(st.sampled_from(SPECIAL), st.text("abcXYZ", min_size=1, max_size=4)), max_size=12
).map("".join)
name = st.lists(
    st.one_of(st.sampled_from(SPECIAL), st.text("AbcdEfgh", min_size=1, max_size=6)),
    min_size=1,
    max_size=6,
).map(" ".join)


@given(title=text, abstract=text, authors=st.lists(name, max_size=5), arxiv=st.booleans())
def test_any_title_and_names_give_an_entry_bibtex_parses(title, abstract, authors, arxiv):
    paper = Paper(
        "2401.00001" if arxiv else "doc-1",
        title,
        abstract,
        authors=authors,
        categories=["cs.IR"],
        published="2024-01-02",
        url="https://example.org/x",
    )
    library = bibtexparser.parse_string(to_bibtex([paper]))
    assert not library.failed_blocks
    (entry,) = library.entries
    kept = split_names(authors)
    if kept:
        assert len(split_multiple_persons_names(entry["author"])) == len(kept)
    (record,) = rispy.loads(to_ris([paper]))
    assert record.get("title", "") == " ".join(title.split())
    assert len(record.get("authors", [])) == len(kept)
    (item,) = to_csl_json([paper])
    assert len(item.get("author", [])) == len(kept)
