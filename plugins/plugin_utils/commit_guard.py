# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A check the caller runs on a commit before the sync serves it as current (max_host_loss).

The sync calls opts.accept(commit, checkout path, entry path) with the entry's lock held, after
the checkout is built and before the commit becomes the last good one. A refusal names the commit
to keep serving; the sync then fails, or with use_cache serves that commit, stale, like any other
unusable commit. No Ansible imports: the check itself is the caller's.
"""

from __future__ import annotations

import os

from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import SyncError

__metaclass__ = type


class Refused(SyncError):
    """The caller refused the commit; keep is the commit to serve instead (the last good one)."""

    def __init__(self, message: str, keep: str | None) -> None:
        super().__init__(message)
        self.keep = keep


def check(entry, commit: str) -> None:
    """Run the caller's check on commit (raises Refused); nothing when no check is set."""
    accept = getattr(entry.opts, "accept", None)
    if accept is not None:
        accept(commit, os.path.join(entry.trees, commit), entry.path)


def kept_state(state: dict | None, refused: Refused) -> dict | None:
    """The state to fall back on: the commit the check keeps, else none."""
    if not refused.keep:
        return None
    return dict(state or {}, commit=refused.keep)
