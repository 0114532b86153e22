"""Shared fixtures: hand-written papers, temporary data dirs, and CLI runners."""

from __future__ import annotations

import os

import pytest

from sciseek import Engine, read_papers
from sciseek.cli import main
from tests.helpers import FIXTURES

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture
def papers():
    """The twelve hand-written fixture papers."""
    return list(read_papers(FIXTURES / "papers.jsonl"))


@pytest.fixture
def engine(tmp_path, papers):
    """An engine over the fixture papers in a fresh data dir."""
    with Engine.open(tmp_path / "data") as e:
        e.add(papers)
        yield e


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def cli(data_dir, capsys):
    """Run the CLI in-process against the test data dir: returns (code, stdout, stderr)."""

    def run(*args: str):
        try:
            code = main([*args, "--data-dir", str(data_dir)])
        except SystemExit as e:  # argparse rejects bad usage this way
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err

    return run
