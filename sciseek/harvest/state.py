"""The harvest state of a data dir: ``harvest.json`` and the lock a running harvest holds.

The state file remembers per set the date the last complete harvest reached, the resumption
token of an interrupted one and running totals; it is replaced atomically on every save.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sciseek.ingest.oai import HarvestError
from sciseek.storage.files import atomic_write, file_lock

STATE_FILE = "harvest.json"
LOCK_FILE = "harvest.lock"


def _totals() -> dict[str, int]:
    return dict.fromkeys(("pages", "added", "updated", "unchanged", "deleted", "skipped"), 0)


@dataclass
class SetState:
    """What is remembered about one set between runs."""

    datestamp: str | None = None  # the next run asks for records from this date
    token: str | None = None  # resumption token of an interrupted run
    resume: dict[str, Any] | None = None  # that run's first response date, from, until, endpoint
    last_run: str | None = None  # when the last run started (UTC)
    last_result: str | None = None
    categories: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=_totals)


class HarvestState:
    """The harvest state of a data dir (``harvest.json``), written atomically."""

    def __init__(self, path: Path, sets: dict[str, SetState] | None = None):
        self.path = path
        self.sets = sets or {}

    @classmethod
    def load(cls, data_dir: str | Path) -> HarvestState:
        """The state of ``data_dir`` (empty when it has never harvested)."""
        path = Path(data_dir) / STATE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            sets = {
                spec: SetState(**{**asdict(SetState()), **value})
                for spec, value in raw.get("sets", {}).items()
            }
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError, TypeError, AttributeError) as e:
            raise HarvestError(
                f"harvest state {path} is unreadable ({e}); fix or remove it"
            ) from None
        return cls(path, sets)

    def get(self, spec: str) -> SetState:
        """The state of a set, created empty if it has none."""
        return self.sets.setdefault(spec, SetState())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"version": 1, "sets": {spec: asdict(s) for spec, s in sorted(self.sets.items())}}

    def save(self) -> None:
        """Replace the state file atomically and durably."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        atomic_write(self.path, text)


@contextlib.contextmanager
def lock(data_dir: str | Path) -> Iterator[None]:
    """Hold the data dir's harvest lock; raises HarvestError if another harvest holds it."""
    with file_lock(Path(data_dir) / LOCK_FILE, wait=False) as held:
        if not held:
            raise HarvestError(f"another harvest is running on {data_dir}")
        yield


def format_status(state: HarvestState) -> str:
    """The harvest state as readable lines, one block per set."""
    if not state.sets:
        return f"no harvests recorded ({state.path} does not exist yet)"
    lines = []
    for spec, st in sorted(state.sets.items()):
        totals = ", ".join(f"{n} {k}" for k, n in st.totals.items())
        lines += [
            f"{spec}:",
            f"  last datestamp: {st.datestamp or 'none (no harvest has completed)'}",
            f"  pending token:  {st.token or 'none'}",
            f"  last run:       {st.last_run or 'never'} ({st.last_result or 'unknown'})",
            f"  categories:     {', '.join(st.categories) or 'all'}",
            f"  totals:         {totals}",
        ]
    return "\n".join(lines)
