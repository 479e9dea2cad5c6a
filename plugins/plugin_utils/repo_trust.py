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


# Every form Ansible renders: the three Jinja delimiters, and a "#jinja2:" header (it sets other
# delimiters, so "[[ ... ]]" renders after it). Counted anywhere in the string, not only at its start.
TEMPLATE_MARKS = ("{{", "{%", "{#", "#jinja2:")


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
    """Inventory proxy for an untrusted repository (trust_repo: false).

    Values lose template trust and only allow-listed variables are kept (untrusted_vars). The
    repository's variables reach only the hosts it added itself: group variables (inline and
    group_vars/) are gathered here, not stored on the groups, and finish() gives each of the
    repository's own hosts what Ansible's precedence would give it from them. Hosts of other
    sources, `all` included, get nothing from the repository; names Ansible takes for the
    controller are refused.

    buffered=False (the constructed features, after the parse): a variable is stored at once, on
    the repository's own hosts only.
    """

    def __init__(self, inner, display, own=None, buffered: bool = False) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "_inner", inner)
        setattr_(self, "_display", display)
        setattr_(self, "_foreign", frozenset(inner.hosts) if own is None else None)
        setattr_(self, "_own", {} if own is None else dict.fromkeys(own))
        setattr_(self, "_refused", set())
        setattr_(self, "_buffered", buffered)
        setattr_(self, "_layer", 0)  # 0: the inventory files; 1: group_vars/ and host_vars/
        setattr_(self, "_group_vars", ({}, {}))
        setattr_(self, "_host_vars", ({}, {}))
        setattr_(self, "_warned", set())
        setattr_(self, "_reading", None)  # the vars directory being read, for the warnings

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __setattr__(self, name, value):
        if internals.keep_untrusted_target(name):
            return  # keep our plugin (trusted_by_default False) as the target: no trust is added back
        setattr(self._inner, name, value)

    def _warn(self, text: str) -> None:
        if text not in self._warned:
            self._warned.add(text)
            self._display.warning(messages.face(text))

    def _where(self) -> str:
        source = self._reading or getattr(self._inner, "current_source", None)
        return f" in {source}" if source else ""

    def set_variable(self, entity, varname, value):
        if entity in self._refused or entity is None:
            return
        why = untrusted_vars.why_dropped(varname, value)
        if why is not None:
            self._warn(f"dropped the variable {varname!r} of {entity!r}{self._where()}: trust_repo is false and {why}")
            return
        if entity in self._inner.groups:
            if not self._buffered:
                self._warn(f"dropped the variable {varname!r} of the group {entity!r}: trust_repo is false, so "
                           "the repository's variables go to its own hosts only")
                return
            self._group_vars[self._layer].setdefault(entity, {})[varname] = value
        elif entity in self._own:
            if self._buffered:
                self._host_vars[self._layer].setdefault(entity, {})[varname] = value
            else:
                raw_inventory(self._inner).set_variable(entity, varname, wrap_shared(value))
        else:
            self._warn(f"ignored the variables the repository sets for {entity!r}{self._where()}: another "
                       "source defines that host, and trust_repo is false, so the repository may not change it")

    # ansible-core 2.16 renders a template in a host or group name (inventory_hostname, group_names).
    def add_host(self, host, group=None, port=None):
        _refuse_template_name("host", host)
        # Without ansible_host the host name is the address ssh is given, as an argument of its own
        # and in ProxyCommand's %h: "-oProxyCommand=..." would be an option, "a;b" a command.
        if not untrusted_vars.plain_name(str(host)):
            raise messages.host_name_not_plain(str(host))
        if str(host).lower() in CONTROLLER_NAMES:
            self._refused.add(host)
            self._warn(f"refused the host {str(host)!r}{self._where()}: Ansible runs tasks for that name on the "
                       "controller (delegate_to, local actions), and trust_repo is false")
            return None
        if group in self._refused:
            group = None
        if port is not None and (self._foreign is None or host in self._foreign):
            # add_host stores the port as a variable: not on a host another source defined.
            self._warn(f"ignored the port the repository gives {str(host)!r}{self._where()}: another source "
                       "defines that host, and trust_repo is false, so the repository may not change it")
            port = None
        elif port is not None and untrusted_vars.why_dropped("ansible_port", port) is not None:
            self._warn(f"dropped the port {str(port)!r} of {str(host)!r}{self._where()}: it is not a port number (1-65535)")
            port = None
        name = self._inner.add_host(host, group, port)
        if self._foreign is not None and name not in self._foreign:
            self._own.setdefault(name)
        return name

    def add_group(self, group):
        _refuse_template_name("group", group)
        if not untrusted_vars.plain_name(str(group)):
            self._refused.add(group)
            self._warn(f"refused the group {str(group)!r}{self._where()}: it is not a plain name (letters, digits "
                       "and _.:%@+=,^/-), and trust_repo is false")
            return None
        return self._inner.add_group(group)

    def add_child(self, group, child):
        if group in self._refused or child in self._refused or group is None or child is None:
            return False
        return self._inner.add_child(group, child)

    def read_vars_dirs(self, loader, fulls) -> str:
        """Gather group_vars/ and host_vars/ beside each path for the repository's own hosts.

        Returns why the result must not be stored ("" when it may): a vault-encrypted vars file
        arrives decrypted.
        """
        from ansible.plugins.loader import vars_loader

        vars_plugin = vars_loader.get("ansible.builtin.host_group_vars")
        object.__setattr__(self, "_layer", 1)
        data = self._inner
        hosts = [data.get_host(name) for name in self._own if data.get_host(name) is not None]
        groups = {}
        for host in hosts:
            for group in _groups_of(data, host):
                groups.setdefault(group.name, group)
        unstorable = ""
        for full in fulls:
            base = full if os.path.isdir(full) else os.path.dirname(full)
            unstorable = unstorable or _vaulted_vars_file(base)
            object.__setattr__(self, "_reading", os.path.join(base, "group_vars"))
            for name in sorted(groups):
                for key, value in (vars_plugin.get_vars(loader, base, [groups[name]]) or {}).items():
                    self.set_variable(name, key, value)
            object.__setattr__(self, "_reading", os.path.join(base, "host_vars"))
            for host in hosts:
                for key, value in (vars_plugin.get_vars(loader, base, [host]) or {}).items():
                    self.set_variable(host.name, key, value)
        object.__setattr__(self, "_reading", None)
        return unstorable

    def finish(self) -> None:
        """Give each of the repository's own hosts its variables, in Ansible's order of precedence.

        Inline group vars (all first, then by depth, priority and name), group_vars/ likewise, the
        host's inline vars, then host_vars/: what the VariableManager gives a host of a local copy.
        """
        from ansible.inventory.helpers import sort_groups
        from ansible.utils.vars import combine_vars

        raw = raw_inventory(self._inner)
        for name in self._own:
            host = raw.get_host(name)
            if host is None:
                continue
            groups = sort_groups(_groups_of(raw, host))
            merged: dict = {}
            for layer in self._group_vars:
                for group in groups:
                    merged = combine_vars(merged, layer.get(group.name, {}))
            for layer in self._host_vars:
                merged = combine_vars(merged, layer.get(name, {}))
            for key, value in merged.items():
                raw.set_variable(name, key, wrap_shared(value))


def _groups_of(data, host) -> list:
    """The host's groups as the run will see them: the manager adds all (and ungrouped) only after every source."""
    groups = list(host.get_groups())
    extra = ["all"] + (["ungrouped"] if all(g.name == "all" for g in groups) else [])
    groups += [data.groups[name] for name in extra if name in data.groups and data.groups[name] not in groups]
    return groups


def guard_own_hosts(inventory, own, display) -> None:
    """The repository's variables leave a host of its own as soon as a later source defines it too.

    A source parsed before this one is seen when the repository adds the host (its variables are
    ignored there); one parsed after it is seen here, when it adds the host, until the manager
    reconciles the inventory after its last source.
    """
    data = raw_inventory(inventory)
    owned = {}
    for name in own:
        host = data.get_host(name)
        if host is not None:
            owned[name] = [key for key in host.vars if key not in ("inventory_file", "inventory_dir")]

    def on_add(name) -> None:
        keys = owned.pop(name, None)
        host = data.hosts.get(name) if keys else None
        if host is None:
            return
        for key in keys:
            host.vars.pop(key, None)
        display.warning(messages.face(
            f"removed the variables the repository set for {str(name)!r}: a later source defines that host too, "
            "and trust_repo is false, so the repository may not set them"))

    if owned:
        internals.claims_of_hosts(data, on_add)


# The names Ansible treats as the controller (C.LOCALHOST); delegate_to: localhost looks them up.
CONTROLLER_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def _vaulted_vars_file(base: str) -> str:
    from ansible_collections.vcs.inventory.plugins.plugin_utils.parsed_cache import vaulted

    return vaulted(os.path.join(dirpath, name) for top in ("group_vars", "host_vars")
                   for dirpath, _dirs, names in os.walk(os.path.join(base, top)) for name in names)


def _refuse_template_name(kind: str, name) -> None:
    if looks_like_template(name):
        raise messages.template_name(kind, str(name))


def untrusted_inventory(inventory, display, own=None, buffered: bool = False):
    return _UntrustedInventory(inventory, display, own=own, buffered=buffered)


def load_vars_dirs(plugin, inventory, fulls) -> None:
    """Read group_vars/ and host_vars/ beside each path with Ansible's host_group_vars plugin.

    Used for a trusted repository when no inventory manager drives us: the values land in the
    inventory as group and host vars, as the vars plugins would give them.
    """
    from ansible.plugins.loader import vars_loader

    vars_plugin = vars_loader.get("ansible.builtin.host_group_vars")
    for full in fulls:
        base = full if os.path.isdir(full) else os.path.dirname(full)
        for name in sorted(set(inventory.groups)):
            group = inventory.groups[name]
            data = vars_plugin.get_vars(plugin.loader, base, [group])
            for key, value in (data or {}).items():
                inventory.set_variable(name, key, value)
        for name in sorted(set(inventory.hosts)):
            host = inventory.get_host(name)
            data = vars_plugin.get_vars(plugin.loader, base, [host])
            for key, value in (data or {}).items():
                inventory.set_variable(name, key, value)
