import argparse
import gzip
import json

import pytest

from sciseek.cli import arguments, main
from tests.helpers import FIXTURES, SHARED_DATA, run_sciseek, synthetic_papers, write_jsonl


def test_index_search_get_delete_stats(cli):
    code, out, err = cli("index", str(FIXTURES / "papers.jsonl"))
    assert code == 0, err
    assert "read 12 records, indexed 12 (12 new, 0 updated, 0 unchanged), skipped 0" in out
    code, out, _ = cli("search", "reciprocal", "rank", "fusion", "--json", "-k", "3")
    result = json.loads(out)
    assert result["query"] == "reciprocal rank fusion"
    assert result["hits"][0]["id"] == "2401.00002"
    assert {"id", "title", "score"} <= set(result["hits"][0])
    code, out, _ = cli("search", "dense", "retrieval")
    assert code == 0 and "2401.00001" in out
    code, out, _ = cli("get", "2406.00012")
    assert code == 0 and json.loads(out)["venue"] == "Workshop on Robot Learning"
    code, out, _ = cli("stats", "--json")
    assert json.loads(out)["papers"] == 12
    code, out, err = cli("delete", "2406.00012", "no-such-id")
    assert code == 0 and "deleted 1" in out and "no-such-id" in err
    code, out, _ = cli("stats", "--json")
    stats = json.loads(out)
    assert stats["papers"] == 11 == stats["lexical"]["documents"]
    code, _, err = cli("get", "2406.00012")
    assert code == 2 and "no paper with id" in err


def test_search_filters_on_the_command_line(cli):
    cli("index", str(FIXTURES / "papers.jsonl"))
    code, out, _ = cli(
        "search", "learning", "--category", "cs.LG", "--from", "2024-03-01", "--json", "-k", "20"
    )
    hits = json.loads(out)["hits"]
    assert hits and all("cs.LG" in h["categories"] and h["published"] >= "2024-03-01" for h in hits)
    code, out, _ = cli(
        "search", "retrieval", "--author", "Grace Hopper", "--json", "--mode", "bm25"
    )
    assert {h["id"] for h in json.loads(out)["hits"]} == {"2401.00002", "2404.00007"}
    for mode in ("dense", "hybrid"):
        code, out, _ = cli(
            "search", "retrieval", "--author", "Grace Hopper", "--json", "--mode", mode, "-k", "20"
        )
        assert {h["id"] for h in json.loads(out)["hits"]} == {
            "2401.00002",
            "2404.00007",
            "2405.00010",
        }


def test_reindexing_the_same_file_changes_nothing(cli):
    cli("index", str(FIXTURES / "papers.jsonl"))
    code, out, _ = cli("index", str(FIXTURES / "papers.jsonl"))
    assert code == 0 and "(0 new, 0 updated, 12 unchanged)" in out


def test_bad_records_are_reported_and_good_ones_indexed(cli, tmp_path):
    records = [{"id": f"g{i}", "title": f"Good paper {i}"} for i in range(3)]
    records[1:1] = ['{"id": "x", oops', {"title": "no id"}]
    records += [{"id": f"bad{i}"} for i in range(25)]  # missing titles: more than the cap
    path = write_jsonl(tmp_path / "mixed.jsonl", records)
    code, out, err = cli("index", str(path))
    assert code == 0
    assert f"{path}:2: malformed JSON" in err
    assert f"{path}:3: missing 'id'" in err
    assert "... and 7 more bad records" in err
    assert len([ln for ln in err.splitlines() if ln.startswith("error: " + str(path))]) == 20
    assert "read 30 records, indexed 3" in out and "skipped 27" in out
    code, out, _ = cli("stats", "--json")
    assert json.loads(out)["papers"] == 3


def test_a_damaged_file_is_partial_input(cli, tmp_path):
    lines = "".join(json.dumps(r) + "\n" for r in synthetic_papers(400))
    data = gzip.compress(lines.encode())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    code, out, err = cli("index", str(cut))
    assert code == 3, err
    assert "partial input" in err and str(cut) in err
    indexed = json.loads(cli("stats", "--json")[1])["papers"]
    assert 0 < indexed < 400
    csv_path = tmp_path / "bad-quote.csv"
    csv_path.write_text('id,title\nc1,"Unterminated\nc2,Second\nc3,Third\n')
    code, out, err = cli("index", str(csv_path))
    assert code == 0 and "read 3 records, indexed 2" in out and "skipped 1" in out
    assert f"{csv_path}:2: malformed CSV" in err


def test_duplicate_ids_last_one_wins(cli, tmp_path):
    path = write_jsonl(
        tmp_path / "dup.jsonl",
        [
            {"id": "d", "title": "Old title"},
            {"id": "e", "title": "Other"},
            {"id": "d", "title": "New title"},
        ],
    )
    code, out, _ = cli("index", str(path))
    assert code == 0 and "1 duplicate ids (last one kept)" in out
    code, out, _ = cli("get", "d", "--json")
    assert json.loads(out)["title"] == "New title"


def test_strict_aborts_without_writing(cli, tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [{"id": "a", "title": "A"}, "{bad"])
    code, _, err = cli("index", "--strict", str(path))
    assert code == 2 and "nothing was written" in err and f"{path}:2" in err
    code, out, _ = cli("stats", "--json")
    assert json.loads(out)["papers"] == 0


def test_unusable_inputs_exit_2_with_one_line(cli, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    allbad = write_jsonl(tmp_path / "allbad.jsonl", ["nope", "{}"])
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(bytes(range(256)) * 4)
    for path in (tmp_path / "missing.jsonl", tmp_path, empty, allbad, binary):
        code, _, err = cli("index", str(path))
        assert code == 2, path
        assert "Traceback" not in err and err.strip()
    code, _, err = cli("index", str(tmp_path / "missing.jsonl"))
    assert (
        err.strip().splitlines()[0]
        == f"error: {tmp_path / 'missing.jsonl'}: no such file or directory"
    )


def test_one_unusable_path_among_good_ones(cli, tmp_path):
    code, out, err = cli("index", str(FIXTURES / "papers.jsonl"), str(tmp_path / "nope"))
    assert code == 2 and "no such file" in err
    assert json.loads(cli("stats", "--json")[1])["papers"] == 12


def test_usage_errors_exit_2(cli):
    for args in (
        ["search", "x", "-k", "0"],
        ["search", "x", "--mode", "nope"],
        ["search", "x", "--from", "yesterday"],
        ["frobnicate"],
        ["search", "x", "--from", "2024-05-01", "--to", "2024-01-01"],
    ):
        code_or_exit = None
        try:
            code_or_exit, _, err = cli(*args)
        except SystemExit as e:
            code_or_exit = e.code
        assert code_or_exit == 2, args


@pytest.mark.parametrize(
    ("parse", "value", "expected"),
    [
        (arguments.positive, "3", 3),
        (arguments.positive_float, "2e-5", 2e-5),
        (arguments.fraction, "1", 1.0),
        (arguments.probability, "0.9", 0.9),
        (arguments.top_k, "1000", 1000),
        (arguments.seconds, "0", 0.0),
        (arguments.retriever_list, "dense, bm25,dense", ["dense", "bm25"]),
        (arguments.day, " 2024-02-29 ", "2024-02-29"),
        (arguments.category_list, "cs.CL, ,cs.IR", ["cs.CL", "cs.IR"]),
    ],
)
def test_argument_types_accept(parse, value, expected):
    assert parse(value) == expected


@pytest.mark.parametrize(
    ("parse", "value", "error"),
    [
        (arguments.positive, "0", "must be at least 1"),
        (arguments.positive, "1.5", "not an integer: '1.5'"),
        (arguments.positive_float, "inf", "must be a positive number"),
        (arguments.positive_float, "nan", "must be a positive number"),
        (arguments.fraction, "0", "must be in (0, 1]"),
        (arguments.probability, "1", "must be between 0 and 1"),
        (arguments.probability, "high", "not a number: 'high'"),
        (arguments.top_k, "1001", "must be between 1 and 1000"),
        (arguments.seconds, "-1", "must be between 0 and 3600 seconds"),
        (arguments.retriever_list, "bm25", "name two or three of bm25, dense, sparse"),
        (arguments.day, "2023-02-29", "not a date (YYYY-MM-DD): '2023-02-29'"),
        (arguments.category_list, " , ", "no categories given (e.g. cs.CL,cs.IR)"),
    ],
)
def test_argument_types_reject_with_the_rule(parse, value, error):
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        parse(value)
    assert str(raised.value) == error


@pytest.mark.slow
def test_data_dir_from_environment(tmp_path):
    env_dir = tmp_path / "home"
    import os

    env = dict(os.environ, SCISEEK_HOME=str(env_dir))
    r = run_sciseek("index", str(FIXTURES / "papers.jsonl"), env=env)
    assert r.returncode == 0, r.stderr
    assert (env_dir / "sciseek.db").exists()
    r = run_sciseek("stats", "--json", env=env)
    assert json.loads(r.stdout)["papers"] == 12


def test_data_dir_before_the_command_is_used(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCISEEK_HOME", raising=False)
    before, after = tmp_path / "before", tmp_path / "after"
    assert main(["--data-dir", str(before), "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data_dir"] == str(before)
    assert not (tmp_path / "sciseek-data").exists()
    # given twice, the one after the command name wins
    assert main(["--data-dir", str(before), "stats", "--data-dir", str(after), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data_dir"] == str(after)


def test_help_and_version():
    r = run_sciseek("--help")
    assert r.returncode == 0 and "index" in r.stdout and "eval" in r.stdout
    r = run_sciseek("search", "--help")
    assert r.returncode == 0 and "--category" in r.stdout


def test_data_dir_that_is_a_file_is_bad_usage(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = run_sciseek("stats", data_dir=blocker)
    assert r.returncode == 2 and r.stderr.startswith("error:") and "not a directory" in r.stderr


def test_other_failures_exit_1_without_traceback(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "sciseek.db").write_bytes(b"this is not a database" * 100)
    r = run_sciseek("stats", data_dir=data)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error:")
    r = run_sciseek("stats", "--debug", data_dir=data)
    assert "Traceback" in r.stderr


def _tiny_beir(root, qrels_rows):
    root.mkdir()
    write_jsonl(
        root / "corpus.jsonl",
        [
            {"_id": "d1", "title": "", "text": "apples and oranges", "metadata": {}},
            {"_id": "d2", "title": "", "text": "apples apples apples", "metadata": {}},
            {"_id": "d3", "title": "", "text": "bananas", "metadata": {}},
            {"_id": "q2", "title": "", "text": "cherries cherries", "metadata": {}},
        ],
    )
    write_jsonl(
        root / "queries.jsonl",
        [
            {"_id": "q1", "text": "apples"},
            {"_id": "q2", "text": "cherries"},
            {"_id": "q3", "text": "unjudged query"},
        ],
    )
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels_rows)
    )


def test_eval_matches_hand_computed_metrics(tmp_path, cli):
    # q1: ranking is d2 (tf 3) then d1; d1 is judged 2, d2 judged 1 (graded).
    # q2: the only match is the query's own id, which BEIR excludes: no relevant doc found.
    _tiny_beir(tmp_path / "tiny", [("q1", "d1", 2), ("q1", "d2", 1), ("q2", "d3", 1)])
    code, out, err = cli("eval", str(tmp_path / "tiny"), "--json", "--mode", "bm25")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["dataset"] == "tiny" and result["mode"] == "bm25" and result["queries"] == 2
    import math

    dcg = 1 / math.log2(2) + 2 / math.log2(3)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    m = result["metrics"]
    assert math.isclose(m["ndcg@10"], round(dcg / idcg / 2, 4), abs_tol=1e-4)
    assert m["mrr@10"] == 0.5 and m["recall@100"] == 0.5 and m["recall@5"] == 0.5


def test_eval_train_split_and_missing_split(tmp_path, cli):
    _tiny_beir(tmp_path / "tiny", [("q1", "d1", 1)])
    (tmp_path / "tiny" / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td2\t1\n"
    )
    code, out, _ = cli(
        "eval", str(tmp_path / "tiny"), "--split", "train", "--json", "--mode", "bm25"
    )
    assert code == 0 and json.loads(out)["metrics"]["mrr@10"] == 1.0
    code, _, err = cli("eval", str(tmp_path / "tiny"), "--split", "dev")
    assert code == 2 and "dev" in err


def test_eval_on_shared_adi(cli):
    code, out, err = cli("eval", str(SHARED_DATA / "adi"), "--json", "--mode", "bm25")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["queries"] == 35
    assert set(result["metrics"]) == {"ndcg@10", "recall@100", "mrr@10", "recall@5"}
    assert 0.35 < result["metrics"]["ndcg@10"] < 0.7


def test_demo_without_the_site_indexes_a_file_and_shows_results(cli, tmp_path):
    path = tmp_path / "p.jsonl.gz"
    with gzip.open(path, "wt") as f:
        for r in synthetic_papers(50):
            f.write(json.dumps(r) + "\n")
    code, out, err = cli("demo", "--file", str(path), "--no-serve")
    assert code == 0, err
    assert "read 50 records, indexed 50" in out and "sciseek search" in out
    # BM25 answers before the papers are encoded, hybrid after
    assert out.index("sample search (BM25)") < out.index("sample search (hybrid")
