# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a source file strictly: what Ansible's option handling passes over in silence fails the source.

- A key that is no option of this plugin (nor of the constructed fragment it extends) is a typo:
  Ansible ignores it, so `verison: '1.1'` would read the default branch.
- gpg_allowlist or ssh_allowed_signers without verify_commit would check no signature at all.
- A version or path that YAML typed is not what the user wrote: `1.10` is the float 1.1,
  `0123456` the octal number 42798. Ansible's str option turns both into the wrong text, so the
  type is read from the loaded file, before that coercion.
"""

from __future__ import annotations

import datetime
import difflib
import os
from collections.abc import Mapping

from ansible_collections.vcs.inventory.plugins.plugin_utils import messages

__metaclass__ = type

PLUGIN = "vcs.inventory.git"
# Options that name something in Git, where a number or a date is never what the user meant.
TEXT_OPTIONS = ("version", "path")
# Options that only mean something when verify_commit is true.
NEEDS_VERIFY = ("gpg_allowlist", "ssh_allowed_signers")
# Largest source file whose text is read again to quote a typed value as it was written.
_MAX_SOURCE = 1024 * 1024


def check(plugin, config: Mapping, source: str) -> None:
    """Raise a PluginError for the first strictness rule the loaded config breaks."""
    check_keys_and_types(plugin, config, source)
    given = [name for name in NEEDS_VERIFY if config.get(name) is not None]
    if given and not plugin.get_option("verify_commit"):
        raise messages.needs_verify_commit(given, source)


def explain(plugin, loader, source: str) -> None:
    """After Ansible refused the source's options: raise the plainer error of our checks, if one applies."""
    try:
        config = loader.load_from_file(source)
    except Exception:  # noqa: BLE001 - the file cannot be loaded at all: Ansible's message says why
        return
    if not isinstance(config, Mapping):
        return
    check_keys_and_types(plugin, config, source)
    if config.get("url") in (None, "") and config.get("repo") in (None, ""):
        raise messages.url_required()


def check_keys_and_types(plugin, config: Mapping, source: str) -> None:
    valid = valid_names(plugin.option_definitions)
    if valid:  # a plugin built without its documentation (no loader) has nothing to compare with
        for key in config:
            if key not in valid:
                raise messages.unknown_option(str(key), source, closest(str(key), valid))
    for option in TEXT_OPTIONS:
        _check_text(config, option, source)


def valid_names(definitions: Mapping) -> set[str]:
    """The option names and aliases of the plugin's own documentation, as the loaded plugin holds it."""
    names = set()
    for name, definition in (definitions or {}).items():
        names.add(name)
        names.update((definition or {}).get("aliases") or ())
    return names


def closest(name: str, valid) -> str | None:
    found = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.6)
    return found[0] if found else None


def yaml_kind(value) -> str | None:
    """What YAML made of a value that is not text: a bool before int, as bool is an int in Python."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return "date"
    return None


def _check_text(config: Mapping, option: str, source: str) -> None:
    value = config.get(option)
    kind = yaml_kind(value)
    if kind is not None:
        raise messages.typed_value(option, written(source, option, None, value), kind, _shown(value), source, in_list=False)
    if isinstance(value, list):
        for index, entry in enumerate(value):
            kind = yaml_kind(entry)
            if kind is not None:
                raise messages.typed_value(option, written(source, option, index, entry), kind, _shown(entry), source,
                                           in_list=True)


def _shown(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def written(source: str, option: str, index: int | None, value) -> str:
    """The scalar as it stands in the file (1.10, 0123456, yes), else as Python shows the value."""
    import yaml

    try:
        with open(source, encoding="utf-8") as handle:
            text = handle.read(_MAX_SOURCE + 1)
        if len(text) <= _MAX_SOURCE:
            # compose() only parses: no tag (!vault, !unsafe) is constructed, and the plain text stays.
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            for key, item in node.value if isinstance(node, yaml.MappingNode) else ():
                if isinstance(key, yaml.ScalarNode) and key.value == option:
                    if index is not None and isinstance(item, yaml.SequenceNode):
                        item = item.value[index]
                    if isinstance(item, yaml.ScalarNode):
                        return item.value
    except (OSError, UnicodeError, yaml.YAMLError, IndexError, TypeError, AttributeError):
        pass
    return _shown(value)


def names_this_plugin(path: str) -> bool:
    """Whether the file at path is a YAML mapping with 'plugin: vcs.inventory.git' (a misnamed source)."""
    import yaml

    try:
        if not os.path.isfile(path) or os.path.getsize(path) > _MAX_SOURCE:
            return False
        with open(path, encoding="utf-8") as handle:
            node = yaml.compose(handle.read(), Loader=yaml.SafeLoader)
    except (OSError, UnicodeError, yaml.YAMLError):
        return False
    if not isinstance(node, yaml.MappingNode):
        return False
    for key, item in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "plugin" and isinstance(item, yaml.ScalarNode):
            return item.value == PLUGIN
    return False
