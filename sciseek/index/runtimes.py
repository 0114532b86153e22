"""ONNX Runtime and OpenVINO sessions for a sentence-transformers bi-encoder on the CPU.

The ONNX graphs are exported locally from the model's own weights (nothing is downloaded)
into the cache, one folder per model version, and reused by every later process:

- ``fp32.onnx``: the transformer plus its pooling, exported by torch with eager attention so
  that ONNX Runtime's BERT optimizer can fuse attention, LayerNorm and GELU;
- ``int8.onnx``: that fused graph with dynamically quantized weights (int8, per channel).

Files are written under a temporary name and renamed, so processes racing to export the
same model each end up with a complete file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sciseek.errors import OperationalError

log = logging.getLogger(__name__)

RUNTIMES = ("onnx-int8", "onnx-fp32", "openvino-fp32")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class RuntimeUnavailable(OperationalError, RuntimeError):
    """A runtime whose package is missing or whose model could not be exported or loaded."""


def available(runtime: str) -> str | None:
    """None when ``runtime`` can run here, else why not."""
    package = "openvino" if runtime.startswith("openvino") else "onnxruntime"
    if importlib.util.find_spec(package) is None:
        return f"package {package} is not installed"
    if runtime.startswith("onnx") and importlib.util.find_spec("onnx") is None:
        return "package onnx is not installed"
    return None


def export_key(name: str, path: Path) -> str:
    """A cache folder name for one version of a model: its name, weights' size and mtime."""
    h = hashlib.blake2b(name.encode(), digest_size=8)
    for f in sorted(path.glob("*")):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def _atomic_save(dest: Path, write: Callable[[Path], None]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.stem}-", suffix=".onnx")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


class _Pooled:
    """The transformer and the sentence-transformers pooling as one traceable module."""

    def __new__(cls, st_model):
        import torch

        transformer, pooling = st_model[0], st_model[1]

        class Pooled(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.transformer, self.pooling = transformer, pooling

            def forward(self, input_ids, attention_mask, token_type_ids):
                features = {
                    "input_ids": input_ids,
                    "attention_mask": attention_mask,
                    "token_type_ids": token_type_ids,
                }
                features = self.pooling(self.transformer(features))
                return features["sentence_embedding"]

        return Pooled().eval()


def _torch_export(st_model, dest: Path) -> None:
    import torch

    sample = st_model.tokenizer(["a b c", "a"], padding=True, return_tensors="pt")
    args = tuple(sample.get(k, torch.zeros_like(sample["input_ids"])) for k in INPUTS)
    axes = {k: {0: "batch", 1: "tokens"} for k in INPUTS} | {"embedding": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shape-dependent Python branches
        torch.onnx.export(
            _Pooled(st_model),
            args,
            str(dest),
            input_names=list(INPUTS),
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def export_plain(st_model, dest: Path) -> None:
    """The unfused fp32 graph (sdpa attention), which OpenVINO reads directly."""
    _atomic_save(dest, lambda p: _torch_export(st_model, p))


def export_fp32(st_model, dest: Path) -> None:
    """The model (transformer + pooling) as a fused fp32 ONNX graph at ``dest``."""
    from onnxruntime.transformers.optimizer import optimize_model

    auto = st_model[0].auto_model
    config = auto.config
    previous = config._attn_implementation
    auto.set_attn_implementation("eager")  # sdpa exports to a graph the optimizer cannot fuse
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".export-") as tmp:
            raw = Path(tmp) / "raw.onnx"
            _torch_export(st_model, raw)
            fused = optimize_model(
                str(raw),
                model_type="bert",
                num_heads=config.num_attention_heads,
                hidden_size=config.hidden_size,
            )
            _atomic_save(dest, lambda p: fused.save_model_to_file(str(p)))
    finally:
        auto.set_attn_implementation(previous)


def export_int8(fp32: Path, dest: Path) -> None:
    """Weights of the fused graph quantized to int8 per channel; activations at run time."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs its notes on the root logger
    try:
        # per-channel scales keep the embeddings at cosine ~0.99 to fp32 (per tensor: ~0.89)
        _atomic_save(
            dest,
            lambda p: quantize_dynamic(
                str(fp32),
                str(p),
                weight_type=QuantType.QInt8,
                per_channel=True,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            ),
        )
    finally:
        root.setLevel(level)


def threads() -> int:
    return max(1, len(os.sched_getaffinity(0)))


class OnnxSession:
    """An ONNX Runtime CPU session: tokenized batch in, pooled (unnormalised) vectors out."""

    def __init__(self, path: Path, intra_threads: int | None = None):
        import onnxruntime as ort

        self.path = path
        self.threads = intra_threads or threads()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self._fewer: dict[int, OnnxSession] = {}
        self._lock = threading.Lock()

    def on_threads(self, count: int) -> OnnxSession:
        """This graph run on at most ``count`` CPU threads: a second session, opened on first
        use. A search encodes its query on one thread while BM25 runs on the other core; the
        shared session's pool would take both cores (and spin on them between ops)."""
        if count >= self.threads:
            return self
        with self._lock:
            if count not in self._fewer:
                self._fewer[count] = OnnxSession(self.path, count)
            return self._fewer[count]

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        feed = {k: np.asarray(batch[k], dtype=np.int64) for k in self.inputs}
        return self.session.run(None, feed)[0]


class OpenVinoSession:
    """An OpenVINO CPU model compiled from the ONNX graph (read before ORT's fusion)."""

    def __init__(self, path: Path, hint: str = "LATENCY"):
        import openvino as ov

        compiled = ov.Core().compile_model(str(path), "CPU", {"PERFORMANCE_HINT": hint})
        self.request = compiled.create_infer_request()
        self.inputs = [i.get_any_name() for i in compiled.inputs]

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        feed = {k: np.asarray(batch[k], dtype=np.int64) for k in self.inputs}
        return np.array(self.request.infer(feed)[0], dtype=np.float32)


Run = Callable[[dict[str, np.ndarray]], np.ndarray]


def session(
    runtime: str,
    st_model,
    folder: Path,
    check: Callable[[Run], bool],
    threads: int | None = None,
) -> Run:
    """A callable for ``runtime``, exporting its graph into ``folder`` when it is not there;
    ``threads`` caps an ONNX Runtime session's threads (default: every core).

    ``check`` must accept the loaded session (e.g. its vector for a probe text is close to
    torch's); a cached file that cannot be loaded or fails it is exported again, once.
    """
    reason = available(runtime)
    if reason:
        raise RuntimeUnavailable(reason)
    files = {
        "onnx-fp32": ("fp32.onnx",),
        "onnx-int8": ("fp32.onnx", "int8.onnx"),
        "openvino-fp32": ("plain.onnx",),
    }[runtime]

    def build(name: str) -> None:
        target = folder / name
        log.info("exporting %s to %s", name, target)
        if name == "fp32.onnx":
            export_fp32(st_model, target)
        elif name == "int8.onnx":
            export_int8(folder / "fp32.onnx", target)
        else:
            export_plain(st_model, target)

    def load() -> Run:
        for name in files:
            if not (folder / name).is_file():
                build(name)
        path = folder / files[-1]
        run = (
            OpenVinoSession(path) if runtime.startswith("openvino") else OnnxSession(path, threads)
        )
        if not check(run):
            raise RuntimeUnavailable(f"{path.name}: vectors differ from the torch model's")
        return run

    folder.mkdir(parents=True, exist_ok=True)
    cached = all((folder / name).is_file() for name in files)
    try:
        return load()
    except Exception as first:  # a corrupt cached graph: export everything again
        if not cached:
            raise RuntimeUnavailable(f"{runtime}: {first}") from first
        log.warning("cached %s graph in %s unusable (%s); exporting again", runtime, folder, first)
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
        try:
            return load()
        except Exception as second:
            raise RuntimeUnavailable(f"{runtime}: {second}") from second
