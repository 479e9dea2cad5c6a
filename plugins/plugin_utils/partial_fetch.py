# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Partial fetch with dulwich: trees first (filter blob:none), then the needed blobs by id.

dulwich sends a filter only over protocol v2 and only when the server advertises one, and it has
no lazy fetching of what a filter left out: the blobs a checkout needs are fetched here, by id, in
one request that offers no "have" (a have would tell the server that the blobs are here already).
"""

from __future__ import annotations

from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import RemoteFailure

__metaclass__ = type


class MissingObjects(RemoteFailure):
    """The server did not send objects it was asked for (or the mirror lacks them offline)."""


class ServerWatch:
    """What one fetch learnt of the server: whether it answered, and whether it filters."""

    answered = False
    filters = False


def watch_capabilities(client) -> ServerWatch:
    """Record the server's capabilities as dulwich reads them; no log line when the server cannot filter."""
    watch = ServerWatch()
    negotiate = client._negotiate_upload_pack_capabilities

    def recording(server_capabilities):
        watch.answered = True
        watch.filters = client.protocol_version == 2 and any(
            cap.startswith(b"fetch=") and b"filter" in cap.split(b"=", 1)[1].split() for cap in server_capabilities)
        return negotiate(server_capabilities)

    client._negotiate_upload_pack_capabilities = recording
    # Without a filter the same request brings the whole (shallow) commit: nothing is fetched twice.
    client._warn_filter_objects = lambda: None
    return watch


class _NoHaves:
    """A graph walker that offers nothing: the server sends every object asked for, whole."""

    def __next__(self):
        return None

    next = __next__

    def __iter__(self):
        return self

    def ack(self, sha) -> None:
        pass

    def nak(self) -> None:
        pass


def fetch_objects(client, path, repo, ids: list[bytes], protocol, depth: int | None = None, progress=None):
    """Fetch the objects ids (blobs by id, or a commit whole) into repo in one request."""
    had = repo.__dict__.get("get_graph_walker")
    repo.get_graph_walker = lambda *args, **kwargs: _NoHaves()
    try:
        return client.fetch(path, repo, determine_wants=lambda refs, depth=None: list(ids), depth=depth,
                            ref_prefix=[b"HEAD"], protocol_version=protocol, progress=progress)
    finally:
        if had is None:
            del repo.get_graph_walker
        else:
            repo.get_graph_walker = had
