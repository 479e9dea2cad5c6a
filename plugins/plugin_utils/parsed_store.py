# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file of a stored parse: one JSON header line, then the recorded inventory calls, pickled.

The header names the format, the key and the commit, and holds a digest of the body, so a file
that is damaged or was written for something else is never replayed. Vault secrets and decrypted
vault values never reach the file: an inline vault value is written as its ciphertext and becomes
an encrypted value again when read, decrypted on use with the secrets of the run that reads it.
The reader accepts only Ansible's own classes and a few plain types: the file is data, not code.
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

from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import write_atomic

try:  # ansible-core >= 2.19
    from ansible._internal._datatag._tags import VaultedValue
    from ansible.module_utils._internal._datatag import AnsibleTagHelper
    from ansible.parsing.vault import EncryptedString
    AnsibleVaultEncryptedUnicode = None
except ImportError:  # ansible-core < 2.19
    from ansible.parsing.yaml.objects import AnsibleVaultEncryptedUnicode
    EncryptedString = VaultedValue = AnsibleTagHelper = None

__metaclass__ = type

FORMAT = 1
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
    if EncryptedString is not None:
        mapping = getattr(obj, "_ansible_tags_mapping", None)  # where 2.19 keeps a value's tags
        if isinstance(mapping, dict) and VaultedValue in mapping:
            raise Unstorable("a decrypted vault value is in the parsed data")
        if kind is EncryptedString:
            return ("encrypted", obj._ciphertext, AnsibleTagHelper.tags(obj))
    elif kind is AnsibleVaultEncryptedUnicode:
        return ("encrypted", obj._ciphertext, getattr(obj, "ansible_pos", None))
    if kind in (VaultLib, VaultSecret):
        raise Unstorable("a vault secret was reachable from the parsed data")
    return None


class _Unpickler(pickle.Unpickler):
    """Only Ansible's own classes and a few plain types: the file is data, never code."""

    def __init__(self, stream, loader) -> None:
        super().__init__(stream)
        self._loader = loader

    def find_class(self, module, name):
        if (module, name) in _SAFE_GLOBALS or module == "ansible" or module.startswith("ansible."):
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a stored parse")

    def persistent_load(self, pid):
        kind, ciphertext, extra = pid
        if kind != "encrypted":
            raise pickle.UnpicklingError(f"unknown stored object {kind!r}")
        if EncryptedString is not None:  # decrypted on use with the run's vault secrets
            return AnsibleTagHelper.tag(EncryptedString(ciphertext=ciphertext), extra)
        value = AnsibleVaultEncryptedUnicode(ciphertext)
        value.vault = getattr(self._loader, "_vault", None)
        if extra is not None:
            value.ansible_pos = extra
        return value


def read(path: str, key: str, commit: str, loader):
    """(header, stored calls); None when there is no file for this key and commit; Damaged if unusable."""
    try:
        with open(path, "rb") as handle:
            blob = handle.read()
    except OSError:
        return None
    enabled = gc.isenabled()
    gc.disable()
    try:
        end = blob.index(b"\n")
        header = json.loads(blob[:end])
        if header.get("format") != FORMAT or header.get("key") != key or header.get("commit") != commit:
            return None
        if hashlib.blake2b(memoryview(blob)[end + 1:], digest_size=16).hexdigest() != header.get("digest"):
            raise ValueError("its digest does not match")
        stream = io.BytesIO(blob)
        stream.seek(end + 1)
        ops: list = []
        while stream.tell() < len(blob):
            # One unpickler per chunk: what only its memo holds is freed before the next chunk.
            ops.extend(_Unpickler(stream, loader).load())
        return header, ops
    except Exception as exc:  # noqa: BLE001 - damage shows up as many types; the file is never used then
        raise Damaged(f"{type(exc).__name__}: {exc}") from None
    finally:
        if enabled:
            gc.enable()


def write(path: str, key: str, commit: str, ops: list, extra: dict) -> None:
    stream = io.BytesIO()
    pickler = pickle.Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.persistent_id = _persistent_id
    enabled = gc.isenabled()
    gc.disable()
    try:
        for start in range(0, len(ops), CHUNK):
            pickler.dump(ops[start:start + CHUNK])
            pickler.clear_memo()
    finally:
        if enabled:
            gc.enable()
    body = stream.getbuffer()
    header = dict(extra, format=FORMAT, key=key, commit=commit, digest=hashlib.blake2b(body, digest_size=16).hexdigest())
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    write_atomic(path, json.dumps(header).encode() + b"\n", body)
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
