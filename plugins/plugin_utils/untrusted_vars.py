# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which variables a repository read with trust_repo=false may set (documented in docs/trust.md).

An allow-list: such a repository sets data and addressing, never how the controller runs things.
- Among the ansible_* variables only the addressing ones survive (host, port, user and their
  documented aliases), each value checked as a whole string;
- any other name that sets an option of a connection, become or shell plugin Ansible can load, or
  of Ansible itself, is dropped too (read from the plugins' own declarations: some plugins take
  variables without the ansible_ prefix);
- every other name is data: kept, never templated.
"""

from __future__ import annotations

import re

__metaclass__ = type

# Addressing: where and as whom to connect, as the connection plugins document them.
ADDRESS_VARS = {
    "ansible_host", "ansible_ssh_host", "ansible_paramiko_host", "ansible_winrm_host", "ansible_psrp_host",
    "ansible_user", "ansible_ssh_user", "ansible_paramiko_user", "ansible_winrm_user", "ansible_psrp_user",
}
PORT_VARS = {"ansible_port", "ansible_ssh_port", "ansible_paramiko_port", "ansible_winrm_port", "ansible_psrp_port"}
ALLOWED = ADDRESS_VARS | PORT_VARS
# The whole value (fullmatch, so no trailing newline either): no leading "-" (an option to ssh), no
# whitespace, no shell metacharacter; sudo, ssh's ProxyCommand %h/%r and many connection plugins put
# these values into command lines. ASCII only: str.isalnum() would admit other scripts' digits.
HOST_OR_USER = re.compile(r"[A-Za-z0-9_.:%@+=,^/][A-Za-z0-9_.:%@+=,^/-]*")
PORT = re.compile(r"[0-9]{1,5}")

_derived: set | None = None


def controller_settings() -> set:
    """The variables that set an option of a loadable connection/become/shell plugin or of Ansible itself."""
    global _derived
    if _derived is None:
        _derived = _derive()
    return _derived


def _derive() -> set:
    from ansible import constants as C
    from ansible.plugins.loader import become_loader, connection_loader, shell_loader

    from ansible_collections.vcs.inventory.plugins.plugin_utils import _ansible_internals as internals

    names = set()
    for definition in (C.config.get_configuration_definitions() or {}).values():
        names.update(v["name"] for v in definition.get("vars") or [] if isinstance(v, dict) and "name" in v)
    for variables in getattr(C, "MAGIC_VARIABLE_MAPPING", {}).values():
        names.update(variables)
    for kind, loader in (("connection", connection_loader), ("become", become_loader), ("shell", shell_loader)):
        for name in _plugin_names(kind, loader):
            try:
                plugin = loader.get(name, class_only=True)
            except Exception:  # noqa: BLE001 - a broken third-party plugin must not stop the run
                plugin = None
            if plugin is None:
                continue
            definitions = C.config.get_configuration_definitions(kind, internals.load_name(plugin) or name) or {}
            for definition in definitions.values():
                names.update(v["name"] for v in definition.get("vars") or [] if isinstance(v, dict) and "name" in v)
    return {n for n in names if isinstance(n, str)} - ALLOWED


def _plugin_names(kind: str, loader) -> list[str]:
    """Every plugin of a kind: ansible-core's own and those of installed collections."""
    from ansible_collections.vcs.inventory.plugins.plugin_utils import _ansible_internals as internals

    names = [internals.load_name(p) for p in loader.all(class_only=True)]
    try:
        from ansible.plugins.list import list_plugins

        names += list(list_plugins(kind))
    except Exception:  # noqa: BLE001 - the collection listing is best effort; RUNS_PROGRAMS still applies
        pass
    return sorted({n for n in names if n})


def plain_name(value) -> bool:
    """Whether value is a plain host, user or group name (the whole string)."""
    return isinstance(value, str) and HOST_OR_USER.fullmatch(value) is not None


def why_dropped(name: str, value) -> str | None:
    """None when the repository may set name=value, else why not (for the warning)."""
    if not isinstance(name, str):
        return "its name is not a string"
    if name in ADDRESS_VARS:
        return None if plain_name(value) else (
            "its value is not a plain host or user name (it starts with '-', or holds whitespace or shell characters)")
    if name in PORT_VARS:
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
            return None
        if isinstance(value, str) and PORT.fullmatch(value) and 0 < int(value) < 65536:
            return None
        return "its value is not a port number (1-65535)"
    if name.startswith("ansible_"):
        return "only ansible_host, ansible_port, ansible_user and their aliases may be set by an untrusted repository"
    if name in controller_settings():
        return "it sets how the controller connects or runs things"
    return None
