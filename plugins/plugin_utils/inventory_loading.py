# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load the inventory inside a checkout exactly as Ansible loads a local copy given with -i.

Files are handed to Ansible's own inventory plugins, in the order the run enables them, and a
directory is walked with the inventory manager's own ignore rules. group_vars/ and host_vars/
beside the path are read by Ansible's own vars plugins: the path is registered with the running
inventory manager as a vars-only source (see register_vars_source), so precedence, vault and
template trust are exactly those of a local copy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from ansible import constants as C
from ansible.inventory.manager import IGNORED
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.loader import inventory_loader

from ansible_collections.vcs.inventory.plugins.plugin_utils import _ansible_internals as internals
from ansible_collections.vcs.inventory.plugins.plugin_utils import messages

__metaclass__ = type

OWN_PLUGIN = "vcs.inventory.git"
# Plugins that never read a file, or that would hand us back to ourselves.
_NOT_FOR_FILES = {"host_list", "advanced_host_list", "ansible.builtin.host_list", "ansible.builtin.advanced_host_list"}
_SCRIPT = {"script", "ansible.builtin.script"}


def resolve_path(root: str, rel: str | None, option: str = "path") -> str:
    """Join a repo-relative path to the checkout, refusing anything that leaves it."""
    rel = (rel or "").strip()
    if rel in ("", ".", "/"):
        return root
    if os.path.isabs(rel) or rel.startswith("~"):
        raise messages.path_absolute(option, rel)
    normal = os.path.normpath(rel)
    if normal == ".." or normal.startswith(".." + os.sep):
        raise messages.path_climbs(option, rel)
    full = os.path.join(root, normal)
    real_root = os.path.realpath(root)
    real = os.path.realpath(full)
    if real != real_root and not real.startswith(real_root + os.sep):
        raise messages.path_through_symlink(option, rel)
    return full


# An untrusted repository is data: only these parsers read it (no auto, script, constructed, ...).
DATA_PARSERS = ("yaml", "ini", "toml")
# Nested sources of this plugin (a *.git.yml inside a checkout, read by auto) go no deeper than this.
MAX_NESTING = 4


def _short(name: str) -> str:
    return name.removeprefix("ansible.builtin.")


def _shown_name(name: str) -> str:
    """A plugin's name as a user writes it ('yaml', 'community.general.x'), not its Python module path."""
    match = re.match(r"^ansible_collections\.(\w+)\.(\w+)\.plugins\.inventory\.(\w+)$", name)
    return _short(".".join(match.groups())) if match else name


def _plugin_names(allow_scripts: bool, data_only: bool = False) -> list[str]:
    if data_only:
        enabled = [_short(n) for n in C.INVENTORY_ENABLED if _short(n) in DATA_PARSERS]
        return ["ansible.builtin." + n for n in dict.fromkeys(enabled or DATA_PARSERS)]
    names = []
    for name in C.INVENTORY_ENABLED:
        if name in _NOT_FOR_FILES or name in (OWN_PLUGIN, "git") or (name in _SCRIPT and not allow_scripts):
            continue
        names.append(name)
    return names or list(DATA_PARSERS)


_PLUGIN_WORD = re.compile(rb"plugin")


def names_inventory_plugin(path: str) -> bool:
    """Whether the file is an inventory plugin configuration (a mapping with a 'plugin' key).

    Read as YAML (JSON is YAML) or TOML, only when the word appears at all. PyYAML's safe loader
    shares aliased objects, so a file of nested aliases costs no more than its size here.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    if not _PLUGIN_WORD.search(data):
        return False
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        doc = yaml.load(data, Loader=loader)  # noqa: S506 - a safe loader
    except Exception:  # noqa: BLE001 - not YAML: maybe TOML
        doc = None
    if not isinstance(doc, Mapping):
        try:
            import tomllib

            doc = tomllib.loads(data.decode("utf-8"))
        except Exception:  # noqa: BLE001 - neither: the data parsers will say what is wrong with it
            return False
    return isinstance(doc, Mapping) and "plugin" in doc


# -- sources of this plugin that are being loaded, outermost first --------------------------------

@dataclass(frozen=True)
class Scope:
    """What one source of this plugin allows while its checkout is being loaded."""

    source: tuple  # (safe url, version, paths): a nested source equal to one of these loads itself
    allow_scripts: bool
    trust_repo: bool


_ACTIVE: list[Scope] = []


def nested_limits() -> Scope | None:
    """The narrowest permissions of the sources loading this one; None when it is not nested."""
    if not _ACTIVE:
        return None
    return Scope((), all(s.allow_scripts for s in _ACTIVE), all(s.trust_repo for s in _ACTIVE))


def check_nesting(source: tuple) -> None:
    if any(scope.source == source for scope in _ACTIVE):
        raise messages.nested_loop()
    if len(_ACTIVE) >= MAX_NESTING:
        raise messages.nested_too_deep(MAX_NESTING)


@contextmanager
def loading(scope: Scope):
    _ACTIVE.append(scope)
    try:
        yield
    finally:
        _ACTIVE.remove(scope)


def _is_script(path: str) -> bool:
    if not os.access(path, os.X_OK):
        return False
    try:
        with open(path, "rb") as handle:
            return handle.read(2) == b"#!"
    except OSError:
        return False


def _ignored(name: str) -> bool:
    # The manager's own rule for directory sources (hidden files, group_vars, *.retry, ...).
    return bool(IGNORED.search(to_bytes(name) if isinstance(IGNORED.pattern, bytes) else name))


class CheckoutLoader:
    """Parse files of one checkout into the inventory, one Ansible inventory plugin at a time."""

    def __init__(self, inventory, loader, display, allow_scripts: bool, cache: bool, trust_repo: bool = True) -> None:
        self.inventory = inventory
        self.loader = loader
        self.display = display
        self.allow_scripts = allow_scripts
        self.trust_repo = trust_repo
        self.cache = cache
        self.unstorable = ""  # why this parse must not be stored, when the loader knows (read by parsed_cache)
        self.plugins = []
        for name in _plugin_names(allow_scripts, data_only=not trust_repo):
            plugin = inventory_loader.get(name)
            if plugin is None:
                raise messages.parser_not_found(name)
            self.plugins.append(plugin)

    def load(self, path: str, root: str) -> None:
        """Parse path (file or directory); raise when a top-level file cannot be parsed at all."""
        if os.path.isdir(path):
            self._load_dir(path, root)
            return
        failures = self._load_file(path, root)
        if failures is not None:
            raise messages.unparsable(os.path.relpath(path, root),
                                      "; ".join(f"{name}: {to_text(exc)}" for name, exc in failures))

    def _load_dir(self, directory: str, root: str) -> None:
        for name in sorted(os.listdir(directory)):
            if _ignored(name):
                continue
            full = os.path.join(directory, name)
            real = os.path.realpath(full)
            real_root = os.path.realpath(root)
            if real != real_root and not real.startswith(real_root + os.sep):
                self.display.warning(messages.leads_outside(os.path.relpath(full, root)))
                continue
            if os.path.isdir(full):
                self._load_dir(full, root)
                continue
            failures = self._load_file(full, root)
            if failures:
                # What the inventory manager says of a file it cannot parse in a directory source.
                for name_, exc in failures:
                    self.display.warning(messages.plugin_cannot_parse(name_, os.path.relpath(full, root), to_text(exc)))
                self.display.warning(messages.skipped_unparsable(os.path.relpath(full, root)))

    def _load_file(self, path: str, root: str):
        """Return None when parsed, else the list of (plugin, error) failures ([] if none wanted it)."""
        if not self.allow_scripts and _is_script(path):
            self.display.warning(messages.script_not_run(os.path.relpath(path, root)))
            return None
        if not self.trust_repo and names_inventory_plugin(path):
            self.display.warning(messages.plugin_config_skipped(os.path.relpath(path, root)))
            return None
        failures = []
        previous_source = getattr(self.inventory, "current_source", None)
        self.inventory.current_source = path
        try:
            for plugin in self.plugins:
                try:
                    wanted = bool(plugin.verify_file(path))
                except Exception:
                    wanted = False
                if not wanted:
                    continue
                name = _shown_name(to_text(internals.plugin_name(plugin)))
                try:
                    # 2.19: the inventory wrapper applies template trust as the real parser declares it.
                    with internals.target_plugin(self.inventory, plugin):
                        plugin.parse(self.inventory, self.loader, path, cache=self.cache)
                    try:
                        plugin.update_cache_if_changed()
                    except AttributeError:
                        pass
                    self.display.vvv(f"vcs.inventory.git: parsed {path} with the {name} plugin")
                    return None
                except Exception as exc:  # the manager collects every plugin's failure the same way
                    failures.append((name, exc))
        finally:
            self.inventory.current_source = previous_source
        return failures


# -- group_vars/ and host_vars/ through Ansible's own vars plugins ---------------------------------

class VarsSource(str):
    """An inventory manager source entry that only carries vars (group_vars/, host_vars/).

    It is false in a boolean test: the manager's parse loop skips false entries (`if source:`), so
    a checkout path is never parsed as an inventory source (which would run its executables as
    script inventories), even when an entry outlives the parse that registered it. The vars
    plugins read every entry of the list whatever its truth value.
    """

    owner: str = ""

    def __bool__(self) -> bool:
        return False


_KNOWN_SOURCE_LISTS: list = []


def unregister_vars_source(owner: str) -> None:
    """Drop our earlier vars entries for owner, in place, from every source list we handed out.

    Called before a sync, so a failed parse never leaves an old checkout in a list that the
    manager is about to iterate as if it were an inventory source.
    """
    for known in _KNOWN_SOURCE_LISTS:
        known[:] = [s for s in known if not (isinstance(s, VarsSource) and s.owner == owner)]


def register_vars_source(manager, owner: str, paths: list[str]) -> None:
    """Make the manager's vars plugins read group_vars/host_vars beside paths, as for `-i path`.

    The manager may be iterating its source list right now (our parse runs inside that loop), so
    entries are never appended to the list being iterated: the manager gets a new list, and our
    earlier entries for this owner are removed in place from every list we handed out (they
    always sit after the real sources, so removing them never disturbs the loop).
    """
    unregister_vars_source(owner)
    entries = []
    for path in paths:
        entry = VarsSource(path)
        entry.owner = owner
        entries.append(entry)
    sources = internals.inventory_sources(manager)
    new_list = [s for s in sources if not (isinstance(s, VarsSource) and s.owner == owner)] + entries
    internals.set_inventory_sources(manager, new_list)
    _KNOWN_SOURCE_LISTS.append(new_list)
    del _KNOWN_SOURCE_LISTS[:-32]
