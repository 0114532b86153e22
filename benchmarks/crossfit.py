"""The trained SciFact row, reproduced end to end without touching test judgments until the end.

python benchmarks/crossfit.py [--dataset ../shared/data/scifact] [--work DIR] [--epochs 2,3]
    [--lr 5e-5] [--seed 42]

Fusion weights tuned on the queries an encoder was trained on favour that encoder, so the
weights and the epoch count are chosen by cross-fitting:

1. split the train queries in two halves, A and B (a shuffle with the fixed seed 0);
2. for each epoch count, train on A (``sciseek train --split train-a``) and tune the fusion
   weights on B (``sciseek tune --split train-b``); keep the count and weights that score best
   on B;
3. train on all of train with that count (``sciseek train --split train``);
4. evaluate on test with the kept weights (``sciseek eval --fusion --weights``).

Every step is a ``sciseek`` command, printed before it runs; models and indexes stay in
``--work`` and a step whose output exists is not run again. The last line is the test result
as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

from sciseek.quality.train import TRAINING_FILE


def split_train(dataset: Path, out: Path, seed: int) -> tuple[int, int]:
    """A BEIR dir at ``out`` with the train qrels split by query into train-a and train-b."""
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    for name in ("corpus.jsonl.gz", "corpus.jsonl", "queries.jsonl"):
        if (dataset / name).exists() and not (out / name).exists():
            (out / name).symlink_to((dataset / name).resolve())
    with open(dataset / "qrels" / "train.tsv", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header, rows = rows[0], rows[1:]
    qids = list(dict.fromkeys(row[0] for row in rows))
    random.Random(seed).shuffle(qids)
    half = set(qids[: len(qids) // 2])
    for name, keep in (("train-a", True), ("train-b", False)):
        with open(out / "qrels" / f"{name}.tsv", "w", newline="") as f:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n")
            writer.writerow(header)
            writer.writerows(row for row in rows if (row[0] in half) == keep)
    return len(half), len(qids) - len(half)


def sciseek(*args: str) -> dict:
    """Run one ``sciseek ... --json`` command; its last output line, parsed."""
    command = [sys.executable, "-m", "sciseek", *args, "--json"]
    print("$ sciseek " + " ".join(args), flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def train(source: Path, split: str, out: Path, data_dir: Path, epochs: int, args) -> None:
    """Train the encoder into ``out`` unless it is there already."""
    if (out / TRAINING_FILE).exists():
        print(f"  kept {out}", flush=True)
        return
    report = sciseek(
        "train", str(source), "--split", split, "--out", str(out), "--data-dir", str(data_dir),
        "--epochs", str(epochs), "--lr", str(args.lr), "--seed", str(args.seed),
    )  # fmt: skip
    print(f"  {report['steps']} steps in {report['seconds']:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--work", type=Path, default=Path("crossfit-work"))
    parser.add_argument("--epochs", default="3", help="epoch counts to choose from (default 3)")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=42, help="training seed (split seed is 0)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work, dataset = args.work.resolve(), args.dataset.resolve()
    split = work / "split"
    a, b = split_train(dataset, split, seed=0)
    print(f"train queries split {a} (train-a) / {b} (train-b)", flush=True)

    best: tuple[float, int, dict] | None = None
    for epochs in (int(e) for e in args.epochs.split(",")):
        model = work / f"model-a-{epochs}ep"
        train(split, "train-a", model, work / "base", epochs, args)
        index = work / f"index-a-{epochs}ep"
        tuned = sciseek(
            "tune",
            str(split),
            "--split",
            "train-b",
            "--data-dir",
            str(index),
            "--model",
            str(model),
        )
        print(f"  {epochs} epochs: train-b nDCG@10 {tuned['ndcg@10']:.4f} with {tuned}", flush=True)
        if best is None or tuned["ndcg@10"] > best[0]:
            best = (tuned["ndcg@10"], epochs, tuned)
    assert best is not None
    _, epochs, tuned = best
    model = work / f"model-{epochs}ep"
    train(dataset, "train", model, work / "base", epochs, args)
    weights = ",".join(f"{k}={v}" for k, v in tuned["weights"].items())
    result = sciseek(
        "eval", str(dataset), "--split", "test", "--data-dir", str(work / f"index-{epochs}ep"),
        "--model", str(model), "--fusion", tuned["fusion"], "--weights", weights,
    )  # fmt: skip
    print(json.dumps({"epochs": epochs, "tuned_on_train_b": tuned, **result}))


if __name__ == "__main__":
    main()
