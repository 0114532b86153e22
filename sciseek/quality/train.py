"""Fine-tuning the encoders on the user's own papers.

``train_encoder`` fine-tunes the bi-encoder on (query, positive, negative) rows from
``training_data`` with sentence-transformers' MultipleNegativesRankingLoss (in-batch + the mined
negatives) over TAS-Balanced batches, optionally averaged with the base model (WiSE-FT).
``train_cross_encoder`` trains a re-ranker from the bundled MiniLM with a fresh one-logit head
on the same mined negatives (the cross-encoder ranking loss). Both train on the CPU,
deterministically for a seed, within a time budget. ``calibrate`` fits a trained bi-encoder's
relevance calibration on judged queries' candidates.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sciseek.index.model_files import resolve_model
from sciseek.index.models import (
    Encoder,
    native_bf16,
    quiet_sentence_transformers,
    quiet_transformers,
)
from sciseek.search.rerank import MAX_LENGTH

from .training_data import InvalidTraining, cluster_batches

TRAINING_FILE = "sciseek-training.json"
IN_BATCH_NEGATIVES = 2  # other queries' positives a cross-encoder also scores per query


@dataclass
class TrainReport:
    """What a training run did, written beside the model as ``sciseek-training.json``."""

    base: str
    pairs: int
    steps: int
    epochs: float
    seconds: float
    seed: int
    stopped_early: bool
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready report."""
        return {
            "base": self.base,
            "pairs": self.pairs,
            "steps": self.steps,
            "epochs": round(self.epochs, 3),
            "seconds": round(self.seconds, 1),
            "seed": self.seed,
            "stopped_early": self.stopped_early,
            **self.settings,
        }


def _stop_after(max_minutes: float | None):  # noqa: ANN202
    from transformers import TrainerCallback

    class StopAfter(TrainerCallback):
        """Ends training cleanly once the time budget is spent."""

        def __init__(self) -> None:
            self.started = time.monotonic()
            self.stopped = False

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            self.started = time.monotonic()
            return control

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            if max_minutes is not None and time.monotonic() - self.started > max_minutes * 60:
                control.should_training_stop = True
                self.stopped = True
            return control

    return StopAfter()


def interpolate(model, base_state: Mapping, weight: float) -> None:  # noqa: ANN001
    """Set ``model``'s floating-point weights to weight x its own + (1 - weight) x base's."""
    import torch

    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and name in base_state:
                tensor.copy_(weight * tensor + (1 - weight) * base_state[name])


def _trainer_settings(
    epochs: float, batch_size: int, learning_rate: float, seed: int, progress: bool
) -> dict:
    """Training arguments shared by the bi-encoder and cross-encoder trainers: CPU, bf16
    where native, seeded, no checkpoints or reporting."""
    return {
        "num_train_epochs": epochs,
        "per_device_train_batch_size": batch_size,
        "learning_rate": learning_rate,
        "warmup_steps": 0.1,
        "seed": seed,
        "data_seed": seed,
        "use_cpu": True,
        "bf16": native_bf16(),
        "save_strategy": "no",
        "report_to": "none",
        "logging_steps": 10,
        "disable_tqdm": not progress,
        "dataloader_num_workers": 0,
    }


@contextlib.contextmanager
def _output_dir(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out`` renamed to ``out`` on success."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidTraining(f"{out}: exists and is not empty; choose a new --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def train_encoder(
    rows: Sequence[tuple[str, str, str]],
    out: str | Path,
    *,
    base: str | Path | Encoder | None = None,
    epochs: float = 1.0,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    max_minutes: float | None = None,
    seed: int = 42,
    progress: bool = True,
    merge: float = 1.0,
    settings: dict | None = None,
) -> TrainReport:
    """Fine-tune the bi-encoder ``base`` on (query, positive, negative) rows; save it to ``out``.

    ``base`` is a model name or folder, or an already loaded ``Encoder`` (trained in place).
    ``merge`` < 1 saves the weight-space average ``merge`` x trained + (1 - merge) x base
    (WiSE-FT), which keeps more of the base model's general ability.

    MultipleNegativesRankingLoss over in-batch and mined negatives, TAS-Balanced batches, CPU,
    bf16 where the CPU has it, deterministic for a seed, stopped after ``max_minutes``.
    """
    import transformers
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import DefaultBatchSampler
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    if not rows:
        raise InvalidTraining("no training pairs: nothing to train on")
    out = Path(out)
    transformers.set_seed(seed)
    encoder = base if isinstance(base, Encoder) else Encoder(base)
    model = encoder.model
    embeddings = encoder.encode_queries([q for q, _, _ in rows])
    base_state = (
        {k: v.detach().clone() for k, v in model.state_dict().items()} if merge < 1 else None
    )
    positives = [p for _, p, _ in rows]

    class TopicBatches(DefaultBatchSampler):
        """TAS-Balanced batches; a new cut of the clusters every epoch."""

        def __iter__(self):  # noqa: ANN204
            yield from cluster_batches(embeddings, positives, self.batch_size, seed, self.epoch)

        def __len__(self) -> int:
            return len(cluster_batches(embeddings, positives, self.batch_size, seed, 0))

    dataset = Dataset.from_dict(
        {
            "anchor": [q for q, _, _ in rows],
            "positive": positives,
            "negative": [n for _, _, n in rows],
        }
    )
    stopper = _stop_after(max_minutes)
    started = time.perf_counter()
    with _output_dir(out) as tmp, tempfile.TemporaryDirectory(prefix="sciseek-train-") as work:
        args = SentenceTransformerTrainingArguments(
            output_dir=work,
            batch_sampler=TopicBatches,
            **_trainer_settings(epochs, batch_size, learning_rate, seed, progress),
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            loss=MultipleNegativesRankingLoss(model),
            callbacks=[stopper],
        )
        with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its metrics
            trainer.train()
        seconds = time.perf_counter() - started
        if base_state is not None:
            interpolate(model, base_state, merge)
        model.save(str(tmp), create_model_card=False)
        state = trainer.state
        report = TrainReport(
            base=encoder.name,
            pairs=len(rows),
            steps=state.global_step,
            epochs=float(state.epoch or 0.0),
            seconds=seconds,
            seed=seed,
            stopped_early=stopper.stopped,
            settings={
                "loss": "MultipleNegativesRankingLoss",
                "batch_size": batch_size,
                "learning_rate": learning_rate,
                "precision": "bf16" if native_bf16() else "fp32",
                "merge": merge,
                **(settings or {}),
            },
        )
        (tmp / TRAINING_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report


def calibrate(
    encoder: Encoder,
    candidates: Sequence[tuple[str, Sequence[tuple[str, bool]]]],
    texts: Mapping[str, str],
) -> tuple[float, float]:
    """The relevance calibration (a, b) of ``encoder``: a logistic fit of judged relevance on
    the query-paper cosine over judged queries' candidates (``calibration_candidates``)."""
    import numpy as np

    from sciseek.search.relevance import fit

    ids = sorted({pid for _, found in candidates for pid, _ in found if pid in texts})
    row = {pid: i for i, pid in enumerate(ids)}
    docs = encoder.encode_texts([texts[pid] for pid in ids])
    queries = encoder.encode_queries([q for q, _ in candidates])
    cos, y = [], []
    for qvec, (_, found) in zip(queries, candidates, strict=True):
        for pid, relevant in found:
            if pid in row:
                cos.append(float(docs[row[pid]] @ qvec))
                y.append(float(relevant))
    if not y or min(y) == max(y):
        raise InvalidTraining("calibration needs both relevant and non-relevant candidates")
    return fit(np.array(cos), np.array(y))


def train_cross_encoder(
    examples: Sequence[tuple[str, str, Sequence[str]]],
    out: str | Path,
    *,
    base: str | Path | None = None,
    epochs: float = 1.0,
    batch_size: int = 16,
    max_minutes: float | None = None,
    learning_rate: float = 2e-5,
    seed: int = 42,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Fine-tune a cross-encoder on (query, positive text, negative texts) examples.

    The loss is sentence-transformers' cross-encoder MultipleNegativesRankingLoss: each query's
    positive must outscore its mined negatives and other queries' positives (a ranking loss;
    binary cross-entropy on so few queries collapsed to a constant score). ``base`` is a model
    name or local folder (default: the bundled all-MiniLM-L6-v2, which gets a fresh
    classification head).
    Trains on the CPU (bf16 where the CPU has it), deterministic for a seed, and stops after
    ``max_minutes`` keeping what was learnt so far. The model is saved to ``out``, which must
    not exist or be empty; returns ``out``.
    """
    import transformers
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import MultipleNegativesRankingLoss
    from transformers.trainer_callback import PrinterCallback

    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidTraining(f"{out}: exists and is not empty; choose a new output folder")
    examples = [(q, p, list(ns)) for q, p, ns in examples if ns]
    if not examples:
        raise InvalidTraining("no training examples with negatives: nothing to train on")
    width = max(len(ns) for _, _, ns in examples)
    rows = [(q, p, (ns * width)[:width]) for q, p, ns in examples]  # repeat to one width
    random.Random(seed).shuffle(rows)
    base_name, base_path = resolve_model(base)

    quiet_transformers()
    transformers.set_seed(seed)
    with quiet_sentence_transformers():
        model = CrossEncoder(
            str(base_path),
            device="cpu",
            local_files_only=True,
            num_labels=1,
            max_length=MAX_LENGTH,
        )
    columns = {"query": [q for q, _, _ in rows], "positive": [p for _, p, _ in rows]}
    for i in range(width):
        columns[f"negative_{i + 1}"] = [ns[i] for _, _, ns in rows]
    dataset = Dataset.from_dict(columns)
    log(
        f"training a cross-encoder from {base_name} on {len(rows)} queries with a positive and "
        f"{width} mined negatives each, plus {IN_BATCH_NEGATIVES} in-batch negatives"
    )
    stopper = _stop_after(max_minutes)
    started = time.perf_counter()
    with _output_dir(out) as tmp, tempfile.TemporaryDirectory(prefix="sciseek-rerank-") as work:
        args = CrossEncoderTrainingArguments(
            output_dir=work, **_trainer_settings(epochs, batch_size, learning_rate, seed, progress)
        )
        trainer = CrossEncoderTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            loss=MultipleNegativesRankingLoss(model, num_negatives=IN_BATCH_NEGATIVES),
            callbacks=[stopper],
        )
        if not progress:
            trainer.remove_callback(PrinterCallback)
        with quiet_sentence_transformers():
            trainer.train()
        model.save(str(tmp), create_model_card=False)
        state = trainer.state
        stopped = " (time budget reached)" if stopper.stopped else ""
        steps = state.global_step
        log(
            f"trained {steps} step{'' if steps == 1 else 's'}, "
            f"{float(state.epoch or 0.0):.2f} epochs "
            f"in {time.perf_counter() - started:.0f}s{stopped}"
        )
    log(f"saved the cross-encoder to {out}")
    return out
