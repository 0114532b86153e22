"""Index work off the request path: one background thread that brings indexes up to the store.

A server opens its engine with ``background=True``: then a query never encodes papers or
builds an index while the client waits. The dense index answers from the embeddings it has
(papers not encoded yet are found by BM25 alone) while the thread encodes the rest; sparse mode
answers 503 (``IndexNotReady``) until its first build, which the first sparse query starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sciseek.errors import OperationalError


class IndexNotReady(OperationalError):
    """An index a query needs is still being built in the background; try again later."""

    status = 503


class BackgroundSync:
    """Runs ``work`` in a daemon thread when asked, never two at a time; a request made while
    it runs makes it run once more afterwards, so no change is left behind."""

    def __init__(self, work: Callable[[], None], log: Callable[[str], None]):
        self._work = work
        self._log = log
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self._stop = threading.Event()
        self.failures = 0

    def stopping(self) -> bool:
        """Whether the work was asked to stop (the work checks this between its steps)."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Ask the work under way to stop at its next step; later requests are ignored."""
        self._stop.set()

    @property
    def running(self) -> bool:
        """Whether the work is under way."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def request(self) -> None:
        """Start the work unless it is running (then it runs again when done)."""
        with self._lock:
            if self._stop.is_set():
                return
            if self.running:
                self._again = True
                return
            self._again = False
            self._thread = threading.Thread(target=self._run, name="sciseek-index", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the work under way (if any) to finish; True when none is running."""
        while True:
            thread = self._thread
            if thread is None:
                return True
            thread.join(timeout)
            if thread.is_alive():
                return False
            with self._lock:
                if self._thread is thread and not self._again:
                    return True

    def _run(self) -> None:
        while True:
            try:
                self._work()
            except Exception as e:  # noqa: BLE001 - a server keeps serving; the log says why
                self.failures += 1
                self._log(f"background indexing failed: {type(e).__name__}: {e}")
            with self._lock:
                if not self._again or self._stop.is_set():
                    self._again = False  # a stopped run leaves nothing for wait() to expect
                    return
                self._again = False
