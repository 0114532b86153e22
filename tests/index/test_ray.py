"""Encoding on a real two-node Ray cluster on loopback: the same vectors as local encoding,
and a killed job that resumes after its committed chunks."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from sciseek import Engine, read_papers
from sciseek.index.vector_table import CHUNK
from tests.helpers import (
    FIXTURES,
    RAY_ENV,
    ray_cluster,
    run_sciseek,
    synthetic_papers,
    write_jsonl,
)

ENV = {**os.environ, **RAY_ENV, "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def cluster():
    # a short path: Ray's socket paths live under its temp dir (sockets cap at 107 bytes)
    root = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    try:
        with ray_cluster(root / "t", nodes=2, cpus=1) as address:
            yield address
    finally:
        shutil.rmtree(root, ignore_errors=True)


def encodings(data_dir: Path) -> dict[str, tuple[np.ndarray, int]]:
    """Each paper's stored vector and the chunk that committed it, read as another process."""
    db = sqlite3.connect(f"file:{data_dir / 'dense' / 'vectors.db'}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute("SELECT id, b, chunk FROM enc").fetchall()
    finally:
        db.close()
    return {i: (np.frombuffer(b, dtype=np.float32), c) for i, b, c in rows}


def test_the_cluster_encodes_what_local_encoding_does(tmp_path, cluster):
    corpus = FIXTURES / "papers.jsonl"
    done = run_sciseek("index", str(corpus), "--ray", cluster, data_dir=tmp_path / "ray", env=ENV)
    assert done.returncode == 0, done.stderr
    assert "encoding on Ray: 2 CPU actor(s) on 2 node(s)" in done.stderr
    with Engine.open(tmp_path / "local", log=lambda m: None) as local:
        local.add(list(read_papers(corpus)))
    here, there = encodings(tmp_path / "local"), encodings(tmp_path / "ray")
    assert here.keys() == there.keys() and len(here) == 12
    for paper_id, (vector, _) in here.items():
        assert float(vector @ there[paper_id][0]) >= 0.9999, paper_id
    with Engine.open(tmp_path / "ray", log=lambda m: None) as engine:
        top = engine.search("graph neural networks for molecules", mode="dense", k=1)
        assert top[0].paper.id == "2402.00003"


def test_a_killed_job_resumes_after_its_committed_chunks(tmp_path, cluster):
    papers = 6000
    corpus = write_jsonl(tmp_path / "corpus.jsonl", synthetic_papers(papers))
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "sciseek", "index", str(corpus), "--ray", cluster]
    job = subprocess.Popen(
        [*cmd, "--data-dir", str(data)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and job.poll() is None:
            if (data / "dense" / "vectors.db").exists() and len(encodings(data)) >= CHUNK:
                break
            time.sleep(0.05)
    finally:
        os.killpg(job.pid, signal.SIGKILL)  # the driver dies at an arbitrary moment
        job.wait()
    before = encodings(data)
    assert CHUNK <= len(before) < papers, "the kill should land while the job runs"
    again = run_sciseek("sync", "--ray", cluster, data_dir=data, env=ENV)
    assert again.returncode == 0, again.stderr
    after = encodings(data)
    assert len(after) == papers
    # every chunk committed before the kill is kept as it was, not encoded again
    assert all(after[i][1] == chunk for i, (_, chunk) in before.items())
    assert min(c for _, c in after.values()) == min(c for _, c in before.values())
