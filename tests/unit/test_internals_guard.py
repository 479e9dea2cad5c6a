"""Ansible internals are touched in plugins/plugin_utils/_ansible_internals.py and nowhere else.

An AST scan of every other module under plugins/: no import of a `_`-prefixed Ansible module
(`ansible._internal`, `ansible.module_utils._internal`, ...), no `_`-prefixed attribute of an object
other than self/cls (by attribute, getattr/setattr/hasattr/delattr or vars()/__dict__ key) unless
this collection defines that name itself, no `sys._getframe`, no assignment to Ansible's constants.
"""

from __future__ import annotations

import ast
import os

from ansible.inventory.data import InventoryData
from ansible.inventory.group import Group
from ansible.inventory.host import Host
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.plugins.loader import inventory_loader
from ansible.utils.display import Display

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(ROOT, "plugins")
LAYER = os.path.join(PLUGINS, "plugin_utils", "_ansible_internals.py")
ATTRIBUTE_CALLS = {"getattr", "setattr", "hasattr", "delattr"}
PROTOCOL_DUNDERS_FLAGGED = {"__wrapped__"}  # a proxy's target: internal to 2.19's inventory wrapper


def _modules() -> list[str]:
    found = []
    for dirpath, _dirs, names in os.walk(PLUGINS):
        found += [os.path.join(dirpath, n) for n in names if n.endswith(".py")]
    return sorted(found)


def _ansible_names() -> set[str]:
    """Attribute names Ansible's own objects have: never counted as this collection's own."""
    objects = [InventoryData(), Host("h"), Group("g"), DataLoader(), Display(), inventory_loader.get("ini"),
               InventoryManager(DataLoader(), sources=[])]
    names = set()
    for obj in objects + [BaseInventoryPlugin, Constructable]:
        names.update(dir(obj))
        names.update(getattr(obj, "__dict__", {}))
    return names


def _own_names(paths: list[str]) -> set[str]:
    """`_` names this collection defines: module-level and class-level names, attributes set on self."""
    own = set()
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                own.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                own.add(node.attr)
            elif isinstance(node, ast.Call) and _call_name(node) == "object.__setattr__" and len(node.args) > 1:
                if isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                    own.add(node.args[1].value)
    return {n for n in own if n.startswith("_")} - _ansible_names()


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return ""


def _private(name: str, own: set[str]) -> bool:
    if not isinstance(name, str) or not name.startswith("_"):
        return False
    if name.startswith("__") and name.endswith("__"):
        return name in PROTOCOL_DUNDERS_FLAGGED
    return name not in own


def _uses_ansible(tree) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "ansible" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ansible":
            return True
    return False


def _is_self(node) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def violations(source: str, own: set[str], where: str = "<source>") -> list[str]:
    tree = ast.parse(source, where)
    if not _uses_ansible(tree):
        # The Git half (plain values in, no Ansible imports, DESIGN.md): only what no module may do.
        return [f"{where}:{n.lineno}: reaches for ._getframe" for n in ast.walk(tree)
                if isinstance(n, ast.Attribute) and n.attr == "_getframe"]
    found = []
    for node in ast.walk(tree):
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ansible":
                modules = [f"{node.module}.{a.name}" for a in node.names]
            for module in modules:
                parts = module.split(".")
                if parts[0] == "ansible" and any(_private(p, set()) for p in parts[1:]):
                    found.append(f"{line}: imports {module}")
                    break
        elif isinstance(node, ast.Attribute):
            if isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name) and node.value.id == "C":
                found.append(f"{line}: sets Ansible's constant C.{node.attr}")
            if not _is_self(node.value) and _private(node.attr, own):
                found.append(f"{line}: reaches for .{node.attr}")
        elif isinstance(node, ast.Call) and _call_name(node) in ATTRIBUTE_CALLS and len(node.args) > 1:
            name = node.args[1].value if isinstance(node.args[1], ast.Constant) else None
            if not _is_self(node.args[0]) and _private(name, own):
                found.append(f"{line}: {_call_name(node)}(..., {name!r})")
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            value = node.value
            holder = (isinstance(value, ast.Call) and _call_name(value) == "vars") or (
                isinstance(value, ast.Attribute) and value.attr == "__dict__")
            if holder and _private(node.slice.value, own):
                found.append(f"{line}: reads the instance dict key {node.slice.value!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "pop"):
            value = node.func.value
            holder = (isinstance(value, ast.Call) and _call_name(value) == "vars") or (
                isinstance(value, ast.Attribute) and value.attr == "__dict__")
            key = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            if holder and _private(key, own):
                found.append(f"{line}: reads the instance dict key {key!r}")
    return found


def test_only_the_compatibility_layer_touches_ansible_internals():
    modules = [p for p in _modules() if p != LAYER]
    own = _own_names(modules)
    found = []
    for path in modules:
        with open(path, encoding="utf-8") as handle:
            found += violations(handle.read(), own, os.path.relpath(path, ROOT))
    assert not found, "move these into plugins/plugin_utils/_ansible_internals.py:\n" + "\n".join(found)
    assert os.path.exists(LAYER)


def test_the_scan_finds_each_kind_of_touch():
    own = _own_names([p for p in _modules() if p != LAYER])
    cases = {
        "from ansible._internal._datatag._tags import VaultedValue": "imports",
        "from ansible.module_utils._internal import _datatag": "imports",
        "import ansible._internal._templating": "imports",
        "inventory._target_plugin = plugin": "reaches for ._target_plugin",
        "manager._sources.append(path)": "reaches for ._sources",
        "value = obj._ciphertext": "reaches for ._ciphertext",
        "plugin._set_composite_vars(compose, variables, host)": "reaches for ._set_composite_vars",
        "frame = sys._getframe(1)": "reaches for ._getframe",
        "data = inventory.__wrapped__": "reaches for .__wrapped__",
        "name = getattr(plugin, '_load_name', None)": "getattr(..., '_load_name')",
        "had = hasattr(inventory, '_target_plugin')": "hasattr(..., '_target_plugin')",
        "x = vars(data).get('_inspector')": "instance dict key '_inspector'",
        "x = data.__dict__['_groups_dict_cache']": "instance dict key '_groups_dict_cache'",
        "C.INVENTORY_ANY_UNPARSED_IS_FAILED = True": "sets Ansible's constant",
    }
    for source, expected in cases.items():
        found = violations("import ansible\n" + source, own)
        assert len(found) == 1 and expected in found[0], (source, found)
    # What the rest of the collection may do: its own private names, and self/cls.
    for source in ("self._plugin = plugin", "cls._cache = {}", "parsed_store._prune(d, keep)",
                   "x = internals.raw_inventory(inventory)", "name = type(obj).__name__"):
        assert violations("import ansible\n" + source, own) == [], source
    # Modules without Ansible imports (the Git half) are held to the frame walk only.
    assert violations("frame = sys._getframe(1)", own) and not violations("client._connect()", own)
