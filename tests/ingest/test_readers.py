import gzip
import json

import pytest

from sciseek.ingest.papers import (
    MAX_ABSTRACT,
    MAX_AUTHORS,
    MAX_RECORD_BYTES,
    MAX_TITLE,
    Paper,
    paper_from_dict,
    web_link,
)
from sciseek.ingest.readers import (
    ReadError,
    ReadReport,
    UnreadableSource,
    detect_format,
    read_papers,
    read_valid,
)
from tests.helpers import FIXTURES, write_jsonl


def split(items):
    papers = [i for i in items if isinstance(i, Paper)]
    errors = [i for i in items if isinstance(i, ReadError)]
    return papers, errors


def test_jsonl_fixture_reads_every_field():
    papers, errors = split(list(read_papers(FIXTURES / "papers.jsonl")))
    assert not errors
    assert len(papers) == 12
    p = papers[0]
    assert p.id == "2401.00001"
    assert p.authors == ["Ada Lovelace", "Alan Turing"]
    assert p.categories == ["cs.IR", "cs.CL"]
    assert p.published == "2024-01-02"
    assert papers[-1].extra == {"venue": "Workshop on Robot Learning"}


def test_jsonl_gzip(tmp_path):
    path = tmp_path / "p.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(json.dumps({"id": "a", "title": "Gzipped paper"}) + "\n")
    papers, errors = split(list(read_papers(path)))
    assert [p.title for p in papers] == ["Gzipped paper"] and not errors


def test_bad_records_are_reported_with_line_and_good_ones_kept(tmp_path):
    path = tmp_path / "bad.jsonl"
    write_jsonl(
        path,
        [
            {"id": "ok1", "title": "First good"},
            '{"id": "broken", "title": ',
            {"title": "No id here"},
            {"id": "no-title"},
            "",
            {"id": "ok2", "title": "Second good", "published": "2024-13-45"},
            {"id": "ok3", "title": "Third good", "authors": "A. Smith; B. Jones"},
            "[1, 2]",
        ],
    )
    with open(path, "ab") as f:
        f.write(b'{"id": "latin1", "title": "caf\xe9"}\n')
        f.write(b'{"id": "ok4", "title": "Fourth good"}\n')
    papers, errors = split(list(read_papers(path)))
    assert [p.id for p in papers] == ["ok1", "ok4"]
    by_line = {e.line: e.reason for e in errors}
    assert set(by_line) == {2, 3, 4, 6, 7, 8, 9}
    assert "malformed JSON" in by_line[2] and "(column 27)" in by_line[2]  # the end of the line
    assert "missing 'id'" in by_line[3]
    assert "missing 'title'" in by_line[4]
    assert "not an ISO date" in by_line[6]
    assert "'authors' must be a list of strings, got a string" in by_line[7]
    assert "expected a JSON object" in by_line[8]
    assert "UTF-8" in by_line[9]
    assert str(errors[0]).startswith(f"{path}:2: ")


def test_truncated_gzip_keeps_records_before_the_damage(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    lines = "".join(
        json.dumps({"id": f"p{i}", "title": f"Paper {i} " + "x" * 50}) + "\n" for i in range(2000)
    )
    data = gzip.compress(lines.encode())
    path.write_bytes(data[: len(data) // 2])
    papers, errors = split(list(read_papers(path)))
    assert 0 < len(papers) < 2000
    assert len(errors) == 1 and "corrupt or truncated" in errors[0].reason


def test_beir_corpus_allows_empty_titles(tmp_path):
    d = tmp_path / "ds"
    d.mkdir()
    write_jsonl(
        d / "corpus.jsonl",
        [
            {"_id": "1", "title": "", "text": "abstract only", "metadata": {}},
            {"_id": "2", "title": "T", "text": "", "metadata": {"authors": ["X, Y."]}},
            {"title": "no id", "text": "x"},
        ],
    )
    write_jsonl(d / "queries.jsonl", [{"_id": "q", "text": "abstract"}])
    assert detect_format(d) == "beir"
    papers, errors = split(list(read_papers(d)))
    assert [(p.id, p.title, p.abstract) for p in papers] == [
        ("1", "", "abstract only"),
        ("2", "T", ""),
    ]
    assert papers[1].authors == ["X, Y."]
    assert errors[0].line == 3 and "_id" in errors[0].reason


def test_arxiv_snapshot_format(tmp_path):
    record = {
        "id": "0704.0001",
        "submitter": "Pavel Nadolsky",
        "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan",
        "title": (
            "Calculation of prompt diphoton production cross sections at "
            "Tevatron and\n  LHC energies"
        ),
        "comments": "37 pages, 15 figures",
        "journal-ref": "Phys.Rev.D76:013009,2007",
        "doi": "10.1103/PhysRevD.76.013009",
        "report-no": None,
        "categories": "hep-ph",
        "license": None,
        "abstract": (
            "  A fully differential calculation in perturbative quantum "
            "chromodynamics is\npresented."
        ),
        "versions": [
            {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
            {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
        ],
        "update_date": "2008-11-13",
        "authors_parsed": [
            ["Balázs", "C.", ""],
            ["Berger", "E. L.", ""],
            ["Nadolsky", "P. M.", ""],
            ["Yuan", "C. -P.", ""],
        ],
    }
    second = dict(
        record, id="0704.0002", categories="math.CO cs.CG", versions=[], authors_parsed=[]
    )
    path = write_jsonl(tmp_path / "arxiv.json", [record, second])
    assert detect_format(path) == "arxiv"
    papers, errors = split(list(read_papers(path)))
    assert not errors
    p = papers[0]
    assert p.title.startswith("Calculation of prompt diphoton") and "\n" not in p.title
    assert p.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert p.categories == ["hep-ph"]
    assert p.published == "2007-04-02"
    assert p.url == "https://arxiv.org/abs/0704.0001"
    assert p.extra["doi"] == "10.1103/PhysRevD.76.013009"
    assert p.extra["journal-ref"] == "Phys.Rev.D76:013009,2007"
    assert p.extra["comments"] == "37 pages, 15 figures"
    q = papers[1]
    assert q.categories == ["math.CO", "cs.CG"]
    assert q.published == "2008-11-13"
    assert q.authors[0] == "C. Bal\\'azs"


def test_csv_with_header(tmp_path):
    path = tmp_path / "papers.csv"
    path.write_bytes(
        b"id,title,abstract,authors,categories,published,venue\n"
        b'c1,"A title, with comma","Multi\nline abstract","Ann Lee; Bo Chan",'
        b"cs.IR cs.CL,2023-05-01,SIGIR\n"
        b"c2,,no title,,,,\n"
        b"c3,Bad bytes \xff here,,,,,\n"
        b"c4,Fourth,,,,,,extra-cell\n"
        b"c5,Fifth,,,,2023-06-01T10:00:00Z,\n"
    )
    assert detect_format(path) == "csv"
    papers, errors = split(list(read_papers(path)))
    assert [p.id for p in papers] == ["c1", "c5"]
    c1 = papers[0]
    assert c1.title == "A title, with comma" and c1.abstract == "Multi line abstract"
    assert c1.authors == ["Ann Lee", "Bo Chan"] and c1.categories == ["cs.IR", "cs.CL"]
    assert c1.extra == {"venue": "SIGIR"}
    assert papers[1].published == "2023-06-01"
    reasons = {e.line: e.reason for e in errors}
    assert "missing 'title'" in reasons[4]
    assert "UTF-8" in reasons[5]
    assert "more cells" in reasons[6]


def test_unusable_paths(tmp_path):
    with pytest.raises(UnreadableSource, match="no such file"):
        list(read_papers(tmp_path / "missing.jsonl"))
    with pytest.raises(UnreadableSource, match="is a directory"):
        list(read_papers(tmp_path))


def test_empty_file_yields_nothing(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    assert list(read_papers(path)) == []


def test_read_valid_yields_papers_and_reports_bad_records(tmp_path):
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [{"id": "a", "title": "Good"}, '{"id": ', {"id": "b", "title": "Also good"}, "[1]"],
    )
    errors: list[ReadError] = []
    report = ReadReport()
    papers = list(read_valid(path, on_error=errors.append, report=report))
    assert [p.id for p in papers] == ["a", "b"]
    assert [e.line for e in errors] == [2, 4]
    assert (report.read, report.skipped, report.valid) == (4, 2, 2)


def test_read_valid_accumulates_over_files_and_needs_no_callback(tmp_path):
    report = ReadReport()
    first = list(read_valid(FIXTURES / "papers.jsonl", "jsonl", report=report))
    bad = write_jsonl(tmp_path / "bad.jsonl", ["not json", {"id": "x", "title": "X"}])
    second = list(read_valid(bad, report=report))
    assert [p.id for p in second] == ["x"]
    assert report.read == len(first) + 2 and report.skipped == 1


def test_read_valid_raises_for_unusable_paths(tmp_path):
    with pytest.raises(UnreadableSource):
        list(read_valid(tmp_path / "missing.jsonl"))


def test_csv_unterminated_quote_loses_only_its_own_record(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text(
        "id,title,abstract\n"
        'q1,First paper,"fine abstract"\n'
        'q2,"Second paper with a bad quote,abstract two\n'
        "q3,Third paper,abstract three\n"
        'q4,"Fourth" paper,stray quote after a quoted cell\n'
        "q5,Fifth paper,abstract five\n"
    )
    papers, errors = split(list(read_papers(path)))
    assert [(p.id, p.title) for p in papers] == [
        ("q1", "First paper"),
        ("q3", "Third paper"),
        ("q5", "Fifth paper"),
    ]
    reasons = {e.line: e.reason for e in errors}
    assert set(reasons) == {3, 5}
    assert "malformed CSV" in reasons[3] and "unterminated quote" in reasons[3]
    assert "malformed CSV" in reasons[5]


def test_oversized_records_are_skipped_without_holding_them(tmp_path):
    path = tmp_path / "big.jsonl"
    write_jsonl(
        path,
        [
            {"id": "huge", "title": "Huge", "abstract": "word " * 2_000_000},
            {"id": "long", "title": "Long", "abstract": "x" * (MAX_ABSTRACT + 1)},
            {"id": "t", "title": "t" * (MAX_TITLE + 1)},
            {"id": "many", "title": "Many", "authors": ["A"] * (MAX_AUTHORS + 1)},
            {"id": "ok", "title": "Fine"},
        ],
    )
    papers, errors = split(list(read_papers(path)))
    assert [p.id for p in papers] == ["ok"]
    reasons = {e.line: e.reason for e in errors}
    assert f"longer than {MAX_RECORD_BYTES:,} bytes" in reasons[1]
    assert "'abstract' is longer than" in reasons[2]
    assert "'title' is longer than" in reasons[3]
    assert "authors" in reasons[4]
    csv_path = tmp_path / "big.csv"
    csv_path.write_text(f"id,title,abstract\nbig,Big,{'y' * MAX_RECORD_BYTES}\nok,Fine,\n")
    papers, errors = split(list(read_papers(csv_path)))
    assert [p.id for p in papers] == ["ok"] and "longer than" in errors[0].reason


def test_types_are_not_coerced(tmp_path):
    path = tmp_path / "types.jsonl"
    write_jsonl(
        path,
        [
            {"id": 2401.00010, "title": "A number id"},
            {"id": "c", "title": "String categories", "categories": "cs.IR cs.CL"},
            {"id": "ok", "title": "Lists", "authors": ["A. B"], "categories": ["cs.IR"]},
        ],
    )
    papers, errors = split(list(read_papers(path)))
    assert [p.id for p in papers] == ["ok"]
    assert "'id' must be a string, got float" in errors[0].reason
    assert "'categories' must be a list of strings" in errors[1].reason


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://example.org/paper.pdf", "https://example.org/paper.pdf"),
        ("HTTP://EXAMPLE.ORG/x", "HTTP://EXAMPLE.ORG/x"),
        ("arXiv:2401.00001v2", "https://arxiv.org/abs/2401.00001"),
        ("2401.00001", "https://arxiv.org/abs/2401.00001"),
        ("doi:10.1145/3404835.3462891", "https://doi.org/10.1145/3404835.3462891"),
        ("10.1145/3404835.3462891", "https://doi.org/10.1145/3404835.3462891"),
        ("javascript:alert(5)", None),
        (" JavaScript:alert(5)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("file:///etc/passwd", None),
        ("https://", None),
        ("https://exa mple.org/", None),
        ("//evil.example/x", None),
        ("vbscript:msgbox", None),
    ],
)
def test_only_web_links_are_links(url, link):
    assert web_link(url) == link
    paper = paper_from_dict({"id": "u", "title": "T", "url": url})
    assert paper.url == link and paper.link == link
    if link is None:
        assert paper.extra["url_text"] == url
    stored_before_checks = Paper("u", "T", url=url)
    assert stored_before_checks.link == link


def test_class_lists_among_categories_keep_the_paper():
    msc = "68T09, 68T50, 68T05,\n  62R07, 68U15, 68T27, 68T20 " * 3
    paper = paper_from_dict(
        {"id": "2505.01754", "title": "T", "categories": ["cs.AI", "cs.IR", msc, "I.2; H.3"]}
    )
    assert paper.categories == ["cs.AI", "cs.IR", "I.2; H.3"]
    assert paper.extra["classes_text"] == " ".join(msc.split())
    with pytest.raises(ValueError, match="more than 100 categories"):
        paper_from_dict({"id": "x", "title": "T", "categories": [f"c{i}" for i in range(101)]})


def test_damage_is_told_apart_from_bad_records(tmp_path):
    lines = "".join(
        json.dumps({"id": f"p{i}", "title": f"T {i} " + "x" * 50}) + "\n" for i in range(2000)
    )
    data = gzip.compress(lines.encode())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    errors = [e for e in read_papers(cut) if isinstance(e, ReadError)]
    assert [e.damaged for e in errors] == [True]
    bad = tmp_path / "bad.jsonl"
    write_jsonl(bad, ['{"id": "x"', {"id": "y", "title": "Fine"}])
    assert [e.damaged for e in read_papers(bad) if isinstance(e, ReadError)] == [False]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "arxiv", "csv"])
def test_a_large_file_is_read_in_bounded_memory(tmp_path, fmt):
    """Records are streamed: memory does not grow with the file (here ~25 MB of text)."""
    import csv
    import tracemalloc

    n, words = 20_000, "measured words of a long abstract " * 35  # ~1.2 KB a record
    path = tmp_path / ("big.csv.gz" if fmt == "csv" else "big.jsonl.gz")
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        if fmt == "csv":
            out = csv.writer(f)
            out.writerow(["id", "title", "abstract", "authors"])
            for i in range(n):
                out.writerow([f"p{i}", f"Paper {i}", f"{words}{i}", "A. Author; B. Author"])
        for i in range(n if fmt != "csv" else 0):
            record = {"id": f"p{i}", "title": f"Paper {i}", "abstract": f"{words}{i}"}
            if fmt == "arxiv":  # the metadata snapshot's shape
                record |= {
                    "authors": "A. Author and B. Author",
                    "categories": "cs.IR cs.CL",
                    "versions": [{"version": "v1", "created": "Mon, 2 Jan 2024"}],
                    "update_date": "2024-01-02",
                }
            f.write(json.dumps(record) + "\n")
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_valid(path, fmt))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    assert peak < 6 * 2**20, f"reading peaked at {peak / 2**20:.0f} MiB"
