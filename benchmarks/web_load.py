"""/api/search latency under concurrent load from local clients.

python benchmarks/web_load.py --data-dir DIR [--clients 8] [--seconds 30] [--mode hybrid]

Starts `sciseek serve` on 127.0.0.1 over an existing data dir (e.g. the 75k-paper arXiv index
built by dense_speed.py --full), then N client threads send searches (8-word prefixes of random
paper titles) for the given time. Prints throughput and latency percentiles as Markdown.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import threading
import time

import httpx

from sciseek import Engine
from sciseek.search import listings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--mode", default="hybrid")
    args = parser.parse_args()
    with Engine.open(args.data_dir, log=lambda m: None) as engine:
        papers = listings.new(engine, 5000)
        n = engine.stats()["papers"]
    rng = random.Random(0)
    queries = [" ".join(p.title.split()[:8]) for p in rng.sample(papers, 500)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sciseek",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            args.data_dir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/api/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        with httpx.Client() as warm:
            warm.get(base + "/api/search", params={"q": "warm up", "mode": args.mode})
        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        stop = time.monotonic() + args.seconds

        def client(seed: int) -> None:
            local = random.Random(seed)
            with httpx.Client(timeout=30) as http:
                while time.monotonic() < stop:
                    start = time.perf_counter()
                    r = http.get(
                        base + "/api/search", params={"q": local.choice(queries), "mode": args.mode}
                    )
                    elapsed = (time.perf_counter() - start) * 1000
                    with lock:
                        if r.status_code == 200:
                            latencies.append(elapsed)
                        else:
                            errors[0] += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    print(
        f"| papers | mode | clients | seconds | requests | errors | req/s | p50 ms | p90 ms |"
        f" p99 ms |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {n:,} | {args.mode} | {args.clients} | {args.seconds:.0f} | {len(latencies)} | "
        f"{errors[0]} | {len(latencies) / args.seconds:.1f} | "
        f"{statistics.median(latencies):.0f} | {pct(0.9):.0f} | {pct(0.99):.0f} |"
    )


if __name__ == "__main__":
    main()
