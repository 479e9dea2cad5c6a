# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file of a stored parse: one JSON header line, then the parse's hosts and groups, then the
recorded inventory calls, pickled.

The header names the format, the key and the commit, and holds a keyed digest (HMAC-SHA256) of
each part, bound to the header, so a file that is damaged, was written for something else, or was
not written with this cache root's key (a cache copied or restored from elsewhere, a file someone
made) is never replayed. The key is a file of the cache root made at first use, the owner's alone.
Vault secrets and decrypted vault values never reach the file: an inline vault value is written as
its ciphertext and becomes an encrypted value again when read, decrypted on use with the secrets of
the run that reads it. The reader accepts an exact list of classes (_ansible_internals.stored_types:
no other module, no dotted name, no function), and the writer stores nothing else: the file is data,
never code. What the key cannot stop: whoever runs as the same user can change this collection.

The hosts and groups (a snapshot of the objects, taken when the parse filled an empty inventory)
are put in place in one step by the next run whose inventory is empty too; any other run replays
the calls. The snapshot is optional: it is left out where _ansible_internals cannot take one.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import pickle
import stat
import time

from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.vcs.inventory.plugins.plugin_utils import _ansible_internals as internals
from ansible_collections.vcs.inventory.plugins.plugin_utils import long_lived
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import write_atomic
from ansible_collections.vcs.inventory.plugins.plugin_utils.entry_layout import PARSE_KEY
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import plain_detail

__metaclass__ = type

FORMAT = 4  # 4: keyed digests, an exact list of classes
KEEP_FILES = 16  # configurations kept per cache entry; the least recently written go first
CHUNK = 2000  # calls per pickle: a smaller unpickler memo, so a lower peak of memory when reading
_PLAIN = {str, int, float, bool, type(None), list, dict, tuple}
KEY_BYTES = 32
_DIGESTS = ("digest", "snapshot_digest")


class Unstorable(Exception):
    """The parse holds something that must not be written to disk."""


class Damaged(Exception):
    """The file exists but cannot be trusted; the caller parses afresh and overwrites it."""


def _persistent_id(obj):
    """Keep vault secrets and decrypted vault values off the disk; store ciphertext instead.

    Called for every object pickled, so the common cases leave first.
    """
    kind = type(obj)
    if kind in _PLAIN:
        return None
    try:
        pid = internals.vault_persistent_id(obj, kind)
    except internals.DecryptedVault as exc:
        raise Unstorable(str(exc)) from None
    if pid is not None:
        return pid
    if kind in (VaultLib, VaultSecret):
        raise Unstorable("a vault secret was reachable from the parsed data")
    return None


class _Unpickler(internals.StoredUnpickler):
    """The exact list of classes of stored_types(), and vault values: the file is data, never code."""

    def __init__(self, stream, loader, persistent_load=None) -> None:
        super().__init__(stream)
        self._loader = loader
        self._persistent_load = persistent_load  # a snapshot's hosts and groups, then vault values

    def persistent_load(self, pid):
        if self._persistent_load is not None:
            return self._persistent_load(pid)
        return _vault_value(pid, self._loader)


def _vault_value(pid, loader):
    kind, ciphertext, extra = pid
    if kind != "encrypted":
        raise pickle.UnpicklingError(f"unknown stored object {kind!r}")
    return internals.vault_value(ciphertext, extra, loader)  # decrypted on use with the run's secrets


def _digest(secret: bytes, header: dict, part: bytes, data) -> str:
    """HMAC-SHA256 of one part of the file, bound to everything else its header says."""
    bound = json.dumps({k: v for k, v in header.items() if k not in _DIGESTS}, sort_keys=True).encode()
    mac = hmac.new(secret, b"%d:%s:%s:" % (len(bound), bound, part), hashlib.sha256)
    mac.update(data)
    return mac.hexdigest()


def secret_of(root: str) -> bytes:
    """The key of the stored parses under the cache root, made at first use; Damaged if it cannot be trusted.

    Like the cache root itself: a regular file of ours that others cannot read or write, never
    followed through a symlink. Made whole under a temp name and linked into place (O_EXCL), so
    parallel first runs agree on one key.
    """
    path = os.path.join(root, PARSE_KEY)
    for _attempt in range(3):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            _make_secret(path)
            continue
        except OSError as exc:
            raise Damaged(f"the key file {path} cannot be read ({exc.strerror}); remove it, a new one is made") from None
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            data = handle.read(KEY_BYTES + 1)
        problem = ("is not a regular file" if not stat.S_ISREG(st.st_mode)
                   else f"belongs to another user (uid {st.st_uid})" if st.st_uid != os.geteuid()
                   else f"is open to others (mode {stat.S_IMODE(st.st_mode):04o})" if st.st_mode & 0o077
                   else "is not a key of this collection" if len(data) != KEY_BYTES else None)
        if problem:
            raise Damaged(f"the key file {path} {problem}; remove it, a new one is made")
        return data
    raise Damaged(f"the key file {path} keeps disappearing; check what removes files from the cache")


def _make_secret(path: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(KEY_BYTES))
        try:
            os.link(tmp, path)  # never replaces a key another run made meanwhile
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def read(path: str, key: str, commit: str, loader, snapshot: bool = False, *, secret: bytes):
    """(header, stored calls, None), or with snapshot=True (header, None, snapshot) when the file holds one.

    Only the part that is used is read. None when there is no file for this key and commit; Damaged
    if it is unusable: a digest that is not this cache's (secret), a class that is not allowed.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return None
    paused = long_lived.collector_paused()  # as the restore that follows: see long_lived
    paused.__enter__()
    try:
        with handle:
            header = json.loads(handle.readline())
            if header.get("format") != FORMAT or header.get("key") != key or header.get("commit") != commit:
                return None
            size = int(header.get("snapshot_size") or 0)
            if snapshot and size:
                blob = handle.read(size)
                if not hmac.compare_digest(_digest(secret, header, b"snapshot", blob), str(header.get("snapshot_digest"))):
                    raise ValueError("the digest of its hosts and groups does not match")
                stored = internals.load_snapshot(io.BytesIO(blob), len(blob), lambda s, load: _Unpickler(s, loader, load),
                                                 lambda pid: _vault_value(pid, loader))
                return header, None, stored
            handle.seek(size, os.SEEK_CUR)
            blob = handle.read()
        if not hmac.compare_digest(_digest(secret, header, b"calls", blob), str(header.get("digest"))):
            raise ValueError("its digest does not match")
        stream = io.BytesIO(blob)
        ops: list = []
        while stream.tell() < len(blob):
            # One unpickler per chunk: what only its memo holds is freed before the next chunk.
            ops.extend(_Unpickler(stream, loader).load())
        return header, ops, None
    except Exception as exc:  # noqa: BLE001 - damage shows up as many types; the file is never used then
        raise Damaged(plain_detail(exc)) from None
    finally:
        paused.__exit__(None, None, None)


def write(path: str, key: str, commit: str, ops: list, extra: dict, snapshot=None, *, secret: bytes) -> None:
    """Write the recorded calls, and the snapshot of hosts and groups (from _ansible_internals) if any."""
    head = io.BytesIO()
    stream = io.BytesIO()
    paused = long_lived.collector_paused()
    paused.__enter__()
    try:
        if snapshot is not None:
            internals.dump_snapshot(snapshot, head, _persistent_id)
        pickler = internals.StoredPickler(stream, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = _persistent_id
        for start in range(0, len(ops), CHUNK):
            pickler.dump(ops[start:start + CHUNK])
            pickler.clear_memo()
    finally:
        paused.__exit__(None, None, None)
    first, body = head.getbuffer(), stream.getbuffer()
    header = dict(extra, format=FORMAT, key=key, commit=commit, snapshot_size=len(first))
    header = json.loads(json.dumps(header))  # as a reader will see it (tuples are lists there)
    header.update(snapshot_digest=_digest(secret, header, b"snapshot", first), digest=_digest(secret, header, b"calls", body))
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    write_atomic(path, json.dumps(header).encode() + b"\n", first, body)
    _prune(directory, keep=os.path.basename(path))


def _prune(directory: str, keep: str) -> None:
    """Bound the directory: the newest KEEP_FILES configurations, and no temp file of a dead writer."""
    now = time.time()
    stored = []
    for name in os.listdir(directory):
        full = os.path.join(directory, name)
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if ".tmp-" in name:
            if now - st.st_mtime > 600:  # a write takes well under a second: this writer is gone
                _unlink(full)
        elif name != keep:
            stored.append((st.st_mtime, full))
    for _mtime, full in sorted(stored, reverse=True)[KEEP_FILES - 1:]:
        _unlink(full)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
