"""Encoding on a Ray cluster: the papers of a catch-up as Ray Data jobs over an actor pool.

``ray_stream`` gives ``EncodingTable.sync`` a ``stream``: the chunks the table reads from the
store are gathered into windows of ``WINDOW`` papers, each window is one Ray Data job
(``from_items`` -> ``map_batches`` over encoder actors, each loading the model once, on a GPU
when the cluster has them), and the vectors come back to this process, which commits each
chunk as soon as all its papers are back, in order. A killed job therefore loses at most the
window in flight; the chunks committed before stay, and the next run starts after them.

Why Ray Data: it is the Ray project's own batch-inference API (streaming execution, actor
pools, back-pressure, GPU scheduling), so sciseek only says what to run; a window per job
keeps this process's memory bounded whatever the backlog, at the cost of loading the model
once per window on each actor (a second or two against minutes of encoding).

Ray is an extra (``pip install 'sciseek[ray]'``): nothing here is imported without ``--ray``.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from sciseek.errors import BadInput
from sciseek.ingest.papers import Paper

from .models import document_text
from .vector_table import CHUNK, Encoding, Stream

WINDOW = 64 * CHUNK  # papers per Ray Data job (8,192)


class RayUnavailable(BadInput):
    """``--ray`` was given but Ray is not installed or its cluster cannot be reached."""


class _Encoder:
    """A Ray actor: the dense encoder loaded once, encoding batches of document texts."""

    def __init__(self, model_path: str, device: str):
        import ray
        import torch

        from sciseek.index.models import Encoder

        self.encoder = Encoder(Path(model_path), device=device)
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
        torch.set_num_threads(max(1, int(cpus)))  # its share of the node, not every core

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode_texts([str(t) for t in batch["text"]])
        return {"chunk": batch["chunk"], "pos": batch["pos"], "vector": vectors}


def connect(address: str) -> Any:
    """Join the Ray cluster at ``address`` ('auto': the one this machine runs or
    ``RAY_ADDRESS`` names); RayUnavailable says why not."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray needs Ray: pip install 'sciseek[ray]'") from None
    if not ray.is_initialized():
        if address != "auto":
            _reachable(address)  # ray.init waits for a missing head for minutes
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # Ray C++ notes on stderr
        try:
            ray.init(
                address=address,
                log_to_driver=False,
                logging_level=logging.WARNING,
                configure_logging=True,
            )
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise RayUnavailable(f"cannot join the Ray cluster at {address!r}: {e}") from None
    import ray.data  # configures its own loggers on import: quiet them after

    for name in ("ray", "ray.data"):  # job notes ("execution finished", "progress bars")
        logging.getLogger(name).setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # sciseek shows its own progress
    context.print_on_execution_start = False
    context.execution_options.preserve_order = True
    return ray


def _reachable(address: str, timeout: float = 5.0) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as e:
        raise RayUnavailable(
            f"cannot join the Ray cluster at {address!r}: nothing answers there ({e}); "
            "start one with 'ray start --head' or give --ray auto"
        ) from None


def workers(ray: Any, cpus_per_worker: int, gpus: bool) -> int:
    """Encoder actors the cluster holds: one per GPU, else one per ``cpus_per_worker`` CPUs."""
    resources = ray.cluster_resources()
    if gpus:
        return max(1, int(resources.get("GPU", 0)))
    return max(1, int(resources.get("CPU", 1)) // max(1, cpus_per_worker))


def ray_stream(
    address: str,
    model_path: Path,
    *,
    device: str = "auto",
    actors: int | None = None,
    cpus_per_actor: int = 1,
    log: Callable[[str], None] = lambda message: None,
) -> Stream:
    """A ``stream`` for ``EncodingTable.sync`` that encodes on the Ray cluster at ``address``
    with ``actors`` encoder actors (default: as many as the cluster holds)."""
    ray = connect(address)
    gpus = device != "cpu" and ray.cluster_resources().get("GPU", 0) > 0
    if device == "cuda" and not gpus:
        raise RayUnavailable("--device cuda: the Ray cluster has no GPU")
    count = actors or workers(ray, cpus_per_actor, gpus)
    nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
    log(
        f"encoding on Ray: {count} {'GPU' if gpus else 'CPU'} actor(s) on {nodes} node(s) "
        f"at {address}"
    )
    options = {
        "fn_constructor_kwargs": {
            "model_path": str(model_path),
            "device": "cuda" if gpus else "cpu",
        },
        "batch_size": CHUNK,
        "batch_format": "numpy",
        "compute": ray.data.ActorPoolStrategy(size=count),
        **({"num_gpus": 1} if gpus else {"num_cpus": cpus_per_actor}),
    }

    def stream(chunks: Iterator[list[Paper]]) -> Iterator[list[Encoding]]:
        chunks = iter(chunks)
        while True:
            window = list(islice(chunks, WINDOW // CHUNK))
            if not window:
                return
            yield from _run_window(ray, window, options)

    return stream


def _run_window(
    ray: Any, window: list[list[Paper]], options: dict[str, Any]
) -> Iterator[list[Encoding]]:
    """One Ray Data job over a window of chunks; each chunk's encodings, in order, as soon as
    all of them are back."""
    items = [
        {"chunk": c, "pos": i, "text": document_text(p)}
        for c, chunk in enumerate(window)
        for i, p in enumerate(chunk)
    ]
    got: list[list[bytes | None]] = [[None] * len(chunk) for chunk in window]
    missing = [len(chunk) for chunk in window]
    ready = 0
    dataset = ray.data.from_items(items).map_batches(_Encoder, **options)
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for c, i, v in zip(batch["chunk"], batch["pos"], batch["vector"], strict=True):
            if got[c][i] is None:
                missing[c] -= 1
            got[c][i] = np.asarray(v, dtype=np.float32).tobytes()
        while ready < len(window) and missing[ready] == 0:
            yield [(None, b) for b in got[ready]]  # type: ignore[misc]
            got[ready] = []
            ready += 1
    if ready < len(window):
        raise RuntimeError(f"the Ray job returned {ready} of {len(window)} chunks")
