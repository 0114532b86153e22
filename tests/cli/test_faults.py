"""Crash safety and concurrency, with real processes: SIGKILL mid-index, search while indexing."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import run_sciseek, synthetic_papers, write_jsonl

N = 3_000
BATCH = 250
CONCURRENT = 6_000


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("big") / "big.jsonl", synthetic_papers(N))


def _start_index(path, data_dir):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sciseek",
            "index",
            str(path),
            "-v",
            "--batch-size",
            str(BATCH),
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _committed_ids(stderr_lines, path):
    """Ids reported committed: batches are written in file order."""
    n = sum(
        int(m.group(1)) for line in stderr_lines if (m := re.match(r"committed (\d+) papers", line))
    )
    return n


def _kill_after(proc, batches):
    """Read stderr until ``batches`` commits were reported, then SIGKILL."""
    lines = []
    while len([ln for ln in lines if ln.startswith("committed")]) < batches:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("batches", [0, 1, 5, 9])
def test_sigkill_during_index_leaves_a_consistent_searchable_state(big_file, tmp_path, batches):
    data = tmp_path / "data"
    proc = _start_index(big_file, data)
    if batches == 0:
        time.sleep(0.3)  # killed while the store is being opened or the first batch is read
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        lines = []
    else:
        lines = _kill_after(proc, batches)
    committed = _committed_ids(lines, big_file)
    assert proc.returncode == -signal.SIGKILL

    r = run_sciseek("stats", "--json", data_dir=data)
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["papers"] >= committed
    assert stats["lexical"]["documents"] == stats["papers"]
    # embeddings are computed after the reading: they may lag, never exceed the store
    assert stats["dense"]["documents"] <= stats["papers"]
    if committed:
        # every paper reported committed is searchable: its unique token finds it
        for i in (0, committed // 2, committed - 1):
            r = run_sciseek(
                "search", f"token{i}", "--json", "-k", "1", "--mode", "bm25", data_dir=data
            )
            assert r.returncode == 0, r.stderr
            assert json.loads(r.stdout)["hits"][0]["id"] == f"syn-{i}"

    r = run_sciseek("index", str(big_file), data_dir=data)
    assert r.returncode == 0, r.stderr
    r = run_sciseek("stats", "--json", data_dir=data)
    stats = json.loads(r.stdout)
    assert stats["papers"] == N == stats["lexical"]["documents"] == stats["dense"]["documents"]
    assert stats["dense"]["up_to_date"] and stats["lexical"]["up_to_date"]
    r = run_sciseek("search", "token17", "--json", "-k", "3", "--mode", "dense", data_dir=data)
    assert r.returncode == 0 and len(json.loads(r.stdout)["hits"]) == 3


@pytest.mark.slow
def test_search_while_indexing_in_another_process(tmp_path):
    # big enough that indexing outlasts a round of searches in fresh processes
    big_file = write_jsonl(tmp_path / "bigger.jsonl", synthetic_papers(CONCURRENT))
    data = tmp_path / "data"
    first = write_jsonl(tmp_path / "first.jsonl", synthetic_papers(100, start=CONCURRENT))
    assert run_sciseek("index", str(first), data_dir=data).returncode == 0
    proc = _start_index(big_file, data)
    searches = 0
    try:
        while proc.poll() is None and searches < 40:
            r = run_sciseek(
                "search", f"token{CONCURRENT + 5}", "--json", "--mode", "bm25", data_dir=data
            )
            assert r.returncode == 0, r.stderr
            assert "locked" not in r.stderr
            assert json.loads(r.stdout)["hits"][0]["id"] == f"syn-{CONCURRENT + 5}"
            r = run_sciseek("search", "study on vision", "--json", data_dir=data)
            assert r.returncode == 0 and json.loads(r.stdout)["hits"], r.stderr
            s = run_sciseek("stats", "--json", data_dir=data)
            assert s.returncode == 0, s.stderr
            searches += 1
    finally:
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert searches >= 1, "indexing finished before any concurrent search ran"
    stats = json.loads(run_sciseek("stats", "--json", data_dir=data).stdout)
    assert stats["papers"] == CONCURRENT + 100 == stats["lexical"]["documents"]
    assert stats["dense"]["documents"] == CONCURRENT + 100


@pytest.mark.slow
def test_kill_between_store_commit_and_index_commit(tmp_path, papers):
    """A store write whose index commit never happened is indexed by the next process."""
    data = tmp_path / "data"
    code = (
        "import os, signal, sys\n"
        "from sciseek import Engine, Paper\n"
        "from sciseek.index.lexical import LexicalIndex\n"
        "LexicalIndex.sync = lambda self, *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"e = Engine.open({str(data)!r})\n"
        "e.add([Paper('late', 'Ornithology of migrating swallows')])\n"
    )
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL
    r = run_sciseek("search", "swallows", "--json", data_dir=data)
    assert r.returncode == 0, r.stderr
    assert [h["id"] for h in json.loads(r.stdout)["hits"]] == ["late"]
