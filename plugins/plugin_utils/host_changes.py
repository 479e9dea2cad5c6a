# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a new commit changes for one source: the max_host_loss guard, the -v summary, the previous commit.

Each source (url, version and paths) keeps a record of its last good commit in the cache entry:
the commit, the one before it, and a short digest of every host's variables. The record lives
among the entry's version states (state/src-<key>.json), so garbage collection keeps the checkout
of that commit and expires the record with the others. A run whose commit equals the record's
reads the record and does nothing else.

- The guard runs inside the sync, before a new commit can become the last good one: the new
  checkout is parsed into a scratch inventory to count its hosts. A refusal makes the sync fail,
  or with use_cache serve the record's commit, stale; the record is not touched, so the guard
  holds on every later run until the limit is raised or the version pinned.
- After the real load, a changed commit is summarised in one line at -v and becomes the record.
"""

from __future__ import annotations

import hashlib
import json
import os


from ansible_collections.vcs.inventory.plugins.plugin_utils import entry_layout as layout
from ansible_collections.vcs.inventory.plugins.plugin_utils import inventory_loading, messages
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import read_json, write_json
from ansible_collections.vcs.inventory.plugins.plugin_utils.commit_guard import Refused

__metaclass__ = type

SHOWN = 10  # names listed per kind of change
_PLAIN = (str, int, float, bool, type(None))
_WHERE = ("inventory_dir", "inventory_file")  # the checkout's path: it changes with every commit


def max_host_loss(value) -> int | None:
    """The option checked: None (off) or an integer percent 0-100."""
    if value in (None, ""):
        return None
    try:
        number = int(value)
        if isinstance(value, bool) or str(number) != str(value).strip():
            raise ValueError
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= 100:
        raise messages.max_host_loss_range(value)
    return number


def record_file(entry: str, source_id: tuple) -> str:
    key = hashlib.sha256(json.dumps(list(source_id), default=list).encode()).hexdigest()[:16]
    return layout.state_file(os.path.join(entry, layout.STATE), f"src-{key}")


def _record(path: str) -> dict | None:
    record = read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("commit"), str) \
            or not layout.OBJECT_ID.match(record["commit"]) or not isinstance(record.get("hosts"), dict):
        return None  # damaged or foreign: as on a first sync
    return record


def guard(plugin, settings, source_id: tuple, limit: int | None):
    """The sync's check for max_host_loss (None when the option is off)."""
    if limit is None:
        return None

    def accept(commit: str, checkout: str, entry: str) -> None:
        record = _record(record_file(entry, source_id))
        if record is None or record["commit"] == commit or not record["hosts"]:
            return  # the first sync of this source passes; an unchanged commit costs nothing
        old = set(record["hosts"])
        try:
            now = _scratch_hosts(plugin, settings, checkout, source_id)
        except Exception:  # noqa: BLE001 - a commit that does not parse fails in the real load, with its error
            return
        removed = sorted(old - now)
        if len(removed) * 100 > limit * len(old):
            raise Refused(
                f"{commit[:12]} would remove {len(removed)} of {len(old)} hosts ({len(removed) * 100 // len(old)}%), "
                f"more than max_host_loss ({limit}) allows; last good commit {record['commit'][:12]}; removed: "
                f"{_names(removed)}. If this is meant, raise max_host_loss for one run "
                "(ANSIBLE_VCS_INVENTORY_MAX_HOST_LOSS=100, where the source file does not set it) or pin the "
                "option 'version'", keep=record["commit"])

    return accept


def _scratch_hosts(plugin, settings, checkout: str, source_id: tuple) -> set[str]:
    """The hosts the configured paths of checkout define, parsed into an inventory of their own."""
    from ansible.inventory.data import InventoryData

    data = InventoryData()
    parser = inventory_loading.CheckoutLoader(data, plugin.loader, plugin.display, settings.allow_scripts, True,
                                              trust_repo=settings.trust_repo)
    scope = inventory_loading.Scope(source_id, settings.allow_scripts, settings.trust_repo)
    with inventory_loading.loading(scope):
        for rel in settings.paths:
            full = inventory_loading.resolve_path(checkout, rel)
            if os.path.lexists(full):
                parser.load(full, checkout)
    return set(data.hosts)


def after_load(plugin, source_name: str, entry: str, source_id: tuple, checkout, added: list[str]) -> str:
    """The commit this source read before the current one ('' on the first sync); record a new good commit."""
    path = record_file(entry, source_id)
    record = _record(path)
    if record is not None and record["commit"] == checkout.commit:
        return str(record.get("previous") or "")
    if checkout.stale:  # the last good commit again (or an older one): nothing new to record
        return record["commit"] if record is not None else ""
    hosts = {name: _digest(plugin.inventory.get_host(name)) for name in added if plugin.inventory.get_host(name)}
    previous = record["commit"] if record is not None else ""
    if record is not None and plugin.display.verbosity >= 1:
        plugin.display.v(summary(source_name, record["commit"], checkout.commit, record["hosts"], hosts))
    write_json(path, {"commit": checkout.commit, "previous": previous, "hosts": hosts})
    return previous


def summary(source_name: str, old_commit: str, new_commit: str, old: dict, new: dict) -> str:
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = [name for name in sorted(set(new) & set(old)) if new[name] != old[name]]
    return (f"vcs.inventory.git: {source_name}: {old_commit[:12]} -> {new_commit[:12]}: "
            f"{len(added)} host{'' if len(added) == 1 else 's'} added{_listed(added)}, "
            f"{len(removed)} removed{_listed(removed)}, {len(changed)} with changed variables")


def _listed(names: list[str]) -> str:
    return f" ({_names(names)})" if names else ""


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _digest(host) -> str:
    """A short digest of a host's variables and groups, as the inventory holds them (vaulted values by type)."""
    host_vars = {k: v for k, v in host.get_vars().items()
                 if not str(k).startswith("git_inventory_") and k not in _WHERE}
    groups = sorted((group.name, group.get_vars()) for group in host.get_groups())
    memo: dict = {}
    return _fingerprint([host_vars, [[name, gvars] for name, gvars in groups]], memo)[:12]


def _fingerprint(value, memo: dict) -> str:
    """sha256 of a value, each container hashed once (memo by identity).

    YAML aliases share one object many times; walking them as a tree (json.dumps) would cost what
    a copy costs, billions of leaves for a 1 KB file. A value of another type than plain data (an
    encrypted one above all) counts by its type, never its text.
    """
    key = id(value)
    if key in memo:
        return memo[key][1]
    if isinstance(value, dict):
        items = sorted((str(k), _fingerprint(v, memo)) for k, v in value.items())
        text = "d" + json.dumps(items)
    elif isinstance(value, (list, tuple)):
        text = "l" + json.dumps([_fingerprint(v, memo) for v in value])
    elif isinstance(value, _PLAIN) and not _secret_type(value):
        plain = value if type(value) in _PLAIN else str.__str__(value) if isinstance(value, str) else value
        text = "v" + json.dumps(plain, default=_type_name)
    else:
        text = "t" + _type_name(value)
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    memo[key] = (value, digest)  # the value is held, so its id is never reused meanwhile
    return digest


def _secret_type(value) -> bool:
    name = type(value).__name__.lower()
    return "vault" in name or "encrypted" in name


def _type_name(value) -> str:
    return f"<{type(value).__name__}>"
