"""The documentation cannot drift from the code.

- docs/configuration.md is generated from the plugin's DOCUMENTATION, and a test compares the two, so
  the reference says what `ansible-doc` says. After changing an option in plugins/inventory/git.py,
  regenerate the reference with:

      python tests/unit/test_docs_reference.py

- docs/troubleshooting.md quotes every error and warning the plugin can print: a test reads the
  message texts from the code under plugins/ and looks for each in that page.
- Every relative link in README.md and docs/*.md leads to a file (and heading) that exists.
"""

from __future__ import annotations

import ast
import os
import re
import sys

import yaml

__metaclass__ = type

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGIN = os.path.join(ROOT, "plugins", "inventory", "git.py")
REFERENCE = os.path.join(ROOT, "docs", "configuration.md")
TROUBLESHOOTING = os.path.join(ROOT, "docs", "troubleshooting.md")
BEGIN = ("<!-- BEGIN GENERATED from the DOCUMENTATION of plugins/inventory/git.py;"
         " do not edit by hand: run python tests/unit/test_docs_reference.py -->")
END = "<!-- END GENERATED -->"

# Options the plugin takes from ansible.builtin.constructed; ansible-doc shows their full text.
FRAGMENT = "ansible.builtin.constructed"
FRAGMENT_OPTIONS = {
    "compose": ("dict", {}),
    "groups": ("dict", {}),
    "keyed_groups": ("list", []),
    "strict": ("bool", False),
    "leading_separator": ("bool", True),
    "use_extra_vars": ("bool", False),
}
# Where the fragment's options can be set outside the source file (the test below checks it against ansible-core).
FRAGMENT_SETTINGS = {
    "use_extra_vars": {"env": [{"name": "ANSIBLE_INVENTORY_USE_EXTRA_VARS"}],
                       "ini": [{"section": "inventory_plugins", "key": "use_extra_vars"}]},
}

_MARKUP = [
    (re.compile(r"L\(([^)]+?),\s*([^)]+)\)"), r"[\1](\2)"),
    (re.compile(r"U\(([^)]+)\)"), r"<\1>"),
    (re.compile(r"O\(([a-z_]+)\)"), r"[`\1`](#\1)"),
    (re.compile(r"[CVOE]\(((?:[^()]|\([^()]*\))+)\)"), r"`\1`"),
    (re.compile(r"I\(([^)]+)\)"), r"*\1*"),
    (re.compile(r"B\(([^)]+)\)"), r"**\1**"),
]


def plugin_documentation() -> dict:
    """DOCUMENTATION of the plugin, read from its source the way ansible-doc reads it (no import)."""
    with open(PLUGIN, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), PLUGIN)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError(f"{PLUGIN} has no DOCUMENTATION")


def markdown(text: str) -> str:
    """Ansible's documentation markup (C(), V(), O(), ...) as Markdown."""
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return text


def _paragraphs(value) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [markdown(" ".join(str(item).split())) for item in items]


def _value(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return "`''`"
    return f"`{value}`"


def _env(option: dict) -> list[str]:
    return [f"`{entry['name']}`" for entry in option.get("env") or []]


def _ini(option: dict) -> list[str]:
    return [f"`[{entry['section']}] {entry['key']}`" for entry in option.get("ini") or []]


def render(doc: dict) -> str:
    """The generated part of docs/configuration.md."""
    options = doc["options"]
    lines = [
        BEGIN,
        "",
        "## Summary",
        "",
        "| Option | Type | Default | Environment variable | ansible.cfg |",
        "|---|---|---|---|---|",
    ]
    for name, option in options.items():
        default = "required" if option.get("required") else _value(option.get("default"))
        lines.append(f"| [`{name}`](#{name}) | {option.get('type', 'str')} | {default} | "
                     f"{', '.join(_env(option)) or '-'} | {', '.join(_ini(option)) or '-'} |")
    lines += ["", "## Options", ""]
    for name, option in options.items():
        facts = [f"Type: `{option.get('type', 'str')}`."]
        if option.get("required"):
            facts.append("**Required.**")
        elif "default" in option:
            facts.append(f"Default: {_value(option['default'])}.")
        if option.get("choices"):
            facts.append("Choices: " + ", ".join(_value(c) for c in option["choices"]) + ".")
        if option.get("elements"):
            facts.append(f"Elements: `{option['elements']}`.")
        if option.get("aliases"):
            facts.append("Aliases: " + ", ".join(f"`{a}`" for a in option["aliases"]) + ".")
        if option.get("version_added"):
            facts.append(f"Added in {option['version_added']}.")
        lines += [f"### `{name}`", "", " ".join(facts), ""]
        for paragraph in _paragraphs(option.get("description", "")):
            lines += [paragraph, ""]
        if option.get("env"):
            lines += ["Environment variable: " + ", ".join(_env(option)) + ".", ""]
        if option.get("ini"):
            lines += ["ansible.cfg: " + ", ".join(_ini(option)) + ".", ""]
    fragments = doc.get("extends_documentation_fragment") or []
    if FRAGMENT in fragments:
        lines += [
            f"## Options from `{FRAGMENT}`",
            "",
            "Build groups and variables from the variables the repository sets (see the recipes).",
            "`ansible-doc -t inventory vcs.inventory.git` shows their full description for your ansible-core.",
            "",
            "| Option | Type | Default | Environment variable | ansible.cfg |",
            "|---|---|---|---|---|",
        ]
        for name, (kind, default) in FRAGMENT_OPTIONS.items():
            settings = FRAGMENT_SETTINGS.get(name, {})
            shown = _value(default) if default not in ({}, []) else "`" + repr(default) + "`"
            lines.append(f"| `{name}` | {kind} | {shown} | {', '.join(_env(settings)) or '-'} | "
                         f"{', '.join(_ini(settings)) or '-'} |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines) + "\n"


def generated_part(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    assert start >= 0 and end > start, f"{REFERENCE} lacks the generated markers"
    return text[start:end + len(END)] + "\n"


def write_reference() -> None:
    with open(REFERENCE, encoding="utf-8") as handle:
        text = handle.read()
    new = text.replace(generated_part(text).rstrip("\n"), render(plugin_documentation()).rstrip("\n"))
    with open(REFERENCE, "w", encoding="utf-8") as handle:
        handle.write(new)


def test_reference_matches_the_plugin_documentation():
    with open(REFERENCE, encoding="utf-8") as handle:
        committed = generated_part(handle.read())
    assert committed == render(plugin_documentation()), (
        "docs/configuration.md differs from the plugin's DOCUMENTATION: run python tests/unit/test_docs_reference.py"
    )


def test_every_option_is_documented_for_ansible_doc():
    """ansible-doc and the reference need a type and a description for every option, and the version it came in."""
    problems = []
    for name, option in plugin_documentation()["options"].items():
        for key in ("type", "description"):
            if not option.get(key):
                problems.append(f"{name}: no {key}")
        if name != "plugin" and not option.get("version_added"):
            problems.append(f"{name}: no version_added")
        if option.get("env") and not all(e["name"].startswith("ANSIBLE_VCS_INVENTORY_") for e in option["env"]):
            problems.append(f"{name}: an environment variable does not start with ANSIBLE_VCS_INVENTORY_")
    assert not problems


def test_fragment_options_exist_in_this_ansible_core():
    """The constructed options listed in the reference are the ones this ansible-core provides."""
    from ansible.plugins.doc_fragments.constructed import ModuleDocFragment

    options = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(FRAGMENT_OPTIONS) == set(options)
    for name, (kind, default) in FRAGMENT_OPTIONS.items():
        assert options[name]["type"].replace("boolean", "bool") == kind, name
        assert options[name]["default"] == default, name
        settings = FRAGMENT_SETTINGS.get(name, {})
        assert (options[name].get("env") or []) == settings.get("env", []), name
        assert (options[name].get("ini") or []) == settings.get("ini", []), name


def test_markup_is_not_cut_short():
    """ansible-doc ends V(), C(), O() ... at the first ')': a description may not nest parentheses in one."""
    problems = []
    for name, option in plugin_documentation()["options"].items():
        for paragraph in option.get("description") if isinstance(option.get("description"), list) else [
                option.get("description", "")]:
            for match in re.finditer(r"\b[CVOEIBLU]\(", paragraph):
                inner = paragraph[match.end():].split(")", 1)[0]
                if "(" in inner:
                    problems.append(f"{name}: {paragraph[match.start():match.end() + len(inner) + 1]}")
    assert not problems, problems


def test_markup_becomes_markdown():
    assert markdown("V(use_cache) or O(url), see C(ansible.cfg)") == "`use_cache` or [`url`](#url), see `ansible.cfg`"
    assert markdown("V({{ inventory_commit | default('main') }})") == "`{{ inventory_commit | default('main') }}`"
    assert markdown("E(XDG_CACHE_HOME) and L(the docs, https://example.invalid/x)") == (
        "`XDG_CACHE_HOME` and [the docs](https://example.invalid/x)")


# Calls whose text reaches the user: exceptions that end up in the run's error, and warnings.
_MESSAGE_CALLS = {"SyncError", "AnsibleParserError", "AnsibleError", "LockTimeout", "SshClientMissing", "UnsafeTree",
                  "_VersionNotFound", "refuse", "warn", "warning", "UnverifiedCommit", "MissingObjects"}
# Exceptions that only carry a message to the user from these files (elsewhere they are internal).
_MESSAGE_CALLS_IN = {"ValueError": ("urls.py", "signature_formats.py")}


# The proxy's errors reach the user too (a remote failure's message is the ProxyFailure's text).
_MESSAGE_CALLS |= {"ProxyConfigError", "ProxyFailure"}
# The Ansible side builds its errors and warnings in plugins/plugin_utils/messages.py.
_MESSAGE_CALLS |= {"PluginError", "face"}


def _literal_chunks(node) -> list[str]:
    """The constant pieces of a message expression (f-string, concatenation or str.format template)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.split("{}")
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant)]
    if isinstance(node, ast.BinOp):
        return _literal_chunks(node.left) + _literal_chunks(node.right)
    return []


def _call_name(node) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def plugin_messages() -> dict[str, str]:
    """Every distinctive piece of user-facing message text under plugins/, with where it comes from."""
    found = {}
    for dirpath, _dirs, files in os.walk(os.path.join(ROOT, "plugins")):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), path)
            expressions = []
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and node.args:
                    called = _call_name(node)
                    if called in _MESSAGE_CALLS or name in _MESSAGE_CALLS_IN.get(called, ()):
                        expressions += [(arg, node.lineno) for arg in node.args]
                elif isinstance(node, ast.FunctionDef) and node.name.startswith("describe"):
                    expressions += [(n.value, n.lineno) for n in ast.walk(node) if isinstance(n, ast.Return) and n.value]
            for expression, line in expressions:
                for chunk in _literal_chunks(expression):
                    chunk = " ".join(chunk.split())
                    if len(chunk) >= 10 and " " in chunk:
                        found.setdefault(chunk, f"{os.path.relpath(path, ROOT)}:{line}")
    return found


def test_troubleshooting_quotes_every_message():
    with open(TROUBLESHOOTING, encoding="utf-8") as handle:
        page = " ".join(handle.read().split())
    messages = plugin_messages()
    assert len(messages) > 30, "the message scan found too little: has the code moved?"
    missing = [f"{where}: {chunk!r}" for chunk, where in sorted(messages.items(), key=lambda item: item[1])
               if chunk not in page]
    assert not missing, "docs/troubleshooting.md does not explain these messages yet:\n" + "\n".join(missing)


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: str) -> set[str]:
    anchors = set()
    with open(path, encoding="utf-8") as handle:
        fenced = False
        for line in handle:
            if line.startswith("```"):
                fenced = not fenced
            elif not fenced and line.startswith("#"):
                anchors.add(github_anchor(line.lstrip("#")))
    return anchors


def test_relative_links_resolve():
    pages = [os.path.join(ROOT, "README.md")] + [
        os.path.join(ROOT, "docs", n) for n in sorted(os.listdir(os.path.join(ROOT, "docs"))) if n.endswith(".md")]
    broken = []
    for page in pages:
        with open(page, encoding="utf-8") as handle:
            text = re.sub(r"```.*?```", "", handle.read(), flags=re.S)
        for target in _LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:
            file_part, _sep, anchor = target.partition("#")
            path = os.path.normpath(os.path.join(os.path.dirname(page), file_part)) if file_part else page
            where = f"{os.path.relpath(page, ROOT)} -> {target}"
            if not os.path.exists(path):
                broken.append(f"{where}: no such file")
            elif anchor and path.endswith(".md") and anchor not in _anchors(path):
                broken.append(f"{where}: no such heading")
    assert not broken, "\n".join(broken)


def test_github_anchor():
    assert github_anchor(" Replay a job on the commit it used") == "replay-a-job-on-the-commit-it-used"
    assert github_anchor("`destination path ... already exists and is not an empty directory`") == (
        "destination-path--already-exists-and-is-not-an-empty-directory")


if __name__ == "__main__":
    write_reference()
    sys.exit(0)
