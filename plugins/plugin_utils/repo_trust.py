# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How far values from the repository are trusted, and reading group_vars/host_vars by hand.

With trust_repo=false nothing from the repository is templated (ansible-core 2.19: the values
carry no template trust; older cores: they are marked unsafe), and the variables below, which
make the controller run programs even when they are not templated, are dropped with a warning.
"""

from __future__ import annotations

import os
import re

from ansible.utils.unsafe_proxy import wrap_var

__metaclass__ = type

# The one list of variables that run programs on the controller (documented in docs/security.md).
RUNS_PROGRAMS = re.compile(
    r"^ansible_("
    r"ssh_common_args|ssh_extra_args|scp_extra_args|sftp_extra_args|ssh_args"
    r"|\w+_args"  # any connection/become plugin's extra arguments
    r"|\w+_exe|\w+_executable"  # ansible_become_exe, ansible_ssh_executable, ansible_shell_executable, ...
    r"|\w*_interpreter"  # ansible_python_interpreter, ansible_<lang>_interpreter
    r"|\w*proxy_command|\w*_command"  # ansible_paramiko_proxy_command, ...
    r"|become_flags|\w+_flags"
    r")$"
)
# ansible_connection is dropped unless it names a remote transport.
REMOTE_CONNECTIONS = {
    "ssh", "paramiko", "paramiko_ssh", "winrm", "psrp",
    "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh", "ansible.builtin.winrm", "ansible.builtin.psrp",
}


def runs_programs(name: str, value) -> bool:
    if name == "ansible_connection":
        return str(value) not in REMOTE_CONNECTIONS
    return bool(RUNS_PROGRAMS.match(name))


class _UntrustedInventory:
    """Inventory proxy for an untrusted repository: values lose template trust, risky vars are dropped."""

    def __init__(self, inner, display) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_display", display)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __setattr__(self, name, value):
        if name == "_target_plugin":
            return  # keep our plugin (trusted_by_default False) as the target: no trust is added back
        setattr(self._inner, name, value)

    def set_variable(self, entity, varname, value):
        if runs_programs(varname, value):
            self._display.warning(
                f"vcs.inventory.git: dropped the variable {varname!r} of {entity!r}: trust_repo is false and it "
                "would make the controller run a program"
            )
            return
        self._inner.set_variable(entity, varname, wrap_var(value))


def untrusted_inventory(inventory, display):
    return _UntrustedInventory(inventory, display)


def load_vars_dirs(plugin, inventory, fulls, hosts, groups, trusted: bool) -> None:
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
