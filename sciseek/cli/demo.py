"""``sciseek demo``: a first run that shows the product within a minute.

The papers are stored and indexed for BM25 first (searchable at once), the web app starts and
a sample search is printed; the embeddings are then computed in the background, with progress,
while the site answers (hybrid search fuses what is encoded so far). Ctrl-C stops; running the
command again goes on where it stopped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from sciseek.cli import arguments
from sciseek.search.engine import Engine, default_data_dir

from .common import INTERRUPTED, encode_backlog, progress_bar
from .jobs import DEMO_CATEGORIES, DEMO_DAYS, DEMO_SET, run_harvest

SAMPLE_QUERY = "retrieval augmented generation for question answering"
DEMO_BATCH = 5000  # papers per commit while loading (fewer index commits than `index`)
STOP_WAIT = 20.0  # seconds Ctrl-C waits for the chunk being encoded


def _ingest(engine: Engine, args: argparse.Namespace) -> int:
    from .commands import index_paths

    if args.file:
        return index_paths(engine, [args.file], "auto", batch_size=DEMO_BATCH, encode=False)
    since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=DEMO_DAYS)
    print(
        f"harvesting arXiv {DEMO_SET} since {since} ({', '.join(DEMO_CATEGORIES)});"
        " this takes a few minutes"
    )
    return run_harvest(
        engine,
        [DEMO_SET],
        date_from=since.isoformat(),
        categories=DEMO_CATEGORIES,
        debug=args.debug,
        hint="; offline, use sciseek demo --file PAPERS.jsonl[.gz]",
        encode=False,
    )


def _sample(engine: Engine, mode: str, note: str) -> None:
    from .commands import print_hits

    print(f"\nsample search ({note}): {SAMPLE_QUERY!r}")
    print_hits(engine.search(SAMPLE_QUERY, mode=mode, k=5))
    sys.stdout.flush()


def _free_port(host: str, wanted: int, explicit: bool) -> int:
    """``wanted`` if it can be bound; else (unless the user chose it) a free port."""
    with socket.socket() as s:
        try:
            s.bind((host, wanted))
            return wanted
        except OSError as e:
            if explicit or e.errno != errno.EADDRINUSE:
                raise
        s.bind((host, 0))
        return s.getsockname()[1]


class _Server:
    """The web app on a background thread (uvicorn), stopped by ``stop``."""

    def __init__(self, engine: Engine, host: str, port: int):
        import uvicorn

        from sciseek.web.app import create_app

        config = uvicorn.Config(create_app(engine), host=host, port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="sciseek-web", daemon=True)

    def start(self, timeout: float = 30.0) -> bool:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return self.server.started

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class _CtrlC:
    """Ctrl-C noted by a handler that only sets a flag, read by the demo's waiting loops.

    A KeyboardInterrupt raised at an arbitrary point can be swallowed by library code the
    main thread happens to be in; a flag cannot. A second Ctrl-C raises at once.
    """

    def __init__(self) -> None:
        self.pressed = threading.Event()
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if self.pressed.is_set():
            raise KeyboardInterrupt
        self.pressed.set()

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``; KeyboardInterrupt if Ctrl-C was pressed."""
        if self.pressed.wait(seconds):
            raise KeyboardInterrupt

    def restore(self) -> None:
        """Put the previous handler back."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _encode_while_serving(engine: Engine, ctrl_c: _CtrlC) -> None:
    """Wait for the background encoding, showing its progress; returns when it is done."""
    state = engine.index_progress()["dense"]
    engine.catch_up_in_background()
    done = state["documents"]
    with progress_bar(state["pending"], "encoding") as bar:
        while True:
            ctrl_c.wait(1.0)
            state = engine.index_progress()["dense"]
            if state["documents"] > done:
                bar.update(state["documents"] - done)
                done = state["documents"]
            if state["up_to_date"] and engine.wait_for_indexes(0):
                return


def cmd_demo(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or default_data_dir())
    start = time.monotonic()
    with Engine.open(data_dir, background=not args.no_serve, device=args.device) as engine:
        if not args.no_serve:  # load the encoder while the papers are read
            threading.Thread(target=engine.warm_up, name="sciseek-warm-up", daemon=True).start()
        code = _ingest(engine, args)
        if code and not engine.store.count():
            return code
        ready = engine.index_progress()["dense"]["up_to_date"]
        _sample(engine, "hybrid" if ready else "bm25", "hybrid" if ready else "BM25")
        where = "" if args.data_dir is None else f" --data-dir {data_dir}"
        if args.no_serve:
            if encode_backlog(engine):
                return INTERRUPTED
            if not ready:
                _sample(engine, "hybrid", "hybrid, every paper encoded")
            print(f"\nready: {data_dir.resolve()}\ntry:   sciseek search 'your question'{where}")
            return code
        port = _free_port(args.host, args.port, args.port_given)
        server = _Server(engine, args.host, port)
        if not server.start():
            print("error: the web server did not start", file=sys.stderr)
            return 1
        print(
            f"\nsite: http://{args.host}:{port}/  (ready {time.monotonic() - start:.0f} s after"
            f" start; Ctrl-C stops)\ndata: {data_dir.resolve()}\n"
            f"try:  sciseek search 'your question'{where}",
            flush=True,
        )
        ctrl_c = _CtrlC()
        try:
            ctrl_c.wait(0)
            if not ready:
                print(
                    "encoding the papers for dense and hybrid search in the background; the"
                    " site answers meanwhile (papers not encoded yet are found by BM25)",
                    file=sys.stderr,
                    flush=True,
                )
                _encode_while_serving(engine, ctrl_c)
                print(f"every paper encoded ({time.monotonic() - start:.0f} s after start)")
                _sample(engine, "hybrid", "hybrid")
            while server.thread.is_alive():
                ctrl_c.wait(0.5)
        except KeyboardInterrupt:
            print("\nstopping after the chunk being encoded ...", file=sys.stderr, flush=True)
            server.stop()
            stopped = engine.stop_background(STOP_WAIT)
            state = engine.index_progress()["dense"]
            print(
                f"stopped. {state['documents']:,} of {state['papers']:,} papers have"
                " embeddings; run the same command again to go on (finished chunks are kept)",
                file=sys.stderr,
                flush=True,
            )
            if not stopped:
                # the encoder thread is inside a forward pass: leave without waiting for it;
                # its chunk was not committed and is encoded again next time
                sys.stdout.flush()
                os._exit(INTERRUPTED)
            return INTERRUPTED
        finally:
            ctrl_c.restore()
            server.stop()
    return code


class _PortAction(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[override]
        setattr(namespace, self.dest, values)
        namespace.port_given = True


def add_demo_command(
    sub: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    model: argparse.ArgumentParser,
) -> None:
    """Add the demo command."""
    p = sub.add_parser(
        "demo",
        parents=[common, model],
        help="index papers, start the site and show a sample search",
        description="Index a paper file (or harvest the last days of arXiv), start the web "
        "app and print a sample search as soon as BM25 can answer, then compute the "
        "embeddings in the background with progress (hybrid search improves as they come). "
        "Ctrl-C stops; the same command again resumes where it stopped.",
    )
    p.add_argument(
        "--file",
        help="paper file to index (default: harvest the last 3 days of arXiv cs.CL, cs.IR "
        "and cs.LG; needs network)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument(
        "--port",
        type=arguments.positive,
        default=8000,
        action=_PortAction,
        help="port (default 8000; when it is taken, a free one is used)",
    )
    p.add_argument(
        "--no-serve",
        action="store_true",
        help="no web app: encode every paper in the foreground, print the search and exit",
    )
    p.set_defaults(func=cmd_demo, port_given=False)
