"""Files in a data dir: atomic replacement and exclusive locks."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: locks are not taken
    fcntl = None  # type: ignore[assignment]


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically and durably: a crash leaves the old or the new
    file, never a torn one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def read_once(paths: Iterable[Path], chunk: int = 8 << 20) -> int:
    """Read files from start to end once, so that the system's page cache holds them (later
    random reads come from memory); returns the bytes read. Missing files are skipped. Not for
    SQLite files: closing another descriptor of a file drops this process's SQLite locks on
    it (read those through SQLite)."""
    done = 0
    buffer = bytearray(chunk)
    for path in paths:
        try:
            with open(path, "rb", buffering=0) as f:
                while n := f.readinto(buffer):
                    done += n
        except OSError:
            continue
    return done


@contextmanager
def file_lock(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on the file ``path`` (created if missing) for the block.

    Yields True while the lock is held. With ``wait`` false and another holder, yields False at
    once without the lock; callers decide what that means. Released when the block ends, and by
    the system if the process dies. Where the system has no ``flock`` nothing is locked and
    True is yielded.
    """
    if fcntl is None:
        yield True
        return
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            held = False
        else:
            held = True
        # Yielded outside the except clause, so an error raised by the caller's block is not
        # chained to the BlockingIOError.
        try:
            yield held
        finally:
            if held:
                fcntl.flock(f, fcntl.LOCK_UN)
