"""UTC timestamps as sciseek writes them.

Two text forms are in use and both stay: the SQLite columns (papers ``added``, votes
``created``, the subscriber tables) hold ``iso`` timestamps (``...+00:00``), which SQL compares
as text against the rows existing data dirs already hold, so a second form there would break
those comparisons; ``harvest.json``'s ``last_run`` holds ``iso_z`` timestamps (``...Z``), which
``sciseek harvest status`` shows as they are written.
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """The current time, in UTC."""
    return dt.datetime.now(dt.UTC)


def iso(t: dt.datetime) -> str:
    """A UTC timestamp in the store's form, to the second: ``2024-05-01T12:00:00+00:00``."""
    return t.astimezone(dt.UTC).isoformat(timespec="seconds")


def iso_z(t: dt.datetime) -> str:
    """A UTC timestamp in the harvest state's form, to the second: ``2024-05-01T12:00:00Z``."""
    return iso(t).replace("+00:00", "Z")
