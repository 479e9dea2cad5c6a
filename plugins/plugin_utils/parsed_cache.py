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

import hashlib
import json
import os
import pickle
import re
import sys

from ansible import constants as C
from ansible.release import __version__ as ANSIBLE_VERSION

from ansible_collections.vcs.inventory.plugins.plugin_utils import _ansible_internals as internals
from ansible_collections.vcs.inventory.plugins.plugin_utils import long_lived, messages, parsed_store

__metaclass__ = type

_RECORDED = internals.RECORDED_CALLS
_UNSUPPORTED = internals.REFUSED_CALLS
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
    data = internals.raw_inventory(plugin.inventory)
    if data is None or not internals.replay_supported():
        if data is None:
            internals.switch_off(internals.REPLAY, "the inventory wrapper is not one this collection knows", display)
        parse()
        return None
    try:
        secret = parsed_store.secret_of(os.path.dirname(checkout.entry))  # the cache root's key
    except (parsed_store.Damaged, OSError) as exc:
        display.warning(f"vcs.inventory.git: not using or storing the parse of {checkout.commit[:12]}: {exc}")
        parse()
        return None
    key = cache_key(checkout, parser, shape)
    path = os.path.join(checkout.entry, "parsed", key + ".pickle")
    pristine = internals.pristine(data)
    start = _start_state(data)
    if reuse:
        with long_lived.collector_paused():
            reused = _reuse(plugin, data, checkout, path, key, start, pristine, secret)
            if reused is not None:
                long_lived.after_load(data)  # before the collector runs again: see long_lived
                return reused[0]
    recording = _Recording(data, parser)
    with recording:
        parse()
    hosts = _hosts_of(recording.ops) if recording.ops else None
    if recording.unusable:
        display.vvv(f"vcs.inventory.git: not storing this parse: {recording.unusable}")
        return hosts
    extra = {"ansible": ANSIBLE_VERSION, "collection": collection_version(), "inspector": recording.inspector,
             "hosts": hosts, "start": start}
    try:
        snapshot = internals.snapshot(data) if pristine else None
        parsed_store.write(path, key, checkout.commit, recording.ops, extra, snapshot=snapshot, secret=secret)
    except (parsed_store.Unstorable, OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
        display.vvv(f"vcs.inventory.git: not storing this parse: {exc}")
    return hosts


def _reuse(plugin, data, checkout, path: str, key: str, start: str, pristine: bool, secret: bytes) -> tuple | None:
    """Restore or replay the stored parse; (the names of its hosts or None,), or None when there is none to use."""
    display = plugin.display
    stored = None
    try:
        stored = parsed_store.read(path, key, checkout.commit, plugin.loader, snapshot=pristine, secret=secret)
    except parsed_store.Damaged as exc:
        _damaged(display, path, exc)
    if stored is not None and stored[0].get("start") != start:
        # Parsers skip calls for groups and hosts that exist already (ini's add_group): calls recorded
        # after other sources are only right after the same ones, and an empty start only for an empty one.
        display.vvv(f"vcs.inventory.git: parsing {checkout.commit[:12]} again: its stored parse started from other sources")
        return None
    if stored is None:
        return None
    header, ops, snapshot = stored
    if snapshot is not None and internals.restore_hosts(data, snapshot):
        how = "restored"
    else:
        if ops is None:
            try:
                ops = parsed_store.read(path, key, checkout.commit, plugin.loader, secret=secret)[1]
            except parsed_store.Damaged as exc:
                _damaged(display, path, exc)
                return None
        _replay(data, ops)
        how = "replayed"
    internals.prime_trust(plugin.inventory, data, header.get("inspector"))
    display.vvv(f"vcs.inventory.git: {how} the stored parse of {checkout.commit[:12]} ({path})")
    return (header.get("hosts"),)


def _damaged(display, path: str, exc: Exception) -> None:
    display.warning(messages.damaged_stored_parse(path, str(exc)))


def _start_state(data) -> str:
    """The groups and hosts the inventory holds before this source: a stored parse is for one start."""
    names = json.dumps([sorted(map(str, data.groups)), sorted(map(str, data.hosts))])
    return hashlib.sha256(names.encode("utf-8", "surrogateescape")).hexdigest()[:32]


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
        "plugins": [type(p).__module__ + "." + str(internals.load_name(p) or "") for p in parser.plugins],
        "ignore": [list(C.INVENTORY_IGNORE_EXTS), list(C.INVENTORY_IGNORE_PATTERNS)],
        "yaml_ext": list(C.YAML_FILENAME_EXTENSIONS), "any_unparsed": internals.fails_on_unparsed(),
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
        self._watches = None
        self._had_trust = internals.trust_choice(data) is not None
        self.inspector = None

    def __enter__(self) -> _Recording:
        wrappers = {name: self._recorder(name) for name in _RECORDED}
        wrappers.update({name: self._refuser(name) for name in _UNSUPPORTED})
        watching = internals.watch_inventory(self.data, wrappers)
        try:
            watching.__enter__()
        except AttributeError as exc:  # an InventoryData we cannot watch: parse without storing
            self.unusable = f"cannot watch the inventory ({exc})"
            return self
        printing = internals.watch_display(("warning", "deprecated", "error"), self._printed)
        printing.__enter__()
        self._watches = (printing, watching)
        self._plugins = self.parser.plugins
        self.parser.plugins = [_WatchedPlugin(p, self) for p in self._plugins]
        return self

    def __exit__(self, *exc_info) -> None:
        if self._plugins is not None:
            self.parser.plugins = self._plugins
        for watch in self._watches or ():
            watch.__exit__(None, None, None)
        if exc_info[0] is not None:
            self.unusable = "the parse failed"
        elif not self.unusable:
            self.unusable = getattr(self.parser, "unstorable", "") or self._vaulted_source()
        if not self._had_trust:
            self.inspector = internals.trust_choice(self.data)

    def _recorder(self, name):
        data, ops = self.data, self.ops

        def wrap(real):
            def record(*args, **kwargs):
                self._depth += 1
                try:
                    result = real(*args, **kwargs)
                finally:
                    self._depth -= 1
                if self._depth == 0:  # calls made inside another call are replayed by that call
                    ops.append((name, args, kwargs or None, data.current_source))
                return result
            return record
        return wrap

    def _refuser(self, name):
        def wrap(real):
            def refuse(*args, **kwargs):
                self.unusable = f"a parser called {name}"
                return real(*args, **kwargs)
            return refuse
        return wrap

    def _printed(self, _name: str) -> None:
        self.unusable = self.unusable or "the parse printed a warning, which a replay would not repeat"

    def plugin_parsed(self, plugin) -> None:
        if type(plugin).__module__ not in _FILE_PARSERS:
            self.unusable = f"the {internals.plugin_name(plugin)} plugin parsed a file, and its result may change without a commit"

    def _vaulted_source(self) -> str:
        return vaulted({op[3] for op in self.ops if op[3]})


def vaulted(paths) -> str:
    """Why a parse that read these files must not be stored ("" when it may): a vault-encrypted file's values arrive decrypted."""
    for path in paths:
        try:
            with open(path, "rb") as handle:
                if handle.read(len(_VAULT_HEADER)) == _VAULT_HEADER:
                    return f"{path} is vault-encrypted, and its values must not be stored decrypted"
        except OSError:
            continue
    return ""


class _WatchedPlugin:
    """An inventory plugin that tells the recording when it parsed a file."""

    def __init__(self, plugin, recording: _Recording) -> None:
        self.plugin = plugin
        self.recording = recording

    def __getattr__(self, name):
        return getattr(self.plugin, name)

    def parse(self, *args, **kwargs):
        result = self.plugin.parse(*args, **kwargs)
        self.recording.plugin_parsed(self.plugin)
        return result


def _replay(data, ops) -> None:
    # Bound as a caller reaches them: an untrusted source's guard on add_host sees replayed hosts too.
    methods = {name: internals.bound_inventory_method(data, name) for name in _RECORDED}
    previous = current = data.current_source
    try:
        for name, args, kwargs, source in ops:
            if source is not current:
                data.current_source = current = source
            if kwargs:
                methods[name](*args, **kwargs)
            else:
                methods[name](*args)
    finally:
        data.current_source = previous
