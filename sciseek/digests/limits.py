"""How many subscription requests (each one mails a confirmation link) a server accepts.

Counted over the last ``RATE_WINDOW`` in the ``subscription_requests`` table, inside the
transaction that records a new request: ``RATE_LIMIT`` for one address, ``CLIENT_LIMIT`` from
one client address, ``TOTAL_LIMIT`` for the whole server.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from sciseek.errors import OperationalError
from sciseek.storage.clock import iso

RATE_LIMIT = 3  # confirmation mails per address ...
CLIENT_LIMIT = 10  # ... per client (web) address ...
TOTAL_LIMIT = 100  # ... and from the whole server ...
RATE_WINDOW = dt.timedelta(hours=1)  # ... in this window


class RateLimited(OperationalError, RuntimeError):
    """Too many confirmation mails asked for recently (for one address, from one client, or
    from the whole server)."""

    status = 429


def check_request_limits(
    db: sqlite3.Connection, email: str, client: str | None, now: dt.datetime
) -> None:
    """Forget requests older than the window, then raise RateLimited if one more request for
    ``email`` from ``client`` would pass a limit (``db`` is inside a write transaction)."""
    db.execute("DELETE FROM subscription_requests WHERE created < ?", (iso(now - RATE_WINDOW),))
    (recent,) = db.execute(
        "SELECT COUNT(*) FROM subscription_requests WHERE email=?", (email,)
    ).fetchone()
    if recent >= RATE_LIMIT:
        raise RateLimited(f"too many subscription requests for {email}; try again in an hour")
    if client is not None:
        (mine,) = db.execute(
            "SELECT COUNT(*) FROM subscription_requests WHERE client=?", (client,)
        ).fetchone()
        if mine >= CLIENT_LIMIT:
            raise RateLimited(
                f"at most {CLIENT_LIMIT} subscription requests an hour from one address;"
                " try again later"
            )
    (total,) = db.execute("SELECT COUNT(*) FROM subscription_requests").fetchone()
    if total >= TOTAL_LIMIT:
        raise RateLimited(
            "this server has sent as many confirmation mails as it will in an hour; try again later"
        )
