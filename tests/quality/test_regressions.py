"""The claimed quality figures: re-run, drift detected, docs generated from the same data."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from sciseek.quality import regressions
from tests.helpers import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "benchmarks" / "regressions.toml"
DOCS = (ROOT / "README.md", ROOT / "BENCHMARKS.md")


def test_the_regressions_file_covers_every_mode_of_the_readme_table():
    data = regressions.load(FIGURES)
    names = {f.name for f in data.figures}
    for dataset in data.readme_datasets:
        for mode in regressions.MODES:
            assert f"{dataset}/{mode}/ndcg@10" in names
    assert data.select(fast=True), "the quick subset is empty"


@pytest.mark.slow
def test_the_quick_subset_reproduces_the_claimed_figures():
    figures = regressions.load(FIGURES).select(fast=True)
    outcomes = regressions.check(figures, SHARED_DATA)
    drift = [regressions.report([o]) for o in outcomes if not o.ok]
    assert not drift, "\n".join(drift)


def test_a_wrong_expected_value_is_reported_as_drift(tmp_path):
    figure = regressions.load(FIGURES).select(only="adi/bm25/ndcg@10")[0]
    wrong = dataclasses.replace(figure, expected=figure.expected + 10 * figure.tolerance + 0.01)
    right, drifted = regressions.check([figure, wrong], SHARED_DATA)
    assert right.ok
    assert not drifted.ok
    assert "DRIFT" in regressions.report([drifted])
    # the command fails on it too
    (tmp_path / "wrong.toml").write_text(
        "[[figure]]\n"
        f'dataset = "{wrong.dataset}"\nmode = "{wrong.mode}"\nmetric = "{wrong.metric}"\n'
        f"expected = {wrong.expected}\ntolerance = {wrong.tolerance}\n",
        encoding="utf-8",
    )
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "regressions.py"),
        "--figures",
        str(tmp_path / "wrong.toml"),
        "--shared",
        str(SHARED_DATA),
        "--only",
        "adi/bm25/ndcg@10",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "DRIFT" in done.stdout


def test_the_docs_tables_are_generated_from_the_regressions_file():
    data = regressions.load(FIGURES)
    assert regressions.stale_docs(DOCS, data) == []
    readme = DOCS[0].read_text(encoding="utf-8")
    assert regressions.readme_quality(data) in readme
    changed = dataclasses.replace(
        data, figures=tuple(dataclasses.replace(f, expected=0.111) for f in data.figures)
    )
    assert regressions.stale_docs(DOCS, changed) == list(DOCS)
    assert "| SciFact | 0.111 |" in regressions.render(readme, changed)


def test_a_malformed_regressions_file_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[figure]]\ndataset = "adi"\nmode = "bm25"\n', encoding="utf-8")
    with pytest.raises(regressions.InvalidRegressions, match="bad.toml: figure 1"):
        regressions.load(bad)
