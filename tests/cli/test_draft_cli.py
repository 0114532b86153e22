"""``sciseek search --file``: search with a whole draft."""

from __future__ import annotations

import io
import json

import pytest

from sciseek.search.draft import MAX_CHARS
from tests.helpers import FIXTURES

PROTEIN = (
    "Attention layers over pairs of residues let a transformer infer the folded "
    "three-dimensional shape of a protein from its amino acid sequence. "
)
MOLECULE = (
    "Message passing networks predict solubility and toxicity of small molecules from their "
    "chemical graphs. "
)


@pytest.fixture
def indexed(cli):
    code, _, err = cli("index", str(FIXTURES / "papers.jsonl"))
    assert code == 0, err
    return cli


def test_search_file_finds_the_papers_of_the_whole_draft(indexed, tmp_path):
    draft = tmp_path / "draft.txt"
    draft.write_text("\n\n".join([PROTEIN * 6, MOLECULE * 8, PROTEIN * 6]), encoding="utf-8")
    code, out, err = indexed("search", "--file", str(draft), "-k", "4", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["file"] == str(draft) and body["passages"] > 2
    ids = [h["id"] for h in body["hits"]]
    assert len(ids) == 4 and ids.index("2403.00006") < ids.index("2402.00003")
    code, out, _ = indexed("search", "--file", str(draft), "--category", "q-bio.BM")
    assert code == 0 and "2403.00006" in out and "2401.00001" not in out


def test_search_file_from_standard_input(indexed, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("reciprocal rank fusion of BM25 and dense\n"))
    code, out, _ = indexed("search", "--file", "-", "--json")
    plain = json.loads(indexed("search", "reciprocal rank fusion of BM25 and dense", "--json")[1])
    assert code == 0
    assert [h["id"] for h in json.loads(out)["hits"]] == [h["id"] for h in plain["hits"]]


def test_search_file_errors_exit_2(indexed, tmp_path):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("r\xe9sum\xe9 of a draft".encode("latin-1"))
    long = tmp_path / "long.txt"
    long.write_text("word " * (MAX_CHARS // 5 + 1), encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    cases = [
        (["--file", str(tmp_path / "missing.txt")], "no such file"),
        (["--file", str(tmp_path)], "cannot read"),
        (["--file", str(latin1)], "not UTF-8"),
        (["--file", str(long)], "the limit is 20,000"),
        (["--file", str(empty)], "no words"),
        (["protein", "--file", str(empty)], "not both"),
        (["--file", str(empty), "--min-score", "0.5"], "--min-score"),
    ]
    for args, message in cases:
        code, out, err = indexed("search", *args)
        assert code == 2, (args, err)
        assert message in err and len(err.strip().splitlines()) == 1
        assert out == ""
    code, _, err = indexed("search")
    assert code == 2 and "empty query" in err
