from sciseek import Engine
from sciseek.ingest.readers import ReadError, UnreadableSource
from sciseek.search.indexing import index_file, index_files, validate_files
from tests.helpers import FIXTURES, write_jsonl

PAPERS = FIXTURES / "papers.jsonl"


def test_index_files_counts_batches_and_progress(tmp_path):
    batches, steps = [], []
    with Engine.open(tmp_path / "data") as engine:
        report = index_files(
            engine, [PAPERS], batch_size=5, on_batch=batches.append, progress=steps.append
        )
        assert engine.store.count() == 12
    (file,) = report.files
    assert (file.read, file.skipped, file.new, file.indexed) == (12, 0, 12, 12)
    assert [b.papers for b in batches] == [5, 5, 2]
    assert [b.generation for b in batches] == sorted(b.generation for b in batches)
    assert sum(steps) == 12
    assert report.indexed == 12 and not report.unreadable and not report.aborted


def test_index_files_skips_bad_records_and_counts_duplicates(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "2401.00001", "title": "Again"}, "not json"])
    errors, files = [], []
    with Engine.open(tmp_path / "data") as engine:
        report = index_files(
            engine,
            [PAPERS, bad, tmp_path / "missing.jsonl"],
            on_error=errors.append,
            on_file=files.append,
            dense=False,
        )
        again = index_file(engine, PAPERS)
    assert [f.path for f in files] == [str(PAPERS), str(bad)]
    assert (files[1].read, files[1].skipped, files[1].duplicates, files[1].updated) == (
        2,
        1,
        1,
        1,
    )
    assert isinstance(errors[0], ReadError) and errors[0].line == 2
    assert isinstance(errors[1], UnreadableSource)
    assert report.bad_records == 2 and len(report.unreadable) == 1
    assert again.unchanged == 11 and again.updated == 1


def test_strict_writes_nothing_when_a_record_is_bad(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "title": "X"}, "not json"])
    assert validate_files([PAPERS, bad]) == (13, 1)
    with Engine.open(tmp_path / "data") as engine:
        report = index_files(engine, [PAPERS, bad], strict=True)
        assert engine.store.count() == 0
    assert report.aborted and report.bad_records == 1 and not report.files
