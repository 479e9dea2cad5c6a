# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How far values from the repository are trusted, and reading group_vars/host_vars by hand.

With trust_repo=false nothing from the repository is templated (ansible-core 2.19: the values
carry no template trust; older cores: they are marked unsafe), and the variables that say how the
controller connects or runs things (untrusted_vars) are dropped with a warning.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.vcs.inventory.plugins.plugin_utils import _ansible_internals as internals
from ansible_collections.vcs.inventory.plugins.plugin_utils import messages, untrusted_vars

__metaclass__ = type


def wrap_shared(value, memo: dict | None = None):
    """wrap_var that keeps what YAML shares shared.

    An anchor used many times is one object in the parsed data; wrap_var would copy it at every
    use, so a 1 KB file of nested aliases grows to billions of objects. Containers are wrapped
    once each (memo by identity); the leaves are wrapped by Ansible's own wrap_var.
    """
    if memo is None:
        memo = {}
    if isinstance(value, (str, bytes)) or value is None:
        return wrap_var(value)
    key = id(value)
    if key in memo:
        return memo[key][1]
    if isinstance(value, Mapping):
        result = {}
        memo[key] = (value, result)  # the original is held, so its id is never reused meanwhile
        for k, item in value.items():
            result[wrap_shared(k, memo)] = wrap_shared(item, memo)
        return result
    if isinstance(value, AbstractSet):
        result = {wrap_shared(item, memo) for item in value}
    elif isinstance(value, list):
        result = []
        memo[key] = (value, result)
        result.extend(wrap_shared(item, memo) for item in value)
        return result
    elif isinstance(value, tuple):
        result = tuple(wrap_shared(item, memo) for item in value)
    else:
        return wrap_var(value)
    memo[key] = (value, result)
    return result


TEMPLATE_MARKS = ("{{", "{%", "{#")


def looks_like_template(value) -> bool:
    return isinstance(value, str) and any(mark in value for mark in TEMPLATE_MARKS)


def raw_inventory(inventory):
    """The InventoryData itself, under ansible-core 2.19's per-source wrapper.

    That wrapper tags every string it stores as trusted when the plugin that first set a variable
    in this inventory was trusted by default (the TOML plugin is): the choice is cached on the
    InventoryData, so it outlives that source. Values that must stay untrusted are stored past it;
    under a wrapper this collection does not know, that cannot be promised, and the source fails.
    """
    data = internals.raw_inventory(inventory)
    if data is None:
        internals.switch_off(internals.TRUST, "the inventory wrapper is not one this collection knows")
        raise internals.untrusted_wrapper_error()
    return data


class _UntrustedInventory:
    """Inventory proxy for an untrusted repository: values lose template trust, risky vars are dropped."""

    def __init__(self, inner, display) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_display", display)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __setattr__(self, name, value):
        if internals.keep_untrusted_target(name):
            return  # keep our plugin (trusted_by_default False) as the target: no trust is added back
        setattr(self._inner, name, value)

    def set_variable(self, entity, varname, value):
        why = untrusted_vars.why_dropped(varname, value)
        if why is not None:
            self._display.warning(messages.dropped_variable(varname, entity, why))
            return
        raw_inventory(self._inner).set_variable(entity, varname, wrap_shared(value))

    # ansible-core 2.16 renders a template in a host or group name (inventory_hostname, group_names).
    def add_host(self, host, group=None, port=None):
        _refuse_template_name("host", host)
        # Without ansible_host the host name is the address ssh is given, as an argument of its own
        # and in ProxyCommand's %h: "-oProxyCommand=..." would be an option, "a;b" a command.
        if not untrusted_vars.HOST_OR_USER.match(str(host)):
            raise messages.host_name_not_plain(str(host))
        return self._inner.add_host(host, group, port)

    def add_group(self, group):
        _refuse_template_name("group", group)
        return self._inner.add_group(group)


def _refuse_template_name(kind: str, name) -> None:
    if looks_like_template(name):
        raise messages.template_name(kind, str(name))


def untrusted_inventory(inventory, display):
    return _UntrustedInventory(inventory, display)


def load_vars_dirs(plugin, inventory, fulls, trusted: bool) -> None:
    """Read group_vars/ and host_vars/ beside each path with Ansible's host_group_vars plugin.

    Used when no inventory manager drives us (or the repo is untrusted): the values land in the
    inventory as group and host vars.
    """
    from ansible.plugins.loader import vars_loader

    vars_plugin = vars_loader.get("ansible.builtin.host_group_vars")
    target = inventory if trusted else _UntrustedInventory(inventory, plugin.display)
    for full in fulls:
        base = full if os.path.isdir(full) else os.path.dirname(full)
        for name in sorted(set(inventory.groups)):
            group = inventory.groups[name]
            data = vars_plugin.get_vars(plugin.loader, base, [group])
            for key, value in (data or {}).items():
                target.set_variable(name, key, value)
        for name in sorted(set(inventory.hosts)):
            host = inventory.get_host(name)
            data = vars_plugin.get_vars(plugin.loader, base, [host])
            for key, value in (data or {}).items():
                target.set_variable(name, key, value)
