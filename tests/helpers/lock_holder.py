"""Hold a cache entry's lock the way a sync does, until killed (or for at most 120 s).

Usage: python lock_holder.py <collections path> <cache entry directory>
Prints "locked" once the lock is held.
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    collections_path, entry = sys.argv[1], sys.argv[2]
    sys.path.insert(0, collections_path)
    from ansible_collections.vcs.inventory.plugins.plugin_utils.locking import EntryLock

    with EntryLock(entry, timeout=30, what=entry):
        print("locked", flush=True)
        time.sleep(120)


if __name__ == "__main__":
    main()
