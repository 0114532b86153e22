"""The first run: ``sciseek demo`` serves BM25 at once, encodes behind, stops and resumes."""

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.helpers import FIXTURES, run_sciseek, synthetic_papers, write_jsonl


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _demo(path, data_dir, port, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sciseek",
            "demo",
            "--file",
            str(path),
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until(stream, marker, timeout=180.0):
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} never printed; got {''.join(lines)[-2000:]}")


def _get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.status, r.read().decode()


@pytest.mark.slow
def test_demo_answers_with_bm25_first_then_hybrid(tmp_path):
    port = _free_port()
    proc = _demo(FIXTURES / "papers.jsonl", tmp_path / "data", port)
    try:
        before = _read_until(proc.stdout, "site: http://")
        text = "".join(before)
        assert "sample search (BM25)" in text
        assert "2401.00001" in text or "2405.00009" in text  # BM25 hits from the fixture
        status, body = _get(f"http://127.0.0.1:{port}/?q=dense+retrieval")
        assert status == 200 and "Distilling Query Encoders" in body
        status, body = _get(f"http://127.0.0.1:{port}/api/search?q=query+encoders&mode=bm25")
        assert status == 200 and json.loads(body)["hits"]
        after = "".join(_read_until(proc.stdout, "sample search (hybrid)"))
        assert "every paper encoded" in after
        health = json.loads(_get(f"http://127.0.0.1:{port}/api/health")[1])
        assert health["indexes"]["dense"] == {
            "documents": 12,
            "papers": 12,
            "up_to_date": True,
            "pending": 0,
        }
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "12 of 12 papers have embeddings" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the next run finds everything done and searches hybrid at once
    r = run_sciseek(
        "demo", "--file", str(FIXTURES / "papers.jsonl"), "--no-serve", data_dir=tmp_path / "data"
    )
    assert r.returncode == 0, r.stderr
    assert "sample search (hybrid)" in r.stdout and "sample search (BM25)" not in r.stdout


def _chunks(data_dir):
    db = sqlite3.connect(data_dir / "dense" / "vectors.db")
    try:
        return dict(db.execute("SELECT id, chunk FROM enc"))
    finally:
        db.close()


@pytest.mark.slow
def test_a_kill_during_background_encoding_loses_nothing_and_resumes(tmp_path):
    n = 1200
    papers = write_jsonl(tmp_path / "papers.jsonl", synthetic_papers(n))
    data = tmp_path / "data"
    proc = _demo(papers, data, _free_port())
    try:
        _read_until(proc.stdout, "site: http://")
        deadline = time.monotonic() + 240
        done = {}
        while len(done) < 128 and time.monotonic() < deadline:  # one chunk committed
            time.sleep(0.2)
            done = _chunks(data) if (data / "dense" / "vectors.db").exists() else {}
        assert len(done) >= 128, "no chunk was committed in time"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stats = json.loads(run_sciseek("stats", "--json", data_dir=data).stdout)
    assert stats["papers"] == n == stats["lexical"]["documents"]  # every paper was kept
    assert not stats["dense"]["up_to_date"]
    finished = _chunks(data)
    assert 128 <= len(finished) < n
    r = run_sciseek("sync", data_dir=data)
    assert r.returncode == 0, r.stderr
    after = _chunks(data)
    assert len(after) == n
    # what was committed before the kill was not encoded again: same chunk numbers
    assert {pid: after[pid] for pid in finished} == finished
    r = run_sciseek("search", "token1100", "--json", "-k", "1", "--mode", "bm25", data_dir=data)
    assert json.loads(r.stdout)["hits"][0]["id"] == "syn-1100"
    r = run_sciseek(
        "search", "study on vision", "--json", "-k", "5", "--mode", "dense", data_dir=data
    )
    assert len(json.loads(r.stdout)["hits"]) == 5
