# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One cache entry of one remote: its housekeeping, its bare mirror, and its checkouts.

Every method runs with the entry's exclusive lock held (see git_cache.sync).
"""

from __future__ import annotations

import gc
import os
import uuid
import warnings
from typing import Callable

from ansible_collections.vcs.inventory.plugins.plugin_utils import entry_layout as layout
from ansible_collections.vcs.inventory.plugins.plugin_utils import needed_set, trees
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import listdir, read_json, write_json
from ansible_collections.vcs.inventory.plugins.plugin_utils import partial_fetch
from ansible_collections.vcs.inventory.plugins.plugin_utils.fetch_negotiation import negotiate_in_order, write_shallow_only_on_change
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import (
    Damaged,
    RemoteFailure,
    VersionNotFound,
    describe_remote_error,
    is_remote_error,
)
from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import make_client, socket_timeout
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import Remote, cache_key, redact
from ansible_collections.vcs.inventory.plugins.plugin_utils.versions import HEX, ambiguous, resolve, version_key

__metaclass__ = type

ENTRY_FORMAT = 1


class CacheEntry:
    """One cache entry (opts: git_cache.SyncOptions), used while its exclusive lock is held."""

    def __init__(self, root: str, remote: Remote, opts, warn: Callable[[str], None],
                 progress: Callable[[str], None]) -> None:
        self.remote = remote
        self.opts = opts
        self.warn = warn
        self.progress = progress
        self.path = os.path.join(root, cache_key(remote))
        self.mirror = os.path.join(self.path, layout.MIRROR)
        self.trees = os.path.join(self.path, layout.TREES)
        self.state_dir = os.path.join(self.path, layout.STATE)
        self.state_file = layout.state_file(self.state_dir, version_key(opts.version))
        self.mirror_replaced = False
        # What the configured paths need of a commit; ("",): the whole tree.
        self.scope = needed_set.normalise(getattr(opts, "paths", None))
        self.server_file = os.path.join(self.path, layout.SERVER_INFO)
        # The commit an earlier sync resolved this version to after checking the whole history.
        self.known_commit: str | None = None

    # -- housekeeping -------------------------------------------------------------------------
    def prepare(self) -> None:
        """Make the entry a known-good shape; only called with the exclusive lock held."""
        info = read_json(os.path.join(self.path, layout.ENTRY_INFO))
        keep = {layout.LOCK, layout.LOCK_OWNER}
        if info is None or info.get("url") != self.remote.safe_url or info.get("format") != ENTRY_FORMAT:
            leftovers = [n for n in os.listdir(self.path) if n not in keep]
            if leftovers:
                self.warn(f"cache entry {self.path} was not a usable cache of {self.remote.safe_url}; wiping it")
            for name in leftovers:
                trees.remove_tree(os.path.join(self.path, name))
            write_json(os.path.join(self.path, layout.ENTRY_INFO), {"url": self.remote.safe_url, "format": ENTRY_FORMAT})
        for sub in (self.trees, self.state_dir):
            if not os.path.isdir(sub) or os.path.islink(sub):
                trees.remove_tree(sub)
                os.mkdir(sub, 0o700)
        removed = self.remove_leftovers()
        if removed:
            shown = ", ".join(sorted(removed)[:6]) + (f" and {len(removed) - 6} more" if len(removed) > 6 else "")
            self.warn(f"removed stale temporary, lock or orphaned pack files (an interrupted run's) from "
                      f"the cache entry {self.path}: {shown}")

    def remove_leftovers(self) -> list[str]:
        """Remove the temp files of dead writers and return their names.

        Safe only with the exclusive lock held: it proves that their writers are gone.
        """
        removed = []

        def drop(path: str) -> None:
            trees.remove_tree(path)
            removed.append(os.path.relpath(path, self.path))

        for directory in (self.path, self.trees, self.state_dir):
            for name in listdir(directory):
                if name.startswith(layout.TMP_PREFIX) or layout.TMP_MARK in name:
                    drop(os.path.join(directory, name))
        if not os.path.isdir(self.mirror) or os.path.islink(self.mirror):
            return removed
        objects = os.path.join(self.mirror, "objects")
        pack_dir = os.path.join(objects, "pack")
        # dulwich spools a fetched pack to objects/tmp_pack_* (thin packs) or pack/tmp*.pack, renames
        # the pack in and only then writes its index: a kill in between leaves a pack without one.
        for name in listdir(objects):
            if name.startswith(("tmp_pack_", "incoming-")):
                drop(os.path.join(objects, name))
        names = set(listdir(pack_dir))
        for name in sorted(names):
            stem, ext = os.path.splitext(name)
            orphan = (ext == ".pack" and stem + ".idx" not in names) or (ext == ".idx" and stem + ".pack" not in names)
            if name.startswith(("tmp", "incoming-")) or orphan:
                drop(os.path.join(pack_dir, name))
        for dirpath, _dirs, files in os.walk(self.mirror):
            for name in files:
                if name.endswith(".lock"):
                    drop(os.path.join(dirpath, name))
        return removed

    # -- the mirror ---------------------------------------------------------------------------
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
        return layout.version_ref(version_key(self.opts.version))

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

        def determine_wants(refs, depth=None):
            sha, name = resolve(refs, opts.version, warn=self.warn, known=self.known_commit)
            tips = {value.decode() for value in refs.values() if value}
            # A commit id that no ref points at: servers may refuse it ("not our ref").
            resolved.update(sha=sha, name=name, by_id=bool(sha) and sha not in tips)
            if sha is None:
                return []
            if sha.encode() in repo.object_store and not self.needs_deepen(repo):
                return []
            return [sha.encode()]

        ref_prefix = None
        if opts.version and opts.version != "HEAD" and not HEX.match(opts.version):
            ref_prefix = [b"refs/heads/" + opts.version.encode(), b"refs/tags/" + opts.version.encode()]
            if opts.version.startswith("refs/"):
                ref_prefix.append(opts.version.encode())
        elif opts.version in (None, "HEAD"):
            ref_prefix = [b"HEAD"]
        depth = opts.depth if opts.depth and opts.depth > 0 else None
        if self.remote.kind in ("git", "ssh"):
            negotiate_in_order(client, repo)
        write_shallow_only_on_change(repo)
        filter_spec = b"blob:none" if self.wants_partial() else None
        server = partial_fetch.watch_capabilities(client)
        result = None

        def fetch():
            return client.fetch(path, repo, determine_wants=determine_wants, depth=depth, ref_prefix=ref_prefix,
                                filter_spec=filter_spec, protocol_version=protocol, progress=self._progress_bytes)

        try:
            try:
                result = self.call_remote(fetch)
            except RemoteFailure as exc:
                if not (filter_spec and server.answered and server.filters):
                    raise
                # The server advertised a filter, then refused this one: the whole commit, as without filters.
                self.progress(f"the server refused the filter blob:none ({exc}); fetching without it")
                filter_spec = None
                result = self.call_remote(fetch)
                server.filters = False
            if server.answered:
                self.remember_server(filter=server.filters)
        except RemoteFailure as exc:
            if not resolved.get("by_id"):
                raise
            # The server would not serve a bare commit id: fetch fully and look it up.
            self.progress(f"fetching {opts.version} by id failed ({exc}); trying a full fetch")
            resolved["sha"] = None
        except KeyError:
            # dulwich's local client (file:// and paths) raises KeyError for an object the source
            # does not have: that is an unknown version, not a damaged cache.
            if not resolved.get("by_id"):
                raise
            resolved["sha"] = None
        sha = resolved.get("sha")
        if sha is None:
            sha = self.fetch_full_for_commit(client, path, protocol, opts.version)
            self.mirror_replaced = True
            repo = self.open_mirror()
        name = resolved.get("name")
        if opts.version in (None, "HEAD"):
            # HEAD's branch arrives with the result (symref), after the wants were chosen.
            target = (getattr(result, "symrefs", None) or {}).get(b"HEAD")
            name = target.decode().removeprefix("refs/heads/") if target else "HEAD"
        try:
            obj = repo[sha.encode()]
            while obj.type_name == b"tag":
                obj = repo[obj.object[1]]
            if obj.type_name != b"commit":
                raise VersionNotFound(f"version {opts.version!r} does not name a commit")
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

    def remember_server(self, **support: bool) -> None:
        """Keep what the server supports (filter, blobs_by_id) for the next runs of this entry."""
        known = read_json(self.server_file) or {}
        if any(known.get(key) != value for key, value in support.items()):
            write_json(self.server_file, {**known, **support})

    def fetch_blobs(self, repo, commit: str, ids: list[bytes]) -> None:
        """Fetch the blobs ids by id in one request; where the server refuses, fetch commit whole instead."""
        client, path, protocol = make_client(self.remote, self.opts.transport)
        try:
            self.progress(f"fetching {len(ids)} files of {commit[:12]} that the inventory needs")
            try:
                self.call_remote(lambda: partial_fetch.fetch_objects(
                    client, path, repo, ids, protocol, progress=self._progress_bytes))
                self.remember_server(blobs_by_id=True)
                return
            except RemoteFailure as exc:
                self.progress(f"the server would not send files by id ({exc}); fetching {commit[:12]} whole")
            depth = self.opts.depth if self.opts.depth and self.opts.depth > 0 else None
            self.call_remote(lambda: partial_fetch.fetch_objects(
                client, path, repo, [commit.encode()], protocol, depth=depth, progress=self._progress_bytes))
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
                protocol_version=protocol, progress=self._progress_bytes))
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

    def call_remote(self, call):
        """Run one network call under the timeout; a remote failure becomes RemoteFailure.

        The original exception is not kept (not even as __cause__): its traceback pins the
        connection's socket until interpreter exit, which then warns about it.
        """
        message = None
        with warnings.catch_warnings():
            # A handshake that times out leaves dulwich's connection to the garbage collector,
            # which reports it as a ResourceWarning when the exception goes.
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                with socket_timeout(self.opts.timeout):
                    return call()
            except VersionNotFound:
                raise
            except Exception as exc:  # noqa: BLE001 - sorted into remote or local failures right here
                if not is_remote_error(exc):
                    raise
                message = describe_remote_error(exc, self.remote, self.opts.timeout)
            gc.collect()
        raise RemoteFailure(message)

    def _progress_bytes(self, data: bytes) -> None:
        # Servers redraw one line with "\r"; keep the last state of each line only.
        for line in data.decode("utf-8", "replace").split("\n"):
            text = line.split("\r")[-1].strip()
            if text:
                self.progress(redact(text, self.remote.secrets))

    # -- checkouts ----------------------------------------------------------------------------
    def ensure_tree(self, repo, commit: str, previous: str | None, online: bool = True) -> list[str]:
        """Make the checkout of commit exact and holding the configured paths; return its warnings."""
        exists = os.path.isdir(os.path.join(self.trees, commit))
        problem, warnings = trees.check_tree(self.trees, commit, self.scope) if exists else ("new", [])
        if problem is None:
            return warnings
        if problem == trees.NARROW:
            held = trees.tree_scope(trees.read_manifest(self.trees, commit))
            wider = needed_set.widen(held, self.scope)
            entries, only = self.needed_files(repo, commit, wider, online)
            self.progress(f"adding the files of {', '.join(self.scope)} to the checkout of {commit}")
            return trees.extend_tree(repo, commit, self.trees, only if only is not None else
                                     {p.decode("utf-8", "surrogateescape") for p, _m, _s in entries}, wider, entries)
        if problem != "new":
            self.warn(f"the cached checkout of {commit[:12]} was changed on disk ({problem}); rebuilding it")
            if previous == commit:
                previous = None
        self.progress(f"writing the checkout of {commit}")
        entries, only = self.needed_files(repo, commit, self.scope, online)
        return trees.build_tree(repo, commit, self.trees, previous=previous if previous != commit else None,
                                only=only, scope=self.scope, entries=entries)

    def needed_files(self, repo, commit: str, scope: tuple[str, ...], online: bool):
        """(the commit's entries, the paths scope needs or None for all), fetching the blobs that are missing.

        Symlink targets come from the symlinks' blobs, so those are fetched first where missing.
        """
        entries = trees.commit_entries(repo, commit)
        if scope == needed_set.WHOLE_TREE:
            only = None
            wanted = [sha for _p, mode, sha in entries if mode != trees.MODE_GITLINK]
        else:
            modes = {p.decode("utf-8", "surrogateescape"): mode for p, mode, _s in entries}
            shas = {p.decode("utf-8", "surrogateescape"): sha for p, _m, sha in entries}

            def link_target(path: str) -> str | None:
                sha = shas[path]
                if sha not in repo.object_store:
                    return None
                return repo[sha].as_raw_string().decode("utf-8", "surrogateescape")

            while True:
                closure = needed_set.Closure(modes, link_target).run(scope)
                links = [shas[p] for p in sorted(closure.pending)]
                if not links:
                    break
                self._get_blobs(repo, commit, links, online)
                if any(sha not in repo.object_store for sha in links):
                    raise partial_fetch.MissingObjects(f"the server did not send the symlinks of {commit[:12]}")
            only = closure.needed
            wanted = [shas[p] for p in sorted(only) if modes[p] != trees.MODE_GITLINK]
        missing = sorted({sha for sha in wanted if sha not in repo.object_store})
        if missing:
            self._get_blobs(repo, commit, missing, online)
            if any(sha not in repo.object_store for sha in missing):
                raise partial_fetch.MissingObjects(f"the server did not send all files of {commit[:12]}")
        return entries, only

    def _get_blobs(self, repo, commit: str, ids: list[bytes], online: bool) -> None:
        if not online:
            raise partial_fetch.MissingObjects(f"{len(ids)} files of {commit[:12]} are not in the cached mirror")
        self.fetch_blobs(repo, commit, ids)

    def usable_tree(self, commit: str) -> list[str] | None:
        """The warnings of the checkout of commit when it is exactly as written and holds the paths, else None."""
        problem, warnings = trees.check_tree(self.trees, commit, self.scope)
        return warnings if problem is None else None

    def restore_tree(self, commit: str) -> list[str] | None:
        """Make the checkout of commit usable again from the mirror alone (no network); its warnings, or None."""
        warnings = self.usable_tree(commit)
        if warnings is not None:
            return warnings
        try:
            from dulwich.repo import Repo

            with Repo(self.mirror) as repo:
                if commit.encode() not in repo.object_store:
                    return None
                if os.path.isdir(os.path.join(self.trees, commit)) and \
                        trees.check_tree(self.trees, commit, self.scope)[0] == trees.NARROW:
                    return self.ensure_tree(repo, commit, None, online=False)
                self.warn(f"the cached checkout of {commit[:12]} was missing or changed on disk; "
                          "rebuilding it from the cached mirror")
                entries, only = self.needed_files(repo, commit, self.scope, online=False)
                trees.build_tree(repo, commit, self.trees, only=only, scope=self.scope, entries=entries)
        except Exception:  # noqa: BLE001 - a damaged mirror just means there is nothing to fall back on
            self.clean_up_after_failure()
            return None
        return self.usable_tree(commit)

    def clean_up_after_failure(self) -> None:
        """A failed sync leaves no temp files behind (they could fill the disk)."""
        try:
            self.remove_leftovers()
        except OSError:
            pass
