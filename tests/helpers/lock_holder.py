"""Hold a cache entry's lock the way a sync does, until killed (or for at most 120 s).

Usage: python lock_holder.py <collections path> <cache entry directory> [<commit>]
With a commit, hold that checkout's lock exclusively instead (as garbage collection does while it
removes the checkout). Prints "locked" once the lock is held.
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    collections_path, entry = sys.argv[1], sys.argv[2]
    sys.path.insert(0, collections_path)
    from ansible_collections.vcs.inventory.plugins.plugin_utils import locking
    from ansible_collections.vcs.inventory.plugins.plugin_utils.entry_layout import TREES, tree_lock

    if len(sys.argv) > 3:
        fd = locking.try_lock(tree_lock(f"{entry}/{TREES}", sys.argv[3]))
        if fd is None:
            sys.exit("the checkout's lock is held already")
        print("locked", flush=True)
        time.sleep(120)
        return
    with locking.EntryLock(entry, timeout=30, what=entry):
        print("locked", flush=True)
        time.sleep(120)


if __name__ == "__main__":
    main()
