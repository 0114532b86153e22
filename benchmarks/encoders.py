"""Encoding paths side by side: speed on the same arXiv papers, and what each costs in quality.

python benchmarks/encoders.py [--sample 200] [--rounds 3] [--quality] [--quick]

Speed: every path encodes the same ``--sample`` arXiv papers (title + abstract, sciseek's
length-sorted token-budget batches), ``--rounds`` times in turn; the best round counts, so a
neighbour's load on a shared machine hurts every path alike. Ratios are to torch fp32.
Paths: torch fp32 (default threads, and 1 thread), torch bf16 (CPUs with native bf16 only),
ONNX Runtime fp32 (plain and fused graph) and dynamic int8 (per tensor; per channel, the
shipped one), OpenVINO fp32 (LATENCY and THROUGHPUT hints) and int8 (nncf post-training
quantization on 100 calibration papers), and token caps 128 / 192 under torch fp32 and int8.

With ``--quality``, for torch fp32, the shipped path and the caps: SciFact test nDCG@10 in
dense and hybrid modes (sciseek's Engine over the whole corpus, each path's own vectors), and
arXiv title -> paper MRR@10 (``--queries`` titles of ``--arxiv`` sampled papers, dense, exact
inner product). Vectors are cached in ``--work`` so a rerun only redoes what changed.
``--quick``: 64 papers, 1 round, no quality. Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sciseek.index import model_files, models, runtimes
from sciseek.index.models import Encoder, document_text
from sciseek.ingest.readers import read_valid

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "avx_vnni")


def cpu_flags() -> tuple[str, list[str]]:
    name, flags = "unknown", set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    return name, [f for f in FLAGS if f in flags]


def arxiv_sample(n: int, seed: int = 0) -> list:
    papers = list(read_valid(SHARED / "arxiv" / "papers.jsonl.gz"))
    return random.Random(seed).sample(papers, n)


@contextlib.contextmanager
def env(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def encoder(runtime: str) -> Encoder:
    if runtime.startswith("torch"):
        with env(SCISEEK_ENCODER=runtime, SCISEEK_PRECISION=runtime.split("-")[1]):
            return Encoder()
    with env(SCISEEK_ENCODER=runtime):
        enc = Encoder()
    if enc.runtime != runtime:
        raise RuntimeError(f"fell back to {enc.runtime}")
    return enc


def export_folder(enc: Encoder) -> Path:
    return (
        model_files.cache_dir() / "onnx" / f"{enc.name}-{runtimes.export_key(enc.name, enc.path)}"
    )


def variant(base: Encoder, label: str, run) -> Encoder:
    """A copy of the torch fp32 encoder whose vectors come from ``run``."""
    enc = object.__new__(Encoder)
    enc.__dict__.update(base.__dict__)
    enc.runtime, enc._session = label, run
    return enc


def per_tensor_int8(base: Encoder) -> Encoder:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = export_folder(base)
    dest = folder / "int8-per-tensor.onnx"
    if not dest.exists():
        quantize_dynamic(
            str(folder / "fp32.onnx"),
            str(dest),
            weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return variant(base, "onnx-int8 per tensor", runtimes.OnnxSession(dest))


def openvino_int8(base: Encoder, calibration: list[str]) -> Encoder:
    import nncf
    import openvino as ov

    folder = export_folder(base)
    dest = folder / "openvino-int8.xml"
    core = ov.Core()
    if not dest.exists():
        model = core.read_model(str(folder / "plain.onnx"))
        feeds = [
            {k: v.astype(np.int64) for k, v in base._tokenize([t]).items()} for t in calibration
        ]
        q = nncf.quantize(
            model,
            nncf.Dataset(feeds),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(feeds),
        )
        ov.save_model(q, str(dest))
    compiled = core.compile_model(str(dest), "CPU", {"PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    names = [i.get_any_name() for i in compiled.inputs]

    def run(batch):
        return np.array(request.infer({k: batch[k].astype(np.int64) for k in names})[0])

    return variant(base, "openvino-int8 (nncf)", run)


def single_thread(base: Encoder) -> Encoder:
    enc = variant(base, "torch-fp32, 1 thread", None)
    enc._vectors = lambda texts: _one_thread(base, texts)
    return enc


def _one_thread(base: Encoder, texts):
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return base._vectors(texts)
    finally:
        torch.set_num_threads(n)


def capped(enc: Encoder, cap: int) -> Encoder:
    out = variant(enc, f"{enc.runtime}, cap {cap}", enc._session)
    out.max_length = cap
    return out


def paths(calibration: list[str]) -> list[tuple[str, object]]:
    """(label, Encoder factory) for every path, torch fp32 first."""
    base = encoder("torch-fp32")
    out: list[tuple[str, object]] = [
        ("torch-fp32 (today)", lambda: base),
        ("torch-fp32, 1 thread", lambda: single_thread(base)),
    ]
    if models.native_bf16() or os.environ.get("SCISEEK_PRECISION") == "bf16":
        out.append(("torch-bf16", lambda: encoder("torch-bf16")))
    plain = lambda: variant(  # noqa: E731
        base,
        "onnx-fp32 plain",
        runtimes.OnnxSession(export_folder(encoder("openvino-fp32")) / "plain.onnx"),
    )
    ov_tp = lambda: variant(  # noqa: E731
        base,
        "openvino-fp32 THROUGHPUT",
        runtimes.OpenVinoSession(export_folder(base) / "plain.onnx", "THROUGHPUT"),
    )
    out += [
        ("onnx-fp32 plain graph", plain),
        ("onnx-fp32 fused graph", lambda: encoder("onnx-fp32")),
        ("onnx-int8 per tensor", lambda: per_tensor_int8(encoder("onnx-fp32"))),
        ("onnx-int8 per channel (shipped)", lambda: encoder("onnx-int8")),
        ("openvino-fp32 LATENCY", lambda: encoder("openvino-fp32")),
        ("openvino-fp32 THROUGHPUT", ov_tp),
        ("openvino-int8 (nncf)", lambda: openvino_int8(encoder("openvino-fp32"), calibration)),
        ("torch-fp32, cap 192", lambda: capped(base, 192)),
        ("torch-fp32, cap 128", lambda: capped(base, 128)),
        ("onnx-int8, cap 192", lambda: capped(encoder("onnx-int8"), 192)),
        ("onnx-int8, cap 128", lambda: capped(encoder("onnx-int8"), 128)),
    ]
    return out


def speed(texts: list[str], built: dict[str, Encoder], rounds: int) -> dict[str, float]:
    best: dict[str, float] = {}
    for enc in built.values():
        enc.encode_texts(texts[:16])  # warm-up
    for _ in range(rounds):
        for label, enc in built.items():
            start = time.perf_counter()
            enc.encode_texts(texts)
            best[label] = max(best.get(label, 0.0), len(texts) / (time.perf_counter() - start))
    return best


def cached_vectors(work: Path, label: str, enc: Encoder, papers: list, corpus: str) -> np.ndarray:
    slug = "".join(c if c.isalnum() else "-" for c in label)
    path = work / f"{slug}-{corpus}-{len(papers)}.npy"
    if path.exists():
        return np.load(path)
    start = time.perf_counter()
    v = enc.encode_documents(papers)
    print(
        f"  {label}: {corpus} {len(papers)} in {time.perf_counter() - start:.0f}s", file=sys.stderr
    )
    np.save(path, v)
    return v


def mrr_at_10(enc: Encoder, docs: np.ndarray, queries: list) -> float:
    q = enc.encode_queries([p.title for p in queries])
    scores = q @ docs.T
    total = 0.0
    for i in range(len(queries)):  # query i's paper is document i
        top = np.argsort(-scores[i])[:10]
        hit = np.nonzero(top == i)[0]
        total += 1.0 / (hit[0] + 1) if hit.size else 0.0
    return total / len(queries)


def scifact(enc: Encoder, vectors: np.ndarray, papers: list) -> dict[str, float]:
    """SciFact test nDCG@10, dense and hybrid, through the Engine with this path's vectors."""
    from sciseek import Engine
    from sciseek.index import vectors as vectors_module
    from sciseek.quality.evaluation import evaluate, load_dataset

    rows = {p.id: i for i, p in enumerate(papers)}

    class Cached:
        def __init__(self, *args, **kwargs):
            self.__dict__.update(enc.__dict__)

        def encode_documents(self, batch, progress=None):
            return vectors[[rows[p.id] for p in batch]]

        def encode_queries(self, texts):
            return enc.encode_queries(texts)

    dataset = load_dataset(SHARED / "scifact")
    original = vectors_module.Encoder
    vectors_module.Encoder = Cached
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            Engine.open(Path(tmp) / "data", log=lambda m: None) as engine,
        ):
            engine.add(papers)
            return {
                mode: evaluate(engine, dataset, mode).metrics["ndcg@10"]
                for mode in ("dense", "hybrid")
            }
    finally:
        vectors_module.Encoder = original


QUALITY = (
    "torch-fp32 (today)",
    "onnx-int8 per channel (shipped)",
    "torch-fp32, cap 128",
    "onnx-int8, cap 128",
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quality", action="store_true")
    ap.add_argument("--quality-paths", default=";".join(QUALITY), help="labels, ;-separated")
    ap.add_argument("--arxiv", type=int, default=3000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "sciseek-encoders"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.sample, args.rounds, args.quality = 64, 1, False
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    pool = arxiv_sample(max(args.arxiv, args.sample + 100))
    texts = [document_text(p) for p in pool[: args.sample]]
    calibration = [document_text(p) for p in pool[-100:]]

    built: dict[str, Encoder] = {}
    missing: dict[str, str] = {}
    for label, make in paths(calibration):
        try:
            built[label] = make()
        except Exception as e:  # a missing package or a failed export: reported, not fatal
            missing[label] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    rates = speed(texts, built, args.rounds)
    ref_label = "torch-fp32 (today)"
    ref = built[ref_label].encode_texts(texts)
    cosines = {label: np.sum(enc.encode_texts(texts) * ref, axis=1) for label, enc in built.items()}

    quality: dict[str, dict[str, float]] = {}
    if args.quality:
        sci = list(read_valid(SHARED / "scifact"))
        arx = pool[: args.arxiv]
        for label in args.quality_paths.split(";"):
            if label not in built:
                continue
            enc = built[label]
            q = scifact(enc, cached_vectors(work, label, enc, sci, "scifact"), sci)
            docs = cached_vectors(work, label, enc, arx, "arxiv")
            q["mrr"] = mrr_at_10(enc, docs, arx[: args.queries])
            quality[label] = q
            print(f"  {label}: {q}", file=sys.stderr)

    name, flags = cpu_flags()
    print(f"Machine: {name}, {len(os.sched_getaffinity(0))} cores; flags: {' '.join(flags)}")
    print(f"Date: {datetime.date.today()}; command: python {' '.join(sys.argv)}")
    print(f"{args.sample} arXiv papers, best of {args.rounds} interleaved rounds.\n")
    print(
        "| path | papers/s | vs torch fp32 | SciFact nDCG@10 dense | hybrid "
        "| arXiv title MRR@10 | cosine to fp32 min / mean |"
    )
    print("|---|---|---|---|---|---|---|")
    for label in built:
        q = quality.get(label)
        qs = f"{q['dense']:.4f} | {q['hybrid']:.4f} | {q['mrr']:.4f}" if q else "- | - | -"
        c = cosines[label]
        print(
            f"| {label} | {rates[label]:.1f} | {rates[label] / rates[ref_label]:.2f}x | {qs} "
            f"| {c.min():.4f} / {c.mean():.4f} |"
        )
    for label, why in missing.items():
        print(f"| {label} | not available: {why} | | | | | |")


if __name__ == "__main__":
    main()
