# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`version` as a list: the first entry the remote has wins, chosen from one ref advertisement.

The list is kept on the sync options as (as written, as rendered) pairs. The fetch asks the remote
for the refs of every rendered entry at once (v2 ref-prefix) and picks the first entry that names an
advertised ref (branch, tag, HEAD, refs/...) or is a full commit id. The cache entry's state is keyed
by the whole rendered list, so within refresh_interval the last choice for the same list is reused
without network. No Ansible imports.
"""

from __future__ import annotations

import json
import re

from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import VersionNotFound
from ansible_collections.vcs.inventory.plugins.plugin_utils.versions import version_key

__metaclass__ = type

FULL_ID = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")


def candidates(opts) -> list[str]:
    """The rendered, non-empty entries of a version list, in order; [] when version is a plain string."""
    return [rendered for _raw, rendered in getattr(opts, "version_list", None) or [] if rendered]


def spec(opts):
    """What names the configured version: the string, or the rendered list (for keys and stored parses)."""
    listed = getattr(opts, "version_list", None)
    return opts.version if listed is None else ["list", *candidates(opts)]


def state_key(opts) -> str:
    """The key of the version's state file and mirror ref: the string's, or the whole rendered list's."""
    listed = getattr(opts, "version_list", None)
    if listed is None:
        return version_key(opts.version)
    return version_key("list:" + json.dumps(candidates(opts)))


def ref_prefixes(names: list[str]) -> list[bytes]:
    """Every ref any entry could name, for one ls-refs (protocol v2) that serves the whole list."""
    prefixes: list[bytes] = []
    for name in names:
        if FULL_ID.match(name):
            continue  # checked against the advertised tips below, whatever their names
        if name == "HEAD":
            wanted = [b"HEAD"]
        else:
            wanted = [b"refs/heads/" + name.encode(), b"refs/tags/" + name.encode()]
            if name.startswith("refs/"):
                wanted.append(name.encode())
        prefixes += [p for p in wanted if p not in prefixes]
    return prefixes


def choose(refs: dict, opts) -> str:
    """The first entry that names an advertised ref or is a full commit id; VersionNotFound listing all tried."""
    for name in candidates(opts):
        if FULL_ID.match(name):
            return name
        encoded = name.encode()
        names = [b"HEAD"] if name == "HEAD" else [b"refs/tags/" + encoded, b"refs/heads/" + encoded]
        if name.startswith("refs/"):
            names.append(encoded)
        if any(refs.get(ref) for ref in names):
            return name
    raise VersionNotFound(not_found(opts))


def not_found(opts) -> str:
    tried = []
    for raw, rendered in opts.version_list:
        shown = repr(raw) if raw == rendered else f"{raw!r} -> {rendered!r}"
        tried.append(shown + (" (empty, skipped)" if not rendered else ""))
    return (f"no entry of the option 'version' names a branch, tag or commit the repository has; tried "
            f"{', '.join(tried)}; end the list with a version the repository always has (for example its "
            "default branch)")
