"""Chaos harness: kill index, harvest and digest runs at random moments, then check invariants;
or soak a server with mixed traffic while a harvest and an index run write to it.

python benchmarks/chaos.py --kills 100 [--seed 0] [--work DIR]    # until 100 runs are killed
python benchmarks/chaos.py --soak 10 [--clients 4]          # minutes

Everything runs on 127.0.0.1: an OAI-PMH endpoint serving pages of the shared arXiv papers, an
SMTP server (aiosmtpd) that keeps every digest, and ``sciseek`` subprocesses.

Kills: each round starts one of ``sciseek index`` (a new file, committed in small batches),
``sciseek harvest arxiv`` (pages of new records) or ``sciseek digest send`` (a day later than
the last run), and sends it SIGKILL after a uniformly random time between 0 and that job's
measured duration. After every kill it checks: the store passes SQLite's integrity check and
opens; no paper committed before is gone; every batch the killed ``index`` reported committed
and every harvested page whose successor page was requested is in the store; the BM25 and
dense indexes catch up to exactly the store's papers; no digest ever carried a paper its
recipient had already been mailed. Exit 1 if any check failed.

Soak: serves a pre-built data dir with ``sciseek serve`` while client threads send searches
(bm25 and hybrid), paper pages, upvotes, New and Trending, and a harvest and an index run
write to the same data dir. Reports requests, errors (any answer but the expected ones:
2xx, and 429 for upvotes past the per-address limit), 5xx and p50/p99 latency.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import httpx
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
PAPERS = ROOT.parent / "shared" / "data" / "arxiv" / "papers.jsonl.gz"
PAGE = 25  # records per OAI page
FEED = 3  # pages per harvest
INDEX_FILE = 80  # papers per index run
BATCH = 20  # papers per committed batch
THRESHOLD = "0.001"  # digests: so low that nearly every new paper is mailed (or could be twice)
QUERIES = ["dense retrieval", "diffusion models for images", "large language model agents"]


def load_papers(path: Path, n: int, seed: int) -> list[dict]:
    """``n`` arXiv papers in a seeded random order."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        papers = [json.loads(line) for _, line in zip(range(n * 3), f, strict=False)]
    random.Random(seed).shuffle(papers)
    return papers[:n]


# -- a local OAI-PMH endpoint ------------------------------------------------------------------


def oai_record(p: dict) -> str:
    authors = "".join(
        f"<author><keyname>{escape(a.split()[-1])}</keyname>"
        f"<forenames>{escape(' '.join(a.split()[:-1]))}</forenames></author>"
        for a in p["authors"][:20]
        if a.split()
    )
    return (
        f"<record><header><identifier>oai:arXiv.org:{p['id']}</identifier>"
        f"<datestamp>{p['published']}</datestamp><setSpec>cs</setSpec></header><metadata>"
        f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{p["id"]}</id>'
        f"<created>{p['published']}</created><authors>{authors}</authors>"
        f"<title>{escape(p['title'])}</title><categories>{' '.join(p['categories'])}"
        f"</categories><abstract>{escape(p['abstract'])}</abstract></arXiv></metadata></record>"
    )


class Feed:
    """Serves the papers in pages; a request without a token starts the next feed of pages."""

    def __init__(self, papers: list[dict]):
        self.papers = papers
        self.offset = 0  # where the current feed starts
        self.lock = threading.Lock()
        self.requested: set[str] = set()  # tokens asked for
        self.pages: dict[str, list[str]] = {}  # token -> ids on that page

    def page(self, token: str) -> bytes:
        with self.lock:
            if not token:
                self.offset = max(self.offset, *(self._end(t) for t in self.pages), 0)
                token = f"p{self.offset}"
            self.requested.add(token)
            start = int(token[1:])
            feed_end = self.offset + FEED * PAGE
            chunk = self.papers[start : start + PAGE]
            self.pages[token] = [p["id"] for p in chunk]
            nxt = start + PAGE
            more = nxt < feed_end and nxt < len(self.papers)
        token_xml = f"<resumptionToken>p{nxt}</resumptionToken>" if more else "<resumptionToken/>"
        body = "".join(oai_record(p) for p in chunk)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            "<responseDate>2026-01-01T00:00:00Z</responseDate>"
            f'<request verb="ListRecords">x</request><ListRecords>{body}{token_xml}'
            "</ListRecords></OAI-PMH>"
        ).encode()

    def _end(self, token: str) -> int:
        return int(token[1:]) + len(self.pages[token])

    def committed(self) -> set[str]:
        """Ids of pages whose next page was asked for: committed before that request."""
        with self.lock:
            return {
                i for t, ids in self.pages.items() if f"p{int(t[1:]) + PAGE}" in self.requested
                for i in ids
            }  # fmt: skip


def start_oai(feed: Feed) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            body = feed.page(params.get("resumptionToken", ""))
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/oai2"


# -- a local SMTP server -------------------------------------------------------------------------


class Inbox:
    """Keeps, per recipient, the paper ids of every digest it accepted."""

    def __init__(self) -> None:
        self.mailed: dict[str, list[str]] = defaultdict(list)
        self.digests = 0

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        if msg["List-Unsubscribe"]:
            text = msg.get_body(preferencelist=("plain",)).get_content()
            ids = re.findall(r"/papers/(\S+)", text)
            for rcpt in envelope.rcpt_tos:
                self.mailed[rcpt].extend(ids)
            self.digests += 1
        return "250 OK"

    def twice(self) -> int:
        """Papers mailed to the same recipient more than once."""
        return sum(len(ids) - len(set(ids)) for ids in self.mailed.values())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the kill rounds -----------------------------------------------------------------------------


class Chaos:
    def __init__(self, work: Path, papers: list[dict], seed: int):
        self.work = work
        self.data = work / "data"
        self.rng = random.Random(seed)
        self.papers = papers
        self.next_file = 0
        self.feed = Feed(papers[len(papers) // 2 :])
        self.index_papers = papers[: len(papers) // 2]
        self.oai, self.endpoint = start_oai(self.feed)
        self.inbox = Inbox()
        self.smtp = Controller(self.inbox, hostname="127.0.0.1", port=free_port())
        self.smtp.start()
        self.env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "SCISEEK_SMTP_HOST": "127.0.0.1",
            "SCISEEK_SMTP_PORT": str(self.smtp.port),
            "SCISEEK_SMTP_FROM": "digests@example.org",
            "SCISEEK_BASE_URL": "https://sciseek.example.org",
        }
        self.day = 0
        self.durations: dict[str, float] = {}
        self.known: set[str] = set()

    def close(self) -> None:
        self.smtp.stop()
        self.oai.shutdown()

    def sciseek(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sciseek", *args, "--data-dir", str(self.data)]

    def job(self, kind: str) -> tuple[list[str], Path | None]:
        if kind == "index":
            n = self.next_file
            self.next_file += 1
            start = (n * INDEX_FILE) % len(self.index_papers)
            path = self.work / f"batch-{n}.jsonl"
            rows = (self.index_papers * 2)[start : start + INDEX_FILE]
            path.write_text("".join(json.dumps(p) + "\n" for p in rows))
            cmd = self.sciseek("index", str(path), "-v", "--batch-size", str(BATCH))
            return cmd, path
        if kind == "harvest":
            return self.sciseek(
                "harvest", "arxiv", "--set", "cs", "--endpoint", self.endpoint, "--delay", "0"
            ), None
        self.day += 1
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + self.day * 86400))
        return self.sciseek("digest", "send", "--now", when, "--threshold", THRESHOLD), None

    def setup(self) -> None:
        first, _ = self.job("index")
        subprocess.run(first, env=self.env, check=True, capture_output=True)
        for n, q in enumerate(QUERIES):
            subprocess.run(
                self.sciseek("subscribers", "add", f"reader{n}@example.org", "--query", q,
                             "--confirmed"),
                env=self.env, check=True, capture_output=True,
            )  # fmt: skip
        for kind in ("index", "harvest", "digest"):  # measure an unkilled run of each
            cmd, _ = self.job(kind)
            start = time.monotonic()
            subprocess.run(cmd, env=self.env, check=False, capture_output=True)
            self.durations[kind] = time.monotonic() - start
        self.known = self.store_ids()

    def store_ids(self) -> set[str]:
        db = sqlite3.connect(self.data / "sciseek.db")
        try:
            return {r[0] for r in db.execute("SELECT id FROM papers")}
        finally:
            db.close()

    def round(self, n: int) -> tuple[bool, list[str]]:
        kind = self.rng.choice(["index", "harvest", "digest"])
        cmd, path = self.job(kind)
        delay = self.rng.uniform(0, self.durations[kind])
        err_path = self.work / f"round-{n}.err"
        started = time.monotonic()
        with open(err_path, "w") as err:
            proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=err)
            try:
                proc.wait(timeout=delay)
                killed = False
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed = True
        problems = self.check(kind, path, err_path)
        if not killed and proc.returncode != 0:
            last = (err_path.read_text().strip().splitlines() or [""])[-1]
            problems.append(f"exited {proc.returncode}: {last[:200]}")
        state = "killed" if killed else f"finished ({proc.returncode})"
        print(f"round {n}: {kind} {state} after {delay:.1f}s: "
              f"{'ok' if not problems else '; '.join(problems)}", flush=True)  # fmt: skip
        err_path.unlink()
        if not killed and not problems:  # later moments are drawn over what the job takes now
            self.durations[kind] = (self.durations[kind] + (time.monotonic() - started)) / 2
        return killed, problems

    def check(self, kind: str, path: Path | None, err_path: Path) -> list[str]:
        problems = []
        db = sqlite3.connect(self.data / "sciseek.db")
        try:
            (integrity,) = db.execute("PRAGMA integrity_check").fetchone()
            if integrity != "ok":
                problems.append(f"integrity check: {integrity}")
        finally:
            db.close()
        ids = self.store_ids()
        if lost := self.known - ids:
            problems.append(f"{len(lost)} committed papers lost")
        if kind == "index" and path is not None:
            rows = [json.loads(line)["id"] for line in path.read_text().splitlines()]
            batches = len(re.findall(r"^committed \d+ papers", err_path.read_text(), re.M))
            if missing := set(rows[: batches * BATCH]) - ids:
                problems.append(f"{len(missing)} papers of reported batches missing")
        if missing := self.feed.committed() - ids:
            problems.append(f"{len(missing)} harvested papers of finished pages missing")
        # the indexes catch up to exactly the store's papers
        from sciseek import Engine

        with Engine.open(self.data, log=lambda m: None) as engine:
            engine.sync()
            stats = engine.stats()
            counts = (engine.store.count(), engine.lexical.count(), engine.dense.count())
            if len(set(counts)) != 1:
                problems.append(f"store/bm25/dense counts differ: {counts} ({stats})")
        if twice := self.inbox.twice():
            problems.append(f"{twice} papers mailed twice")
        self.known = ids
        return problems


def kills(args: argparse.Namespace, work: Path) -> int:
    papers = load_papers(Path(args.papers), 12_000, args.seed)
    chaos = Chaos(work, papers, args.seed)
    failed = rounds = killed = 0
    try:
        chaos.setup()
        took = ", ".join(f"{k} {v:.1f}s" for k, v in chaos.durations.items())
        print(f"unkilled durations: {took}", flush=True)
        # rounds go on until N runs were killed (a run may finish before its moment comes)
        while killed < args.kills and rounds < 3 * args.kills:
            rounds += 1
            was_killed, problems = chaos.round(rounds)
            killed += was_killed
            failed += bool(problems)
    finally:
        chaos.close()
    print(
        f"{rounds} rounds, {killed} runs killed: {rounds - failed} / {rounds} rounds passed every "
        f"check; store {len(chaos.known)} papers; {chaos.inbox.digests} digests mailed with "
        f"{sum(map(len, chaos.inbox.mailed.values()))} papers, {chaos.inbox.twice()} mailed twice"
    )
    return 1 if failed else 0


# -- the soak ------------------------------------------------------------------------------------


def soak(args: argparse.Namespace, work: Path) -> int:
    papers = load_papers(Path(args.papers), 12_000, args.seed)
    chaos = Chaos(work, papers, args.seed)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first, _ = chaos.job("index")
    subprocess.run(first, env=chaos.env, check=True, capture_output=True)
    server = subprocess.Popen(
        chaos.sciseek("serve", "--port", str(port)), env=chaos.env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    writers: list[subprocess.Popen] = []
    latencies: list[float] = []
    counts: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.5)
        stop = time.monotonic() + args.soak * 60
        ids = [p["id"] for p in chaos.index_papers[:INDEX_FILE]]
        words = [w for p in papers[:300] for w in p["title"].split()[:3]]

        def writer() -> None:
            while time.monotonic() < stop:
                for kind in ("harvest", "index"):
                    cmd, _ = chaos.job(kind)
                    proc = subprocess.Popen(cmd, env=chaos.env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)  # fmt: skip
                    writers.append(proc)
                    while proc.poll() is None and time.monotonic() < stop:
                        time.sleep(0.5)
                    if proc.poll() is None:
                        proc.terminate()
                        proc.wait(30)

        def client(seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(base_url=base, timeout=60) as http:
                while time.monotonic() < stop:
                    pick = rng.random()
                    pid = rng.choice(ids)
                    expected = {200}
                    start = time.perf_counter()
                    if pick < 0.5:
                        q = " ".join(rng.sample(words, 3))
                        mode = rng.choice(["bm25", "hybrid"])
                        r = http.get("/api/search", params={"q": q, "mode": mode})
                    elif pick < 0.7:
                        r = http.get(f"/papers/{pid}")
                    elif pick < 0.8:
                        http.get(f"/papers/{pid}")  # a browser opens the page, then upvotes
                        start = time.perf_counter()
                        r = http.post(f"/api/papers/{pid}/upvote", headers={"origin": base})
                        expected = {200, 429}
                    elif pick < 0.9:
                        r = http.get("/api/new")
                    else:
                        r = http.get("/api/trending")
                    elapsed = (time.perf_counter() - start) * 1000
                    with lock:
                        latencies.append(elapsed)
                        counts["requests"] += 1
                        counts[str(r.status_code)] += 1
                        if r.status_code not in expected:
                            counts["errors"] += 1
                        if r.status_code >= 500:
                            counts["5xx"] += 1

        threads = [threading.Thread(target=writer)]
        threads += [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
        for proc in writers:
            if proc.poll() is None:
                proc.kill()
        chaos.close()
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()) if k.isdigit())
    print(
        f"soak {args.soak:g} min, {args.clients} clients, {len(writers)} writer runs: "
        f"{counts['requests']} requests ({statuses}), {counts['errors']} errors, "
        f"{counts['5xx']} 5xx, p50 {statistics.median(latencies):.0f} ms, "
        f"p99 {pct(0.99):.0f} ms"
    )
    return 1 if counts["errors"] or counts["5xx"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--kills", type=int, metavar="N", help="kill N runs at random moments")
    mode.add_argument("--soak", type=float, metavar="MIN", help="serve mixed traffic MIN minutes")
    parser.add_argument("--clients", type=int, default=4, help="soak: client threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--papers", default=str(PAPERS), help="arXiv papers (JSON lines)")
    parser.add_argument("--work", help="working directory (default: a temporary one)")
    args = parser.parse_args()
    if args.work:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        return kills(args, work) if args.kills else soak(args, work)
    with tempfile.TemporaryDirectory(prefix="sciseek-chaos-") as tmp:
        return kills(args, Path(tmp)) if args.kills else soak(args, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
