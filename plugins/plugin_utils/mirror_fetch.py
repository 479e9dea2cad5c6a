# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bare mirror of a cache entry and the fetches into it: one ref, shallow, partial where the server filters.

A part of CacheEntry (cache_entry.py); runs with the entry's exclusive lock held.
"""

from __future__ import annotations

import gc
import os
import uuid
import warnings

from ansible_collections.vcs.inventory.plugins.plugin_utils import deadline
from ansible_collections.vcs.inventory.plugins.plugin_utils import entry_layout as layout
from ansible_collections.vcs.inventory.plugins.plugin_utils import mirrors, needed_set, pack_limit, partial_fetch, refnames, trees, version_lists
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import read_json, write_json
from ansible_collections.vcs.inventory.plugins.plugin_utils.fetch_negotiation import negotiate_in_order, write_shallow_only_on_change
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import (
    Damaged,
    RemoteFailure,
    UnusableCommit,
    VersionNotFound,
    describe_remote_error,
    is_remote_error,
)
from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import make_client, socket_timeout
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import redact
from ansible_collections.vcs.inventory.plugins.plugin_utils.versions import HEX, ambiguous, pinned_id, resolve

__metaclass__ = type


# The longest unfinished progress line kept while waiting for its end.
_PROGRESS_LINE_MAX = 4096


class MirrorFetch:
    """The mirror and the fetches into it (needs remote, opts, mirror, path, scope, server_file, progress)."""

    deadline = deadline.Deadline(0)  # sync_timeout: set when the network part of a sync begins

    def open_mirror(self):
        from dulwich.repo import Repo

        if not os.path.isdir(self.mirror):
            return self.new_mirror()
        repo = Repo(self.mirror)
        if not repo.bare:
            repo.close()
            raise ValueError("the mirror is not a bare repository")
        return repo

    def new_mirror(self, path: str | None = None):
        from dulwich.repo import Repo

        path = path or self.mirror
        trees.remove_tree(path)
        os.mkdir(path, 0o700)
        return Repo.init_bare(path)

    @property
    def version_ref(self) -> bytes:
        return layout.version_ref(version_lists.state_key(self.opts))

    def check_mirror(self, repo, synced_before: bool) -> None:
        """Raise Damaged unless the mirror still holds what the last good sync of this version left.

        A few reads, so it runs every time: a deleted pack, a truncated object or a lost ref would
        otherwise go unnoticed until a later commit needs the missing objects.
        """
        head = repo.refs.read_ref(b"HEAD")
        if not head or not head.startswith(b"ref: refs/"):
            raise Damaged("its HEAD is not a symbolic ref")
        if not synced_before:
            return
        tip = repo.refs.read_ref(self.version_ref)
        if not tip or not layout.OBJECT_ID.match(tip.decode("ascii", "replace")):
            raise Damaged(f"the ref {self.version_ref.decode()} of the last good sync is missing")
        try:
            commit = repo[tip]
            repo[commit.tree]
        except KeyError:
            raise Damaged(f"the commit {tip.decode()[:12]} of the last good sync is missing") from None

    def fetch(self, repo) -> tuple[str, str]:
        """Fetch the configured version into repo; return (commit, display name)."""
        client, path, protocol = make_client(self.remote, self.opts.transport)
        pack_limit.watch(client, self.max_file_size)
        try:
            return self._fetch_with(client, path, protocol, repo)
        finally:
            # HTTP pools hold sockets: an unclosed one warns at interpreter exit.
            client.close()
            pool = getattr(client, "pool_manager", None)
            if pool is not None:
                pool.clear()

    def _fetch_with(self, client, path, protocol, repo) -> tuple[str, str]:
        opts = self.opts
        outer_repo = repo
        resolved: dict = {}

        listed = version_lists.candidates(opts) if opts.version_list is not None else None

        def determine_wants(refs, depth=None):
            # A version list: its first entry the remote has, from this same advertisement.
            chosen = version_lists.choose(refs, opts) if listed is not None else opts.version
            resolved["version"] = chosen
            sha, name = resolve(refs, chosen, warn=self.warn, known=self.known_commit)
            tips = {value.decode() for value in refs.values() if value}
            # A commit id that no ref points at: servers may refuse it ("not our ref").
            resolved.update(sha=sha, name=name, by_id=bool(sha) and sha not in tips)
            if sha is None:
                return []
            if sha.encode() in repo.object_store and not self.needs_deepen(repo):
                return []
            return [sha.encode()]

        ref_prefix = None
        if listed is not None:
            # One ls-refs for the whole list; a full commit id in it is checked against every tip.
            ref_prefix = None if any(version_lists.FULL_ID.match(n) for n in listed) else version_lists.ref_prefixes(listed)
        elif opts.version and opts.version != "HEAD" and not HEX.match(opts.version):
            ref_prefix = [b"refs/heads/" + opts.version.encode(), b"refs/tags/" + opts.version.encode()]
            if opts.version.startswith("refs/"):
                ref_prefix.append(opts.version.encode())
        elif opts.version in (None, "HEAD"):
            ref_prefix = [b"HEAD"]
        depth = opts.depth if opts.depth and opts.depth > 0 else None
        if self.remote.kind in ("git", "ssh"):
            negotiate_in_order(client, repo)
        write_shallow_only_on_change(repo)
        filter_spec = b"blob:none" if self.wants_partial() else self.size_filter()
        server = partial_fetch.watch_capabilities(client)
        result = None
        what = f"the version {opts.version or 'HEAD'}"

        def fetch():
            return client.fetch(path, repo, determine_wants=determine_wants, depth=depth, ref_prefix=ref_prefix,
                                filter_spec=filter_spec, protocol_version=protocol, progress=self._progress_bytes)

        try:
            try:
                result = self.call_remote(fetch, what)
            except RemoteFailure as exc:
                if not (filter_spec and not isinstance(exc, deadline.SyncTimeout) and server.answered and server.filters):
                    raise
                # The server advertised a filter, then refused this one: the whole commit, as without filters.
                self.progress(f"the server refused the filter {filter_spec.decode()} ({exc}); fetching without it")
                filter_spec = None
                result = self.call_remote(fetch, what)
                server.filters = False
            if server.answered:
                self.remember_server(filter=server.filters)
        except RemoteFailure as exc:
            if not resolved.get("by_id") or isinstance(exc, deadline.SyncTimeout):
                raise
            # The server would not serve a bare commit id: fetch fully and look it up.
            self.progress(f"fetching {resolved.get('version')} by id failed ({exc}); trying a full fetch")
            resolved["sha"] = None
        except KeyError:
            # dulwich's local client (file:// and paths) raises KeyError for an object the source
            # does not have: that is an unknown version, not a damaged cache.
            if not resolved.get("by_id"):
                raise
            resolved["sha"] = None
        version = resolved.get("version", opts.version)
        sha = resolved.get("sha")
        if sha is None:
            sha = self.fetch_full_for_commit(client, path, protocol, version)
            self.mirror_replaced = True
            repo = self.open_mirror()
        name = resolved.get("name")
        if version in (None, "HEAD"):
            # HEAD's branch arrives with the result (symref), after the wants were chosen; the
            # server chooses that name, so it passes git check-ref-format before it is shown anywhere.
            name = refnames.branch_of_head((getattr(result, "symrefs", None) or {}).get(b"HEAD")) or "HEAD"
        try:
            obj = repo[sha.encode()]
            while obj.type_name == b"tag":  # peeled by reading the tag objects, never by an advertised ^{} line
                obj = repo[obj.object[1]]
            if obj.type_name != b"commit":
                raise VersionNotFound(f"version {version!r} does not name a commit")
            if pinned_id(version) and obj.id.decode() != version.lower():
                # The server advertised the pinned id for a ref that leads elsewhere (a forged peeled tag line).
                raise UnusableCommit(
                    f"the remote offered commit {obj.id.decode()[:12]} for the pinned version {version}; "
                    "a pinned commit id is served only as itself, so nothing was used")
            repo.refs[self.version_ref] = obj.id
        finally:
            if repo is not outer_repo:
                repo.close()
        return obj.id.decode(), name or obj.id.decode()

    # -- partial fetch ------------------------------------------------------------------------
    def wants_partial(self) -> bool:
        """Trees first, then only the needed blobs: for part of the tree, unless the server refused before."""
        server = read_json(self.server_file) or {}
        return self.scope != needed_set.WHOLE_TREE and server.get("filter") is not False \
            and server.get("blobs_by_id") is not False

    @property
    def max_file_size(self) -> int:
        return getattr(self.opts, "max_file_size", 0) or 0

    def size_filter(self) -> bytes | None:
        """The whole tree: where the server filters, it holds back files over max_file_size (blob:limit).

        The checkout then finds them missing and asks for them by id, which stops at their size.
        """
        server = read_json(self.server_file) or {}
        if not self.max_file_size or server.get("filter") is False or server.get("blobs_by_id") is False:
            return None
        return b"blob:limit=%d" % (self.max_file_size * pack_limit.MIB)

    def remember_server(self, **support: bool) -> None:
        """Keep what the server supports (filter, blobs_by_id) for the next runs of this entry."""
        known = read_json(self.server_file) or {}
        if any(known.get(key) != value for key, value in support.items()):
            write_json(self.server_file, {**known, **support})

    def fetch_blobs(self, repo, commit: str, ids: list[bytes]) -> None:
        """Fetch the blobs ids by id in one request; where the server refuses, fetch commit whole instead."""
        client, path, protocol = make_client(self.remote, self.opts.transport)
        pack_limit.watch(client, self.max_file_size)
        try:
            self.progress(f"fetching {len(ids)} files of {commit[:12]} that the inventory needs")
            try:
                self.call_remote(lambda: partial_fetch.fetch_objects(
                    client, path, repo, ids, protocol, progress=self._progress_bytes),
                    f"{len(ids)} files of {commit[:12]}")
                self.remember_server(blobs_by_id=True)
                return
            except deadline.SyncTimeout:
                raise
            except RemoteFailure as exc:
                self.progress(f"the server would not send files by id ({exc}); fetching {commit[:12]} whole")
            depth = self.opts.depth if self.opts.depth and self.opts.depth > 0 else None
            self.call_remote(lambda: partial_fetch.fetch_objects(
                client, path, repo, [commit.encode()], protocol, depth=depth, progress=self._progress_bytes),
                f"the whole commit {commit[:12]}")
            self.remember_server(blobs_by_id=False)
        finally:
            client.close()
            pool = getattr(client, "pool_manager", None)
            if pool is not None:
                pool.clear()

    def needs_deepen(self, repo) -> bool:
        # A full history was asked for but the mirror is shallow: fetch again without depth.
        return not (self.opts.depth and self.opts.depth > 0) and bool(repo.get_shallow())

    def fetch_full_for_commit(self, client, path, protocol, version: str) -> str:
        """A commit id that is not a ref tip: fetch every branch and tag fully and look it up."""
        self.progress(f"{version} is not at a ref tip; fetching the full history to find it")
        tmp = os.path.join(self.path, f"tmp-full-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        repo = self.new_mirror(tmp)
        try:
            self.call_remote(lambda: client.fetch(
                path, repo, determine_wants=repo.object_store.determine_wants_all,
                protocol_version=protocol, progress=self._progress_bytes), "the full history")
            matches = [m.decode() for m in repo.object_store.iter_prefix(version.lower().encode())]
            commits = [m for m in matches if repo[m.encode()].type_name in (b"commit", b"tag")]
            if not commits:
                raise VersionNotFound(
                    f"version {version!r} is neither a branch, a tag nor a commit id of the repository; "
                    "check the option 'version'"
                )
            if len(commits) > 1:
                raise ambiguous(version, sorted(c[:12] for c in commits))
            self.keep_version_refs(repo)
            repo.close()
            trees.remove_tree(self.mirror)
            os.rename(tmp, self.mirror)
        except BaseException:
            repo.close()
            trees.remove_tree(tmp)
            raise
        return commits[0]

    def keep_version_refs(self, new_repo) -> None:
        """Carry the other versions' refs over to a replacement mirror (check_mirror expects them)."""
        from dulwich.repo import Repo

        try:
            with Repo(self.mirror) as old:
                refs = old.refs.as_dict(b"refs/heads/")
        except Exception:  # noqa: BLE001 - a damaged old mirror has nothing worth keeping
            return
        for name, sha in refs.items():
            if name.startswith(b"v-") and sha in new_repo.object_store:
                new_repo.refs[b"refs/heads/" + name] = sha

    def call_remote(self, call, what: str):
        """Run one network call under the timeout and sync_timeout; a remote failure becomes RemoteFailure.

        what names what is being fetched (for sync_timeout's message). The original exception is not
        kept (not even as __cause__): its traceback pins the connection's socket until interpreter
        exit, which then warns about it.
        """
        limit = self.deadline
        if limit.expired():
            raise limit.error(self.remote.safe_url, what)
        message = guard = None
        unreachable = False
        with warnings.catch_warnings():
            # A handshake that times out leaves dulwich's connection to the garbage collector,
            # which reports it as a ResourceWarning when the exception goes.
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                with socket_timeout(limit.wait(self.opts.timeout)), deadline.guarded(limit) as guard:
                    return call()
            except VersionNotFound:
                raise
            except Exception as exc:  # noqa: BLE001 - sorted into remote or local failures right here
                if (guard is not None and guard.cut) or limit.expired():  # whatever a cut connection raised: the deadline ended it
                    message = None
                elif not is_remote_error(exc):
                    raise
                else:
                    message = describe_remote_error(exc, self.remote, self.opts.timeout)
                    unreachable = mirrors.unreachable(exc)  # whether the option 'mirrors' may serve instead
            gc.collect()
        if message is None:
            raise limit.error(self.remote.safe_url, what)
        failure = RemoteFailure(message)
        failure.unreachable = unreachable
        raise failure

    def _progress_bytes(self, data: bytes) -> None:
        # Side-band packets cut lines anywhere, even inside a word or a UTF-8 character: a line is
        # shown once its end has come. Servers redraw one line with "\r"; keep its last state only.
        pending = getattr(self, "_progress_pending", b"") + data
        *lines, pending = pending.split(b"\n")
        if len(pending) > _PROGRESS_LINE_MAX:  # a server that never ends its line: keep only its last redraw
            pending = pending.rsplit(b"\r", 1)[-1][-_PROGRESS_LINE_MAX:]
        self._progress_pending = pending
        for line in lines:
            text = line.decode("utf-8", "replace").split("\r")[-1].strip()
            if text:
                self.progress(redact(text, self.remote.secrets))
