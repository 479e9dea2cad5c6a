# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep the cache bounded: after every sync, remove what no run needs any more.

A controller that runs a job every minute must have the same cache on day 365 as on day 1. Each
upstream commit leaves a checkout, each fetch a small pack, each remote ever used a whole entry;
this module takes them away again, always with the lock that proves nobody else needs them:

- checkouts (trees/<sha>/ with their manifest and lock file) that no state file names and no
  reader holds a shared lock on;
- state files (and the mirror ref) of versions that no run used for cache_max_age days;
- packs, once there are more than PACK_LIMIT: they become one pack holding only the objects
  reachable from the mirror's refs, stopping at the shallow boundary, so the objects a force-push
  orphaned go too; loose objects go with them;
- whole entries of other remotes that no run used for cache_max_age days, when no process holds
  their lock or reads one of their checkouts.

Last use is the modification time of the entry's entry.json or lock.owner, whichever is newer:
every run takes the entry lock (which rewrites lock.owner) and touches entry.json, also inside
refresh_interval, where nothing else is written. A state file's own time is its version's last use.

No Ansible imports here. Tidying never fails a sync that succeeded: problems become one warning.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable

from ansible_collections.vcs.inventory.plugins.plugin_utils import entry_layout as layout
from ansible_collections.vcs.inventory.plugins.plugin_utils import locking, trees
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import read_json
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import plain_detail

__metaclass__ = type

PACK_LIMIT = 20  # packs (or loose-object directories) an entry may gather before they are consolidated
DAY = 86400
TRASH_PREFIX = ".tmp-gc-"  # cache_key() strips leading dots, so no entry can be named like this
TRASH_GRACE = 3600  # a trash directory this old has no living remover
VERSION_REF_PREFIX = layout.VERSION_REF_PREFIX

_SHA = layout.OBJECT_ID
_ENTRY_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,39}-[0-9a-f]{16}$")
_LOOSE_DIR = re.compile(r"^[0-9a-f]{2}$")


def collect(entry_path: str, state_file: str, max_age_days: float, warn: Callable[[str], None] = lambda m: None,
            progress: Callable[[str], None] = lambda m: None) -> None:
    """Tidy one entry and prune stale ones; call with the entry's exclusive lock held.

    state_file is the state of the version this run used (its last use is now); the checkout the
    run returns must already be pinned, or be named by a state file.
    """
    now = time.time()
    max_age_days = float(max_age_days or 0)
    mark_used(entry_path, state_file, now)
    mirror = os.path.join(entry_path, layout.MIRROR)
    live_keys = None  # unknown: keep every ref
    try:
        live_keys, keep = _expire_versions(os.path.join(entry_path, layout.STATE), state_file, max_age_days, now,
                                           progress)
        remove_unused_trees(os.path.join(entry_path, layout.TREES), keep, progress)
    except Exception as exc:
        warn(f"could not tidy the cache entry {entry_path} (the inventory itself was synced): {plain_detail(exc)}")
    try:
        consolidate_packs(mirror, live_keys, progress)
    except Exception as exc:  # a damaged mirror shows as many types (KeyError, ChecksumMismatch, zlib.error, ...)
        # The checkouts hold all a run reads; without the mirror the next run fetches its commit
        # again, instead of every run tripping over the same damage.
        warn(f"could not consolidate the packs of {mirror} ({plain_detail(exc)}); "
             "removing it, the next run fetches again")
        trees.remove_tree(mirror)
    try:
        prune_stale_entries(os.path.dirname(entry_path), entry_path, max_age_days, now, progress)
    except Exception as exc:
        warn(f"could not prune unused cache entries in {os.path.dirname(entry_path)}: {plain_detail(exc)}")


def mark_used(entry_path: str, state_file: str, now: float | None = None) -> None:
    for path in (os.path.join(entry_path, layout.ENTRY_INFO), state_file):
        try:
            os.utime(path, (now, now) if now is not None else None)
        except OSError:
            pass  # not written yet (a failed first sync): nothing to keep alive


def last_use(entry_path: str) -> float:
    """When a run last took this entry: every run rewrites lock.owner and touches entry.json.

    An entry with neither is being created right now (or was left so by a crash): its directory's
    own time is the best there is, and it is new in the first case.
    """
    times = []
    for name in (layout.ENTRY_INFO, layout.LOCK_OWNER):
        try:
            times.append(os.lstat(os.path.join(entry_path, name)).st_mtime)
        except OSError:
            pass
    if not times:
        try:
            times.append(os.lstat(entry_path).st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)


def _expired(mtime: float, max_age_days: float, now: float) -> bool:
    return max_age_days > 0 and now - mtime > max_age_days * DAY


# -- inside the entry -----------------------------------------------------------------------
def _expire_versions(state_dir: str, current: str, max_age_days: float, now: float,
                     progress: Callable[[str], None]) -> tuple[set[str], set[str]]:
    """Drop the states of versions unused for too long; return (live version keys, commits to keep)."""
    live, keep = set(), set()
    for name in os.listdir(state_dir):
        path = os.path.join(state_dir, name)
        if not name.endswith(".json") or layout.TMP_MARK in name:
            continue
        if path != current and _expired(os.lstat(path).st_mtime, max_age_days, now):
            progress(f"removing the state of a version unused for over {max_age_days:g} days ({name})")
            os.unlink(path)
            continue
        live.add(name[: -len(".json")])
        commit = (read_json(path) or {}).get("commit")
        if isinstance(commit, str) and _SHA.match(commit):
            keep.add(commit)
    return live, keep


def remove_unused_trees(trees_dir: str, keep: set[str], progress: Callable[[str], None]) -> int:
    """Remove the checkouts not in keep that no reader holds; return how many went."""
    names = os.listdir(trees_dir)
    shas = {n.split(".", 1)[0] for n in names if _SHA.match(n.split(".", 1)[0])}
    removed = 0
    for sha in sorted(shas - keep):
        lock_path = layout.tree_lock(trees_dir, sha)
        fd = locking.try_lock(lock_path, shared=False)
        if fd is None:
            progress(f"keeping the checkout of {sha}: a running job still reads it")
            continue
        try:
            # Renamed first, so no later run ever sees a half-removed checkout under its real name.
            tree = os.path.join(trees_dir, sha)
            if os.path.lexists(tree):
                trash = os.path.join(trees_dir, f"tmp-gc-{os.getpid()}-{uuid.uuid4().hex[:8]}")
                os.rename(tree, trash)
                trees.remove_tree(trash)
            for path in (trees.manifest_path(trees_dir, sha), lock_path):
                if os.path.lexists(path):
                    os.unlink(path)
            removed += 1
        finally:
            locking.release(fd)
    return removed


def _pack_names(pack_dir: str) -> list[str]:
    try:
        return [n[: -len(".pack")] for n in os.listdir(pack_dir) if n.endswith(".pack")]
    except FileNotFoundError:
        return []


def _loose_dirs(objects_dir: str) -> list[str]:
    try:
        return [n for n in os.listdir(objects_dir) if _LOOSE_DIR.match(n)]
    except FileNotFoundError:
        return []


def consolidate_packs(mirror: str, live_keys: set[str] | None, progress: Callable[[str], None],
                      limit: int | None = None) -> bool:
    """Drop the refs of forgotten versions; past limit packs, repack into one. Return whether it repacked.

    live_keys None keeps every ref (a mirror not managed through state files).
    """
    limit = PACK_LIMIT if limit is None else limit
    objects_dir = os.path.join(mirror, "objects")
    pack_dir = os.path.join(objects_dir, "pack")
    stale_refs = _stale_version_refs(mirror, live_keys)
    packs = _pack_names(pack_dir)
    loose = _loose_dirs(objects_dir)
    if not stale_refs and len(packs) <= limit and len(loose) <= limit:
        return False
    from dulwich.repo import Repo

    with Repo(mirror) as repo:
        for ref in stale_refs:
            progress(f"removing the mirror ref {ref.decode()} of a forgotten version")
            repo.refs.remove_if_equals(ref, None)
        if len(packs) <= limit and len(loose) <= limit:
            return False
        _repack_reachable(repo, progress)
    return True


def _stale_version_refs(mirror: str, live_keys: set[str] | None) -> list[bytes]:
    if live_keys is None:
        return []
    heads = os.path.join(mirror, "refs", "heads")
    names = set()
    try:
        names.update(n for n in os.listdir(heads) if n.startswith("v-"))
    except FileNotFoundError:
        pass
    try:  # refs a git tool packed
        with open(os.path.join(mirror, "packed-refs"), "rb") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 2 and parts[1].startswith(VERSION_REF_PREFIX):
                    names.add(parts[1][len(b"refs/heads/"):].decode("utf-8", "replace"))
    except FileNotFoundError:
        pass
    return [b"refs/heads/" + n.encode() for n in sorted(names) if n[2:] not in live_keys]


def _repack_reachable(repo, progress: Callable[[str], None]) -> None:
    """One pack with the objects reachable from the refs, not walking past shallow commits.

    dulwich's own gc (dulwich.gc.garbage_collect) walks every parent it finds, so in a shallow
    mirror it would keep each old tip alive through its now-present parent and never free
    anything; its object_store.repack() holds every object in memory. The object finder that
    serves fetches does respect the shallow boundary, and writing its output as a pack keeps
    reusable deltas, so the pack stays about the size of a fresh clone's.
    """
    store = repo.object_store
    objects_dir = store.path
    pack_dir = store.pack_dir
    roots = sorted({sha for ref, sha in repo.get_refs().items() if ref.startswith(b"refs/") and sha})
    shallow = repo.get_shallow()
    before = _pack_names(pack_dir)
    kept = None
    if roots:
        from dulwich.object_store import MissingObjectFinder
        from dulwich.pack import generate_unpacked_objects

        # A partial mirror (filter blob:none) lacks the blobs no checkout needed: they stay out.
        finder = MissingObjectFinder(store, haves=[], wants=roots, shallow=shallow)
        present = [(oid, hint) for oid, hint in finder if oid in store]
        records = generate_unpacked_objects(store, present, ofs_delta=True, other_haves=finder.get_remote_has())
        pack = store.add_pack_data(len(present), records)
        if pack is not None:
            kept = "pack-" + pack.name().decode("ascii")
    progress(f"consolidated {len(before)} packs into one ({'no objects' if kept is None else kept})")
    store.close()
    for name in before:
        if name == kept:
            continue
        # The .idx goes first: a pack without its index is invisible, an index without its pack is an error.
        for suffix in (".idx", ".pack", ".rev", ".bitmap", ".mtimes", ".keep", ".promisor"):
            path = os.path.join(pack_dir, name + suffix)
            if os.path.lexists(path):
                os.unlink(path)
    for name in _loose_dirs(objects_dir):
        trees.remove_tree(os.path.join(objects_dir, name))
    gone = {sha for sha in shallow if sha not in store}
    if gone:
        repo.update_shallow(None, gone)


# -- other entries --------------------------------------------------------------------------
def prune_stale_entries(root: str, own_path: str, max_age_days: float, now: float | None = None,
                        progress: Callable[[str], None] = lambda m: None) -> list[str]:
    """Remove entries of other remotes unused for max_age_days (0: never); return the names removed."""
    if max_age_days <= 0:
        return []
    now = time.time() if now is None else now
    removed = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if name.startswith(TRASH_PREFIX):
            _remove_old_trash(path, now)
            continue
        if os.path.abspath(path) == os.path.abspath(own_path) or not _ENTRY_NAME.match(name):
            continue
        if not os.path.isdir(path) or os.path.islink(path) or not _expired(last_use(path), max_age_days, now):
            continue
        if _remove_entry(root, path, max_age_days, now, progress):
            removed.append(name)
    return removed


def _remove_entry(root: str, path: str, max_age_days: float, now: float, progress: Callable[[str], None]) -> bool:
    fd = locking.try_lock(os.path.join(path, layout.LOCK), shared=False)
    if fd is None:
        progress(f"keeping the unused cache entry {path}: another process holds its lock")
        return False
    try:
        # A run that finished between the first look and the lock has left a newer time.
        if not _expired(last_use(path), max_age_days, now) or _has_pinned_tree(os.path.join(path, layout.TREES)):
            progress(f"keeping the cache entry {path}: it is in use")
            return False
        trash = os.path.join(root, f"{TRASH_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.rename(path, trash)
        os.utime(trash)  # fresh, so no other run takes it for a remover's leftover while this one works
    finally:
        locking.release(fd)
    progress(f"removed the cache entry {path}: unused for over {max_age_days:g} days")
    trees.remove_tree(trash)
    return True


def _has_pinned_tree(trees_dir: str) -> bool:
    try:
        names = os.listdir(trees_dir)
    except (FileNotFoundError, NotADirectoryError):
        return False
    for name in names:
        if name.endswith(".lock") and _SHA.match(name[: -len(".lock")]):
            fd = locking.try_lock(os.path.join(trees_dir, name), shared=False)
            if fd is None:
                return True
            locking.release(fd)
    return False


def _remove_old_trash(path: str, now: float) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if now - st.st_mtime > TRASH_GRACE:
        trees.remove_tree(path)
