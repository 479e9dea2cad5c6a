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
import hashlib
import json
import os
import re
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

from ansible_collections.vcs.inventory.plugins.plugin_utils import locking, trees
from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import (
    TransportOptions,
    make_client,
    socket_timeout,
)
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import Remote, cache_key, parse_remote, redact

__metaclass__ = type

ENTRY_FORMAT = 1
_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")


class SyncError(Exception):
    """A sync could not produce a checkout. The message is redacted and says what to do."""


class _RemoteFailure(Exception):
    """The remote could not be read (down, refused, timed out, auth, protocol)."""


class _VersionNotFound(Exception):
    """The remote answered, and it has no such version."""


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
        self.remove_leftovers()

    def remove_leftovers(self) -> None:
        """Temp files of dead writers: safe to remove, the exclusive lock proves they are gone."""
        for directory in (self.path, self.trees, self.state_dir):
            for name in os.listdir(directory):
                if name.startswith("tmp-") or ".tmp-" in name:
                    trees.remove_tree(os.path.join(directory, name))
        pack_dir = os.path.join(self.mirror, "objects", "pack")
        if os.path.isdir(pack_dir):
            for name in os.listdir(pack_dir):
                if name.startswith("tmp_pack_") or name.startswith("incoming-"):
                    trees.remove_tree(os.path.join(pack_dir, name))
        if os.path.isdir(self.mirror):
            for dirpath, _dirs, files in os.walk(self.mirror):
                for name in files:
                    if name.endswith(".lock"):
                        os.unlink(os.path.join(dirpath, name))

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

    def fetch(self, repo) -> tuple[str, str, bool]:
        """Fetch the configured version into repo; return (commit, display name, downloaded)."""
        opts = self.opts
        outer_repo = repo
        client, path, protocol = make_client(self.remote, opts.transport)
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
        with socket_timeout(opts.timeout):
            try:
                result = client.fetch(path, repo, determine_wants=determine_wants, depth=depth,
                                      ref_prefix=ref_prefix, protocol_version=protocol,
                                      progress=self._progress_bytes)
            except _VersionNotFound:
                raise
            except Exception as exc:
                if resolved.get("by_id"):
                    # The server would not serve a bare commit id: fetch fully and look it up.
                    self.progress(f"fetching {opts.version} by id failed ({type(exc).__name__}); trying a full fetch")
                    resolved["sha"] = None
                elif is_remote_error(exc):
                    raise _RemoteFailure(describe_remote_error(exc, self.remote, opts.timeout)) from exc
                else:
                    raise
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
            repo.refs[b"refs/heads/v-" + version_key(opts.version).encode()] = obj.id
        finally:
            if repo is not outer_repo:
                repo.close()
        return obj.id.decode(), name or obj.id.decode(), downloaded

    def needs_deepen(self, repo) -> bool:
        # A full history was asked for but the mirror is shallow: fetch again without depth.
        return not (self.opts.depth and self.opts.depth > 0) and bool(repo.get_shallow())

    def fetch_full_for_commit(self, client, path, protocol, version: str) -> str:
        """A commit id that is not a ref tip: fetch every branch and tag fully and look it up."""
        from dulwich.repo import Repo

        self.progress(f"{version} is not at a ref tip; fetching the full history to find it")
        tmp = os.path.join(self.path, f"tmp-full-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        repo = self.new_mirror(tmp)
        try:
            with socket_timeout(self.opts.timeout):
                try:
                    client.fetch(path, repo, determine_wants=repo.object_store.determine_wants_all,
                                 protocol_version=protocol, progress=self._progress_bytes)
                except Exception as exc:
                    if is_remote_error(exc):
                        raise _RemoteFailure(describe_remote_error(exc, self.remote, self.opts.timeout)) from exc
                    raise
            matches = [m.decode() for m in repo.object_store.iter_prefix(version.lower().encode())]
            commits = [m for m in matches if repo[m.encode()].type_name in (b"commit", b"tag")]
            if not commits:
                raise _VersionNotFound(
                    f"version {version!r} is neither a branch, a tag nor a commit id of the repository; "
                    "check the option 'version'"
                )
            if len(commits) > 1:
                raise _VersionNotFound(f"version {version!r} is ambiguous: it matches {', '.join(sorted(commits)[:5])}")
            repo.close()
            trees.remove_tree(self.mirror)
            os.rename(tmp, self.mirror)
        except BaseException:
            repo.close()
            trees.remove_tree(tmp)
            raise
        return commits[0]

    def _progress_bytes(self, data: bytes) -> None:
        text = data.decode("utf-8", "replace").strip()
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
    try:
        _private_dir(root)
        entry = _Entry(root, remote, opts, warn, progress)
        _private_dir(entry.path)
        with locking.EntryLock(entry.path, opts.lock_timeout, entry.path):
            checkout = _sync_locked(entry)
            checkout.lock_fd = _pin_tree(entry, checkout.commit)
            return checkout
    except locking.LockTimeout as exc:
        raise SyncError(str(exc)) from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise SyncError(f"no space left in the cache ({root}) while syncing {remote.safe_url}; "
                            "free some space or set 'cache_dir'. The last good checkout was kept.") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise SyncError(f"cannot write the cache ({redact(str(exc), remote.secrets)}); "
                            "set 'cache_dir' (or ANSIBLE_VCS_INVENTORY_CACHE_DIR) to a writable directory") from None
        raise


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
            commit, name, fetched = entry.fetch(repo)
            if entry.mirror_replaced:
                repo.close()
                repo = entry.open_mirror()
            entry.ensure_tree(repo, commit, last_commit)
            return commit, name, fetched
        except (_RemoteFailure, _VersionNotFound, trees.UnsafeTree, SyncError):
            raise
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS) or attempt == 2:
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
    if opts.on_sync_failure == "use_cache" and last and entry.tree_usable(last):
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
