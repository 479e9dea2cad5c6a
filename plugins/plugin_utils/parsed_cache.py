# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep what Ansible's inventory parsers made of one commit, and replay it on the next run.

On a warm rerun parsing is the slow part (about 1 s for 5,000 INI hosts) while the sync is a few
milliseconds. A fresh parse is therefore recorded where it lands: every add_group, add_host,
add_child and set_variable call on the InventoryData, with the values as Ansible's inventory
wrapper (2.19 template trust) and the trust_repo guard left them. A later run with the same commit
and the same options replays those calls, in order, into the inventory: hosts, groups, children,
ports, vars and their trust are those of a fresh parse. group_vars/ and host_vars/ are not in it:
Ansible's vars plugins read them when variables are resolved.

One file per configuration, <entry>/parsed/<key>.pickle (see parsed_store), read in one go; the
key covers every option that shapes the parse, the file holds the commit. A file that is damaged,
from another version or for another commit is ignored and rewritten. Nothing is stored when the
result could depend on more than the commit's files, or would put a secret on disk: a file parsed
by another plugin than ini/yaml/toml (`auto` handing a file to a cloud plugin, scripts), a parse
that warned (a replay would not repeat the warning), or a vault-encrypted file (its values arrive
decrypted). Inline `!vault` values are stored as their ciphertext.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import pickle
import re
import sys

from ansible import constants as C
from ansible.release import __version__ as ANSIBLE_VERSION
from ansible.utils.display import Display

from ansible_collections.vcs.inventory.plugins.plugin_utils import parsed_store

__metaclass__ = type

_RECORDED = ("add_group", "add_host", "add_child", "set_variable")
_UNSUPPORTED = ("remove_host", "remove_group")  # no file parser calls these; a replay would miss them
_FILE_PARSERS = {"ansible.plugins.inventory.ini", "ansible.plugins.inventory.yaml", "ansible.plugins.inventory.toml"}
_VAULT_HEADER = b"$ANSIBLE_VAULT"
_collection_version = None


def load_or_parse(plugin, checkout, parser, parse, shape: dict, reuse: bool = True) -> list[str] | None:
    """Fill plugin.inventory from the stored parse of checkout, or run parse() and store it.

    shape holds the options that change what parse() produces (paths, trust, ...); parser is the
    CheckoutLoader parse() uses. reuse=False (--flush-cache) parses afresh. Returns the names of the
    hosts the parse defined (also those another source had added before), or None if unknown.
    """
    display = plugin.display
    data = getattr(plugin.inventory, "__wrapped__", plugin.inventory)
    key = cache_key(checkout, parser, shape)
    path = os.path.join(checkout.entry, "parsed", key + ".pickle")
    stored = None
    if reuse:
        try:
            stored = parsed_store.read(path, key, checkout.commit, plugin.loader)
        except parsed_store.Damaged as exc:
            display.warning(f"vcs.inventory.git: ignoring the damaged stored parse {path} ({exc}); parsing the checkout again")
        if stored is not None:
            header, ops = stored
            _replay(data, ops)
            _prime_trust(plugin.inventory, data, header.get("inspector"))
            display.vvv(f"vcs.inventory.git: replayed the stored parse of {checkout.commit[:12]} ({path})")
            return _hosts_of(ops)
    recording = _Recording(data, parser)
    with recording:
        parse()
    hosts = _hosts_of(recording.ops) if recording.ops else None
    if recording.unusable:
        display.vvv(f"vcs.inventory.git: not storing this parse: {recording.unusable}")
        return hosts
    extra = {"ansible": ANSIBLE_VERSION, "collection": collection_version(), "inspector": recording.inspector}
    try:
        parsed_store.write(path, key, checkout.commit, recording.ops, extra)
    except (parsed_store.Unstorable, OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
        display.vvv(f"vcs.inventory.git: not storing this parse: {exc}")
    return hosts


def _hosts_of(ops) -> list[str]:
    names = (args[0] if args else kwargs.get("host") for name, args, kwargs, _source in ops if name == "add_host")
    return list(dict.fromkeys(str(n) for n in names if n is not None))


def cache_key(checkout, parser, shape: dict) -> str:
    """Everything besides the commit that shapes the parse: options, plugins, versions, config."""
    parts = {
        "format": parsed_store.FORMAT, "ansible": ANSIBLE_VERSION, "collection": collection_version(),
        "python": list(sys.version_info[:2]), "shape": shape,
        # Where the checkout lives (origins and inventory_file name it). The commit is checked apart,
        # so that a new commit replaces the file of its configuration instead of adding one.
        "checkout": checkout.path.replace(checkout.commit, "<commit>"),
        "plugins": [type(p).__module__ + "." + str(getattr(p, "_load_name", "")) for p in parser.plugins],
        "ignore": [list(C.INVENTORY_IGNORE_EXTS), list(C.INVENTORY_IGNORE_PATTERNS)],
        "yaml_ext": list(C.YAML_FILENAME_EXTENSIONS), "any_unparsed": C.INVENTORY_ANY_UNPARSED_IS_FAILED,
    }
    if getattr(checkout, "verified", None):
        parts["verified"] = checkout.verified  # verify_commit: a parse stored under other settings is not replayed
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def constructed_options(plugin) -> dict:
    """The constructed features' options (they are applied after the parse; part of the key all the same)."""
    options = {}
    for name in ("compose", "groups", "keyed_groups", "strict", "leading_separator", "use_extra_vars"):
        try:
            options[name] = plugin.get_option(name)
        except KeyError:
            continue
    return options


def collection_version() -> str:
    global _collection_version
    if _collection_version is None:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        version = "unknown"
        try:
            with open(os.path.join(root, "MANIFEST.json"), encoding="utf-8") as handle:
                version = json.load(handle)["collection_info"]["version"]
        except (OSError, ValueError, KeyError, TypeError):
            try:  # a source checkout
                with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as handle:
                    match = re.search(r"^version:\s*['\"]?([^'\"\s]+)", handle.read(), re.M)
                version = match.group(1) if match else version
            except OSError:
                pass
        _collection_version = version
    return _collection_version


# -- recording a fresh parse -----------------------------------------------------------------

class _Recording:
    """Record the top-level InventoryData calls of a parse, the plugins that parsed and any warning."""

    def __init__(self, data, parser) -> None:
        self.data = data
        self.parser = parser
        self.ops: list = []
        self.unusable = ""
        self._depth = 0
        self._plugins = None
        self._display = Display()
        self._patched: list = []
        self._had_inspector = "_inspector" in vars(data)
        self.inspector = None

    def __enter__(self) -> _Recording:
        try:
            for name in _RECORDED:
                setattr(self.data, name, self._recorder(name))
            for name in _UNSUPPORTED:
                setattr(self.data, name, self._refuser(name))
        except AttributeError as exc:  # an InventoryData we cannot watch: parse without storing
            self.unusable = f"cannot watch the inventory ({exc})"
            self._unpatch_data()
            return self
        self._plugins = self.parser.plugins
        self.parser.plugins = [_WatchedPlugin(p, self) for p in self._plugins]
        for name in ("warning", "deprecated", "error"):
            self._watch_display(name)
        return self

    def __exit__(self, *exc_info) -> None:
        self._unpatch_data()
        if self._plugins is not None:
            self.parser.plugins = self._plugins
        for name, had, previous in self._patched:
            if had:
                setattr(self._display, name, previous)
            else:
                self._display.__dict__.pop(name, None)
        if exc_info[0] is not None:
            self.unusable = "the parse failed"
        elif not self.unusable:
            self.unusable = self._vaulted_source()
        inspector = vars(self.data).get("_inspector")
        if inspector is not None and not self._had_inspector:
            self.inspector = bool(getattr(inspector, "trusted_as_template", False))

    def _unpatch_data(self) -> None:
        for name in _RECORDED + _UNSUPPORTED:
            self.data.__dict__.pop(name, None)

    def _recorder(self, name):
        real = getattr(type(self.data), name)
        data, ops = self.data, self.ops

        def record(*args, **kwargs):
            self._depth += 1
            try:
                result = real(data, *args, **kwargs)
            finally:
                self._depth -= 1
            if self._depth == 0:  # calls made inside another call are replayed by that call
                ops.append((name, args, kwargs or None, data.current_source))
            return result
        return record

    def _refuser(self, name):
        real = getattr(type(self.data), name)

        def refuse(*args, **kwargs):
            self.unusable = f"a parser called {name}"
            return real(self.data, *args, **kwargs)
        return refuse

    def _watch_display(self, name: str) -> None:
        had = name in self._display.__dict__
        previous = getattr(self._display, name)

        def watched(*args, **kwargs):
            self.unusable = self.unusable or "the parse printed a warning, which a replay would not repeat"
            return previous(*args, **kwargs)
        self._patched.append((name, had, previous))
        setattr(self._display, name, watched)

    def plugin_parsed(self, plugin) -> None:
        if type(plugin).__module__ not in _FILE_PARSERS:
            name = getattr(plugin, "_load_name", type(plugin).__name__)
            self.unusable = f"the {name} plugin parsed a file, and its result may change without a commit"

    def _vaulted_source(self) -> str:
        for source in {op[3] for op in self.ops if op[3]}:
            try:
                with open(source, "rb") as handle:
                    if handle.read(len(_VAULT_HEADER)) == _VAULT_HEADER:
                        return f"{source} is vault-encrypted, and its values must not be stored decrypted"
            except OSError:
                continue
        return ""


class _WatchedPlugin:
    """An inventory plugin that tells the recording when it parsed a file."""

    def __init__(self, plugin, recording: _Recording) -> None:
        self._plugin = plugin
        self._recording = recording

    def __getattr__(self, name):
        return getattr(self._plugin, name)

    def parse(self, *args, **kwargs):
        result = self._plugin.parse(*args, **kwargs)
        self._recording.plugin_parsed(self._plugin)
        return result


def _replay(data, ops) -> None:
    methods = {name: getattr(type(data), name) for name in _RECORDED}
    previous = current = data.current_source
    enabled = gc.isenabled()
    gc.disable()  # tens of thousands of new objects: collections would cost more than the replay
    try:
        for name, args, kwargs, source in ops:
            if source is not current:
                data.current_source = current = source
            if kwargs:
                methods[name](data, *args, **kwargs)
            else:
                methods[name](data, *args)
    finally:
        data.current_source = previous
        if enabled:
            gc.enable()


def _prime_trust(wrapper, data, trusted) -> None:
    """Leave the inventory's trust helper as the recorded parse left it (ansible-core 2.19).

    2.19's inventory wrapper decides once per inventory, at the first set_variable, whether plain
    strings get template trust, from the plugin parsing at that moment, and keeps that choice for
    every later source. A replay sets nothing through the wrapper, so the choice is made here.
    """
    if trusted is None or "_inspector" in data.__dict__ or not hasattr(type(wrapper), "_inspector"):
        return

    class _Parser:
        trusted_by_default = trusted

    previous = wrapper._target_plugin
    wrapper._target_plugin = _Parser
    try:
        wrapper._inspector  # noqa: B018 - computing the cached property is the point
    finally:
        wrapper._target_plugin = previous
