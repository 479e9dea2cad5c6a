# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Explain a source that added no hosts.

A local copy with no hosts is no error for Ansible, so it is none here either; but it is usually a
mistake with a costly end (AWX with "overwrite" deletes every host it had), and often the reason is
invisible: ansible-core 2.16 to 2.18 skip `*.ini` files inside a directory source
(INVENTORY_IGNORE_EXTS), so `path: inventories/prod` over `inventories/prod/hosts.ini` reads nothing.
The warning names the files Ansible's ignore rules skipped, the setting that skipped each, and the fix.
"""

from __future__ import annotations

import os
import re

from ansible import constants as C

from ansible_collections.vcs.inventory.plugins.plugin_utils import messages

__metaclass__ = type

_ALWAYS = re.compile(r"^\.|^host_vars$|^group_vars$|^vars_plugins$")  # the manager's IGNORED_ALWAYS


def _rule(name: str) -> str | None:
    """The setting that makes a directory source skip name (None: it is read, or always skipped)."""
    for ext in C.INVENTORY_IGNORE_EXTS:
        if ext and name.endswith(ext):
            return f"INVENTORY_IGNORE_EXTS, '{ext}'"
    for pattern in C.INVENTORY_IGNORE_PATTERNS:
        try:
            if pattern and re.search(pattern, name):
                return f"INVENTORY_IGNORE_PATTERNS, '{pattern}'"
        except re.error:
            continue
    return None


def skipped_files(directory: str, root: str) -> list[str]:
    """Files (and directories) under directory that a directory source skips by a setting, with the setting."""
    found = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return found
    for name in names:
        full = os.path.join(directory, name)
        if _ALWAYS.search(name):
            continue
        rule = _rule(name)
        if rule:
            found.append(f"{os.path.relpath(full, root)} ({rule})")
        elif os.path.isdir(full) and not os.path.islink(full):
            found += skipped_files(full, root)
    return found


def warn_if_no_hosts(plugin, settings, checkout, added: list[str]) -> None:
    """Warn when this source added no host: where, at which commit, and which files were skipped."""
    if added:
        return
    from ansible_collections.vcs.inventory.plugins.plugin_utils.inventory_loading import resolve_path

    skipped = []
    for rel in settings.paths:
        full = resolve_path(checkout.path, rel)
        if os.path.isdir(full):
            skipped += skipped_files(full, checkout.path)
    where = ", ".join(repr(p or ".") for p in settings.paths)
    plugin.display.warning(messages.no_hosts(where, checkout.safe_url, checkout.commit, skipped))
