# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file of a stored parse: one JSON header line, then the parse's hosts and groups, then the
recorded inventory calls, pickled.

The header names the format, the key and the commit, and holds a digest of the body, so a file
that is damaged or was written for something else is never replayed. Vault secrets and decrypted
vault values never reach the file: an inline vault value is written as its ciphertext and becomes
an encrypted value again when read, decrypted on use with the secrets of the run that reads it.
The reader accepts only Ansible's own classes and a few plain types: the file is data, not code.

The hosts and groups (a snapshot of the objects, taken when the parse filled an empty inventory)
are put in place in one step by the next run whose inventory is empty too; any other run replays
the calls. The snapshot is optional: it is left out where _ansible_internals cannot take one.
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import pickle
import time

from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.vcs.inventory.plugins.plugin_utils import _ansible_internals as internals
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import write_atomic
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import plain_detail

__metaclass__ = type

FORMAT = 3
KEEP_FILES = 16  # configurations kept per cache entry; the least recently written go first
CHUNK = 2000  # calls per pickle: a smaller unpickler memo, so a lower peak of memory when reading
_PLAIN = {str, int, float, bool, type(None), list, dict, tuple}
_SAFE_GLOBALS = {("builtins", n) for n in ("complex", "set", "frozenset", "bytearray")} | {
    ("datetime", n) for n in ("date", "datetime", "time", "timedelta", "timezone")
} | {("collections", "OrderedDict")}


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


class _Unpickler(pickle.Unpickler):
    """Only Ansible's own classes and a few plain types: the file is data, never code."""

    def __init__(self, stream, loader, persistent_load=None) -> None:
        super().__init__(stream)
        self._loader = loader
        self._persistent_load = persistent_load  # a snapshot's hosts and groups, then vault values

    def find_class(self, module, name):
        if (module, name) in _SAFE_GLOBALS or module == "ansible" or module.startswith("ansible."):
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a stored parse")

    def persistent_load(self, pid):
        if self._persistent_load is not None:
            return self._persistent_load(pid)
        return _vault_value(pid, self._loader)


def _vault_value(pid, loader):
    kind, ciphertext, extra = pid
    if kind != "encrypted":
        raise pickle.UnpicklingError(f"unknown stored object {kind!r}")
    return internals.vault_value(ciphertext, extra, loader)  # decrypted on use with the run's secrets


def _digest(data) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def read(path: str, key: str, commit: str, loader, snapshot: bool = False):
    """(header, stored calls, None), or with snapshot=True (header, None, snapshot) when the file holds one.

    Only the part that is used is read. None when there is no file for this key and commit; Damaged
    if it is unusable.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return None
    enabled = gc.isenabled()
    gc.disable()
    try:
        with handle:
            header = json.loads(handle.readline())
            if header.get("format") != FORMAT or header.get("key") != key or header.get("commit") != commit:
                return None
            size = int(header.get("snapshot_size") or 0)
            if snapshot and size:
                blob = handle.read(size)
                if _digest(blob) != header.get("snapshot_digest"):
                    raise ValueError("the digest of its hosts and groups does not match")
                stored = internals.load_snapshot(io.BytesIO(blob), len(blob), lambda s, load: _Unpickler(s, loader, load),
                                                 lambda pid: _vault_value(pid, loader))
                return header, None, stored
            handle.seek(size, os.SEEK_CUR)
            blob = handle.read()
        if _digest(blob) != header.get("digest"):
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
        if enabled:
            gc.enable()


def write(path: str, key: str, commit: str, ops: list, extra: dict, snapshot=None) -> None:
    """Write the recorded calls, and the snapshot of hosts and groups (from _ansible_internals) if any."""
    head = io.BytesIO()
    stream = io.BytesIO()
    enabled = gc.isenabled()
    gc.disable()
    try:
        if snapshot is not None:
            internals.dump_snapshot(snapshot, head, _persistent_id)
        pickler = pickle.Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = _persistent_id
        for start in range(0, len(ops), CHUNK):
            pickler.dump(ops[start:start + CHUNK])
            pickler.clear_memo()
    finally:
        if enabled:
            gc.enable()
    first, body = head.getbuffer(), stream.getbuffer()
    header = dict(extra, format=FORMAT, key=key, commit=commit, snapshot_size=len(first),
                  snapshot_digest=_digest(first), digest=_digest(body))
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
