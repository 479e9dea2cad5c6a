# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tell Python's cyclic garbage collector that a loaded inventory lives as long as the run.

A 5,000-host inventory is some 100,000 objects (hosts, variables, their data tags). They live until
the process ends, yet the collector walks all of them again in its young-generation collections while
they are new and in every full collection after that; in `ansible-playbook` such a full collection
lands between the inventory and the first task (0.1-0.2 s). `ansible-playbook` also forks a worker
per host and task, and a collection in a worker writes to every object's header: pages the worker
would otherwise share with its parent.

`gc.freeze()` (Python >= 3.7) moves every object alive at that moment out of the collector's reach:
later collections walk only what the play creates. The Python documentation recommends it before a
parent forks its workers. Nothing is lost: an object's memory is still freed when its reference
count drops to zero; only cycles among frozen objects wait for an unfreeze. Hosts and groups refer
to each other, so an inventory that is replaced in the same process (`meta: refresh_inventory`,
another InventoryManager) is such a cycle: before the new one loads, the heap is thawed and this
process freezes no more, since parts of the old inventory may still be in use (by the running
play) and would be frozen again with the new one. A reload costs what it cost before; it never
keeps an old inventory alive.
"""

from __future__ import annotations

import gc
import weakref
from contextlib import contextmanager

__metaclass__ = type

_frozen_for = None  # a weak reference to the inventory whose load froze the heap: it must not keep it alive
_thawed = False  # an inventory was replaced in this process: freeze no more


def _ref(inventory):
    try:
        return weakref.ref(inventory)
    except TypeError:  # an inventory object that takes no weak reference: compared by identity only
        return lambda inventory=inventory: inventory


def before_load(inventory) -> None:
    """A source is about to load into inventory: if we froze for another inventory, thaw for good."""
    global _frozen_for, _thawed
    if _frozen_for is not None and _frozen_for() is not inventory:
        gc.unfreeze()
        _frozen_for, _thawed = None, True


@contextmanager
def collector_paused():
    """While many objects that will live as long as the inventory are made (a stored parse read and restored).

    Only before this process first thawed: then after_load() freezes what the block made right away,
    and the next inventory's before_load() thaws it, so the pause ends with everything collectable.
    After a thaw nothing is frozen any more, and a pause would be a debt: the collector starts a
    young collection per 700 new objects and an older one per ten of those, so tens of thousands of
    objects made while it is off count as one, full collections come that much later, and the
    inventories replaced meanwhile wait for them (measured: 30 builds of 3,000 hosts, 67 -> 198 MiB).
    If the block fails, nothing is frozen: what it made is garbage for the collector.
    """
    enabled = gc.isenabled() and not _thawed
    if enabled:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def after_load(inventory) -> None:
    """Objects of inventory are in place: everything alive now is long-lived (the first inventory only).

    Called once a source has loaded, and inside collector_paused() as soon as a restored parse is in
    place: re-enabling the collector with all of its objects still young would have the next young
    collection walk every one of them (some 40 ms for 5,000 hosts), and a later one again.
    """
    global _frozen_for
    if not _thawed:
        gc.freeze()
        _frozen_for = _ref(inventory)
