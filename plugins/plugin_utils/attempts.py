# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One attempt per source and inventory build.

When a source fails, the inventory manager hands the same file to the next enabled plugin; with
`auto` enabled (as most ansible.cfg files have it) auto reads `plugin: vcs.inventory.git` and calls
this plugin again: a second connection attempt, a second `timeout` and `lock_timeout` wait, for an
answer that is already known. So a failure is remembered, keyed by the source file and a digest of
its options, for the inventory being built, and the second call fails at once with the same message.
A new inventory (another InventoryManager, or `refresh_inventory`) tries again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import weakref

from ansible_collections.vcs.inventory.plugins.plugin_utils import _ansible_internals as internals
from ansible_collections.vcs.inventory.plugins.plugin_utils import messages

__metaclass__ = type

# inventory being built -> {source key: message}; the entry goes with the inventory.
_FAILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _key(plugin, path: str) -> str | None:
    try:
        options = plugin.get_options()
    except Exception:  # noqa: BLE001 - options that cannot be read: nothing to remember a failure by
        return None
    # Only a digest is kept, so that no secret option stays in memory longer than the plugin's own copy.
    text = json.dumps(options, sort_keys=True, default=repr)
    return os.path.abspath(path) + "\0" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def fail_again_if_failed(plugin, path: str) -> None:
    """Raise the earlier failure of this source in the inventory being built, if there was one."""
    key = _key(plugin, path)
    try:
        message = _FAILED.get(internals.inventory_of(plugin), {}).get(key)
    except TypeError:  # an inventory object that takes no weak reference
        return
    if message is not None:
        raise messages.repeated(message)


def remember_failure(plugin, path: str, exc: BaseException | None = None) -> None:
    """Remember exc (by default the exception being handled) as this source's failure in this inventory."""
    exc = exc if exc is not None else sys.exc_info()[1]
    key = _key(plugin, path)
    if key is None or exc is None:
        return
    message = getattr(exc, "message", None) or str(exc)
    try:
        _FAILED.setdefault(internals.inventory_of(plugin), {})[key] = str(message)
    except TypeError:
        pass
