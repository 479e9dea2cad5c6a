# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cross-process locks on cache entries.

flock(2) rather than lockf(3): a POSIX lock is dropped when *any* descriptor of the file is closed
by the process, which is too easy to trip over. On Linux NFS clients flock() is carried out as a
whole-file POSIX lock by the NFS lock manager, so it also holds between hosts sharing the volume.
The kernel drops the lock when its holder dies, so a SIGKILL never leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import time

from ansible_collections.vcs.inventory.plugins.plugin_utils import entry_layout as layout
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import read_json, write_json
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import SyncError

__metaclass__ = type


class LockTimeout(SyncError):
    """The lock was not granted within the timeout."""


def _open_lock_file(path: str) -> int:
    # O_NOFOLLOW: a planted symlink must not redirect the lock file somewhere else.
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def try_lock(path: str, shared: bool = False) -> int | None:
    """Take the lock without waiting; return its descriptor, or None when it is held elsewhere."""
    fd = _open_lock_file(path)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    return fd


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False  # kill() would address a process group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def release(fd: int | None) -> None:
    if fd is not None:
        try:
            os.close(fd)  # closing the descriptor releases the flock
        except OSError:
            pass


def lock_holders(path: str, exclusive_only: bool = False) -> list[int]:
    """The pids that hold a flock on path, as Linux lists them in /proc/locks (empty elsewhere or unknown)."""
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = []
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:1311 0 EOF"; a waiter's line has "->" after the number.
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or (exclusive_only and fields[3] != "WRITE"):
            continue
        if fields[5] == wanted and fields[4].isdigit():
            pids.append(int(fields[4]))
    return sorted(set(pids))


def _describe_holders(pids: list[int]) -> str:
    if not pids:
        return "holder unknown"
    return "held by " + ", ".join(f"pid {pid}" for pid in pids) + f" on host {socket.gethostname()}"


def wait_for_lock(path: str, timeout: float, what: str, shared: bool = False) -> int:
    """Take a lock on path, waiting up to timeout seconds (lock_timeout); its descriptor, or LockTimeout."""
    deadline = time.monotonic() + max(timeout, 0)
    delay = 0.01
    while True:
        fd = try_lock(path, shared=shared)
        if fd is not None:
            return fd
        if time.monotonic() >= deadline:
            holders = _describe_holders(lock_holders(path, exclusive_only=shared))
            raise LockTimeout(f"timed out after {timeout:g}s waiting for the lock {path} on {what} ({holders}); "
                              "raise 'lock_timeout' or check that process")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _still_at(fd: int, path: str) -> bool:
    try:
        held, current = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)


class EntryLock:
    """Exclusive lock on one cache entry, with a timeout and the holder written beside it."""

    def __init__(self, directory: str, timeout: float, what: str) -> None:
        self.path = os.path.join(directory, layout.LOCK)
        self.owner_path = os.path.join(directory, layout.LOCK_OWNER)
        self.timeout = timeout
        self.what = what
        self.fd: int | None = None

    def _holder(self) -> str:
        try:
            info = read_json(self.owner_path) or {}
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["since"]))
            pid, host = int(info["pid"]), str(info["host"])
        except (OSError, ValueError, KeyError, TypeError, OverflowError):
            return _describe_holders(lock_holders(self.path))
        if host == socket.gethostname() and not _alive(pid):
            # The note outlived its writer; whoever holds the lock now has not written one yet.
            return _describe_holders(lock_holders(self.path))
        return f"held by pid {pid} on host {host} since {since}"

    def __enter__(self) -> EntryLock:
        deadline = time.monotonic() + max(self.timeout, 0)
        delay = 0.01
        while True:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            fd = try_lock(self.path)
            if fd is not None:
                if _still_at(fd, self.path):
                    self.fd = fd
                    break
                # The entry was pruned (renamed away) between our open() and flock(): the lock we
                # hold guards a directory that is going away. Take the lock of the new one instead.
                release(fd)
                continue
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"timed out after {self.timeout:g}s waiting for the lock on cache entry {self.what} "
                    f"({self._holder()}); raise 'lock_timeout' or check that process"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        try:
            write_json(self.owner_path, {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        except OSError:
            pass  # the holder note is a courtesy; the lock itself is what counts
        return self

    def __exit__(self, *exc_info: object) -> None:
        release(self.fd)
        self.fd = None
