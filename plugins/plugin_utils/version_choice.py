# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option `version` as a list, on the Ansible side: each entry checked and rendered on its own."""

from __future__ import annotations

from typing import Callable

from ansible_collections.vcs.inventory.plugins.plugin_utils import messages, strict_options


__metaclass__ = type


def render_list(raw: list, render: Callable[[str], object]) -> list[tuple[str, str]]:
    """(as written, as rendered and stripped) for every entry; an entry YAML typed as no string is refused.

    A number, boolean or date in the list would be read as something else than the user wrote
    (0123 as 83, 2024-01-01 as a date): each entry must be a string, as a single version must.
    """
    if not raw:
        raise messages.version_list_empty()
    entries = []
    for index, value in enumerate(raw, 1):
        if not isinstance(value, str):
            raise messages.version_entry_not_string(index, value, _kind(value))
        rendered = render(value)
        text = str(rendered).strip() if rendered not in (None, "") else ""
        entries.append((str.__str__(value), str.__str__(text)))
    return entries


def _kind(value) -> str:
    kind = strict_options.yaml_kind(value)  # the one reading of what YAML made of a value
    if kind:
        return f"a {kind}"
    return "a list or mapping" if isinstance(value, (list, dict)) else "no string"
