"""Helpers for tests: paths, fixture writers and a subprocess runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write_jsonl(path: Path, records) -> Path:
    """Write records (dicts, or raw strings written as-is) one per line."""
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def synthetic_papers(n: int, start: int = 0):
    """n distinct, searchable papers with ids syn-{i}."""
    topics = ["retrieval", "graphs", "vision", "speech", "robotics", "proteins", "climate"]
    for i in range(start, start + n):
        topic = topics[i % len(topics)]
        yield {
            "id": f"syn-{i}",
            "title": f"Study number {i} on {topic}",
            "abstract": f"We study {topic} with method m{i} and report token{i} results.",
            "authors": [f"Author {i % 97}"],
            "categories": [f"cat.{topic}"],
            "published": f"20{10 + i % 15}-0{1 + i % 9}-1{i % 9}",
        }


def run_sciseek(*args: str, data_dir: Path | None = None, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m sciseek`` in a subprocess."""
    cmd = [sys.executable, "-m", "sciseek", *args]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
