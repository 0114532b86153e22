"""Encoders: text to L2-normalised dense vectors (bi-encoder) or SPLADE sparse vectors, on
the path that is fastest for this CPU (or a CUDA GPU); ``model_files`` finds the weights.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sciseek.errors import BadInput
from sciseek.ingest.papers import Paper

from .model_files import cache_dir, fingerprint, resolve_model, splade_path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def quiet_transformers() -> None:
    """Silences transformers' info logging and progress bars (model loading, weights notes)."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


@contextlib.contextmanager
def quiet_sentence_transformers() -> Iterator[None]:
    """Silences sentence-transformers' warnings (e.g. a bi-encoder converted to a cross-encoder)."""
    logger = logging.getLogger("sentence_transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


TOKEN_BUDGET = 8192  # tokens per forward pass (batch size x padded length)
MAX_BATCH = 128


def document_text(p: Paper) -> str:
    """The text an encoder sees for a paper: title and abstract."""
    return f"{p.title}\n{p.abstract}".strip()


def native_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (AVX512-BF16 or AMX).

    ``SCISEEK_PRECISION=fp32`` or ``bf16`` overrides the detection.
    """
    forced = os.environ.get("SCISEEK_PRECISION", "").lower()
    if forced in ("fp32", "bf16"):
        return forced == "bf16"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError:
        pass
    return False


class DeviceUnavailable(BadInput):
    """A device was asked for that this machine does not have (e.g. CUDA without a GPU)."""


DEVICES = ("auto", "cpu", "cuda")
CUDA_TOKEN_BUDGET = 65536  # tokens per forward pass on a GPU
CUDA_MAX_BATCH = 512
# SCISEEK_ENCODER values: a runtime label, or a short alias for one
ENCODER_ALIASES = {"onnx": "onnx-int8", "openvino": "openvino-fp32", "int8": "onnx-int8"}
# The int8 graph's vectors keep cosine >= 0.98 to torch fp32 on arXiv abstracts (BENCHMARKS.md,
# "Encoding paths per CPU"); a loaded graph whose probe vector is further off is rebuilt.
PROBE_MIN_COSINE = 0.98
# Padded tokens a forward pass needs before bf16 pays off on CPU: one title query (~27 tokens)
# runs at 0.7x the time in fp32, 4 titles (80 tokens) at 1.2x, one abstract (256) at 1.8x
# (2-core Xeon with AMX; BENCHMARKS.md, "One query on one thread").
BF16_MIN_TOKENS = 64
QUERY_GRAPH_BATCH = 8  # queries encoded together up to which the fp32 ONNX session takes them
QUERY_GRAPH_AFTER = 10  # query calls before a process opens it (a CLI search makes one or two)
FP32_PROBE_COSINE = 0.9999  # the fp32 graph's probe vector against torch's
_QUERY_LOCK = threading.Lock()
PROBE_TEXT = "Dense retrieval of scientific papers\nWe embed titles and abstracts of papers."
_warned: set[str] = set()


def _forced_runtime() -> bool:
    """Whether the environment forces an encoding path (then queries take it too)."""
    return bool(
        os.environ.get("SCISEEK_ENCODER", "").strip() or os.environ.get("SCISEEK_PRECISION")
    )


def cpu_runtime() -> str:
    """The encoding path for this CPU: torch bf16 where the CPU has native bf16, else int8 ONNX.

    ``SCISEEK_ENCODER`` (torch, onnx, onnx-int8, onnx-fp32, openvino) forces a path;
    ``SCISEEK_PRECISION=fp32|bf16`` alone forces torch at that precision.
    """
    forced = os.environ.get("SCISEEK_ENCODER", "").strip().lower()
    forced = ENCODER_ALIASES.get(forced, forced)
    if forced == "torch" or (not forced and os.environ.get("SCISEEK_PRECISION")):
        return "torch-bf16" if native_bf16() else "torch-fp32"
    if forced in ("torch-fp32", "torch-bf16"):
        return forced
    from sciseek.index.runtimes import RUNTIMES, available

    if forced:
        if forced not in RUNTIMES:
            raise BadInput(
                f"SCISEEK_ENCODER={forced!r}: expected torch, onnx, onnx-int8, onnx-fp32 "
                "or openvino"
            )
        return forced
    if native_bf16():
        return "torch-bf16"
    return "onnx-int8" if available("onnx-int8") is None else "torch-fp32"


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logging.getLogger(__name__).warning(message)


class Encoder:
    """A sentence-transformers bi-encoder, loaded offline, on the CPU or a CUDA GPU.

    ``runtime`` names the path that computes the vectors (``torch-bf16``, ``torch-fp32``,
    ``onnx-int8``, ``onnx-fp32``, ``openvino-fp32``, ``cuda-fp16``); documents and queries
    always go through the same one. Vectors of one model from different paths differ only by
    rounding (cosine >= 0.98, mean ~0.993 for int8), far below the gap between a relevant
    and an irrelevant paper, so a data dir indexed on one path stays searchable from another
    and the store keys vectors by model, not by path.
    """

    def __init__(self, model: str | Path | None = None, device: str = "auto"):
        import torch
        from sentence_transformers import SentenceTransformer

        if device not in DEVICES:
            raise BadInput(f"device {device!r}: expected one of {', '.join(DEVICES)}")
        cuda = torch.cuda.is_available()
        if device == "cuda" and not cuda:
            raise DeviceUnavailable(
                "device 'cuda' was asked for, but torch sees no CUDA device here "
                f"(torch {torch.__version__}); use --device cpu or --device auto"
            )
        quiet_transformers()
        self.name, self.path = resolve_model(model)
        self.fingerprint = fingerprint(self.path)
        self.device = "cuda" if device == "cuda" or (device == "auto" and cuda) else "cpu"
        if self.device == "cpu":
            torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
        self.model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
        self.dim: int = self.model.get_embedding_dimension()
        self.max_length: int = self.model.max_seq_length
        prompts = getattr(self.model, "prompts", {}) or {}
        self._query_prompt = prompts.get("query", "")
        self._doc_prompt = next((prompts[p] for p in ("document", "passage") if p in prompts), "")
        self.token_budget, self.max_batch = TOKEN_BUDGET, MAX_BATCH
        self._session = None
        self._query_session: Any = None
        self._forced = _forced_runtime()  # a forced path takes the queries too
        self._queries_seen = 0
        self._query_thread: threading.Thread | None = None
        self.runtime = "torch-fp32"
        # bf16 matmuls give ~2.5x on CPUs that have them; embeddings keep cosine > 0.9999.
        # Below BF16_MIN_TOKENS a pass (a one-line query) the casts cost more than they save.
        self.autocast = lambda tokens: torch.autocast(
            "cpu",
            dtype=torch.bfloat16,
            enabled=self.runtime == "torch-bf16" and tokens >= BF16_MIN_TOKENS,
        )
        if self.device == "cuda":
            self.model.half()
            self.runtime = "cuda-fp16"
            self.token_budget, self.max_batch = CUDA_TOKEN_BUDGET, CUDA_MAX_BATCH
        else:
            self.runtime = cpu_runtime()
            if not self.runtime.startswith("torch"):
                self._open_session()
        self.precision = self.runtime.rsplit("-", 1)[1]

    def _export_folder(self) -> Path:
        from sciseek.index import runtimes

        label = self.name if not self.name.startswith("local:") else "local"
        return cache_dir() / "onnx" / f"{label}-{runtimes.export_key(self.name, self.path)}"

    def _open_session(self) -> None:
        from sciseek.index import runtimes

        folder = self._export_folder()
        probe = self._torch_vectors([PROBE_TEXT])[0]

        def check(run) -> bool:
            v = run(self._tokenize([PROBE_TEXT]))[0]
            return float(v @ probe) / float(np.linalg.norm(v)) >= PROBE_MIN_COSINE

        try:
            self._session = runtimes.session(self.runtime, self.model, folder, check)
        except Exception as e:  # never fatal: torch computes the same vectors, slower
            fallback = "torch-bf16" if native_bf16() else "torch-fp32"
            _warn_once(f"encoder runtime {self.runtime} unavailable ({e}); using {fallback}")
            self.runtime = fallback

    def _tokenize(self, texts: Sequence[str], tensors: str = "np") -> dict:
        return dict(
            self.model.tokenizer(
                list(texts),
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors=tensors,
            )
        )

    def _torch_vectors(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        features = {k: v.to(self.device) for k, v in self._tokenize(texts, "pt").items()}
        with torch.inference_mode(), self.autocast(features["input_ids"].numel()):
            out = self.model(features)["sentence_embedding"]
        return out.float().cpu().numpy()

    def _vectors(self, texts: Sequence[str], session: Any = None) -> np.ndarray:
        session = session or self._session
        v = session(self._tokenize(texts)) if session is not None else self._torch_vectors(texts)
        v = v.astype(np.float32, copy=False)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def _encode(
        self,
        texts: Sequence[str],
        progress: Callable[[int], None] | None = None,
        session: Any = None,
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        lengths = [
            len(ids)
            for ids in self.model.tokenizer(
                list(texts), truncation=True, max_length=self.max_length
            )["input_ids"]
        ]
        order = np.argsort(lengths, kind="stable")[::-1]
        start = 0
        while start < len(order):
            longest = lengths[order[start]]
            size = max(1, min(self.max_batch, self.token_budget // max(longest, 1)))
            idx = order[start : start + size]
            out[idx] = self._vectors([texts[i] for i in idx], session)
            start += size
            if progress:
                progress(len(idx))
        return out

    def _query_graph(self, start: bool = True) -> Any:
        """The fp32 ONNX session that encodes queries on a torch CPU path, once it is open
        (None before, or where it cannot be): a one-line query through torch costs ~12 ms
        of Python dispatch on one thread, through ONNX Runtime ~5 ms, with the same vector
        (cosine 1.0000; BENCHMARKS.md, "One query on one thread"). With ``start`` it is
        opened (exported into the cache the first time) in a background thread, and queries
        use torch meanwhile; a process that encodes only a few queries never starts it."""
        if self._session is not None or self.device != "cpu" or self._forced:
            return None
        if start:
            with _QUERY_LOCK:
                if self._query_thread is None:
                    self._query_thread = threading.Thread(
                        target=self._open_query_graph, name="query-graph", daemon=True
                    )
                    self._query_thread.start()
                    # an interpreter that exits while it loads would abort: wait for it
                    atexit.register(self._query_thread.join)
        return self._query_session

    def _open_query_graph(self) -> None:
        from sentence_transformers import SentenceTransformer

        from sciseek.index import runtimes

        try:
            folder = self._export_folder()
            # an export traces a model of its own: this one keeps encoding meanwhile
            copy = (
                self.model
                if (folder / "fp32.onnx").is_file()  # exported before: nothing is traced
                else SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            )
            probe = self._torch_vectors([PROBE_TEXT])[0]

            def check(run) -> bool:
                v = run(self._tokenize([PROBE_TEXT]))[0]
                return float(v @ probe) / float(np.linalg.norm(v)) >= FP32_PROBE_COSINE

            # one thread: a query is too small to split, and idle threads spinning between
            # its ops would slow the FAISS search or BM25 that runs beside it
            self._query_session = runtimes.session("onnx-fp32", copy, folder, check, threads=1)
        except Exception as e:  # never fatal: torch encodes the queries, slower
            logging.getLogger(__name__).info("queries stay on torch: %s", e)

    def query_graph_ready(self, timeout: float | None = None) -> bool:
        """Start opening the query session (where queries would use it) and wait up to
        ``timeout`` seconds for that to end; True once it has (opened or given up), or when
        there is none to open. A server's warm-up calls it."""
        self._query_graph()
        thread = self._query_thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @property
    def query_runtime(self) -> str:
        """The path one-line queries take now (``onnx-fp32`` once the query session is open
        on a torch CPU path, else ``runtime``)."""
        return "onnx-fp32" if self._query_session is not None else self.runtime

    def encode_queries(self, texts: Sequence[str], threads: int | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per query. ``threads`` caps the CPU threads
        this call uses (a search runs BM25 alongside): torch's for this calling thread, or a
        narrower ONNX Runtime session."""
        texts = [self._query_prompt + t for t in texts]
        self._queries_seen += 1
        graph = (
            self._query_graph(start=self._queries_seen >= QUERY_GRAPH_AFTER)
            if len(texts) <= QUERY_GRAPH_BATCH
            else None
        )
        if graph is not None:
            return self._encode(texts, session=graph)
        if threads is None or self.device != "cpu":
            return self._encode(texts)
        if self._session is not None:
            fewer = getattr(self._session, "on_threads", None)
            return self._encode(texts, session=fewer(threads) if fewer else None)
        import torch

        before = torch.get_num_threads()  # torch's CPU threads are set per calling thread
        torch.set_num_threads(threads)
        try:
            return self._encode(texts)
        finally:
            torch.set_num_threads(before)

    def encode_texts(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Unit-length float32 document vectors, batched by token length to avoid padding."""
        return self._encode([self._doc_prompt + t for t in texts], progress)

    def encode_documents(
        self, papers: Sequence[Paper], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Unit-length float32 vectors, one row per paper (title + abstract)."""
        return self.encode_texts([document_text(p) for p in papers], progress)


class SparseEncoder:
    """SPLADE-tiny: text to weighted vocabulary terms, loaded offline."""

    def __init__(self, path: str | Path | None = None):
        from sentence_transformers import SparseEncoder as STSparseEncoder

        quiet_transformers()
        self.path = Path(path) if path else splade_path()
        self.name = "splade-tiny" if path is None else f"local:{self.path.resolve()}"
        self.fingerprint = fingerprint(self.path)
        self.model = STSparseEncoder(str(self.path), device="cpu", local_files_only=True)
        self.vocab_size = len(self.model.tokenizer)

    def _encode(self, texts: Sequence[str], query: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        import torch

        fn = self.model.encode_query if query else self.model.encode_document
        # small batches: the vocabulary-sized activations (batch x 512 x 30522) dominate
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=native_bf16()):
            batch = fn(
                list(texts), batch_size=16, convert_to_tensor=True, show_progress_bar=False
            ).coalesce()
        idx = batch.indices().numpy()
        vals = batch.values().float().numpy()
        order = np.argsort(idx[0], kind="stable")
        rows, cols, vals = idx[0][order], idx[1][order], vals[order]
        bounds = np.searchsorted(rows, np.arange(len(texts) + 1))
        return [
            (cols[a:b].astype(np.int32), vals[a:b].astype(np.float32))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]

    def encode_queries(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(term ids, weights) per query."""
        return self._encode(texts, query=True)

    def encode_documents(
        self, papers: Sequence[Paper], progress: Callable[[int], None] | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(term ids, weights) per paper."""
        out = []
        texts = [document_text(p) for p in papers]
        for start in range(0, len(texts), 256):
            out.extend(self._encode(texts[start : start + 256], query=False))
            if progress:
                progress(len(texts[start : start + 256]))
        return out
