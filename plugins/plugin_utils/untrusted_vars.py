# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which variables a repository read with trust_repo=false may set (documented in docs/trust.md).

An allow-list: such a repository sets data and addressing, never how the controller runs things.
A variable name must be a plain ASCII identifier, and no name that holds "ansible" (ansible_*, its
internal _ansible_*, and any other spelling) survives but the addressing ones (host, port, user and
their documented aliases), each value checked as a whole string. Every connection, become and shell
option Ansible and its collections read from a variable has such a name (some are no identifiers:
ssh reads "delegated_vars['ansible_host']"), so none of them passes; every other name is data,
never templated.
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
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
    if not IDENTIFIER.fullmatch(name):
        # Ansible reads some options from keys that are no identifiers (ssh's host from
        # "delegated_vars['ansible_host']"): a data variable is a plain ASCII identifier.
        return "its name is not a plain identifier (ASCII letters, digits and _)"
    if "ansible" in name.lower():
        return "only ansible_host, ansible_port, ansible_user and their aliases may be set by an untrusted repository"
    return None
