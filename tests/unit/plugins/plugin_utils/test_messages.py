"""One module builds the plugin's errors, and each has the same face."""

from __future__ import annotations

import ast
import inspect
import os

import pytest
from ansible.errors import AnsibleParserError

from ansible_collections.vcs.inventory.plugins.plugin_utils import messages, strict_options

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PLUGINS = os.path.join(ROOT, "plugins")
MESSAGES = os.path.join(PLUGINS, "plugin_utils", "messages.py")
ANSIBLE_ERRORS = {"AnsibleParserError", "AnsibleError", "AnsibleOptionsError", "AnsibleRuntimeError"}


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def bypasses(path: str) -> list[str]:
    """Where the file at path builds an Ansible error itself, or raises one it did not get from messages."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node) in ANSIBLE_ERRORS:
            found.append(f"{os.path.relpath(path, ROOT)}:{node.lineno} builds {_called(node)}")
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Name) and node.exc.id in ANSIBLE_ERRORS:
            found.append(f"{os.path.relpath(path, ROOT)}:{node.lineno} raises the class {node.exc.id}")
        elif isinstance(node, ast.ClassDef) and any(getattr(b, "id", getattr(b, "attr", "")) in ANSIBLE_ERRORS
                                                    for b in node.bases):
            found.append(f"{os.path.relpath(path, ROOT)}:{node.lineno} subclasses an Ansible error")
    return found


def test_no_module_but_messages_builds_an_ansible_error():
    found = []
    for dirpath, _dirs, files in os.walk(PLUGINS):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            if name.endswith(".py") and path != MESSAGES:
                found += bypasses(path)
    assert not found, "build these errors in plugins/plugin_utils/messages.py:\n" + "\n".join(found)


def test_the_scan_sees_a_bypass(tmp_path):
    """The scan above would catch each way around the messages module."""
    bad = tmp_path / "bad.py"
    bad.write_text("from ansible.errors import AnsibleError, AnsibleParserError\n"
                   "from ansible import errors\n"
                   "def a():\n    raise AnsibleParserError('x')\n"
                   "def b():\n    raise errors.AnsibleError('x')\n"
                   "def c():\n    raise AnsibleParserError\n"
                   "class D(AnsibleParserError):\n    pass\n")
    assert len(bypasses(str(bad))) == 4
    assert bypasses(MESSAGES)  # messages.py is the one place that builds them


def _sample(parameter: inspect.Parameter):
    return {"names": ["gpg_allowlist"], "in_list": False, "levels": 4, "failures": "yaml: bad"}.get(
        parameter.name, f"<{parameter.name}>")


BUILDERS = [(name, func) for name, func in inspect.getmembers(messages, inspect.isfunction)
            if func.__module__ == messages.__name__ and not name.startswith("_")
            and name not in ("face", "in_source", "ansible_text", "error", "repeated", "unexpected_trace")]


@pytest.mark.parametrize("name,func", BUILDERS, ids=[name for name, _func in BUILDERS])
def test_every_message_has_the_face(name, func):
    params = inspect.signature(func).parameters.values()
    built = func(*[_sample(p) for p in params])
    text = built if isinstance(built, str) else str(built.message)
    assert text.startswith("vcs.inventory.git: "), text
    assert not text.startswith("vcs.inventory.git: vcs.inventory.git:"), text
    if isinstance(built, messages.PluginError):
        sourced = messages.in_source(built, "/srv/prod.git.yml")
        assert "/srv/prod.git.yml" in str(sourced.message) or "<source>" in text, sourced.message


def test_errors_of_others_get_the_face_and_the_source():
    for exc in (AnsibleParserError("Decryption failed"), KeyError("x"), MemoryError()):
        text = str(messages.in_source(exc, "/srv/prod.git.yml").message)
        assert text.startswith("vcs.inventory.git: ") and text.endswith("(source /srv/prod.git.yml)"), text
        assert "KeyError" not in text and "MemoryError" not in text


def test_a_sourced_error_is_not_sourced_twice():
    once = messages.in_source(messages.url_required(), "/a.git.yml")
    assert messages.in_source(once, "/b.git.yml") is once
    named = messages.unknown_option("verison", "/a.git.yml", "version")
    assert str(named.message) == "vcs.inventory.git: unknown option 'verison' in /a.git.yml; did you mean 'version'?"
    assert messages.in_source(named, "/a.git.yml") is named


def test_missing_dulwich_names_the_pip_of_this_python():
    import sys

    text = str(messages.missing_dulwich().message)
    assert f"{sys.executable} -m pip install 'dulwich>=1.2.13,<2'" in text
    assert "ansible_python_interpreter" not in text


def test_closest_option():
    valid = strict_options.valid_names({"version": {}, "url": {"aliases": ["repo"]}, "keyed_groups": {}})
    assert valid == {"version", "url", "repo", "keyed_groups"}
    assert strict_options.closest("verison", valid) == "version"
    assert strict_options.closest("keyed_group", valid) == "keyed_groups"
    assert strict_options.closest("zzz", valid) is None


@pytest.mark.parametrize("text,option,index,expected", [
    ("version: 1.10\n", "version", None, "1.10"),
    ("version: 0123456\n", "version", None, "0123456"),
    ("path: [a, 2024-01-31, yes]\n", "path", 1, "2024-01-31"),
    ("path:\n  - a\n  - yes\n", "path", 1, "yes"),
])
def test_a_typed_value_is_quoted_as_written(tmp_path, text, option, index, expected):
    source = tmp_path / "prod.git.yml"
    source.write_text("plugin: vcs.inventory.git\n" + text)
    assert strict_options.written(str(source), option, index, None) == expected


def test_misnamed_source_is_recognised(tmp_path):
    ours, other = tmp_path / "prod.yml", tmp_path / "hosts.yml"
    ours.write_text("plugin: vcs.inventory.git\nurl: x\n")
    other.write_text("all:\n  hosts:\n    a:\n")
    assert strict_options.names_this_plugin(str(ours))
    assert not strict_options.names_this_plugin(str(other))
    assert not strict_options.names_this_plugin(str(tmp_path))


def test_an_unexpected_error_keeps_where_it_happened_for_vvv():
    trace = shown = ""
    try:
        {}["missing"]
    except KeyError as exc:
        trace = messages.unexpected_trace(exc, "/srv/prod.git.yml")
        shown = str(messages.in_source(exc, "/srv/prod.git.yml").message)
    assert trace.startswith("vcs.inventory.git: where the unexpected error happened") and "test_messages.py" in trace
    assert shown == ("vcs.inventory.git: stopped by an unexpected error ('missing'); run again with -vvv to see where, "
                     "and report it if it repeats (source /srv/prod.git.yml)")
