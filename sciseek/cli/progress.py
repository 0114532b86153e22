"""Progress of long phases: a bar with rate and ETA on a terminal, log lines elsewhere.

When stderr is not a terminal (a log file, a service), a line with the count, rate and ETA is
written every ``LOG_EVERY`` seconds and when the phase ends, so a log shows how far it got.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

from tqdm import tqdm

LOG_EVERY = 30.0  # seconds between progress lines when stderr is not a terminal


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Counts work done in a phase (``update`` may be called from any thread)."""

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "paper",
        *,
        stream: IO[str] | None = None,
        every: float = LOG_EVERY,
        terminal: bool | None = None,
    ):
        self.desc, self.unit, self.total = desc, unit, total
        self.stream = stream or sys.stderr
        self.every = every
        self.n = 0
        self._lock = threading.Lock()
        self._start = self._last_line = time.monotonic()
        terminal = self.stream.isatty() if terminal is None else terminal
        self._bar = (
            tqdm(
                total=total,
                desc=desc,
                unit=unit,
                file=self.stream,
                dynamic_ncols=True,
                leave=False,
            )
            if terminal
            else None
        )

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done."""
        with self._lock:
            self.n += n
            if self._bar is not None:
                self._bar.update(n)
            elif time.monotonic() - self._last_line >= self.every:
                self._line()

    def line(self) -> str:
        """The phase's state in words: done (of total), rate, ETA."""
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = self.n / elapsed
        done = f"{self.n:,}" + (f" of {self.total:,}" if self.total else "")
        units = plural(self.unit)
        text = f"{self.desc}: {done} {units}, {rate:.1f} {units}/s"
        if self.total and rate > 0 and self.n < self.total:
            text += f", about {_duration((self.total - self.n) / rate)} left"
        return text

    def _line(self) -> None:
        self._last_line = time.monotonic()
        print(self.line(), file=self.stream, flush=True)

    def write(self, message: str, file: IO[str] | None = None) -> None:
        """Print a message without breaking the bar."""
        tqdm.write(message, file=file or sys.stdout)

    def close(self) -> None:
        """End the phase (a final log line when not on a terminal, if any work was done)."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
            elif self.n and time.monotonic() - self._start >= 1.0:
                self._line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def plural(unit: str) -> str:
    """A unit's plural for progress lines ("query" -> "queries")."""
    if unit.endswith("y") and unit[-2:-1] not in "aeiou":
        return unit[:-1] + "ies"
    return unit + "s"
