"""Helpers for tests: paths, fixture writers and a subprocess runner."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write_jsonl(path: Path, records) -> Path:
    """Write records (dicts, or raw strings written as-is) one per line."""
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def synthetic_papers(n: int, start: int = 0):
    """n distinct, searchable papers with ids syn-{i}."""
    topics = ["retrieval", "graphs", "vision", "speech", "robotics", "proteins", "climate"]
    for i in range(start, start + n):
        topic = topics[i % len(topics)]
        yield {
            "id": f"syn-{i}",
            "title": f"Study number {i} on {topic}",
            "abstract": f"We study {topic} with method m{i} and report token{i} results.",
            "authors": [f"Author {i % 97}"],
            "categories": [f"cat.{topic}"],
            "published": f"20{10 + i % 15}-0{1 + i % 9}-1{i % 9}",
        }


def run_sciseek(*args: str, data_dir: Path | None = None, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m sciseek`` in a subprocess."""
    cmd = [sys.executable, "-m", "sciseek", *args]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def milvus_server(data_dir: Path, timeout: float = 60.0):
    """A milvus-lite server on 127.0.0.1 over ``data_dir``: yields its URI, then stops it
    (SIGINT: it flushes and releases its lock)."""
    from pymilvus import MilvusClient

    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir.parent / f"milvus-{port}.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "milvus_lite", "server", "--data-dir", str(data_dir)]
        + ["--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"milvus-lite exited with {proc.returncode}; see {log.name}")
            try:
                client = MilvusClient(uri=uri, timeout=2)
                client.get_server_version()
                client.close()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield uri
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


@contextlib.contextmanager
def ray_cluster(temp_dir: Path, nodes: int = 2, cpus: int = 1, timeout: float = 90.0):
    """A local Ray cluster on loopback: a head and ``nodes - 1`` more node processes
    (``ray start --block``, each on its own 127.0.0.x address and process group), ``cpus``
    CPUs each. Yields the head's address; stops only these nodes at the end."""
    env = {**os.environ, **RAY_ENV}
    port = free_port()
    address = f"127.0.0.2:{port}"
    common = [
        f"--num-cpus={cpus}",
        "--num-gpus=0",
        "--object-store-memory=100000000",
        "--disable-usage-stats",
        "--block",
    ]
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        for n in range(nodes):
            log = open(temp_dir.parent / f"ray-node-{n}.log", "w")  # noqa: SIM115 - closed below
            logs.append(log)
            ports = [f"--min-worker-port={21000 + 200 * n}", f"--max-worker-port={21199 + 200 * n}"]
            role = (
                ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp_dir}"]
                if n == 0
                else [f"--address={address}"]
            )
            cmd = ["ray", "start", *role, f"--node-ip-address=127.0.0.{2 + n}", *ports, *common]
            procs.append(
                subprocess.Popen(
                    cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            )
            _wait_for_nodes(address, n + 1, procs[-1], env, timeout)
        yield address
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in procs:
            proc.wait()
        for log in logs:
            log.close()


def _wait_for_nodes(address: str, count: int, proc: subprocess.Popen, env, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ray start exited with {proc.returncode}")
        status = subprocess.run(
            ["ray", "status", f"--address={address}"], capture_output=True, text=True, env=env
        )
        if status.returncode == 0 and status.stdout.count(" node_") >= count:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the Ray cluster at {address} did not reach {count} nodes")
