"""Property-based fuzzing of every reader: any bytes in, only Papers and ReadErrors out.

A seeded, small number of examples runs in the test suite; ``HYPOTHESIS_PROFILE=fuzz`` runs
10,000 per property (``python -m pytest tests/ingest/test_readers_fuzz.py``).
"""

from __future__ import annotations

import gzip
import json

from hypothesis import given
from hypothesis import strategies as st

from sciseek.ingest.papers import MAX_ABSTRACT, MAX_TITLE, Paper, web_link
from sciseek.ingest.readers import ReadError, read_papers

FORMATS = ("auto", "jsonl", "beir", "arxiv", "csv")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
keys = st.sampled_from(
    ["id", "_id", "title", "abstract", "text", "authors", "authors_parsed", "categories",
     "published", "url", "versions", "metadata", "update_date", "x"]
)  # fmt: skip
records = st.dictionaries(keys, json_values, max_size=8)
csv_cells = st.text(alphabet=st.sampled_from('ab,"\n\r ;\u00e9\t1-'), max_size=40)


def check_items(items: list) -> None:
    for item in items:
        assert isinstance(item, Paper | ReadError), item
        if isinstance(item, ReadError):
            assert item.line >= 1 and item.reason
            continue
        assert item.id and isinstance(item.id, str)
        assert len(item.title) <= MAX_TITLE and len(item.abstract) <= MAX_ABSTRACT
        assert all(isinstance(a, str) and a for a in item.authors)
        assert all(isinstance(c, str) and c for c in item.categories)
        assert item.url is None or web_link(item.url) == item.url
        json.dumps(item.to_dict(), default=str)


@given(lines=st.lists(records | json_values, max_size=6), fmt=st.sampled_from(FORMATS[:4]))
def test_json_records_never_crash_a_reader(tmp_path_factory, lines, fmt):
    path = tmp_path_factory.mktemp("fuzz") / "papers.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    items = list(read_papers(path, fmt))
    check_items(items)
    assert len(items) == sum(1 for line in lines)  # one answer per record, none lost


@given(data=st.binary(max_size=400), fmt=st.sampled_from(FORMATS), compress=st.booleans())
def test_arbitrary_bytes_never_crash_a_reader(tmp_path_factory, data, fmt, compress):
    path = tmp_path_factory.mktemp("fuzz") / ("papers.csv" if fmt == "csv" else "papers.jsonl")
    path.write_bytes(gzip.compress(data)[: max(10, len(data))] if compress else data)
    check_items(list(read_papers(path, fmt)))


@given(rows=st.lists(st.lists(csv_cells, min_size=1, max_size=5), max_size=6))
def test_csv_rows_never_crash_the_reader(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("fuzz") / "papers.csv"
    text = "id,title,abstract,authors,categories\n" + "".join(",".join(r) + "\n" for r in rows)
    path.write_text(text)
    items = list(read_papers(path))
    check_items(items)
    lines = text.count("\n") + text.count("\r") - 1
    assert len(items) <= max(lines, 0)
