# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which files of a commit the inventory needs: what a checkout holds and which blobs are fetched.

For each configured path: a directory gives everything under it; a file gives the file plus the
group_vars/ and host_vars/ beside it (Ansible reads them next to an inventory file); and, through
every symlink in that set, its target inside the repository (a directory target again gives
everything under it), followed as the kernel follows it: ".." after a symlink goes up from where
the link leads, not from its name. The repository root as a path gives the whole tree. Whether a
link may stay is decided on the written checkout (link_containment); this only picks the blobs.

Pure logic over a commit's flat list of entries (path -> mode); the caller supplies symlink targets
as their blobs arrive. No Ansible or dulwich imports.
"""

from __future__ import annotations

import bisect
import posixpath
from collections.abc import Callable, Iterable

__metaclass__ = type

WHOLE_TREE = ("",)
MODE_SYMLINK = 0o120000
MAX_LINK_HOPS = 40  # as Linux's own limit on symlinks followed in one lookup


def normalise(paths: Iterable[str] | None) -> tuple[str, ...]:
    """The configured paths as a sorted tuple of clean repo-relative paths; ("",) for the whole tree."""
    result = set()
    for raw in list(paths or []) or [""]:
        text = (raw or "").strip().strip("/")
        clean = posixpath.normpath(text) if text else ""
        if clean in (".", "") or clean == ".." or clean.startswith("../"):
            return WHOLE_TREE  # climbing out is refused by the loader; the whole tree stays correct
        result.add(clean)
    return tuple(sorted(result))


def covers(held: Iterable[str], wanted: Iterable[str]) -> bool:
    """Whether a checkout built for the paths `held` also serves the paths `wanted`."""
    held = set(held)
    return "" in held or set(wanted) <= held


def widen(held: Iterable[str] | None, wanted: Iterable[str]) -> tuple[str, ...]:
    return normalise([*(held or []), *wanted]) if held is not None else normalise(wanted)


class Closure:
    """The needed set of one commit for some paths; `pending` names symlinks whose target is not known yet.

    entries: every non-directory path of the commit -> its git mode. link_target(path) returns the
    target of a symlink entry, or None while its blob is not at hand.
    """

    def __init__(self, entries: dict[str, int], link_target: Callable[[str], str | None]) -> None:
        self.entries = entries
        self.sorted = sorted(entries)
        self.link_target = link_target
        self.needed: set[str] = set()
        self.pending: set[str] = set()
        self._dirs: dict[str, str | None] = {}  # directories already added, by the path they really are

    def run(self, paths: Iterable[str]) -> Closure:
        for path in normalise(paths):
            if path == "":
                self.needed.update(self.entries)
                return self
            kind = self._include(path, 0)
            if kind == "file":
                parent = posixpath.dirname(path)
                for side in ("group_vars", "host_vars"):
                    self._include(posixpath.join(parent, side), 0)
        return self

    def _under(self, directory: str) -> list[str]:
        prefix = directory + "/" if directory else ""
        start = bisect.bisect_left(self.sorted, prefix)
        end = bisect.bisect_left(self.sorted, prefix[:-1] + chr(ord("/") + 1)) if prefix else len(self.sorted)
        return self.sorted[start:end]

    def _include(self, logical: str, hops: int) -> str | None:
        """Add what the logical path names (following symlinks); return "file", "dir" or None (absent)."""
        if hops > MAX_LINK_HOPS:
            return None
        parts = [p for p in logical.split("/") if p not in ("", ".")]
        current = ""
        for index, part in enumerate(parts):
            if part == "..":
                if not current:
                    return None  # climbs out of the repository
                current = posixpath.dirname(current)
                continue
            step = f"{current}/{part}" if current else part
            mode = self.entries.get(step)
            if mode is None:
                current = step
                continue
            if mode == MODE_SYMLINK:
                self.needed.add(step)
                target = self.link_target(step)
                if target is None:
                    self.pending.add(step)
                    return None
                if not target or target.startswith("/") or "\0" in target:
                    return None  # points outside the repository: the checkout skips it with a warning
                # Unnormalised: a ".." in the target or the rest applies to where the link leads.
                return self._include("/".join([posixpath.dirname(step), target, *parts[index + 1:]]), hops + 1)
            if index == len(parts) - 1:
                self.needed.add(step)
                return "file"
            return None  # a file in the middle of the path
        if current in self._dirs:  # the same directory reached again (through a link to "." ...)
            return self._dirs[current]
        below = self._under(current)
        self._dirs[current] = "dir" if below else None
        for path in below:
            self.needed.add(path)
            if self.entries[path] == MODE_SYMLINK:
                self._include(path, hops + 1)
        return self._dirs[current]
