import multiprocessing
import os

import pytest

from sciseek.storage import files
from sciseek.storage.files import atomic_write, file_lock


def test_atomic_write_replaces_the_file(tmp_path):
    path = tmp_path / "state.json"
    atomic_write(path, "old\n")
    atomic_write(path, "new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failing_atomic_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    atomic_write(path, "old\n")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left behind


def test_atomic_write_of_text_that_cannot_be_encoded_leaves_the_old_file(tmp_path):
    path = tmp_path / "state.json"
    atomic_write(path, "old\n")
    with pytest.raises(UnicodeEncodeError):
        atomic_write(path, "\udcff")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def _try_lock(path: str, queue) -> None:
    with file_lock(path, wait=False) as held:
        queue.put(held)


def _in_another_process(path) -> bool:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_try_lock, args=(str(path), queue))
    proc.start()
    proc.join(30)
    return queue.get(timeout=5)


def test_the_lock_refuses_a_second_holder_and_is_released_after(tmp_path):
    path = tmp_path / "job.lock"
    with file_lock(path) as held:
        assert held
        assert _in_another_process(path) is False
        # a second open file description in this process is refused too
        with file_lock(path, wait=False) as second:
            assert second is False
    assert _in_another_process(path) is True
    with file_lock(path, wait=False) as again:
        assert again is True


def test_the_lock_is_released_when_the_block_raises(tmp_path):
    path = tmp_path / "job.lock"
    with pytest.raises(RuntimeError), file_lock(path, wait=False) as held:
        assert held
        raise RuntimeError("boom")
    with file_lock(path, wait=False) as again:
        assert again is True


def test_a_refused_lock_does_not_chain_the_callers_error(tmp_path):
    path = tmp_path / "job.lock"
    with (
        file_lock(path),
        pytest.raises(LookupError) as caught,
        file_lock(path, wait=False) as held,
    ):
        assert not held
        raise LookupError("busy")
    assert caught.value.__context__ is None
    assert os.path.exists(path)
