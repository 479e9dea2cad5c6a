# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep a cached copy of one Git remote in sync, safely under parallel jobs and crashes.

Layout of one cache entry (one per remote URL, credentials removed):

    <entry>/lock              flock: exclusive while syncing or collecting garbage
    <entry>/entry.json        which remote this entry belongs to
    <entry>/mirror.git/       bare repository; fetches only the wanted ref, shallow by default
    <entry>/trees/<sha>/      one immutable checkout per commit, built in trees/tmp-* then renamed
    <entry>/trees/<sha>.json  its manifest (detects local edits and stray files)
    <entry>/trees/<sha>.lock  flock: shared while a process reads that checkout
    <entry>/state/<key>.json  the last good commit for one configured version, and when it was synced

No Ansible imports here: plain values in, a Checkout or one SyncError out.
"""

from __future__ import annotations

import gc
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

from ansible_collections.vcs.inventory.plugins.plugin_utils import cache_gc, commit_guard, commit_signatures, deadline, locking, mirrors, pack_limit, trees
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_entry import CacheEntry
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import default_cache_dir, private_dir, private_packs, read_json, write_json
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import (
    DISK_FULL,
    NOT_WRITABLE,
    Damaged,
    DulwichMissing,
    RemoteFailure,
    SyncError,
    UnusableCommit,
    VersionNotFound,
    plain_detail,
)
from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import TransportOptions
from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import check as check_transport
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import Remote, hidden_repr, parse_remote, redact
from ansible_collections.vcs.inventory.plugins.plugin_utils.entry_layout import OBJECT_ID, tree_lock

__metaclass__ = type

__all__ = ["Checkout", "SyncError", "SyncOptions", "sync"]


@dataclass
class SyncOptions:
    url: str
    version: str | None = None
    depth: int = 1
    cache_dir: str | None = None
    timeout: float = 60
    lock_timeout: float = 300
    sync_timeout: float = 300  # the whole network part of one sync (0: no limit)
    max_file_size: int = 64  # MiB: a needed file above it fails the source (0: no limit)
    refresh_interval: float = 0
    on_sync_failure: str = "fail"
    force: bool = False  # ignore refresh_interval (--flush-cache, meta: refresh_inventory)
    cache_max_age: float = 30  # days an unused version or entry is kept (0: forever)
    username: str | None = None
    password: str | None = None
    transport: TransportOptions = field(default_factory=TransportOptions)
    verify: commit_signatures.VerifyOptions | None = None  # verify_commit: read signed commits only
    paths: list[str] | None = None  # the configured paths: a checkout holds what they need (None: everything)
    mirrors: list[str] = field(default_factory=list)  # tried in order when url cannot be reached
    accept: Callable[[str, str, str], None] | None = None  # (commit, checkout, entry): raises commit_guard.Refused
    version_list: list[tuple[str, str]] | None = None  # version as a list: (as written, as rendered) per entry

    def __repr__(self) -> str:  # the password, and any credential written into the URL, never show
        return hidden_repr(self, secret=("password",), urls=("url",))


@dataclass
class Checkout:
    path: str  # the checkout's root directory
    commit: str
    version: str  # as configured, or the remote HEAD's branch
    stale: bool
    synced_at: float
    entry: str
    safe_url: str
    warnings: list[str] = field(default_factory=list)
    lock_fd: int | None = None  # shared lock on the checkout, held while it is read
    signer: str | None = None  # with verify_commit: who signed the commit
    verified: str | None = None  # with verify_commit: the digest of the settings it was verified under


def _pin_tree(entry: CacheEntry, commit: str) -> int:
    """Hold a shared lock on the checkout for as long as this process reads it (waiting up to lock_timeout)."""
    return locking.wait_for_lock(tree_lock(entry.trees, commit), entry.opts.lock_timeout,
                                 f"the checkout {commit[:12]} of {entry.remote.safe_url}", shared=True)


def sync(opts: SyncOptions, warn: Callable[[str], None] = lambda m: None,
         progress: Callable[[str], None] = lambda m: None, notice: Callable[[str], None] | None = None) -> Checkout:
    """Bring the cache entry for opts.url to opts.version and return a checkout to read.

    progress takes the steps (shown at -vvv); notice what a user may want to know at -vv.
    """
    try:
        remote = parse_remote(opts.url, opts.username, opts.password)
        check_transport(remote, opts.transport)  # a setting that cannot work fails before any lock or network call
    except ValueError as exc:
        raise SyncError(str(exc)) from None
    root = os.path.expanduser(opts.cache_dir or default_cache_dir())
    error = None
    # dulwich creates files and directories with the process umask: keep them the owner's alone, even under umask 000.
    previous_umask = os.umask(0o077)
    try:
        return _sync_entry(root, remote, opts, warn, progress, notice or progress)
    except Exception as exc:  # noqa: BLE001 - a job gets one clear line, not a traceback
        error = exc  # outlives this block, so that it is freed below
    finally:
        os.umask(previous_umask)
    if isinstance(error, ImportError) and "dulwich" in f"{error.name} {error}":
        failure = DulwichMissing(str(error))  # installed half, or not at all: no cache damage
    else:
        failure = _as_sync_error(error, root, remote)
    with warnings.catch_warnings():
        # dulwich leaves some files and sockets of an aborted fetch to the garbage collector,
        # which reports each as a ResourceWarning once the exception that holds them goes.
        warnings.simplefilter("ignore", ResourceWarning)
        failure.__context__ = failure.__cause__ = None
        del error
        gc.collect()
    raise failure


def _as_sync_error(exc: Exception, root: str, remote: Remote) -> SyncError:
    detail = redact(str(exc), remote.secrets)
    if isinstance(exc, locking.LockTimeout):
        return SyncError(detail)
    if exc.__class__ is SyncError or isinstance(exc, commit_signatures.UnverifiedCommit):
        return exc  # made for the user already
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return SyncError(f"cannot sync {remote.safe_url}: the cache in {root} cannot grow ({detail}); free "
                         "some space or set 'cache_dir'. The last good checkout, if any, is unchanged.")
    if isinstance(exc, OSError) and exc.errno in NOT_WRITABLE:
        return SyncError(f"cannot write the cache ({detail}); "
                         "set 'cache_dir' (or ANSIBLE_VCS_INVENTORY_CACHE_DIR) to a writable directory")
    if isinstance(exc, OSError):
        return SyncError(f"cannot sync {remote.safe_url} with the cache in {root}: {detail}")
    return SyncError(f"cannot sync {remote.safe_url}: {plain_detail(exc, remote.secrets)}; run with -vvv to see the steps")


def _sync_entry(root: str, remote: Remote, opts: SyncOptions, warn: Callable[[str], None],
                progress: Callable[[str], None], notice: Callable[[str], None]) -> Checkout:
    private_dir(root)
    entry = CacheEntry(root, remote, opts, warn, progress)
    _entry_dir(entry.path, warn)
    waiting_since = time.time()
    with locking.EntryLock(entry.path, opts.lock_timeout, f"{entry.path} ({remote.safe_url})"):
        try:
            checkout = _sync_locked(entry, waiting_since, notice)
        except BaseException:
            entry.clean_up_after_failure()
            raise
        checkout.lock_fd = _pin_tree(entry, checkout.commit)
        cache_gc.collect(entry.path, entry.state_file, opts.cache_max_age, warn, progress)
        return checkout


def _entry_dir(path: str, warn: Callable[[str], None]) -> None:
    """Create the entry directory; something else in its place is removed, never a directory.

    This runs before the entry's lock can be taken, so it must not remove a directory that a
    parallel run may have just created and locked.
    """
    if os.path.lexists(path) and (os.path.islink(path) or not os.path.isdir(path)):
        try:
            os.unlink(path)
            warn(f"the cache entry {path} was not a directory; replacing it")
        except (FileNotFoundError, IsADirectoryError):
            pass
    private_dir(path, in_private_parent=True)


def _sync_locked(entry: CacheEntry, waiting_since: float, notice: Callable[[str], None]) -> Checkout:
    opts = entry.opts
    entry.prepare()
    state = read_json(entry.state_file)
    now = time.time()
    last_commit = state.get("commit") if state else None
    verified = commit_signatures.settings_digest(opts.verify) if opts.verify else None
    if (state and not opts.force and opts.refresh_interval > 0
            and 0 <= now - float(state.get("synced_at", 0)) < opts.refresh_interval and last_commit
            and (verified is None or state.get("verified") == verified)):
        warnings = entry.usable_tree(last_commit)
        if warnings is not None:
            entry.progress(f"using {last_commit} synced {now - state['synced_at']:.0f}s ago (refresh_interval)")
            return _guarded(entry, state, warnings)
    checked_at = float(state.get("checked_at", 0)) if state else 0.0
    if (state and last_commit and checked_at > waiting_since
            and (verified is None or state.get("verified") == verified)):
        # Single flight: another run read the remote after this one began to wait for the lock.
        warnings = entry.usable_tree(last_commit)
        if warnings is not None:
            notice(f"using {last_commit}: another run checked {entry.remote.safe_url} "
                   f"{checked_at - waiting_since:.1f}s after this run began waiting for the cache entry")
            return _guarded(entry, state, warnings)
    if state and state.get("ids_checked") and isinstance(last_commit, str) and OBJECT_ID.match(last_commit):
        entry.known_commit = last_commit
    checked_at = time.time()
    entry.deadline = deadline.Deadline(opts.sync_timeout)  # the network part begins
    try:
        commit, name, signer, warnings = mirrors.fetch_with_mirrors(entry, lambda: _fetch_and_build(entry, last_commit))
        commit_guard.check(entry, commit)  # before it can become the last good commit
    except commit_guard.Refused as exc:
        if commit != last_commit:
            _point_version_ref_back(entry, last_commit)
        return _fallback(entry, commit_guard.kept_state(state, exc), str(exc))
    except RemoteFailure as exc:
        return _fallback(entry, state, str(exc))
    except commit_signatures.UnverifiedCommit as exc:
        _point_version_ref_back(entry, last_commit)
        return _fallback(entry, state, str(exc))
    except UnusableCommit as exc:
        _point_version_ref_back(entry, last_commit)
        return _fallback(entry, state, f"cannot use {entry.remote.safe_url}: {exc}")
    except VersionNotFound as exc:
        raise SyncError(f"cannot use {entry.remote.safe_url}: {exc}") from None
    except trees.UnsafeTree as exc:
        return _fallback(entry, state, f"refusing to check out {entry.remote.safe_url}: {exc}")
    except pack_limit.TooLarge as exc:  # max_file_size: the commit is refused, as an unusable one
        _point_version_ref_back(entry, last_commit)
        return _fallback(entry, state, f"cannot check out {entry.remote.safe_url}: {exc.describe()}")
    state = {
        "version": opts.version, "name": name, "commit": commit, "synced_at": time.time(),
        "url": entry.remote.safe_url, "ids_checked": True, "checked_at": checked_at,
    }
    if verified:
        state.update(verified=verified, signer=signer)
    write_json(entry.state_file, state)
    return _checkout(entry, state, stale=False, warnings=warnings)


def _fetch_and_build(entry: CacheEntry, last_commit: str | None) -> tuple[str, str, str | None, list[str]]:
    """Fetch and build the checkout; rebuild the mirror once if it turns out to be damaged.

    Returns (commit, display name, signer, the checkout's warnings).
    """
    for attempt in (1, 2):
        repo = None
        try:
            # No mirror at all (never made, or dropped by garbage collection) is no damage: the
            # checkouts are intact, a fetch makes a new one, and there is nothing to warn about.
            had_mirror = os.path.isdir(entry.mirror)
            repo = entry.open_mirror() if attempt == 1 else entry.new_mirror()
            if attempt == 1:
                entry.check_mirror(repo, synced_before=last_commit is not None and had_mirror)
            commit, name = entry.fetch(repo)
            private_packs(entry.mirror)
            if entry.mirror_replaced:
                repo.close()
                repo = entry.open_mirror()
            # verify_commit: the signature is checked before anything of the commit is written or read.
            signer = (commit_signatures.verify(repo, commit, name, entry.remote.safe_url, entry.opts.verify)
                      if entry.opts.verify else None)
            return commit, name, signer, entry.ensure_tree(repo, commit, last_commit)
        except Damaged as exc:
            entry.warn(f"the cache entry {entry.path} was damaged ({exc}); rebuilding it")
        except SyncError:  # the remote, the version or the commit: a fresh mirror would not help
            raise
        except ImportError:  # a library missing from this Python is no damage of the cache
            raise
        except OSError as exc:
            if exc.errno in DISK_FULL + NOT_WRITABLE or attempt == 2:
                raise
            entry.warn(f"the cache entry {entry.path} was damaged ({plain_detail(exc, entry.remote.secrets)}); rebuilding it")
        except Exception as exc:  # corruption surfaces as many types: KeyError, ChecksumMismatch, zlib.error, ...
            if attempt == 2:
                raise SyncError(f"cannot sync {entry.remote.safe_url} even into a fresh cache entry: "
                                f"{plain_detail(exc, entry.remote.secrets)}; run with -vvv and report it") from None
            entry.warn(f"the cache entry {entry.path} was damaged ({plain_detail(exc, entry.remote.secrets)}); rebuilding it")
        finally:
            if repo is not None:
                repo.close()
    raise AssertionError("unreachable")


def _guarded(entry: CacheEntry, state: dict, warnings: list[str]) -> Checkout:
    """The checkout of the state's commit once the caller's check accepts it; else the fallback."""
    try:
        commit_guard.check(entry, state["commit"])
    except commit_guard.Refused as exc:
        return _fallback(entry, commit_guard.kept_state(state, exc), str(exc))
    return _checkout(entry, state, stale=False, warnings=warnings)


def _fallback(entry: CacheEntry, state: dict | None, reason: str) -> Checkout:
    opts = entry.opts
    last = state.get("commit") if state else None
    if not isinstance(last, str) or not OBJECT_ID.match(last):
        last = None
    if last and opts.verify and opts.on_sync_failure == "use_cache":
        state = _verified_state(entry, state)
        last = state and last
    warnings = entry.restore_tree(last) if opts.on_sync_failure == "use_cache" and last else None
    if warnings is not None:
        age = time.time() - float(state.get("synced_at", 0))
        entry.warn(f"using the cached commit {last[:12]} of {entry.remote.safe_url}, last synced "
                   f"{_human_age(age)} ago, because the sync failed: {reason}")
        return _checkout(entry, state, stale=True, warnings=warnings)
    if opts.on_sync_failure == "use_cache":
        reason += "; no earlier good checkout is cached, so on_sync_failure=use_cache cannot help"
    raise SyncError(reason)


def _point_version_ref_back(entry: CacheEntry, last_commit: str | None) -> None:
    """A refused commit does not stay the version's mirror ref: the last good commit's objects stay the ones kept."""
    try:
        from dulwich.repo import Repo

        with Repo(entry.mirror) as repo:
            if last_commit and last_commit.encode() in repo.object_store:
                repo.refs[entry.version_ref] = last_commit.encode()
            else:
                repo.refs.remove_if_equals(entry.version_ref, None)
    except Exception as exc:  # noqa: BLE001 - a damaged mirror is found and rebuilt by the next sync
        entry.progress(f"could not reset the mirror ref {entry.version_ref.decode()}: {exc}")


def _verified_state(entry: CacheEntry, state: dict) -> dict | None:
    """The state, if its commit passes verify_commit under the current settings (checked again if they changed)."""
    verified = commit_signatures.settings_digest(entry.opts.verify)
    if state.get("verified") == verified:
        return state
    try:
        from dulwich.repo import Repo

        with Repo(entry.mirror) as repo:
            signer = commit_signatures.verify(repo, state["commit"], state.get("name") or state["commit"],
                                              entry.remote.safe_url, entry.opts.verify)
    except Exception as exc:  # noqa: BLE001 - unverifiable or gone: there is no verified commit to fall back on
        entry.progress(f"the cached commit {state['commit'][:12]} cannot be served: {exc}")
        return None
    return dict(state, verified=verified, signer=signer)


def _checkout(entry: CacheEntry, state: dict, stale: bool, warnings: list[str]) -> Checkout:
    verify = entry.opts.verify is not None
    return Checkout(
        path=os.path.join(entry.trees, state["commit"]), commit=state["commit"],
        version=state.get("name") or state["commit"], stale=stale, synced_at=float(state.get("synced_at", 0)),
        entry=entry.path, safe_url=mirrors.served_url(entry, state), warnings=warnings,
        signer=state.get("signer") if verify else None, verified=state.get("verified") if verify else None,
    )


def _human_age(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
