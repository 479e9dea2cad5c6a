"""locking: one writer at a time across processes, a clear timeout, nothing stale after a crash."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils import locking
from conftest import IMPORT_PATH

HOLD = """
import sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.vcs.inventory.plugins.plugin_utils.locking import EntryLock
with EntryLock(sys.argv[2], timeout=10, what=sys.argv[2]):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process that holds the entry lock until it is killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, IMPORT_PATH, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()


def test_exclusive_excludes_everyone_and_shared_only_writers(tmp_path):
    path = str(tmp_path / "lock")
    first = locking.try_lock(path)
    assert first is not None
    assert locking.try_lock(path) is None
    assert locking.try_lock(path, shared=True) is None
    locking.release(first)
    readers = [locking.try_lock(path, shared=True), locking.try_lock(path, shared=True)]
    assert None not in readers
    assert locking.try_lock(path) is None
    for fd in readers:
        locking.release(fd)
    fd = locking.try_lock(path)
    assert fd is not None
    locking.release(fd)


def test_timeout_names_the_entry_and_the_holding_process(tmp_path, holder):
    with pytest.raises(locking.LockTimeout) as caught:
        with locking.EntryLock(str(tmp_path), timeout=0.3, what="ENTRY-X"):
            pass
    message = str(caught.value)
    assert "ENTRY-X" in message and f"held by pid {holder.pid}" in message and "lock_timeout" in message


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with locking.EntryLock(str(tmp_path), timeout=5, what="entry") as lock:
        assert lock.fd is not None
    with open(tmp_path / "lock.owner") as handle:
        assert json.load(handle)["pid"] == os.getpid()
    assert sorted(os.listdir(tmp_path)) == ["lock", "lock.owner"]  # no temp file left beside them


def test_a_note_from_a_dead_holder_is_not_blamed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    fd = locking.try_lock(str(tmp_path / "lock"))  # held here, without writing a note
    try:
        with open(tmp_path / "lock.owner", "w") as handle:
            json.dump({"pid": dead.pid, "host": socket.gethostname(), "since": 0}, handle)
        with pytest.raises(locking.LockTimeout) as caught:
            with locking.EntryLock(str(tmp_path), timeout=0.1, what="entry"):
                pass
        # Not the note's dead writer: the process that really holds the lock, as the kernel lists it.
        assert f"pid {dead.pid} " not in str(caught.value)
        assert f"held by pid {os.getpid()} on host {socket.gethostname()}" in str(caught.value)
    finally:
        locking.release(fd)


def test_wait_for_lock_gives_up_after_the_timeout_naming_the_lock_and_holder(tmp_path, holder):
    path = str(tmp_path / "lock")
    with pytest.raises(locking.LockTimeout) as caught:
        locking.wait_for_lock(path, 0.3, "the checkout X", shared=True)
    message = str(caught.value)
    assert path in message and "the checkout X" in message and f"held by pid {holder.pid}" in message
    assert "lock_timeout" in message
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    fd = locking.wait_for_lock(path, 5, "the checkout X", shared=True)
    locking.release(fd)


def test_a_planted_symlink_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    os.symlink(target, tmp_path / "lock")
    with pytest.raises(OSError):
        locking.try_lock(str(tmp_path / "lock"))
    assert not target.exists()


def test_a_lock_on_an_entry_renamed_away_is_not_taken_as_the_entrys(tmp_path):
    """A pruner renames a stale entry away; a run that opened its lock file just before must not use it."""
    entry = tmp_path / "entry"
    entry.mkdir()
    fd = locking.try_lock(str(entry / "lock"))
    assert locking._still_at(fd, str(entry / "lock"))
    os.rename(entry, tmp_path / ".tmp-gc-entry")
    assert not locking._still_at(fd, str(entry / "lock"))
    locking.release(fd)
    with locking.EntryLock(str(entry), timeout=5, what="entry") as lock:
        # the lock now guards a new entry directory at the entry's path
        assert locking._still_at(lock.fd, str(entry / "lock"))
        assert entry.is_dir()
