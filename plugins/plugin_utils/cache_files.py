# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small file helpers of the cache: private directories, atomic JSON files, owner-only packs."""

from __future__ import annotations

import json
import os
import stat
import uuid

from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import SyncError

__metaclass__ = type


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ansible", "vcs_inventory")


def private_dir(path: str, in_private_parent: bool = False) -> None:
    """Create path as a directory of ours alone, or check that an existing one is (like ssh's StrictModes).

    An existing directory is never chmod-ed or written into unless it is ours and closed to others:
    another local user could have planted it (or a symlink to /tmp, /etc, ~/.ssh) in a shared parent.
    Inside a parent that is already ours alone (an entry in the cache root), nobody else can have
    made it, so a directory of ours that is open is only closed again.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, mode=0o700, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)  # just made by us: the umask may have opened it
        return
    except FileExistsError:
        pass
    me = os.geteuid()
    link = os.lstat(path)
    if stat.S_ISLNK(link.st_mode):
        if link.st_uid not in (me, 0):
            raise SyncError(
                f"the cache directory {path} is a symlink made by another user (uid {link.st_uid}); remove it, "
                "or set 'cache_dir' to a directory of your own"
            )
        holder = os.stat(parent)
        if holder.st_mode & 0o022 and not holder.st_mode & stat.S_ISVTX:
            raise SyncError(
                f"the cache directory {path} is a symlink in {parent}, which others can write to, so they could "
                "replace it; set 'cache_dir' to a path in a directory of your own"
            )
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise SyncError(f"the cache directory {path} is not a directory; set 'cache_dir' to a directory of your own")
    if st.st_uid != me:
        raise SyncError(
            f"the cache directory {path} belongs to another user (uid {st.st_uid}); "
            "set 'cache_dir' to a directory of your own"
        )
    if st.st_mode & 0o077 and in_private_parent and not stat.S_ISLNK(link.st_mode):
        os.chmod(path, 0o700)
    elif st.st_mode & 0o077:
        raise SyncError(
            f"the cache directory {path} is open to others (mode {stat.S_IMODE(st.st_mode):04o}); the cache holds "
            f"your inventory, so it must be yours alone: run chmod 700 {path}, or set 'cache_dir' to a new directory"
        )


def write_atomic(path: str, *chunks: bytes) -> None:
    """Write a file so that readers see the old one or the whole new one, never a part.

    The temp name holds ".tmp-", which the entry's cleanup removes after a writer was killed.
    """
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json(path: str, data: dict) -> None:
    write_atomic(path, json.dumps(data).encode())


def read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def private_packs(mirror: str) -> None:
    """dulwich chmods packs to 0444 whatever the umask (git masks them): make them the owner's alone."""
    pack_dir = os.path.join(mirror, "objects", "pack")
    for name in listdir(pack_dir):
        path = os.path.join(pack_dir, name)
        try:
            mode = os.lstat(path).st_mode
            if (mode & 0o170000) == 0o100000 and mode & 0o077:
                os.chmod(path, mode & 0o700)
        except OSError:
            pass  # gone or not ours to change: the 0700 directories above still keep others out
