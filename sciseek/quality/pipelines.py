"""The training and tuning pipelines behind `sciseek train` and `sciseek tune`.

Each gathers its data, runs the steps in order and returns a report; the caller prints it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sciseek.index.models import document_text
from sciseek.ingest.readers import ReadError, UnreadableSource, read_valid
from sciseek.search.engine import Engine
from sciseek.search.relevance import save_calibration
from sciseek.search.settings import RETRIEVERS

from . import training_data
from .evaluation import Dataset, collect_runs, tune_fusion
from .train import TRAINING_FILE, TrainReport, calibrate, train_cross_encoder, train_encoder

Log = Callable[[str], None]


class _Bar:
    """A progress bar that shows nothing."""

    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n


def no_bar(total: int | None, desc: str, unit: str = "paper") -> AbstractContextManager[Any]:
    """A progress-bar factory that shows nothing (the default of the pipelines)."""
    return nullcontext(_Bar())


Bars = Callable[..., AbstractContextManager[Any]]


def _quiet(message: str) -> None:
    pass


def judged(dataset: str, split: str) -> str:
    """How a model folder records training on a dataset's judged split."""
    return f"judged ({dataset} {split})"


def trained_on(model_path: str | Path) -> str | None:
    """The training data a sciseek-trained model folder records, if any."""
    try:
        return json.loads((Path(model_path) / TRAINING_FILE).read_text()).get("data")
    except (OSError, ValueError, AttributeError):
        return None


def index_corpus(
    engine: Engine,
    source: str | Path,
    format: str = "auto",
    *,
    dense: bool = True,
    on_error: Callable[[ReadError], None] | None = None,
    bars: Bars = no_bar,
    desc: str = "indexing corpus",
) -> int:
    """Add every good paper of ``source`` to ``engine`` in one batch; returns how many."""
    papers = list(read_valid(source, format, on_error=on_error))
    with bars(len(papers), desc) as bar:
        engine.add(papers, bar.update if dense else None, dense=dense)
        bar.update(len(papers) - bar.n)
    return len(papers)


@dataclass
class TrainingRun:
    """What `train_model` did: the model folder, its data and the training report."""

    model: Path
    data: str
    pairs: int
    report: TrainReport | None = None
    calibration: tuple[float, float] | None = None
    calibration_queries: int = 0
    cross_encoder: bool = False

    def to_dict(self) -> dict:
        """JSON-ready summary (the bi-encoder's training report and its calibration)."""
        summary: dict = {"model": str(self.model)}
        if self.report is not None:
            summary.update(self.report.to_dict())
        if self.calibration is not None:
            a, b = self.calibration
            summary["calibration"] = {"a": round(a, 4), "b": round(b, 4)}
        return summary


def train_model(
    source: str | Path,
    out: str | Path,
    data_dir: str | Path,
    *,
    model: str | None = None,
    split: str = "train",
    unsupervised: bool = False,
    cross_encoder: bool = False,
    epochs: float = 1.0,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    max_minutes: float | None = None,
    merge: float | None = None,
    seed: int = 42,
    command: str = "sciseek train",
    progress: bool = False,
    bars: Bars = no_bar,
    log: Log = _quiet,
) -> TrainingRun:
    """Gather training pairs, mine negatives, train and calibrate a model saved to ``out``.

    ``source`` is a BEIR dataset dir (its judged ``split``), a JSONL file of judged pairs about
    the papers of ``data_dir``, or with ``unsupervised`` any paper file (indexed into
    ``data_dir``). ``cross_encoder`` trains a re-ranker instead of the bi-encoder. Raises
    UnreadableSource when the source yields nothing to train on.
    """
    source = Path(source)
    if not source.exists():
        raise UnreadableSource(f"{source}: no such file or directory")
    out = Path(out)
    beir = source.is_dir()
    with Engine.open(data_dir, model=model) as engine:
        if beir or unsupervised:
            index_corpus(engine, source, on_error=lambda e: log(f"warning: {e}"), bars=bars)
        else:
            engine.sync()
        texts = {
            p.id: document_text(p) for batch in engine.store.iter_batches() for _, _, p in batch
        }
        if not texts:
            raise UnreadableSource(f"no papers in {data_dir} to train on or mine negatives from")
        if unsupervised:
            papers = [p for batch in engine.store.iter_batches() for _, _, p in batch]
            pairs = training_data.corpus_pairs(papers)
            kind = "unsupervised (title -> abstract)"
        elif beir:
            pairs = training_data.judged_pairs(source, split, texts)
            kind = judged(source.name, split)
        else:
            pairs = training_data.jsonl_pairs(source, texts)
            kind = f"judged ({source.name})"
        if not pairs and unsupervised:
            raise UnreadableSource(
                f"{source}: no paper has both a title and an abstract of "
                f"{training_data.MIN_ABSTRACT_WORDS}+ words, and "
                "unsupervised adaptation learns from title -> abstract pairs (pseudo-queries cut "
                "from untitled text lowered quality where we measured them); train on judged "
                "query/paper pairs instead"
            )
        if not pairs:
            raise UnreadableSource(f"{source}: no training pairs found")
        log(f"{len(pairs)} {kind} pairs; mining negatives")
        # a cross-encoder sees each pair once, so it gets three negatives per pair
        rounds = 3 if cross_encoder else 1
        with bars(len(pairs) * rounds, "mining negatives", unit="pair") as bar:
            mined = [
                training_data.mine_negatives(
                    engine, pairs, texts, seed=seed + r, progress=bar.update
                )
                for r in range(rounds)
            ]
        base = engine.dense.encoder  # the model the index was built with, already loaded
        # judged queries' hybrid candidates, to fit the trained model's relevance calibration
        candidates = (
            []
            if unsupervised or cross_encoder
            else training_data.calibration_candidates(engine, pairs, seed=seed)
        )
    run = TrainingRun(out, kind, len(pairs), cross_encoder=cross_encoder)
    if cross_encoder:
        negatives: dict[tuple[str, str], list[str]] = {}
        for q, p, n in (row for rows_of_round in mined for row in rows_of_round):
            if n not in negatives.setdefault((q, p), []):
                negatives[(q, p)].append(n)
        run.model = train_cross_encoder(
            [(q, p, ns) for (q, p), ns in negatives.items()],
            out,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            max_minutes=max_minutes,
            seed=seed,
            progress=progress,
            log=log,
        )
        return run
    run.report = train_encoder(
        mined[0],
        out,
        base=base,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_minutes=max_minutes,
        seed=seed,
        progress=progress,
        merge=merge if merge is not None else (0.5 if unsupervised else 1.0),
        settings={"command": command, "data": kind},
    )
    if candidates:
        try:
            a, b = calibrate(base, candidates, texts)
        except ValueError as e:
            log(f"warning: no relevance calibration fitted: {e}")
        else:
            save_calibration(out, a, b, queries=len(candidates), data=kind)
            run.calibration, run.calibration_queries = (a, b), len(candidates)
    return run


@dataclass
class TuningRun:
    """What `tune_weights` did: every setting tried, best first, and where the best is stored."""

    dataset: str
    split: str
    results: list[tuple[float, str, dict[str, float]]] = field(default_factory=list)
    config: Path | None = None

    @property
    def best(self) -> tuple[float, str, dict[str, float]]:
        """(nDCG@10, fusion method, weights) of the best setting."""
        return self.results[0]


def tune_weights(
    engine: Engine,
    dataset: Dataset,
    split: str,
    *,
    retrievers: Sequence[str] = RETRIEVERS,
    step: float = 0.1,
    bars: Bars = no_bar,
    log: Log = _quiet,
) -> TuningRun:
    """Index ``dataset``, try fusion weights on its judged queries and store the best in
    ``engine``'s config.

    Refuses (ValueError) the test split and a grid ``step`` outside (0, 0.5].
    """
    if split == "test":
        raise ValueError("refusing to tune on the test judgments; use --split train (or dev)")
    if not 0 < step <= 0.5:
        raise ValueError("--step must be in (0, 0.5]")
    index_corpus(engine, dataset.corpus, on_error=lambda e: log(f"warning: {e}"), bars=bars)
    if trained_on(engine.dense.model_path) == judged(dataset.name, split):
        log(
            f"warning: the encoder was trained on {dataset.name} {split}; weights tuned "
            "on the queries it learned favour it. Tune on judged queries it was not trained "
            "on (e.g. train on half of them, tune on the other half)."
        )
    if "sparse" in retrievers:
        with bars(None, "SPLADE index"):
            engine.sparse  # noqa: B018 - builds the sparse index on first use
    with bars(len(dataset.queries), "retrieving", unit="query") as bar:
        runs = collect_runs(engine, dataset, list(retrievers), progress=bar.update)
    with bars(None, "trying weights", unit="setting") as bar:
        results = tune_fusion(engine, dataset, runs, step=step, progress=bar.update)
    score, method, weights = results[0]
    path = engine.save_config(
        replace(engine.settings, fusion=method, weights=weights),
        tuned_on=f"{dataset.name} {split} ({len(dataset.queries)} queries)",
        tuned_ndcg_at_10=score,
    )
    return TuningRun(dataset.name, split, results, path)
