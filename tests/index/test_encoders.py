"""Encoding paths: the one chosen for this CPU, forced ones, the device choice, the export cache."""

import logging
import os
import shutil

import numpy as np
import pytest

from sciseek.errors import BadInput
from sciseek.index import models, runtimes
from sciseek.index.models import DeviceUnavailable, Encoder, document_text

os.environ["HF_HUB_OFFLINE"] = "1"

# measured on 200 arXiv abstracts (BENCHMARKS.md, "Encoding paths per CPU"): int8 min 0.989
INT8_MIN_COSINE = 0.98
FP32_MIN_COSINE = 0.9999


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One export cache for the module: each graph is exported once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def use_cache(cache, monkeypatch):
    monkeypatch.setenv("SCISEEK_CACHE", str(cache))
    monkeypatch.delenv("SCISEEK_PRECISION", raising=False)
    monkeypatch.delenv("SCISEEK_ENCODER", raising=False)
    return cache


@pytest.fixture(scope="module")
def texts():
    from sciseek import read_papers
    from tests.helpers import FIXTURES

    return [document_text(p) for p in read_papers(FIXTURES / "papers.jsonl")]


@pytest.fixture(scope="module")
def reference(texts):
    """torch fp32 vectors: what every other path is compared with."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SCISEEK_ENCODER", "torch")
    mp.setenv("SCISEEK_PRECISION", "fp32")
    try:
        enc = Encoder()
        assert enc.runtime == "torch-fp32"
        return enc.encode_texts(texts)
    finally:
        mp.undo()


def forced(monkeypatch, runtime: str) -> Encoder:
    monkeypatch.setenv("SCISEEK_ENCODER", runtime)
    return Encoder()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_the_path_chosen_for_this_cpu_matches_torch_fp32(use_cache, texts, reference):
    enc = Encoder()
    expected = "torch-bf16" if models.native_bf16() else "onnx-int8"
    assert enc.runtime == expected
    assert enc.device == "cpu"
    got = enc.encode_texts(texts)
    assert got.shape == reference.shape and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    c = cosines(got, reference)
    assert c.min() >= INT8_MIN_COSINE
    # every paper is still nearest to its own fp32 vector
    assert np.array_equal(np.argmax(got @ reference.T, axis=1), np.arange(len(texts)))


@pytest.mark.parametrize(
    ("runtime", "floor"),
    [
        ("torch", FP32_MIN_COSINE),
        ("onnx-fp32", FP32_MIN_COSINE),
        ("onnx-int8", INT8_MIN_COSINE),
        ("openvino-fp32", FP32_MIN_COSINE),
    ],
)
def test_each_path_can_be_forced_or_falls_back_to_torch(
    use_cache, monkeypatch, caplog, texts, reference, runtime, floor
):
    torch_label = "torch-bf16" if models.native_bf16() else "torch-fp32"
    missing = runtime != "torch" and runtimes.available(runtime)
    monkeypatch.setattr(models, "_warned", set())  # the warning is given once per process
    with caplog.at_level(logging.WARNING, logger=models.__name__):
        enc = forced(monkeypatch, runtime)
    # a path this machine cannot run (openvino is only in the bench extra) falls back to
    # torch with a warning that names why
    label = torch_label if missing or runtime == "torch" else runtime
    assert enc.runtime == label
    if missing:
        warned = [r.getMessage() for r in caplog.records]
        assert any(f"{runtime} unavailable ({missing}" in m for m in warned), warned
    got = enc.encode_texts(texts)
    assert cosines(got, reference).min() >= (floor if label != "torch-bf16" else 0.999)
    # queries and documents come from the same function: same text and batch, same vector
    np.testing.assert_allclose(enc.encode_queries(texts[:1]), enc.encode_texts(texts[:1]))
    # int8 scales activations per batch, so batch-mates move a vector, within the floor
    assert cosines(enc.encode_queries(texts[:3]), got[:3]).min() >= floor


def test_an_unknown_forced_path_is_refused(use_cache, monkeypatch):
    monkeypatch.setenv("SCISEEK_ENCODER", "tensorrt")
    with pytest.raises(BadInput, match="SCISEEK_ENCODER"):
        Encoder()


def test_cuda_without_a_gpu_is_refused_with_the_way_out():
    import torch

    if torch.cuda.is_available():  # a GPU machine: the same request is served in fp16
        assert Encoder(device="cuda").runtime == "cuda-fp16"
        return
    with pytest.raises(DeviceUnavailable) as info:
        Encoder(device="cuda")
    assert isinstance(info.value, BadInput)
    message = str(info.value)
    assert "cuda" in message and "no CUDA device" in message and "--device cpu" in message
    with pytest.raises(BadInput, match="device 'tpu'"):
        Encoder(device="tpu")
    assert Encoder(device="auto").device == "cpu"


def _graphs(cache):
    return {p.name: p.stat().st_mtime_ns for p in cache.rglob("*.onnx")}


def test_the_export_is_reused_by_the_next_encoder(use_cache, monkeypatch, texts):
    first = forced(monkeypatch, "onnx-int8")
    exported = _graphs(use_cache)
    assert {"fp32.onnx", "int8.onnx"} <= set(exported)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(runtimes, "export_fp32", no_export)
    monkeypatch.setattr(runtimes, "export_int8", no_export)
    second = forced(monkeypatch, "onnx-int8")
    assert second.runtime == "onnx-int8"
    assert _graphs(use_cache) == exported
    np.testing.assert_allclose(second.encode_texts(texts[:2]), first.encode_texts(texts[:2]))


def test_a_corrupt_cached_graph_is_exported_again(use_cache, tmp_path, monkeypatch, texts):
    forced(monkeypatch, "onnx-int8")  # make sure the module cache holds the graphs
    shutil.copytree(use_cache, tmp_path / "cache")
    monkeypatch.setenv("SCISEEK_CACHE", str(tmp_path / "cache"))
    (int8,) = (tmp_path / "cache").rglob("int8.onnx")
    good = int8.stat().st_size
    int8.write_bytes(b"not an onnx graph")
    enc = forced(monkeypatch, "onnx-int8")
    assert enc.runtime == "onnx-int8"
    assert int8.stat().st_size == good
    assert not list(int8.parent.glob(".*"))  # no temporary files left behind


def test_a_failed_export_falls_back_to_torch_with_one_warning(
    tmp_path, monkeypatch, caplog, texts, reference
):
    monkeypatch.setenv("SCISEEK_CACHE", str(tmp_path))
    monkeypatch.delenv("SCISEEK_PRECISION", raising=False)
    monkeypatch.setattr(models, "_warned", set())

    def broken(*args, **kwargs):
        raise RuntimeError("exporter broke")

    monkeypatch.setattr(runtimes, "export_fp32", broken)
    with caplog.at_level(logging.WARNING, logger="sciseek"):
        encoders = [forced(monkeypatch, "onnx-int8") for _ in range(2)]
    assert [e.runtime for e in encoders] == ["torch-fp32"] * 2 or models.native_bf16()
    warnings = [r for r in caplog.records if "exporter broke" in r.getMessage()]
    assert len(warnings) == 1
    assert cosines(encoders[0].encode_texts(texts), reference).min() >= 0.999


@pytest.mark.parametrize("runtime", ["torch", "onnx-int8"])
def test_a_query_on_one_thread_is_the_same_vector(use_cache, monkeypatch, texts, runtime):
    # a hybrid search encodes its query on one thread while BM25 runs on the other core
    enc = forced(monkeypatch, runtime)
    queries = [t.split("\n")[0] for t in texts[:4]]  # titles
    wide = enc.encode_queries(queries)
    narrow = enc.encode_queries(queries, threads=1)
    assert cosines(wide, narrow).min() >= FP32_MIN_COSINE
    if enc.runtime.startswith("onnx"):
        # the one-thread session is a second session of the same graph, opened once
        assert enc._session.on_threads(1) is enc._session.on_threads(1) is not enc._session
        assert enc._session.on_threads(1).threads == 1


def test_bf16_is_left_out_of_passes_too_short_to_gain_from_it(use_cache, monkeypatch, texts):
    # below BF16_MIN_TOKENS a pass runs in fp32 (faster there), so a one-title query is the
    # fp32 vector itself; a full abstract still goes through bf16 on a bf16 path
    monkeypatch.setenv("SCISEEK_ENCODER", "torch-fp32")
    fp32 = Encoder()
    monkeypatch.setenv("SCISEEK_ENCODER", "torch-bf16")
    bf16 = Encoder()
    title = texts[0].split("\n")[0]
    tokens = len(bf16.model.tokenizer([title])["input_ids"][0])
    assert tokens < models.BF16_MIN_TOKENS
    np.testing.assert_array_equal(bf16.encode_queries([title]), fp32.encode_queries([title]))
    long_pass = bf16.encode_texts(texts[:4])
    assert not np.array_equal(long_pass, fp32.encode_texts(texts[:4]))
    assert cosines(long_pass, fp32.encode_texts(texts[:4])).min() >= 0.999


def test_queries_on_a_torch_path_go_through_the_fp32_graph_once_it_is_open(
    use_cache, texts, reference
):
    enc = Encoder()
    titles = [t.split("\n")[0] for t in texts[:6]]
    assert enc.query_graph_ready(timeout=300)
    if enc.runtime.startswith("torch"):
        # exported into the cache in the background; the same vectors as torch fp32
        assert enc.query_runtime == "onnx-fp32"
        assert (use_cache / "onnx").is_dir()
    else:
        assert enc.query_runtime == enc.runtime  # an ONNX path already serves queries
    mp = pytest.MonkeyPatch()
    mp.setenv("SCISEEK_ENCODER", "torch-fp32")
    try:
        exact = Encoder().encode_queries(titles, threads=1)
    finally:
        mp.undo()
    floor = FP32_MIN_COSINE if enc.runtime.startswith("torch") else INT8_MIN_COSINE
    for threads in (None, 1):
        assert cosines(enc.encode_queries(titles, threads=threads), exact).min() >= floor
