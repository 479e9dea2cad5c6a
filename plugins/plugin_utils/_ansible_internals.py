# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every touch of ansible-core internals, and every difference between cores, in one place.

The rest of the collection calls the functions below and never reaches for `ansible._internal`,
a `_`-prefixed attribute of an Ansible object or `sys._getframe` (tests/unit/test_internals_guard.py
fails when it does). Each function names the cores it was verified on. Features are detected, not
versions compared: when an internal is not what a function expects, the optional machinery that
needs it switches itself off for the process with one -vvv line (switch_off), and the plugin
gives the result of a plain parse, as from a local copy. Where trust is at stake (trust_repo:
false) a missing internal makes the source fail rather than pass values on as trusted.

Optional machinery and what it needs:
- "parsed-result replay" (parsed_cache): watching InventoryData calls and the Display singleton;
  its one-step form ("one-step restore") also needs Host and Group objects whose state is their
  instance attributes, and an InventoryData that holds them in its public dicts.
- "trust markers" (2.19+): the per-source inventory wrapper (__wrapped__, _target_plugin, _inspector).
- "vars-source registration": the running InventoryManager (a frame walk) and its _sources list.
"""

from __future__ import annotations

import functools
import importlib
import io
import pickle
import sys
from collections.abc import Mapping
from contextlib import contextmanager

from ansible import constants as C
from ansible.inventory.data import InventoryData
from ansible.inventory.group import Group
from ansible.inventory.host import Host
from ansible.release import __version__ as ANSIBLE_VERSION
from ansible.utils.display import Display

try:  # ansible-core >= 2.19: data tagging
    from ansible._internal._datatag._tags import VaultedValue
    from ansible.module_utils._internal._datatag import AnsibleTagHelper
    from ansible.parsing.vault import EncryptedString
    AnsibleVaultEncryptedUnicode = None
except ImportError:  # ansible-core < 2.19
    from ansible.parsing.yaml.objects import AnsibleVaultEncryptedUnicode
    EncryptedString = VaultedValue = AnsibleTagHelper = None

__metaclass__ = type

PREFIX = "vcs.inventory.git: "
REPLAY = "parsed-result replay"
RESTORE = "one-step restore"
TRUST = "trust markers"
VARS_SOURCES = "vars-source registration"

_off: dict[str, str] = {}


def switch_off(feature: str, reason: str, display=None) -> None:
    """Turn an optional feature off for this process, saying so once at -vvv."""
    if feature in _off:
        return
    _off[feature] = reason
    (display or Display()).vvv(f"{PREFIX}{feature} is off on ansible-core {ANSIBLE_VERSION}: {reason}; "
                               "the inventory is read as from a local copy")


def is_off(feature: str) -> bool:
    return feature in _off


# -- the run ----------------------------------------------------------------------------------

def fail_run_on_unparsed() -> None:
    """Make the InventoryManager fail the run when this source fails (verified 2.16-2.21).

    The manager reads C.INVENTORY_ANY_UNPARSED_IS_FAILED right after every plugin failed a source.
    """
    C.INVENTORY_ANY_UNPARSED_IS_FAILED = True


def fails_on_unparsed() -> bool:
    return bool(getattr(C, "INVENTORY_ANY_UNPARSED_IS_FAILED", False))


def extra_vars(plugin) -> dict:
    """The extra vars (-e) an inventory plugin renders its options against (verified 2.16-2.21)."""
    found = getattr(plugin, "_vars", None)
    return found if isinstance(found, dict) else {}


def load_name(plugin) -> str | None:
    """The name a plugin (or plugin class) was loaded under, None if unknown (verified 2.16-2.21)."""
    return getattr(plugin, "_load_name", None)


def plugin_name(plugin) -> str:
    """The name an inventory plugin was loaded under, as the manager prints it (verified 2.16-2.21)."""
    return str(load_name(plugin) or getattr(plugin, "NAME", None) or type(plugin).__name__)


def construct(plugin, variables: dict, host: str, strict: bool) -> None:
    """compose, groups and keyed_groups of ansible.builtin.constructed for one host (verified 2.16-2.21).

    Constructable's own methods, so that the result is exactly what constructed makes of it.
    """
    opt = plugin.get_option
    plugin._set_composite_vars(opt("compose"), variables, host, strict=strict)
    plugin._add_host_to_composed_groups(opt("groups"), variables, host, strict=strict)
    plugin._add_host_to_keyed_groups(opt("keyed_groups"), variables, host, strict=strict)


# -- the inventory and 2.19's per-source wrapper (template trust) ----------------------------

def _is_data(obj) -> bool:
    return issubclass(type(obj), InventoryData)


def raw_inventory(inventory):
    """The InventoryData under 2.19's per-source wrapper, or None for a wrapper this layer does not know.

    Verified 2.16-2.18 (no wrapper: the object itself) and 2.19-2.21 (wrapt proxy, __wrapped__).
    """
    if _is_data(inventory):
        return inventory
    inner = getattr(inventory, "__wrapped__", None)
    return inner if _is_data(inner) else None


def inventory_of(plugin):
    """The inventory a plugin is building: the InventoryData, or a wrapper this layer does not know."""
    return raw_inventory(plugin.inventory) or plugin.inventory


def keep_untrusted_target(name: str) -> bool:
    """Whether setting name on an inventory proxy would hand trust decisions to another plugin (2.19-2.21)."""
    return name == "_target_plugin"


@contextmanager
def target_plugin(inventory, plugin):
    """While plugin parses, the 2.19 wrapper applies the trust plugin declares (trusted_by_default).

    Verified 2.19-2.21 (the wrapper's _target_plugin); 2.16-2.18 have no wrapper and need nothing.
    """
    if _is_data(inventory) or not hasattr(inventory, "_target_plugin"):
        if not _is_data(inventory) and raw_inventory(inventory) is not None:
            switch_off(TRUST, "the inventory wrapper has no _target_plugin")
        yield
        return
    previous = inventory._target_plugin
    inventory._target_plugin = plugin
    try:
        yield
    finally:
        inventory._target_plugin = previous


def trust_choice(data):
    """The template trust 2.19's wrapper chose for this inventory (True/False), None if none yet.

    Verified 2.19-2.21: the wrapper's functools.cached_property _inspector lands in the InventoryData's
    __dict__ (the proxy shares it). None on 2.16-2.18.
    """
    inspector = vars(data).get("_inspector")
    if inspector is None:
        return None
    return bool(getattr(inspector, "trusted_as_template", False))


def prime_trust(wrapper, data, trusted) -> None:
    """Make the wrapper choose trusted for this inventory, as the stored parse's first set_variable did.

    2.19's wrapper decides once per inventory, at the first set_variable, from the plugin parsing at
    that moment; a replay sets nothing through it. Verified 2.19-2.21; nothing to do on 2.16-2.18.
    """
    if trusted is None or "_inspector" in vars(data) or not isinstance(
            getattr(type(wrapper), "_inspector", None), functools.cached_property):
        return

    class _Parser:
        trusted_by_default = trusted

    with target_plugin(wrapper, _Parser):
        wrapper._inspector  # noqa: B018 - computing the cached property is the point


def set_variables(data, names: list, values: dict) -> None:
    """data.set_variable(name, key, value) for every name and every item of values, at once.

    Verified 2.16-2.21: InventoryData.set_variable looks the name up among the groups, then the hosts,
    and Host/Group.set_variable store a plain (non-mapping) value under a valid name in `vars`. Anything
    else goes through set_variable itself.
    """
    plain = all(isinstance(k, str) and k.isidentifier() and k != "ansible_group_priority" for k in values) and not any(
        isinstance(v, Mapping) for v in values.values())
    groups, hosts = data.groups, data.hosts
    for name in names:
        target = groups.get(name) if name in groups else hosts.get(name)
        if plain and target.__class__ in (Host, Group) and getattr(target, "vars", None).__class__ is dict:
            target.vars.update(values)
            continue
        for key, value in values.items():
            data.set_variable(name, key, value)


# -- the running InventoryManager (vars-source registration) ---------------------------------

def find_inventory_manager(inventory):
    """The InventoryManager parsing into inventory: it calls the plugin a few frames up.

    Verified 2.16-2.21 (InventoryManager.parse_source's frame, its _inventory). None elsewhere, or
    when the frames are not what is expected: the caller then reads group_vars/host_vars itself.
    """
    target = raw_inventory(inventory)
    getframe = getattr(sys, "_getframe", None)
    if target is None or getframe is None:
        switch_off(VARS_SOURCES, "the inventory manager cannot be found")
        return None
    frame = getframe(1)
    depth = 0
    while frame is not None and depth < 50:
        candidate = frame.f_locals.get("self")
        if type(candidate).__name__ == "InventoryManager" and getattr(candidate, "_inventory", None) is target:
            if not isinstance(getattr(candidate, "_sources", None), (list, tuple)):  # the CLI passes a tuple
                switch_off(VARS_SOURCES, "the inventory manager keeps no list of sources")
                return None
            return candidate
        frame = frame.f_back
        depth += 1
    return None


def inventory_sources(manager) -> list:
    """The manager's source list, which its vars plugins read (verified 2.16-2.21: _sources)."""
    return manager._sources


def set_inventory_sources(manager, sources: list) -> None:
    manager._sources = sources


def add_processed_sources(inventory, paths: list) -> None:
    """Let later sources (ansible.builtin.constructed with use_vars_plugins) read vars beside paths.

    processed_sources is the public list constructed passes to the vars plugins (2.16-2.21).
    """
    data = raw_inventory(inventory)
    processed = getattr(data, "processed_sources", None)
    if isinstance(processed, list):
        processed.extend(p for p in paths if p not in processed)


# -- watching a parse (parsed-result replay) -------------------------------------------------

RECORDED_CALLS = ("add_group", "add_host", "add_child", "set_variable")
REFUSED_CALLS = ("remove_host", "remove_group")  # no file parser calls these; a replay would miss them


def inventory_method(data, name: str):
    """The InventoryData method itself, past any watcher on the instance (verified 2.16-2.21)."""
    return getattr(type(data), name)


def bound_inventory_method(data, name: str):
    """The method a caller of data.<name> reaches: a guard set on the instance (claims_of_hosts), else the class's."""
    return vars(data).get(name) or inventory_method(data, name).__get__(data)


def claims_of_hosts(data, on_add) -> None:
    """Call on_add(name) before every add_host on this InventoryData until its sources are reconciled.

    The inventory manager calls reconcile_inventory once, after the last source parsed (verified
    2.16-2.21); the guard ends there, so an add_host task of a play is never watched. Guards of
    several sources chain; a recording or a replay of a later source calls through them.
    """
    saved = {name: vars(data).get(name) for name in ("add_host", "reconcile_inventory")}
    add_host = bound_inventory_method(data, "add_host")
    reconcile = bound_inventory_method(data, "reconcile_inventory")

    def guarded_add_host(host, group=None, port=None):
        on_add(host)
        return add_host(host, group, port)

    def reconcile_then_stop(*args, **kwargs):
        for name, previous in saved.items():
            if previous is None:
                vars(data).pop(name, None)
            else:
                setattr(data, name, previous)
        return reconcile(*args, **kwargs)

    data.add_host = guarded_add_host
    data.reconcile_inventory = reconcile_then_stop


@contextmanager
def watch_inventory(data, wrappers: dict):
    """Replace InventoryData methods on this one instance while a parse runs (verified 2.16-2.21).

    wrappers maps a method name to a callable that receives the real (bound) method and returns its
    replacement. Raises AttributeError (nothing left patched) when the instance cannot be watched.
    """
    saved = {name: vars(data).get(name) for name in wrappers}  # a guard of claims_of_hosts stays under the watch

    def restore():
        for name, previous in saved.items():
            if previous is None:
                vars(data).pop(name, None)
            else:
                setattr(data, name, previous)
    try:
        for name, wrap in wrappers.items():
            setattr(data, name, wrap(bound_inventory_method(data, name)))
    except (AttributeError, TypeError) as exc:
        restore()
        raise AttributeError(str(exc)) from None
    try:
        yield
    finally:
        restore()


@contextmanager
def watch_display(names: tuple, on_call):
    """Call on_call(name) whenever the Display singleton prints one of names (verified 2.16-2.21)."""
    display = Display()
    patched = []
    try:
        for name in names:
            had = name in vars(display)
            previous = getattr(display, name)

            def watched(*args, _name=name, _previous=previous, **kwargs):
                on_call(_name)
                return _previous(*args, **kwargs)
            setattr(display, name, watched)
            patched.append((name, had, previous))
        yield
    finally:
        for name, had, previous in reversed(patched):
            if had:
                setattr(display, name, previous)
            else:
                vars(display).pop(name, None)


def replay_supported() -> bool:
    """Whether a parse can be watched here: InventoryData methods on the instance, a Display singleton."""
    if is_off(REPLAY):
        return False
    try:
        data = InventoryData()
        missing = [n for n in RECORDED_CALLS + REFUSED_CALLS if not callable(getattr(type(data), n, None))]
        if missing or not hasattr(data, "current_source"):
            raise AttributeError(f"InventoryData has no {', '.join(missing) or 'current_source'}")
        with watch_inventory(data, {n: (lambda real: real) for n in RECORDED_CALLS}):
            pass
        if any(not callable(getattr(Display(), n, None)) for n in ("warning", "deprecated", "error")):
            raise AttributeError("Display has no warning/deprecated/error")
    except Exception as exc:  # noqa: BLE001 - whatever it is, the feature is off
        switch_off(REPLAY, str(exc) or type(exc).__name__)
        return False
    return True


# -- one-step restore: the parse's Host and Group objects, put in place at once ---------------
#
# A snapshot is written as a few pickles: an index of the names, the groups' state, then the hosts'
# state in chunks. Hosts and groups refer to each other by name (pickle persistent ids), so each
# chunk unpickles with a small memo: the peak memory of a restore stays close to what it keeps.

SNAPSHOT_CHUNK = 1000
_OBJECT_IDS = ("host", "group")


def _object_state(obj) -> dict:
    state = dict(vars(obj))
    if obj.__class__ is Group:
        if "_hosts_cache" in state:
            state["_hosts_cache"] = None  # a cache of hosts, rebuilt on use
        # The names of its hosts, which add_host consults, are kept: 2.16 rebuilds them wrongly from None
        # (as Host objects, which no name equals), and a host added again would be listed twice.
    return state


def set_object_state(obj, state: dict) -> None:
    """Give a restored Host or Group its attributes."""
    if type(obj) not in (Host, Group) or not isinstance(state, dict):
        raise pickle.UnpicklingError(f"a stored parse may set the state of hosts and groups only, not {type(obj).__name__}")
    # One attribute at a time, in the order __init__ set them: Python keeps them inline (no per-object
    # __dict__), so a restored host takes no more memory than a parsed one.
    for name, value in state.items():
        setattr(obj, name, value)


class _Snapshot:
    """The hosts and groups of an InventoryData, to be written by dump_snapshot()."""

    def __init__(self, data) -> None:
        self.groups = dict(data.groups)
        self.hosts = dict(data.hosts)
        self.localhost = data.localhost
        self.attributes = _attributes(data)

    def consistent(self) -> bool:
        """Only Host and Group objects, each known under its own name, and group host names as strings."""
        groups, hosts = self.groups, self.hosts
        if any(g.__class__ is not Group or g.name != n for n, g in groups.items()):
            return False
        if any(h.__class__ is not Host or h.name != n for n, h in hosts.items()):
            return False
        for group in groups.values():
            linked = list(group.child_groups) + list(group.parent_groups)
            if any(groups.get(g.name) is not g for g in linked) or any(hosts.get(h.name) is not h for h in group.hosts):
                return False
            if not all(isinstance(n, str) for n in getattr(group, "_hosts", None) or ()):
                return False
        if any(groups.get(g.name) is not g for h in hosts.values() for g in h.groups):
            return False
        return self.localhost is None or hosts.get(self.localhost.name) is self.localhost

    def persistent_id(self, obj):
        kind = type(obj)
        if kind is Host:
            return ("host", str(obj.name))
        if kind is Group:
            return ("group", str(obj.name))
        return None

    def parts(self):
        yield {"groups": [str(n) for n in self.groups], "hosts": [str(n) for n in self.hosts],
               "localhost": None if self.localhost is None else str(self.localhost.name), "attributes": self.attributes}
        yield ("group", [(str(n), _object_state(g)) for n, g in self.groups.items()])
        names = list(self.hosts)
        for start in range(0, len(names), SNAPSHOT_CHUNK):
            yield ("host", [(str(n), _object_state(self.hosts[n])) for n in names[start:start + SNAPSHOT_CHUNK]])


class _Restorer:
    """Empty Host and Group objects for the names of an index, filled in by the parts that follow."""

    def __init__(self, index) -> None:
        if not isinstance(index, dict) or not all(isinstance(index.get(k), list) for k in ("groups", "hosts")):
            raise pickle.UnpicklingError("a stored parse without an index of hosts and groups")
        self.objects = {"group": {n: Group.__new__(Group) for n in index["groups"]},
                        "host": {n: Host.__new__(Host) for n in index["hosts"]}}
        self.filled = {"group": set(), "host": set()}
        self.index = index

    def persistent_load(self, pid):
        try:
            return self.objects[pid[0]][pid[1]]
        except (KeyError, IndexError, TypeError):
            raise pickle.UnpicklingError(f"a stored parse refers to an unknown {pid!r}") from None

    def apply(self, part) -> None:
        kind, items = part
        for name, state in items:
            set_object_state(self.persistent_load((kind, name)), state)
            self.filled[kind].add(name)

    def result(self) -> dict:
        if any(len(self.filled[k]) != len(self.objects[k]) for k in _OBJECT_IDS):
            raise pickle.UnpicklingError("a stored parse lacks the state of some hosts or groups")
        localhost = self.index.get("localhost")
        return {"groups": self.objects["group"], "hosts": self.objects["host"],
                "localhost": None if localhost is None else self.objects["host"][localhost],
                "attributes": self.index.get("attributes")}


# -- what a stored parse may name: an exact list of (module, qualified name) --------------------
# The plain types parsers make (YAML dates and sets, what ini's literal_eval makes), and the classes
# of the values the running core's parsers make. Verified 2.16.19 (wrapped strings and containers,
# unsafe text) and 2.19.14 (tagged values, their Origin and TrustedAsTemplate tags). The writer
# refuses any other class too: a parse holding one is not stored, rather than refused at every read.

_PLAIN_TYPES = (("builtins", "complex"), ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "bytearray"),
                ("collections", "OrderedDict")) + tuple(
    ("datetime", n) for n in ("date", "datetime", "time", "timedelta", "timezone"))
if AnsibleTagHelper is not None:
    _CORE_TYPES = tuple(("ansible.module_utils._internal._datatag", "_AnsibleTagged" + n) for n in (
        "Str", "Int", "Float", "Dict", "List", "Set", "Tuple", "Date", "DateTime", "Time", "Bytes")) + (
        ("ansible.module_utils._internal._datatag", "_AnsibleTagsMapping"),
        ("ansible._internal._datatag._tags", "Origin"), ("ansible._internal._datatag._tags", "TrustedAsTemplate"))
else:
    _CORE_TYPES = (("ansible.parsing.yaml.objects", "AnsibleMapping"), ("ansible.parsing.yaml.objects", "AnsibleSequence"),
                   ("ansible.parsing.yaml.objects", "AnsibleUnicode"), ("ansible.utils.unsafe_proxy", "AnsibleUnsafeText"),
                   ("ansible.utils.unsafe_proxy", "AnsibleUnsafeBytes"))


@functools.lru_cache(maxsize=None)
def stored_types() -> dict:
    """(module, qualified name) -> class, for each class a stored parse may name on this core."""
    found = {}
    for module, name in _PLAIN_TYPES + _CORE_TYPES:
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if isinstance(cls, type) and (cls.__module__, cls.__qualname__) == (module, name):
            found[(module, name)] = cls
    return found


class StoredPickler(pickle.Pickler):
    """Writes only what StoredUnpickler reads: any other class or function is a PicklingError."""

    def reducer_override(self, obj):
        # Consulted before a class or function is written as a global (and for other objects, which pass).
        if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")):
            named = (getattr(obj, "__module__", None), obj.__qualname__)
            if named not in stored_types():
                raise pickle.PicklingError(f"a stored parse may not name {named[0]}.{named[1]}")
        return NotImplemented


class StoredUnpickler(pickle.Unpickler):
    """Reads the classes of stored_types() and nothing else: no other module, no dotted name, no function."""

    def find_class(self, module, name):
        found = stored_types().get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a stored parse")
        return found


def dump_snapshot(snap: _Snapshot, stream, persistent_id=None) -> None:
    """Write a snapshot as pickles; persistent_id (vault values) is asked about every other object."""
    def pid(obj):
        found = snap.persistent_id(obj)
        return found if found is not None or persistent_id is None else persistent_id(obj)

    for part in snap.parts():
        pickler = StoredPickler(stream, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = pid
        pickler.dump(part)


class _Unpickler(StoredUnpickler):
    def __init__(self, stream, persistent_load) -> None:
        super().__init__(stream)
        self.load_persistent = persistent_load

    def persistent_load(self, pid):
        return self.load_persistent(pid)


def load_snapshot(stream, end: int, unpickler=_Unpickler, persistent_load=None) -> dict:
    """Read what dump_snapshot() wrote, up to the offset end, for restore_hosts().

    unpickler(stream, persistent_load) makes the unpickler of each part (the reader's own, which
    allows only Ansible's classes); persistent_load resolves any other persistent id (vault values).
    """
    restorer = None

    def load(pid):
        if isinstance(pid, tuple) and pid and pid[0] in _OBJECT_IDS:
            if restorer is None:
                raise pickle.UnpicklingError("a stored parse refers to hosts before naming them")
            return restorer.persistent_load(pid)
        if persistent_load is None:
            raise pickle.UnpicklingError(f"unknown stored object {pid!r}")
        return persistent_load(pid)

    restorer = _Restorer(unpickler(stream, load).load())
    while stream.tell() < end:
        restorer.apply(unpickler(stream, load).load())
    return restorer.result()


def pristine(data) -> bool:
    """Whether the InventoryData holds nothing yet but its own 'all' and 'ungrouped' (verified 2.16-2.21)."""
    try:
        groups = data.groups
        if data.hosts or set(groups) != {"all", "ungrouped"} or data.localhost is not None:
            return False
        top, ungrouped = groups["all"], groups["ungrouped"]
        return (not top.vars and not ungrouped.vars and not top.hosts and not ungrouped.hosts
                and top.child_groups == [ungrouped] and not ungrouped.child_groups)
    except (AttributeError, KeyError, TypeError):
        return False


def snapshot(data):
    """What the parse made, for dump_snapshot(); None when it holds objects this layer does not know."""
    if is_off(RESTORE) or not _restore_works():
        return None
    snap = _Snapshot(data)
    return snap if snap.consistent() else None


def restore_hosts(data, stored: dict) -> bool:
    """Put a snapshot's hosts and groups into a pristine InventoryData in one step; False if it cannot.

    Verified 2.16-2.21: InventoryData keeps its hosts and groups in the public dicts `hosts` and
    `groups` (and `localhost`), plus a cache of the groups dict that is emptied here. Host ids are
    made anew, as a parse in this process would, so they never equal those of hosts added later.
    """
    from ansible.utils.vars import get_unique_id

    if not pristine(data) or stored.get("attributes") != _attributes(data):
        return False
    hosts, groups = stored["hosts"], stored["groups"]
    for host in hosts.values():
        if hasattr(host, "_uuid"):
            host._uuid = get_unique_id()
    data.groups.clear()
    data.groups.update(groups)
    data.hosts.update(hosts)
    data.localhost = stored["localhost"]
    if isinstance(vars(data).get("_groups_dict_cache"), dict):
        data._groups_dict_cache = {}
    return True


@functools.lru_cache(maxsize=None)
def _restore_works() -> bool:
    """Probe: a small inventory survives a snapshot and a restore unchanged."""
    try:
        data = InventoryData()
        if not pristine(data):
            raise AttributeError("a new InventoryData is not empty")
        data.add_group("web")
        data.add_host("web1", "web", 2222)
        data.add_host("localhost")
        data.set_variable("web", "colour", "blue")
        data.set_variable("web1", "size", 3)
        data.reconcile_inventory()
        before = _shape(data)
        snap = _Snapshot(data)
        if not snap.consistent():
            raise AttributeError("hosts and groups are not linked as expected")
        stream = io.BytesIO()
        dump_snapshot(snap, stream)
        end = stream.tell()
        stream.seek(0)
        restored = InventoryData()
        if not restore_hosts(restored, load_snapshot(stream, end)) or _shape(restored) != before:
            raise AttributeError("hosts and groups do not survive a snapshot")
        restored.add_host("web2", "web")
        restored.add_host("web1", "web")
        if [h.name for h in restored.groups["web"].get_hosts()] != ["web1", "web2"] or (
                restored.get_host("web2") == restored.get_host("web1")):
            raise AttributeError("a restored inventory does not take new hosts as a parsed one does")
    except Exception as exc:  # noqa: BLE001 - whatever it is, the feature is off
        switch_off(RESTORE, str(exc) or type(exc).__name__)
        return False
    return True


def _attributes(data) -> list:
    """The InventoryData's own attributes: a snapshot is put only into one of the same make.

    2.19's wrapper leaves its trust helper (_inspector) there at the first set_variable: not part of it.
    """
    return sorted(name for name in vars(data) if name != "_inspector")


def _shape(data) -> tuple:
    groups = {name: (sorted(h.name for h in g.get_hosts()), sorted(c.name for c in g.child_groups), dict(g.vars))
              for name, g in data.groups.items()}
    hosts = {name: (sorted(g.name for g in h.get_groups()), dict(h.vars), h.address) for name, h in data.hosts.items()}
    return groups, hosts, getattr(data.localhost, "name", None)


# -- vault values in a stored parse -----------------------------------------------------------

class DecryptedVault(Exception):
    """A decrypted vault value is in the data: it must not be written to disk."""


def vault_persistent_id(obj, kind):
    """("encrypted", ciphertext, extra) for an encrypted vault value, None for anything else.

    Verified 2.16-2.18 (AnsibleVaultEncryptedUnicode._ciphertext) and 2.19-2.21 (EncryptedString
    ._ciphertext, tags through AnsibleTagHelper; a decrypted value carries the VaultedValue tag).
    """
    if EncryptedString is not None:
        mapping = getattr(obj, "_ansible_tags_mapping", None)  # where 2.19 keeps a value's tags
        if isinstance(mapping, dict) and VaultedValue in mapping:
            raise DecryptedVault("a decrypted vault value is in the parsed data")
        if kind is EncryptedString:
            return ("encrypted", obj._ciphertext, AnsibleTagHelper.tags(obj))
    elif kind is AnsibleVaultEncryptedUnicode:
        return ("encrypted", obj._ciphertext, getattr(obj, "ansible_pos", None))
    return None


def vault_value(ciphertext, extra, loader):
    """An encrypted value again, decrypted on use with the secrets of this run's loader."""
    if EncryptedString is not None:
        return AnsibleTagHelper.tag(EncryptedString(ciphertext=ciphertext), extra)
    value = AnsibleVaultEncryptedUnicode(ciphertext)
    value.vault = getattr(loader, "_vault", None)
    if extra is not None:
        value.ansible_pos = extra
    return value


def untrusted_wrapper_error():
    from ansible_collections.vcs.inventory.plugins.plugin_utils import messages

    return messages.untrusted_wrapper(ANSIBLE_VERSION)
