# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""max_file_size: no object above the limit is read whole, stored in the mirror or written to a checkout.

dulwich inflates every object of a fetched pack whole while it indexes it (a 512 MiB file costs
1 GiB of memory, then as much again to write it out). The pack's stream says each object's size in
the header in front of its data, so a watch on the stream sees an oversized file before any of its
bytes are kept: the fetch stops there, the partial pack is dropped, and nothing of it is used.

Each object's data is a zlib stream with no length in front: to find where the next header begins,
the watch inflates every object in small pieces and throws the output away (memory stays a few
KiB; the CPU is about what dulwich spends inflating the same objects). A delta's size is the one it
produces, read from the first bytes of the delta.

No Ansible or dulwich imports.
"""

from __future__ import annotations

import zlib

from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import SyncError

__metaclass__ = type

MIB = 1024 * 1024
_CHUNK = 64 * 1024
_OFS_DELTA, _REF_DELTA = 6, 7
_HASH_SIZE = 20  # a REF_DELTA names its base by id (SHA-1 repositories)


class TooLarge(SyncError):
    """An object of a fetched pack is larger than max_file_size (size in bytes; the file, once known)."""

    def __init__(self, size: int, limit_mib: int, path: str | None = None) -> None:
        self.size = size
        self.limit_mib = limit_mib
        self.path = path
        super().__init__(self.describe())

    def describe(self, where: str = "") -> str:
        what = f"the file {self.path}" if self.path else "a file"
        return (f"{what}{where} is {self.size / MIB:.1f} MiB ({self.size} bytes), larger than max_file_size "
                f"({self.limit_mib} MiB): it was not fetched. Raise the option 'max_file_size' (or "
                "ANSIBLE_VCS_INVENTORY_MAX_FILE_SIZE), or keep such files out of the inventory's 'path'")


def watch(client, limit_mib: int) -> None:
    """Make every fetch of client stop at an object larger than limit_mib (0: no limit)."""
    fetch_pack = getattr(client, "fetch_pack", None)
    if not limit_mib or limit_mib <= 0 or fetch_pack is None:
        return  # a bundle is read locally, like file://: no pack stream to watch

    def watched(path, determine_wants, graph_walker, pack_data, *args, **kwargs):
        # dulwich 0.21-1.2: fetch() hands the pack's bytes to fetch_pack's fourth argument.
        return fetch_pack(path, determine_wants, graph_walker, PackWatch(pack_data, limit_mib), *args, **kwargs)

    client.fetch_pack = watched


class PackWatch:
    """Passes a pack's bytes on to write, raising TooLarge at the header of an object over the limit."""

    def __init__(self, write, limit_mib: int) -> None:
        self.write = write
        self.limit_mib = limit_mib
        self.limit = limit_mib * MIB
        self._buffer = b""
        self._objects: int | None = None  # left to read; None until the pack header is read
        self._inflate = None
        self._delta_head: bytearray | None = None

    def __call__(self, data: bytes) -> None:
        self._feed(data)
        self.write(data)

    def _feed(self, data: bytes) -> None:
        self._buffer += data
        while self._buffer:
            if self._objects is None:
                if len(self._buffer) < 12:
                    return
                self._objects = int.from_bytes(self._buffer[8:12], "big")
                self._buffer = self._buffer[12:]
            elif self._inflate is not None:
                if not self._inflate_some():
                    return
            elif self._objects > 0:
                if not self._header():
                    return
            else:
                self._buffer = b""  # the trailer: the pack's checksum, which dulwich verifies
                return

    def _header(self) -> bool:
        buf = self._buffer
        if not buf:
            return False
        kind, size, shift, pos = (buf[0] >> 4) & 7, buf[0] & 15, 4, 1
        more = buf[0] & 0x80
        while more:
            if pos >= len(buf):
                return False
            size |= (buf[pos] & 0x7F) << shift
            more, shift, pos = buf[pos] & 0x80, shift + 7, pos + 1
        if kind == _OFS_DELTA:
            while True:
                if pos >= len(buf):
                    return False
                pos += 1
                if not buf[pos - 1] & 0x80:
                    break
        elif kind == _REF_DELTA:
            if len(buf) < pos + _HASH_SIZE:
                return False
            pos += _HASH_SIZE
        elif size > self.limit:
            raise TooLarge(size, self.limit_mib)
        self._buffer = buf[pos:]
        self._inflate = zlib.decompressobj()
        self._delta_head = bytearray() if kind in (_OFS_DELTA, _REF_DELTA) else None
        return True

    def _inflate_some(self) -> bool:
        """Inflate what has arrived of the current object; True when it ended (the rest is the next object)."""
        data = self._buffer
        while True:
            out = self._inflate.decompress(data, _CHUNK)
            if self._delta_head is not None and out:
                self._delta_head += out[:24 - len(self._delta_head)]
                self._check_delta()
            data = self._inflate.unconsumed_tail
            if self._inflate.eof:
                self._buffer = self._inflate.unused_data
                self._inflate = self._delta_head = None
                self._objects -= 1
                return True
            if not data and not out:
                self._buffer = b""
                return False

    def _check_delta(self) -> None:
        # A delta starts with two sizes (base, result), each a little-endian base-128 number.
        head, pos, sizes = self._delta_head, 0, []
        while len(sizes) < 2:
            value = shift = 0
            while True:
                if pos >= len(head):
                    return
                byte = head[pos]
                value |= (byte & 0x7F) << shift
                shift, pos = shift + 7, pos + 1
                if not byte & 0x80:
                    break
            sizes.append(value)
        self._delta_head = None  # read once
        if sizes[1] > self.limit:
            raise TooLarge(sizes[1], self.limit_mib)
