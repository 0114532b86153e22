"""Shared fixtures: hand-written papers, temporary data dirs, and CLI runners."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

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


# Property-based tests: seeded and small in the suite, 10,000 examples with
# HYPOTHESIS_PROFILE=fuzz.
settings.register_profile(
    "ci", max_examples=60, derandomize=True, deadline=None, database=None, print_blob=True
)
settings.register_profile("fuzz", max_examples=10_000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory):
    """A milvus-lite server on 127.0.0.1 for the session (each store gets its own
    collection), stopped at the end."""
    from tests.helpers import milvus_server

    with milvus_server(tmp_path_factory.mktemp("milvus") / "data") as uri:
        yield uri
