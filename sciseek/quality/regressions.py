"""Regressions as data: the quality figures the docs claim, re-run and checked for drift.

Each figure (dataset, mode, metric, expected value, tolerance) is one entry of a TOML file
(``benchmarks/regressions.toml``). ``check`` evaluates the entries on the shared BEIR-format
sets and reports every figure outside its tolerance; ``render`` turns the entries into the
Markdown tables of README.md and BENCHMARKS.md, so the docs are generated from the same data
that the check re-runs (as Pyserini's two-click reproductions do).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from sciseek.errors import BadInput
from sciseek.search.engine import Engine
from sciseek.search.indexing import index_files

from .evaluation import evaluate, load_dataset

METRIC_NAMES = {"ndcg@10": "nDCG@10", "recall@100": "Recall@100", "mrr@10": "MRR@10"}


class InvalidRegressions(BadInput):
    """The regressions file is malformed."""


@dataclass(frozen=True)
class Figure:
    """One claimed figure: ``metric`` of ``mode`` on ``dataset``, ``expected`` +- ``tolerance``."""

    dataset: str
    mode: str
    metric: str
    expected: float
    tolerance: float
    fast: bool = False  # part of the quick subset that CI runs

    @property
    def name(self) -> str:
        """``dataset/mode/metric``, the name ``--only`` patterns match."""
        return f"{self.dataset}/{self.mode}/{self.metric}"


@dataclass(frozen=True)
class Regressions:
    """The figures of a regressions file and the look of each dataset in the tables."""

    figures: tuple[Figure, ...]
    labels: dict[str, str]  # dataset -> its name in the README table
    readme_datasets: tuple[str, ...]

    def select(self, *, fast: bool = False, only: str | None = None) -> list[Figure]:
        """The figures of the quick subset (``fast``) and/or matching a glob pattern."""
        return [
            f
            for f in self.figures
            if (f.fast or not fast) and (only is None or fnmatch(f.name, only))
        ]


@dataclass(frozen=True)
class Outcome:
    """A figure as measured now."""

    figure: Figure
    measured: float

    @property
    def ok(self) -> bool:
        """Whether the measured value is within the figure's tolerance."""
        return abs(self.measured - self.figure.expected) <= self.figure.tolerance + 1e-12


def load(path: str | Path) -> Regressions:
    """Read and validate a regressions file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InvalidRegressions(f"{path}: {e}") from None
    figures = []
    for i, entry in enumerate(raw.get("figure", []), 1):
        try:
            figure = Figure(
                dataset=str(entry["dataset"]),
                mode=str(entry["mode"]),
                metric=str(entry["metric"]),
                expected=float(entry["expected"]),
                tolerance=float(entry["tolerance"]),
                fast=bool(entry.get("fast", False)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidRegressions(f"{path}: figure {i}: missing or bad field {e}") from None
        if figure.metric not in METRIC_NAMES:
            raise InvalidRegressions(f"{path}: figure {i}: unknown metric {figure.metric!r}")
        figures.append(figure)
    tables = raw.get("tables", {})
    return Regressions(
        tuple(figures),
        dict(tables.get("labels", {})),
        tuple(tables.get("readme_datasets", ())),
    )


def check(
    figures: Sequence[Figure],
    shared: str | Path,
    *,
    work: str | Path | None = None,
    log: Callable[[str], None] = lambda msg: None,
) -> list[Outcome]:
    """Evaluate every figure on the shared data; one outcome each, in the given order.

    Each dataset is indexed once (into ``work/NAME`` when given, so reruns skip encoding);
    with only BM25 figures for a dataset, no paper is embedded. The figures were recorded
    with torch in bf16, so the encoders run in bf16 here on every CPU (emulated, slower, where
    the CPU lacks bf16 instructions): the check compares rankings, not the machine's path.
    """
    with _precision(RECORDED_PRECISION):
        return _check(figures, shared, work, log)


RECORDED_PRECISION = "bf16"  # the encoders' arithmetic when the figures were measured


@contextlib.contextmanager
def _precision(value: str) -> Iterator[None]:
    before = os.environ.get("SCISEEK_PRECISION")
    os.environ["SCISEEK_PRECISION"] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SCISEEK_PRECISION", None)
        else:
            os.environ["SCISEEK_PRECISION"] = before


def _check(
    figures: Sequence[Figure],
    shared: str | Path,
    work: str | Path | None,
    log: Callable[[str], None],
) -> list[Outcome]:
    by_dataset: dict[str, list[Figure]] = {}
    for f in figures:
        by_dataset.setdefault(f.dataset, []).append(f)
    measured: dict[Figure, float] = {}
    with tempfile.TemporaryDirectory(prefix="sciseek-regressions-") as tmp:
        root = Path(work) if work is not None else Path(tmp)
        for name, group in by_dataset.items():
            dataset = load_dataset(Path(shared) / name)
            with Engine.open(root / name, log=lambda msg: None) as engine:
                dense = any(f.mode != "bm25" for f in group)
                index_files(engine, [dataset.corpus], "beir", dense=dense)
                results = {}
                for mode in dict.fromkeys(f.mode for f in group):
                    results[mode] = evaluate(engine, dataset, mode).metrics
                    log(f"{name} {mode}: " + _metrics_line(results[mode]))
            for f in group:
                measured[f] = results[f.mode][f.metric]
    return [Outcome(f, measured[f]) for f in figures]


def _metrics_line(metrics: dict[str, float]) -> str:
    return "  ".join(f"{METRIC_NAMES.get(k, k)} {v:.4f}" for k, v in metrics.items())


def report(outcomes: Iterable[Outcome]) -> str:
    """A Markdown table of expected vs measured figures, drift marked."""
    lines = [
        "| figure | expected | measured | diff | tolerance | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for o in outcomes:
        f = o.figure
        lines.append(
            f"| {f.name} | {f.expected:.4f} | {o.measured:.4f} | "
            f"{o.measured - f.expected:+.4f} | {f.tolerance:.4f} | {'ok' if o.ok else 'DRIFT'} |"
        )
    return "\n".join(lines)


# -- the docs' tables --------------------------------------------------------------------------

MODES = ("bm25", "dense", "sparse", "hybrid")


def _value(regressions: Regressions, dataset: str, mode: str, metric: str) -> float | None:
    for f in regressions.figures:
        if (f.dataset, f.mode, f.metric) == (dataset, mode, metric):
            return f.expected
    return None


def _cell(value: float | None, bold: bool = False) -> str:
    if value is None:
        return "-"
    return f"**{value:.3f}**" if bold else f"{value:.3f}"


def readme_quality(regressions: Regressions) -> str:
    """README's table: nDCG@10 of every mode on each dataset, the default (hybrid) in bold."""
    lines = ["| dataset | bm25 | dense | sparse | hybrid (default) |", "|---|---:|---:|---:|---:|"]
    for name in regressions.readme_datasets:
        cells = [_cell(_value(regressions, name, m, "ndcg@10"), m == "hybrid") for m in MODES]
        lines.append(f"| {regressions.labels.get(name, name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def benchmarks_quality(regressions: Regressions) -> str:
    """BENCHMARKS.md's table: nDCG@10, Recall@100 and MRR@10 of every mode on every dataset."""
    lines = ["| dataset | mode | nDCG@10 | Recall@100 | MRR@10 |", "|---|---|---:|---:|---:|"]
    for name in dict.fromkeys(f.dataset for f in regressions.figures):
        for mode in MODES:
            values = [_value(regressions, name, mode, m) for m in METRIC_NAMES]
            if all(v is None for v in values):
                continue
            bold = mode == "hybrid"
            label = f"**{mode}**" if bold else mode
            lines.append(
                f"| {name} | {label} | " + " | ".join(_cell(v, bold) for v in values) + " |"
            )
    return "\n".join(lines)


TABLES: dict[str, Callable[[Regressions], str]] = {
    "readme-quality": readme_quality,
    "benchmarks-quality": benchmarks_quality,
}


def _marked(name: str) -> re.Pattern[str]:
    name = re.escape(name)
    start, end = rf"<!-- regressions:{name} -->", rf"<!-- /regressions:{name} -->"
    return re.compile(rf"({start}\n)(.*?)(\n{end})", re.S)


def render(text: str, regressions: Regressions) -> str:
    """``text`` with every marked table replaced by the one generated from ``regressions``."""
    for name, make in TABLES.items():
        text = _marked(name).sub(lambda m, make=make: m[1] + make(regressions) + m[3], text)
    return text


def stale_docs(paths: Iterable[str | Path], regressions: Regressions) -> list[Path]:
    """The docs whose marked tables differ from what ``regressions`` generates."""
    out = []
    for path in map(Path, paths):
        text = path.read_text(encoding="utf-8")
        if render(text, regressions) != text:
            out.append(path)
    return out
