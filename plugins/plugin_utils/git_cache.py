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

import errno
import gc
import hashlib
import json
import os
import re
import socket
import ssl
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Callable

from ansible_collections.vcs.inventory.plugins.plugin_utils import cache_gc, locking, trees
from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import (
    TransportOptions,
    make_client,
    socket_timeout,
)
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import Remote, cache_key, parse_remote, redact

__metaclass__ = type

ENTRY_FORMAT = 1
_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
_OBJECT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # SHA-1 or SHA-256


class SyncError(Exception):
    """A sync could not produce a checkout. The message is redacted and says what to do."""


class _RemoteFailure(Exception):
    """The remote could not be read (down, refused, timed out, auth, protocol)."""


class _VersionNotFound(Exception):
    """The remote answered, and it has no such version."""


class _Damaged(Exception):
    """The mirror does not hold what the last good sync left in it."""


# Errors that say the disk cannot take more: never a reason to wipe anything.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


@dataclass
class SyncOptions:
    url: str
    version: str | None = None
    depth: int = 1
    cache_dir: str | None = None
    timeout: float = 60
    lock_timeout: float = 300
    refresh_interval: float = 0
    on_sync_failure: str = "fail"
    force: bool = False  # ignore refresh_interval (--flush-cache, meta: refresh_inventory)
    cache_max_age: float = 30  # days an unused version or entry is kept (0: forever)
    username: str | None = None
    password: str | None = None
    transport: TransportOptions = field(default_factory=TransportOptions)


@dataclass
class Checkout:
    path: str  # the checkout's root directory
    commit: str
    version: str  # as configured, or the remote HEAD's branch
    stale: bool
    synced_at: float
    entry: str
    safe_url: str
    fetched: bool = False  # whether objects were downloaded in this run
    warnings: list[str] = field(default_factory=list)
    lock_fd: int | None = None  # shared lock on the checkout, held while it is read


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ansible", "vcs_inventory")


def _private_dir(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    st = os.stat(path)
    if st.st_uid != os.geteuid():
        raise SyncError(
            f"the cache directory {path} belongs to another user (uid {st.st_uid}); "
            "set 'cache_dir' to a directory of your own"
        )
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def _write_json(path: str, data: dict) -> None:
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _private_packs(mirror: str) -> None:
    """dulwich chmods packs to 0444 whatever the umask (git masks them): make them the owner's alone."""
    pack_dir = os.path.join(mirror, "objects", "pack")
    for name in _listdir(pack_dir):
        path = os.path.join(pack_dir, name)
        try:
            mode = os.lstat(path).st_mode
            if (mode & 0o170000) == 0o100000 and mode & 0o077:
                os.chmod(path, mode & 0o700)
        except OSError:
            pass  # gone or not ours to change: the 0700 directories above still keep others out


def version_key(version: str | None) -> str:
    return hashlib.sha256(("v:" + (version or "")).encode()).hexdigest()[:16]


def is_remote_error(exc: BaseException) -> bool:
    """Whether exc says the remote could not be read, as opposed to a damaged local cache."""
    from dulwich.client import HTTPUnauthorized
    from dulwich.errors import GitProtocolError, NotGitRepository

    remote_types: tuple = (GitProtocolError, HTTPUnauthorized, NotGitRepository, ssl.SSLError, socket.timeout,
                           TimeoutError, ConnectionError, socket.gaierror)
    try:
        from dulwich.client import HTTPProxyUnauthorized

        remote_types += (HTTPProxyUnauthorized,)
    except ImportError:  # pragma: no cover - older dulwich
        pass
    try:
        import urllib3.exceptions

        remote_types += (urllib3.exceptions.HTTPError,)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(exc, remote_types):
        return True
    return isinstance(exc, OSError) and exc.errno in (
        errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT, errno.EPIPE,
    )


def describe_remote_error(exc: BaseException, remote: Remote, timeout: float) -> str:
    from dulwich.client import HTTPUnauthorized
    from dulwich.errors import NotGitRepository

    detail = redact(str(exc), remote.secrets).strip()
    if isinstance(exc, HTTPUnauthorized):
        return (f"authentication failed for {remote.safe_url}: check the options 'username' and 'password' "
                "(or the credentials in the URL)")
    if "permission denied (" in detail.lower():  # ssh: "Permission denied (publickey)."
        return (f"authentication failed for {remote.safe_url}: {detail}; check the option 'key_file' "
                "and that its public key may read the repository")
    if isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in detail.lower():
        return f"no answer from {remote.safe_url} within {timeout:g}s (option 'timeout'): {detail or 'timed out'}"
    if isinstance(exc, ConnectionRefusedError) or "refused" in detail.lower():
        return f"cannot connect to {remote.safe_url}: connection refused; is the Git server up and the 'url' right?"
    if isinstance(exc, NotGitRepository) or "not found" in detail.lower() or "does not appear" in detail.lower():
        return f"no Git repository at {remote.safe_url}: check the option 'url' ({detail or 'not found'})"
    if isinstance(exc, ssl.SSLError) or "certificate" in detail.lower():
        return (f"TLS error talking to {remote.safe_url}: {detail}; for a private CA set 'ca_path', "
                "or 'validate_certs: false' to skip verification")
    if "host key" in detail.lower():
        return (f"SSH host key check failed for {remote.safe_url}: {detail}; add the key to 'known_hosts_file' "
                "or set 'accept_hostkey: true'")
    return f"cannot read {remote.safe_url}: {type(exc).__name__}: {detail or 'no details'}"


def _resolve(refs: dict, symrefs: dict, version: str | None) -> tuple[str | None, str, bool]:
    """Map a configured version to (sha or None, display name, exact-sha).

    None for sha means: a commit id that is not at any ref tip (fetch it by id or fully).
    """
    def tip(name: bytes) -> str | None:
        # Want the ref's own object (an annotated tag, not its peeled commit): upload-pack only
        # serves advertised ref values; the tag is peeled locally after the fetch.
        value = refs.get(name)
        return value.decode() if value else None

    if version is None:
        head = tip(b"HEAD")
        target = symrefs.get(b"HEAD", b"")
        name = target.decode().removeprefix("refs/heads/") if target else "HEAD"
        if head is None:
            raise _VersionNotFound("the remote has no HEAD (an empty repository?); set the option 'version'")
        return head, name, False
    encoded = version.encode()
    for candidate in (b"refs/heads/" + encoded, b"refs/tags/" + encoded, encoded):
        if candidate.startswith(b"refs/") or candidate == b"HEAD":
            sha = tip(candidate)
            if sha:
                return sha, version, False
    if _HEX.match(version):
        lowered = version.lower()
        for name, value in refs.items():
            if value and value.decode().startswith(lowered):
                return tip(name.removesuffix(b"^{}")), version, True
        if len(lowered) == 40:
            return lowered, version, True
        return None, version, True
    raise _VersionNotFound(
        f"version {version!r} is neither a branch, a tag nor a commit id of the repository; check the option 'version'"
    )


class _Entry:
    """One cache entry, used while its exclusive lock is held."""

    def __init__(self, root: str, remote: Remote, opts: SyncOptions, warn: Callable[[str], None],
                 progress: Callable[[str], None]) -> None:
        self.remote = remote
        self.opts = opts
        self.warn = warn
        self.progress = progress
        self.path = os.path.join(root, cache_key(remote))
        self.mirror = os.path.join(self.path, "mirror.git")
        self.trees = os.path.join(self.path, "trees")
        self.state_dir = os.path.join(self.path, "state")
        self.state_file = os.path.join(self.state_dir, version_key(opts.version) + ".json")
        self.mirror_replaced = False

    # -- housekeeping -------------------------------------------------------------------------
    def prepare(self) -> None:
        """Make the entry a known-good shape; only called with the exclusive lock held."""
        info = _read_json(os.path.join(self.path, "entry.json"))
        keep = {"lock", "lock.owner"}
        if info is None or info.get("url") != self.remote.safe_url or info.get("format") != ENTRY_FORMAT:
            leftovers = [n for n in os.listdir(self.path) if n not in keep]
            if leftovers:
                self.warn(f"cache entry {self.path} was not a usable cache of {self.remote.safe_url}; wiping it")
            for name in leftovers:
                trees.remove_tree(os.path.join(self.path, name))
            _write_json(os.path.join(self.path, "entry.json"), {"url": self.remote.safe_url, "format": ENTRY_FORMAT})
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
            for name in _listdir(directory):
                if name.startswith("tmp-") or ".tmp-" in name:
                    drop(os.path.join(directory, name))
        if not os.path.isdir(self.mirror) or os.path.islink(self.mirror):
            return removed
        objects = os.path.join(self.mirror, "objects")
        pack_dir = os.path.join(objects, "pack")
        # dulwich spools a fetched pack to objects/tmp_pack_* (thin packs) or pack/tmp*.pack, renames
        # the pack in and only then writes its index: a kill in between leaves a pack without one.
        for name in _listdir(objects):
            if name.startswith(("tmp_pack_", "incoming-")):
                drop(os.path.join(objects, name))
        names = set(_listdir(pack_dir))
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
        return b"refs/heads/v-" + version_key(self.opts.version).encode()

    def check_mirror(self, repo, synced_before: bool) -> None:
        """Raise _Damaged unless the mirror still holds what the last good sync of this version left.

        A few reads, so it runs every time: a deleted pack, a truncated object or a lost ref would
        otherwise go unnoticed until a later commit needs the missing objects.
        """
        head = repo.refs.read_ref(b"HEAD")
        if not head or not head.startswith(b"ref: refs/"):
            raise _Damaged("its HEAD is not a symbolic ref")
        if not synced_before:
            return
        tip = repo.refs.read_ref(self.version_ref)
        if not tip or not _OBJECT_ID.match(tip.decode("ascii", "replace")):
            raise _Damaged(f"the ref {self.version_ref.decode()} of the last good sync is missing")
        try:
            commit = repo[tip]
            repo[commit.tree]
        except KeyError:
            raise _Damaged(f"the commit {tip.decode()[:12]} of the last good sync is missing") from None

    def fetch(self, repo) -> tuple[str, str, bool]:
        """Fetch the configured version into repo; return (commit, display name, downloaded)."""
        client, path, protocol = make_client(self.remote, self.opts.transport)
        try:
            return self._fetch_with(client, path, protocol, repo)
        finally:
            # HTTP pools hold sockets: an unclosed one warns at interpreter exit.
            client.close()
            pool = getattr(client, "pool_manager", None)
            if pool is not None:
                pool.clear()

    def _fetch_with(self, client, path, protocol, repo) -> tuple[str, str, bool]:
        opts = self.opts
        outer_repo = repo
        resolved: dict = {}

        def determine_wants(refs, depth=None):
            sha, name, exact = _resolve(refs, {}, opts.version)
            tips = {value.decode() for value in refs.values() if value}
            # A commit id that no ref points at: servers may refuse it ("not our ref").
            resolved.update(sha=sha, name=name, exact=exact, wanted=False, by_id=bool(sha) and sha not in tips)
            if sha is None:
                return []
            if sha.encode() in repo.object_store and not self.needs_deepen(repo):
                return []
            resolved["wanted"] = True
            return [sha.encode()]

        ref_prefix = None
        if opts.version and not _HEX.match(opts.version):
            ref_prefix = [b"refs/heads/" + opts.version.encode(), b"refs/tags/" + opts.version.encode()]
            if opts.version.startswith("refs/"):
                ref_prefix.append(opts.version.encode())
        elif opts.version is None:
            ref_prefix = [b"HEAD"]
        depth = opts.depth if opts.depth and opts.depth > 0 else None
        if depth and self.remote.kind in ("git", "ssh"):
            _negotiate_in_order(client, repo)
        _write_shallow_only_on_change(repo)
        result = None
        try:
            result = self.call_remote(lambda: client.fetch(
                path, repo, determine_wants=determine_wants, depth=depth, ref_prefix=ref_prefix,
                protocol_version=protocol, progress=self._progress_bytes))
        except _RemoteFailure as exc:
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
        downloaded = bool(resolved.get("wanted"))
        if sha is None:
            sha = self.fetch_full_for_commit(client, path, protocol, opts.version)
            downloaded = True
            self.mirror_replaced = True
            repo = self.open_mirror()
        name = resolved.get("name")
        if opts.version is None:
            # HEAD's branch arrives with the result (symref), after the wants were chosen.
            target = (getattr(result, "symrefs", None) or {}).get(b"HEAD")
            name = target.decode().removeprefix("refs/heads/") if target else "HEAD"
        try:
            obj = repo[sha.encode()]
            while obj.type_name == b"tag":
                obj = repo[obj.object[1]]
            if obj.type_name != b"commit":
                raise _VersionNotFound(f"version {opts.version!r} does not name a commit")
            repo.refs[self.version_ref] = obj.id
        finally:
            if repo is not outer_repo:
                repo.close()
        return obj.id.decode(), name or obj.id.decode(), downloaded

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
                raise _VersionNotFound(
                    f"version {version!r} is neither a branch, a tag nor a commit id of the repository; "
                    "check the option 'version'"
                )
            if len(commits) > 1:
                raise _VersionNotFound(f"version {version!r} is ambiguous: it matches {', '.join(sorted(commits)[:5])}")
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
        """Run one network call under the timeout; a remote failure becomes _RemoteFailure.

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
            except _VersionNotFound:
                raise
            except Exception as exc:  # noqa: BLE001 - sorted into remote or local failures right here
                if not is_remote_error(exc):
                    raise
                message = describe_remote_error(exc, self.remote, self.opts.timeout)
            gc.collect()
        raise _RemoteFailure(message)

    def _progress_bytes(self, data: bytes) -> None:
        # Servers redraw one line with "\r"; keep the last state of each line only.
        for line in data.decode("utf-8", "replace").split("\n"):
            text = line.split("\r")[-1].strip()
            if text:
                self.progress(redact(text, self.remote.secrets))

    # -- checkouts ----------------------------------------------------------------------------
    def ensure_tree(self, repo, commit: str, previous: str | None) -> list[str]:
        problem = trees.verify_tree(self.trees, commit) if os.path.isdir(os.path.join(self.trees, commit)) else "new"
        if problem is None:
            manifest = trees.read_manifest(self.trees, commit) or {}
            return list(manifest.get("warnings", []))
        if problem != "new":
            self.warn(f"the cached checkout of {commit[:12]} was changed on disk ({problem}); rebuilding it")
            if previous == commit:
                previous = None
        self.progress(f"writing the checkout of {commit}")
        return trees.build_tree(repo, commit, self.trees, previous=previous if previous != commit else None)

    def tree_usable(self, commit: str) -> bool:
        return trees.verify_tree(self.trees, commit) is None

    def restore_tree(self, commit: str) -> bool:
        """Make the checkout of commit usable again from the mirror alone (no network)."""
        if self.tree_usable(commit):
            return True
        try:
            from dulwich.repo import Repo

            with Repo(self.mirror) as repo:
                if commit.encode() not in repo.object_store:
                    return False
                self.warn(f"the cached checkout of {commit[:12]} was missing or changed on disk; "
                          "rebuilding it from the cached mirror")
                trees.build_tree(repo, commit, self.trees)
        except Exception:  # noqa: BLE001 - a damaged mirror just means there is nothing to fall back on
            self.clean_up_after_failure()
            return False
        return self.tree_usable(commit)

    def clean_up_after_failure(self) -> None:
        """A failed sync leaves no temp files behind (they could fill the disk)."""
        try:
            self.remove_leftovers()
        except OSError:
            pass


_MAX_HAVES = 256  # as git's own fetch gives up after 256 haves in vain


def _write_shallow_only_on_change(repo) -> None:
    """Leave mirror.git/shallow alone when a fetch did not move the shallow boundary.

    dulwich rewrites the file (lock file, fsync, rename) after every fetch, even one that brought
    nothing: measured, about a third of the sync of a rerun with nothing new.
    """
    update = repo.update_shallow

    def update_shallow(new_shallow, new_unshallow):
        if new_shallow or new_unshallow:
            update(new_shallow, new_unshallow)

    repo.update_shallow = update_shallow


def _negotiate_in_order(client, repo) -> None:
    """Keep a shallow fetch over a stateful connection (git://, ssh://) from misreading the server.

    Asked for a depth, the server answers the wants at once with the new shallow boundary.
    dulwich reads that answer only after "done", yet while it sends its haves it also reads
    whatever has already arrived as if it were an ACK: on a busy machine it swallows the
    shallow lines (the mirror forgets its boundary) or trips over their flush (AssertionError).
    Measured: 12 parallel runs while commits were pushed hit it in the first round. Reading
    nothing until "done", as over HTTP, keeps every answer in order; the haves are capped so
    that the unread ACKs always fit in the socket buffers.
    """
    connect = getattr(client, "_connect", None)
    if connect is None:  # pragma: no cover - every stateful dulwich client has it
        return

    def connect_reading_after_done(*args, **kwargs):
        proto, can_read, stderr = connect(*args, **kwargs)
        return proto, (None if can_read is None else (lambda: False)), stderr

    client._connect = connect_reading_after_done
    make_walker = repo.get_graph_walker
    repo.get_graph_walker = lambda *args, **kwargs: _CappedWalker(make_walker(*args, **kwargs), _MAX_HAVES)


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


def _pin_tree(entry: _Entry, commit: str) -> int:
    """Hold a shared lock on the checkout for as long as this process reads it."""
    return locking.try_lock(os.path.join(entry.trees, f"{commit}.lock"), shared=True) or _blocking_shared(entry, commit)


def _blocking_shared(entry: _Entry, commit: str) -> int:
    import fcntl

    fd = os.open(os.path.join(entry.trees, f"{commit}.lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def sync(opts: SyncOptions, warn: Callable[[str], None] = lambda m: None,
         progress: Callable[[str], None] = lambda m: None) -> Checkout:
    """Bring the cache entry for opts.url to opts.version and return a checkout to read."""
    try:
        remote = parse_remote(opts.url, opts.username, opts.password)
    except ValueError as exc:
        raise SyncError(str(exc)) from None
    root = os.path.expanduser(opts.cache_dir or default_cache_dir())
    error = None
    # dulwich creates files and directories with the process umask: keep them the owner's alone, even under umask 000.
    previous_umask = os.umask(0o077)
    try:
        return _sync_entry(root, remote, opts, warn, progress)
    except Exception as exc:  # noqa: BLE001 - a job gets one clear line, not a traceback
        error = exc  # outlives this block, so that it is freed below
    finally:
        os.umask(previous_umask)
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
    if isinstance(exc, SyncError):
        return exc
    detail = redact(str(exc), remote.secrets)
    if isinstance(exc, locking.LockTimeout):
        return SyncError(detail)
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return SyncError(f"cannot sync {remote.safe_url}: the cache in {root} cannot grow ({detail}); free "
                         "some space or set 'cache_dir'. The last good checkout, if any, is unchanged.")
    if isinstance(exc, OSError) and exc.errno in _NOT_WRITABLE:
        return SyncError(f"cannot write the cache ({detail}); "
                         "set 'cache_dir' (or ANSIBLE_VCS_INVENTORY_CACHE_DIR) to a writable directory")
    if isinstance(exc, OSError):
        return SyncError(f"cannot sync {remote.safe_url} with the cache in {root}: {detail}")
    return SyncError(f"cannot sync {remote.safe_url}: {type(exc).__name__}: {detail}")


def _sync_entry(root: str, remote: Remote, opts: SyncOptions, warn: Callable[[str], None],
                progress: Callable[[str], None]) -> Checkout:
    _private_dir(root)
    entry = _Entry(root, remote, opts, warn, progress)
    _entry_dir(entry.path, warn)
    with locking.EntryLock(entry.path, opts.lock_timeout, f"{entry.path} ({remote.safe_url})"):
        try:
            checkout = _sync_locked(entry)
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
    _private_dir(path)


def _sync_locked(entry: _Entry) -> Checkout:
    opts = entry.opts
    entry.prepare()
    state = _read_json(entry.state_file)
    now = time.time()
    last_commit = state.get("commit") if state else None
    if (state and not opts.force and opts.refresh_interval > 0
            and 0 <= now - float(state.get("synced_at", 0)) < opts.refresh_interval
            and last_commit and entry.tree_usable(last_commit)):
        entry.progress(f"using {last_commit} synced {now - state['synced_at']:.0f}s ago (refresh_interval)")
        return _checkout(entry, state, stale=False)
    try:
        commit, name, fetched = _fetch_and_build(entry, last_commit)
    except _RemoteFailure as exc:
        return _fallback(entry, state, str(exc))
    except _VersionNotFound as exc:
        raise SyncError(f"cannot use {entry.remote.safe_url}: {exc}") from None
    except trees.UnsafeTree as exc:
        return _fallback(entry, state, f"refusing to check out {entry.remote.safe_url}: {exc}")
    state = {
        "version": opts.version, "name": name, "commit": commit, "synced_at": time.time(),
        "url": entry.remote.safe_url,
    }
    _write_json(entry.state_file, state)
    checkout = _checkout(entry, state, stale=False)
    checkout.fetched = fetched
    return checkout


def _fetch_and_build(entry: _Entry, last_commit: str | None) -> tuple[str, str, bool]:
    """Fetch and build the checkout; rebuild the mirror once if it turns out to be damaged."""
    for attempt in (1, 2):
        repo = None
        try:
            repo = entry.open_mirror() if attempt == 1 else entry.new_mirror()
            if attempt == 1:
                entry.check_mirror(repo, synced_before=last_commit is not None)
            commit, name, fetched = entry.fetch(repo)
            _private_packs(entry.mirror)
            if entry.mirror_replaced:
                repo.close()
                repo = entry.open_mirror()
            entry.ensure_tree(repo, commit, last_commit)
            return commit, name, fetched
        except (_RemoteFailure, _VersionNotFound, trees.UnsafeTree, SyncError):
            raise
        except _Damaged as exc:
            entry.warn(f"the cache entry {entry.path} was damaged ({exc}); rebuilding it")
        except OSError as exc:
            if exc.errno in _DISK_FULL + _NOT_WRITABLE or attempt == 2:
                raise
            entry.warn(f"the cache entry {entry.path} was damaged ({type(exc).__name__}: "
                       f"{redact(str(exc), entry.remote.secrets)}); rebuilding it")
        except Exception as exc:  # corruption surfaces as many types: KeyError, ChecksumMismatch, zlib.error, ...
            if attempt == 2:
                raise SyncError(f"cannot sync {entry.remote.safe_url} even into a fresh cache entry: "
                                f"{type(exc).__name__}: {redact(str(exc), entry.remote.secrets)}") from None
            entry.warn(f"the cache entry {entry.path} was damaged ({type(exc).__name__}: "
                       f"{redact(str(exc), entry.remote.secrets)}); rebuilding it")
        finally:
            if repo is not None:
                repo.close()
    raise AssertionError("unreachable")


def _fallback(entry: _Entry, state: dict | None, reason: str) -> Checkout:
    opts = entry.opts
    last = state.get("commit") if state else None
    if not isinstance(last, str) or not _OBJECT_ID.match(last):
        last = None
    if opts.on_sync_failure == "use_cache" and last and entry.restore_tree(last):
        age = time.time() - float(state.get("synced_at", 0))
        entry.warn(f"using the cached commit {last[:12]} of {entry.remote.safe_url}, last synced "
                   f"{_human_age(age)} ago, because the sync failed: {reason}")
        return _checkout(entry, state, stale=True)
    if opts.on_sync_failure == "use_cache":
        reason += "; no earlier good checkout is cached, so on_sync_failure=use_cache cannot help"
    raise SyncError(reason)


def _checkout(entry: _Entry, state: dict, stale: bool) -> Checkout:
    manifest = trees.read_manifest(entry.trees, state["commit"]) or {}
    return Checkout(
        path=os.path.join(entry.trees, state["commit"]), commit=state["commit"],
        version=state.get("name") or state["commit"], stale=stale, synced_at=float(state.get("synced_at", 0)),
        entry=entry.path, safe_url=entry.remote.safe_url, warnings=list(manifest.get("warnings", [])),
    )


def _human_age(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
