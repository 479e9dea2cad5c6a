# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sync_timeout: one deadline for the whole network part of a sync.

`timeout` bounds each single wait, yet a server that dribbles one byte per wait never trips it. A
Deadline bounds the sum. Every network call of a sync runs inside `guarded()`:

- each wait it starts is at most min(timeout, time left) (`wait()`: the socket timeout of git://,
  the connect and read timeouts of HTTP(S));
- the connections it opens register here (`watch_socket`, `watch_process`), and a watchdog thread
  cuts them when the deadline passes (a socket is shut down, an ssh process killed): a read that is
  waiting returns at once, however the bytes dribble in;
- whatever the call then raises becomes one SyncTimeout naming the option and what was being
  fetched; the caller treats it like an outage.

No Ansible or dulwich imports.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import socket
import threading
import time
from typing import Iterator

from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import RemoteFailure

__metaclass__ = type

_guard: contextvars.ContextVar[Guard | None] = contextvars.ContextVar("vcs_inventory_sync_guard", default=None)


class SyncTimeout(RemoteFailure):
    """The network part of the sync did not end within sync_timeout (a failure of the remote, like an outage)."""


class Deadline:
    """The end of the network part of one sync (seconds: sync_timeout; 0: no end)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds if seconds and seconds > 0 else None

    def left(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()

    def expired(self) -> bool:
        left = self.left()
        return left is not None and left <= 0

    def wait(self, timeout: float) -> float:
        """The longest single wait now: the option 'timeout', or less when the deadline is nearer."""
        left = self.left()
        return timeout if left is None else max(min(timeout, left), 0.001)

    def error(self, safe_url: str, what: str) -> SyncTimeout:
        return SyncTimeout(
            f"the sync of {safe_url} did not finish within {self.seconds:g}s (option 'sync_timeout') while "
            f"fetching {what}; the server or the network is too slow: raise 'sync_timeout' or check them"
        )


class Guard:
    """The connections of one network call, cut together when the deadline passes."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.cut = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._processes: list = []
        self._closed = False

    def watch_socket(self, fileno: int) -> None:
        try:
            # A socket object of our own on a duplicate: shutting it down ends the connection for every
            # descriptor, and closing it leaves the owner's descriptor alone.
            sock = socket.socket(fileno=os.dup(fileno))
        except OSError:
            return
        with self._lock:
            if not self._closed:
                self._sockets.append(sock)
                sock = None
        if sock is not None:
            sock.close()

    def watch_process(self, proc) -> None:
        with self._lock:
            if not self._closed:
                self._processes.append(proc)

    def fire(self) -> None:
        """The deadline passed: end every connection of the call (runs in the watchdog's thread)."""
        with self._lock:
            if self._closed:
                return
            self.cut = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            for proc in self._processes:
                with contextlib.suppress(OSError):
                    proc.kill()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sockets, self._sockets, self._processes = self._sockets, [], []
        for sock in sockets:
            sock.close()


@contextlib.contextmanager
def guarded(deadline: Deadline) -> Iterator[Guard]:
    """Run one network call under the deadline: a watchdog cuts its connections when it passes."""
    guard = Guard(deadline)
    token = _guard.set(guard)
    left = deadline.left()
    timer = None
    if left is not None:
        timer = threading.Timer(max(left, 0), guard.fire)
        timer.daemon = True
        timer.start()
    try:
        yield guard
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()  # no thread outlives the call (ansible-playbook forks its workers later)
        guard.close()
        _guard.reset(token)


def wait(timeout: float) -> float:
    """The longest single wait for a connection opened now (inside a guarded call, or the plain timeout)."""
    guard = _guard.get()
    return timeout if guard is None else guard.deadline.wait(timeout)


def watch_socket(fileno: int) -> None:
    guard = _guard.get()
    if guard is not None:
        guard.watch_socket(fileno)


def watch_process(proc) -> None:
    guard = _guard.get()
    if guard is not None:
        guard.watch_process(proc)
