# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which variables a repository read with trust_repo=false may set (documented in docs/trust.md).

Such a repository sets data and addressing, never how the controller runs things. Dropped:
- every variable that sets an option of a connection, become or shell plugin Ansible can load
  (read from the plugins' own declarations, so a new core's new option is covered), of Ansible's
  own settings, and of the play keywords behind them (C.MAGIC_VARIABLE_MAPPING: become, shell, ...);
- every variable named like a program, its arguments or its flags (RUNS_PROGRAMS), also for
  plugins that are not installed here;
- ansible_connection, unless it names a remote transport.
Kept: the addressing variables (host, port, user and their aliases), once their values are checked.
"""

from __future__ import annotations

import re

__metaclass__ = type

RUNS_PROGRAMS = re.compile(
    r"^ansible_(?:"
    r"\w+_args"  # ssh_common_args (-o ProxyCommand=...), ssh_extra_args, scp/sftp_extra_args, ssh_args, ...
    r"|\w+_exe|\w+_executable"  # become_exe, ssh_executable, scp/sftp_executable, shell_executable, ...
    r"|\w*_interpreter"  # python_interpreter, <language>_interpreter
    r"|\w*_command|\w*_cmd"  # paramiko_proxy_command, winrm_kinit_cmd, ...
    r"|\w*_flags"  # become_flags, sudo_flags, ...
    r"|\w*ssh_config"  # netconf_ssh_config: an ssh config file can hold a ProxyCommand
    r"|\w*pkcs11_provider"  # ssh_pkcs11_provider: a shared library ssh loads
    r")$"
)
# ansible_connection is kept only when it names a remote transport (local runs on the controller).
REMOTE_CONNECTIONS = {
    "ssh", "smart", "paramiko", "paramiko_ssh", "winrm", "psrp",
    "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh", "ansible.builtin.winrm", "ansible.builtin.psrp",
}
# Addressing: where and as whom to connect. Values are checked (HOST_OR_USER, a port number).
ADDRESS_VARS = {
    "ansible_host", "ansible_ssh_host", "ansible_paramiko_host", "ansible_winrm_host", "ansible_psrp_host",
    "ansible_user", "ansible_ssh_user", "ansible_paramiko_user", "ansible_winrm_user", "ansible_psrp_user",
}
PORT_VARS = {"ansible_port", "ansible_ssh_port", "ansible_paramiko_port", "ansible_winrm_port", "ansible_psrp_port"}
# No leading "-" (an option to ssh), no whitespace, no shell metacharacter: sudo, ssh's ProxyCommand
# %h/%r and many connection plugins put these values into command lines.
HOST_OR_USER = re.compile(r"^[A-Za-z0-9_.:%@+=,^/][A-Za-z0-9_.:%@+=,^/-]*$")

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
    return {n for n in names if isinstance(n, str) and n.startswith("ansible_")}


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


def why_dropped(name: str, value) -> str | None:
    """None when the repository may set name=value, else why not (for the warning)."""
    if not isinstance(name, str) or not name.startswith("ansible_"):
        return None
    if name == "ansible_connection":
        return None if str(value) in REMOTE_CONNECTIONS else "it would make the controller run the tasks or a program"
    if name in ADDRESS_VARS:
        if isinstance(value, str) and HOST_OR_USER.match(value):
            return None
        return "its value is not a plain host or user name (it starts with '-', or holds whitespace or shell characters)"
    if name in PORT_VARS:
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
            return None
        if isinstance(value, str) and value.isdigit() and 0 < int(value) < 65536:
            return None
        return "its value is not a port number"
    if RUNS_PROGRAMS.match(name):
        return "it would make the controller run a program"
    if name in controller_settings():
        return "it sets how the controller connects or runs things"
    return None
