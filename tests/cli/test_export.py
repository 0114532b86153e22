"""``sciseek export``: papers by id as BibTeX, RIS or CSL-JSON on stdout."""

import json

import bibtexparser
import pytest
import rispy

from sciseek import Engine, read_papers
from tests.export.cases import TITLE, tricky_paper
from tests.helpers import FIXTURES


@pytest.fixture
def indexed(data_dir):
    with Engine.open(data_dir) as engine:
        engine.add([*read_papers(FIXTURES / "papers.jsonl"), tricky_paper("2407.00001")])


def test_bibtex_by_default_in_the_order_given(cli, indexed):
    code, out, err = cli("export", "2407.00001", "arXiv:2401.00002v2")
    assert code == 0, err
    library = bibtexparser.parse_string(out)
    assert not library.failed_blocks
    assert [e["eprint"] for e in library.entries] == ["2407.00001", "2401.00002"]
    assert library.entries[0].key == "beethoven2024sets"


def test_ris_and_csl_formats(cli, indexed):
    code, out, _ = cli("export", "--format", "ris", "2407.00001")
    assert code == 0
    (record,) = rispy.loads(out)
    assert record["title"] == TITLE and record["authors"][0] == "van Beethoven, Ludwig"
    code, out, _ = cli("export", "--format", "csl", "2401.00002", "2407.00001")
    items = json.loads(out)
    assert [i["number"] for i in items] == ["arXiv:2401.00002", "arXiv:2407.00001"]


def test_an_unknown_id_prints_nothing_and_exits_2(cli, indexed):
    code, out, err = cli("export", "2401.00002", "no-such-id")
    assert (code, out) == (2, "")
    assert "no paper with id 'no-such-id'" in err


def test_a_bad_format_is_bad_usage(cli, indexed):
    code, out, err = cli("export", "--format", "endnote", "2401.00002")
    assert code == 2 and "invalid choice: 'endnote'" in err


def test_help_names_the_formats(cli):
    code, out, _ = cli("export", "--help")
    assert code == 0
    assert "--format {bibtex,ris,csl}" in out and "BibTeX" in out
