"""A loaded inventory is frozen out of the garbage collector's walks, and a reload never keeps the old one.

The in-process tests load a real Git repository (built in tmp_path, read through a file path URL) with
the InventoryManager, as ansible-playbook does, then rebuild it as `meta: refresh_inventory` does.
"""

from __future__ import annotations

import gc
import weakref

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from conftest import write_source
from helpers.upstream import Upstream

from ansible_collections.vcs.inventory.plugins.plugin_utils import long_lived

FILES = {"inv/hosts": "[web]\nweb[1:3] colour=blue\n[db]\ndb1\n", "inv/group_vars/web.yml": "tier: front\n"}


class Inventory:
    """A stand-in with the one property long_lived relies on: identity."""


@pytest.fixture(autouse=True)
def _thawed(monkeypatch):
    gc.unfreeze()
    monkeypatch.setattr(long_lived, "_frozen_for", None)
    monkeypatch.setattr(long_lived, "_thawed", False)
    yield
    gc.unfreeze()


def test_after_a_load_everything_alive_is_frozen():
    inventory = Inventory()
    long_lived.after_load(inventory)
    assert gc.get_freeze_count() > 0
    assert not any(obj is inventory for obj in gc.get_objects())  # out of every generation the collector walks


def test_the_same_inventory_stays_frozen_while_more_sources_load():
    inventory = Inventory()
    long_lived.after_load(inventory)
    frozen = gc.get_freeze_count()
    long_lived.before_load(inventory)
    assert gc.get_freeze_count() == frozen


def test_a_new_inventory_thaws_the_old_one_and_freezes_no_more():
    long_lived.after_load(Inventory())
    new = Inventory()
    long_lived.before_load(new)
    assert gc.get_freeze_count() == 0
    long_lived.after_load(new)  # parts of the old one may still be in use: they must stay collectable
    assert gc.get_freeze_count() == 0


def test_an_inventory_without_weak_references_is_compared_by_identity():
    class Slotted:
        __slots__ = ()

    inventory = Slotted()
    long_lived.after_load(inventory)
    long_lived.before_load(inventory)
    assert gc.get_freeze_count() > 0
    long_lived.before_load(Slotted())
    assert gc.get_freeze_count() == 0


def test_objects_made_while_the_collector_is_paused_are_frozen_at_once():
    inventory = Inventory()
    with long_lived.collector_paused():
        assert not gc.isenabled()
        made = [Inventory() for index in range(1000)]
        long_lived.after_load(inventory)
    assert gc.isenabled()
    assert not any(obj is made[0] for obj in gc.get_objects())  # no young collection will walk them


def test_a_failed_restore_freezes_nothing_and_the_collector_runs_again():
    with pytest.raises(ValueError), long_lived.collector_paused():
        raise ValueError("damaged")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_paused_collector_stays_as_the_caller_had_it():
    gc.disable()
    try:
        with long_lived.collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_after_a_rebuild_nothing_is_frozen_mid_load_either():
    long_lived.after_load(Inventory())
    new = Inventory()
    long_lived.before_load(new)
    with long_lived.collector_paused():
        long_lived.after_load(new)
    assert gc.get_freeze_count() == 0


def test_a_load_that_fails_after_its_restore_is_thawed_by_the_next_inventory():
    failed = Inventory()
    with long_lived.collector_paused():
        long_lived.after_load(failed)  # restored, then the source failed before its own after_load
    long_lived.before_load(Inventory())
    assert gc.get_freeze_count() == 0


@pytest.fixture
def source(tmp_path):
    upstream = Upstream(str(tmp_path / "repos"))
    upstream.commit(FILES)
    return write_source(tmp_path, url=upstream.bare, path="inv", cache_dir=str(tmp_path / "cache"))


def test_a_loaded_inventory_is_frozen_and_a_refresh_frees_the_old_one(source, monkeypatch):
    first = InventoryManager(DataLoader(), sources=[source])  # parses and stores the parse
    assert gc.get_freeze_count() > 0
    assert not any(obj is first.get_host("web1") for obj in gc.get_objects())
    del first
    gc.unfreeze()  # as in a new process, where a warm run restores the stored parse
    monkeypatch.setattr(long_lived, "_frozen_for", None)
    monkeypatch.setattr(long_lived, "_thawed", False)

    manager = InventoryManager(DataLoader(), sources=[source])
    old_host = manager.get_host("web1")
    assert old_host is not None and gc.get_freeze_count() > 0
    assert not any(obj is old_host for obj in gc.get_objects())
    gone = weakref.ref(old_host)
    del old_host

    manager.refresh_inventory()  # what `meta: refresh_inventory` calls: a new InventoryData, every source again
    assert gc.get_freeze_count() == 0
    assert sorted(h.name for h in manager.get_hosts()) == ["db1", "web1", "web2", "web3"]
    assert manager.get_host("web1").vars["colour"] == "blue"
    gc.collect()
    # Host and Group refer to each other: only the cyclic collector frees them, so had the old
    # inventory stayed frozen, every refresh would keep one more inventory alive.
    assert gone() is None


def test_after_a_rebuild_the_collector_is_never_paused():
    long_lived.after_load(Inventory())
    long_lived.before_load(Inventory())
    with long_lived.collector_paused():
        # Nothing will be frozen now: a pause would only push the collections back (and the old
        # inventories with them).
        assert gc.isenabled()


def test_rebuilds_in_one_process_restore_with_the_collector_on_and_free_every_old_inventory(source, monkeypatch):
    from ansible_collections.vcs.inventory.plugins.plugin_utils import parsed_cache

    restore = parsed_cache.internals.restore_hosts
    collector_on = []

    def watched(data, stored):
        collector_on.append(gc.isenabled())
        return restore(data, stored)

    monkeypatch.setattr(parsed_cache.internals, "restore_hosts", watched)
    built = []
    manager = None
    for _build in range(5):  # a new InventoryManager per build, as ansible-runner or a test harness does
        manager = InventoryManager(DataLoader(), sources=[source])
        assert manager.get_host("web1").vars["colour"] == "blue"
        built.append(weakref.ref(manager.get_host("web1")))
    # The first build parsed and was frozen; each later one thawed first, then restored the stored
    # parse with the collector on, as a local directory's parse runs.
    # (The first build may restore too, when an earlier test of the run left its stored parse.)
    assert len(collector_on) >= 4 and all(collector_on), collector_on
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.collect()
    assert [ref() is None for ref in built] == [True] * 4 + [False]  # only the inventory in use is alive
