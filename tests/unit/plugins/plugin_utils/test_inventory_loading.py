"""Vars-only sources: the checkout's group_vars/host_vars reach the vars plugins, and the checkout
itself is never parsed as an inventory source, not even by a later refresh of the inventory."""

from __future__ import annotations

import os

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.plugins import get_vars_from_inventory_sources

from ansible_collections.vcs.inventory.plugins.plugin_utils import inventory_loading

SCRIPT = """\
#!/bin/sh
touch "{marker}"
echo '{{"leaked": {{"hosts": ["leaked1"]}}}}'
"""


def _checkout(tmp_path, marker) -> str:
    checkout = tmp_path / "checkout"
    (checkout / "group_vars").mkdir(parents=True)
    (checkout / "group_vars" / "web.yml").write_text("from_checkout: 1\n")
    (checkout / "hosts").write_text("[web]\nweb1\n")
    script = checkout / "leak.sh"
    script.write_text(SCRIPT.format(marker=marker))
    script.chmod(0o755)
    return str(checkout)


def test_a_registered_path_feeds_the_vars_plugins_but_is_never_parsed(tmp_path):
    marker = tmp_path / "script-ran"
    checkout = _checkout(tmp_path, marker)
    plain = tmp_path / "plain.ini"
    plain.write_text("[web]\nweb1\n")
    loader = DataLoader()
    manager = InventoryManager(loader, sources=[str(plain)])
    owner = str(tmp_path / "prod.git.yml")

    inventory_loading.register_vars_source(manager, owner, [checkout])
    assert [str(s) for s in manager._sources] == [str(plain), checkout]
    group = manager.groups["web"]
    assert get_vars_from_inventory_sources(loader, manager._sources, [group], "all") == {"from_checkout": 1}

    # A refresh walks the whole source list; nothing here unregisters the entry first.
    manager.refresh_inventory()
    assert not marker.exists()
    assert set(manager.hosts) == {"web1"}
    assert get_vars_from_inventory_sources(loader, manager._sources, [manager.groups["web"]], "all") == {"from_checkout": 1}


def test_registering_again_replaces_the_owners_entries_in_every_list_handed_out(tmp_path):
    loader = DataLoader()
    plain = tmp_path / "plain.ini"
    plain.write_text("[web]\nweb1\n")
    manager = InventoryManager(loader, sources=[str(plain)])
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    os.mkdir(one)
    os.mkdir(two)

    inventory_loading.register_vars_source(manager, "a.git.yml", [one])
    handed_out = manager._sources
    inventory_loading.register_vars_source(manager, "b.git.yml", [two])
    inventory_loading.register_vars_source(manager, "a.git.yml", [one, two])
    assert [str(s) for s in manager._sources] == [str(plain), two, one, two]
    # The list the manager may still be iterating lost a's old entry in place, and gained nothing.
    assert [str(s) for s in handed_out] == [str(plain)]

    inventory_loading.unregister_vars_source("a.git.yml")
    inventory_loading.unregister_vars_source("b.git.yml")
    assert [str(s) for s in manager._sources] == [str(plain)]


def test_a_parser_is_named_as_a_user_writes_it():
    from ansible_collections.vcs.inventory.plugins.plugin_utils.inventory_loading import _shown_name

    assert _shown_name("ansible_collections.ansible.builtin.plugins.inventory.yaml") == "yaml"
    assert _shown_name("ansible_collections.community.general.plugins.inventory.proxmox") == "community.general.proxmox"
    assert _shown_name("ini") == "ini"
