# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Work-arounds in dulwich's fetch that keep the rerun of a shallow mirror cheap and correct."""

from __future__ import annotations

__metaclass__ = type

MAX_HAVES = 256  # as git's own fetch gives up after 256 haves in vain


def write_shallow_only_on_change(repo) -> None:
    """Leave mirror.git/shallow alone when a fetch did not move the shallow boundary.

    dulwich rewrites the file (lock file, fsync, rename) after every fetch, even one that brought
    nothing: measured, about a third of the sync of a rerun with nothing new.
    """
    update = repo.update_shallow

    def update_shallow(new_shallow, new_unshallow):
        if new_shallow or new_unshallow:
            update(new_shallow, new_unshallow)

    repo.update_shallow = update_shallow


def negotiate_in_order(client, repo) -> None:
    """Keep a shallow fetch over a stateful connection (git://, ssh://) from misreading the server.

    Asked for a depth, the server answers the wants at once with the new shallow boundary.
    dulwich reads that answer only after "done", yet while it sends its haves it also reads
    whatever has already arrived as if it were an ACK: on a busy machine it swallows the
    shallow lines (the mirror forgets its boundary) or trips over their flush (AssertionError).
    Measured: 12 parallel runs while commits were pushed hit it in the first round. Reading
    nothing until "done", as over HTTP, keeps every answer in order; the haves are capped so
    that the unread ACKs always fit in the socket buffers.

    Over protocol v2 dulwich sends every local commit as a "have" in one request, whatever the
    depth: the same cap keeps a rerun of a full-history mirror from costing O(history).
    """
    connect = getattr(client, "_connect", None)
    if connect is None:  # pragma: no cover - every stateful dulwich client has it
        return

    def connect_reading_after_done(*args, **kwargs):
        proto, can_read, stderr = connect(*args, **kwargs)
        return proto, (None if can_read is None else (lambda: False)), stderr

    client._connect = connect_reading_after_done
    make_walker = repo.get_graph_walker
    repo.get_graph_walker = lambda *args, **kwargs: _CappedWalker(make_walker(*args, **kwargs), MAX_HAVES)


class _CappedWalker:
    """A graph walker that offers at most `limit` haves (fewer haves only means a bigger pack)."""

    def __init__(self, walker, limit: int) -> None:
        self._walker = walker
        self._left = limit

    def __next__(self):
        if self._left <= 0:
            return None
        self._left -= 1
        return next(self._walker)

    next = __next__

    def __iter__(self):
        return self

    def __getattr__(self, name: str):
        return getattr(self._walker, name)
