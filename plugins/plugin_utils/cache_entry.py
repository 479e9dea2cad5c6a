# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One cache entry of one remote, split by role: housekeeping, the mirror and its fetches, the checkouts.

Every method runs with the entry's exclusive lock held (see git_cache.sync).
"""

from __future__ import annotations

import os
from typing import Callable

from ansible_collections.vcs.inventory.plugins.plugin_utils import entry_layout as layout
from ansible_collections.vcs.inventory.plugins.plugin_utils import needed_set, version_lists
from ansible_collections.vcs.inventory.plugins.plugin_utils.checkouts import Checkouts
from ansible_collections.vcs.inventory.plugins.plugin_utils.entry_housekeeping import ENTRY_FORMAT, Housekeeping
from ansible_collections.vcs.inventory.plugins.plugin_utils.mirror_fetch import MirrorFetch
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import Remote, cache_key

__metaclass__ = type

__all__ = ["ENTRY_FORMAT", "CacheEntry"]


class CacheEntry(Housekeeping, MirrorFetch, Checkouts):
    """One cache entry (opts: git_cache.SyncOptions), used while its exclusive lock is held."""

    def __init__(self, root: str, remote: Remote, opts, warn: Callable[[str], None],
                 progress: Callable[[str], None]) -> None:
        self.remote = remote
        self.opts = opts
        self.warn = warn
        self.progress = progress
        self.path = os.path.join(root, cache_key(remote))
        self.mirror = os.path.join(self.path, layout.MIRROR)
        self.trees = os.path.join(self.path, layout.TREES)
        self.state_dir = os.path.join(self.path, layout.STATE)
        self.state_file = layout.state_file(self.state_dir, version_lists.state_key(opts))
        self.mirror_replaced = False
        # What the configured paths need of a commit; ("",): the whole tree.
        self.scope = needed_set.normalise(getattr(opts, "paths", None))
        self.server_file = os.path.join(self.path, layout.SERVER_INFO)
        # The commit an earlier sync resolved this version to after checking the whole history.
        self.known_commit: str | None = None
