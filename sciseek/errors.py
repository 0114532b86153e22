"""The project's error tree: every error sciseek raises on purpose is a ``SciseekError``.

Two kinds decide how an interface reports it:

- ``BadInput``: the caller asked for something wrong (bad usage, bad file, unknown id). The
  CLI exits 2; the web answers the class's ``status`` (a 4xx, 422 unless a subclass says).
- ``OperationalError``: the environment failed (mail server, a lock held, the network). The
  CLI exits 1; the web answers the class's ``status`` (503 unless a subclass says).

Modules define their own subclasses next to the code that raises them; this module imports
nothing from the project, so every package may import it.
"""

from __future__ import annotations


class SciseekError(Exception):
    """An error sciseek raises on purpose; its message is meant for the user."""

    status: int = 500


class BadInput(SciseekError):
    """Bad usage or bad input: CLI exit 2, HTTP ``status`` (a 4xx, 422 by default)."""

    status = 422


class OperationalError(SciseekError):
    """The environment failed (mail server, lock held, network): CLI exit 1, HTTP 503."""

    status = 503
