# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The housekeeping of a cache entry: its shape, and the leftovers of killed writers.

A part of CacheEntry (cache_entry.py); runs with the entry's exclusive lock held.
"""

from __future__ import annotations

import os

from ansible_collections.vcs.inventory.plugins.plugin_utils import entry_layout as layout
from ansible_collections.vcs.inventory.plugins.plugin_utils import trees
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import listdir, read_json, write_json

__metaclass__ = type

ENTRY_FORMAT = 1


class Housekeeping:
    """The entry's shape and its leftovers (needs path, trees, state_dir, mirror, remote, warn)."""

    def prepare(self) -> None:
        """Make the entry a known-good shape; only called with the exclusive lock held."""
        info = read_json(os.path.join(self.path, layout.ENTRY_INFO))
        keep = {layout.LOCK, layout.LOCK_OWNER}
        if info is None or info.get("url") != self.remote.safe_url or info.get("format") != ENTRY_FORMAT:
            leftovers = [n for n in os.listdir(self.path) if n not in keep]
            if leftovers:
                self.warn(f"cache entry {self.path} was not a usable cache of {self.remote.safe_url}; wiping it")
            for name in leftovers:
                trees.remove_tree(os.path.join(self.path, name))
            write_json(os.path.join(self.path, layout.ENTRY_INFO), {"url": self.remote.safe_url, "format": ENTRY_FORMAT})
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
            for name in listdir(directory):
                if name.startswith(layout.TMP_PREFIX) or layout.TMP_MARK in name:
                    drop(os.path.join(directory, name))
        if not os.path.isdir(self.mirror) or os.path.islink(self.mirror):
            return removed
        objects = os.path.join(self.mirror, "objects")
        pack_dir = os.path.join(objects, "pack")
        # dulwich spools a fetched pack to objects/tmp_pack_* (thin packs) or pack/tmp*.pack, renames
        # the pack in and only then writes its index: a kill in between leaves a pack without one.
        for name in listdir(objects):
            if name.startswith(("tmp_pack_", "incoming-")):
                drop(os.path.join(objects, name))
        names = set(listdir(pack_dir))
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

    def clean_up_after_failure(self) -> None:
        """A failed sync leaves no temp files behind (they could fill the disk)."""
        try:
            self.remove_leftovers()
        except OSError:
            pass
