# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every error and warning this plugin shows, with one face.

A message starts with ``vcs.inventory.git:``, says what went wrong and what to do, and ends with the
source file it concerns. The error texts of the Ansible side are written here, and only here are
they turned into the exceptions Ansible shows (tests/unit/plugins/plugin_utils/test_messages.py
holds that line); the Git cache's own texts arrive as a SyncError and get the same face here.
docs/troubleshooting.md quotes each of them.
"""

from __future__ import annotations

import sys

from ansible.errors import AnsibleError, AnsibleParserError

__metaclass__ = type

PREFIX = "vcs.inventory.git: "
DULWICH = "dulwich>=1.2.13,<2"


class PluginError(AnsibleParserError):
    """An error of this plugin; text is its message without the face, source the file it concerns."""

    def __init__(self, text: str, source: str | None = None, names_source: bool = False) -> None:
        self.text = text
        self.source = source
        self.names_source = names_source  # the text names the source itself
        super().__init__(face(text, None if names_source else source))


def face(text: str, source: str | None = None) -> str:
    """The one face of a message: the prefix, the text, the source file."""
    text = str(text)
    if text.startswith(PREFIX):
        text = text[len(PREFIX):]
    return PREFIX + text + (f" (source {source})" if source else "")


def in_source(exc: BaseException, source: str) -> AnsibleParserError:
    """exc as the error of the source file source: our own errors get the file, anything else our face too."""
    if isinstance(exc, PluginError):
        if exc.source or exc.names_source:
            return exc
        return PluginError(exc.text, source)
    if isinstance(exc, _Repeated):
        return exc
    if isinstance(exc, AnsibleError):  # Ansible's own words (a vault that cannot be opened, ...)
        return PluginError(ansible_text(exc), source)
    return PluginError(f"stopped by an unexpected error ({str(exc) or 'no details'}); run again with -vvv to see "
                       "where, and report it if it repeats", source)


def unexpected_trace(exc: BaseException, source: str) -> str:
    """Where an unexpected error happened, shown at -vvv: the one place a Python traceback may appear."""
    import traceback

    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    return face(f"where the unexpected error happened, to include in a report:\n{trace}", source)


def ansible_text(exc: BaseException) -> str:
    """The message of an Ansible error without the excerpt of the file that 2.16 appends."""
    return str(getattr(exc, "message", None) or exc).strip()


class _Repeated(AnsibleParserError):
    """A message this plugin already showed for the same source in this run, shown again as it was."""


def repeated(message: str) -> AnsibleParserError:
    return _Repeated(message)


def error(text: str) -> PluginError:
    """An error whose text another module of this plugin wrote for the user (a SyncError, a ValueError
    of the option checks): it gets the face and the source file here."""
    return PluginError(text)


class SourceDisplay:
    """The plugin's Display for one source: every warning gets the face and names the source file."""

    def __init__(self, display, source: str) -> None:
        self._display = display
        self._source = source

    def warning(self, msg, *args, **kwargs):
        return self._display.warning(face(msg, self._source), *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._display, name)


# The source file -------------------------------------------------------------------------------

def missing_dulwich() -> PluginError:
    python = sys.executable or "python3"
    return PluginError(
        f"the Python library dulwich cannot be imported by the Python that runs Ansible on this controller ({python}); "
        f"install it with: {python} -m pip install '{DULWICH}'"
    )


def unreadable_source(source: str, detail: str) -> PluginError:
    return PluginError(f"cannot read {source}: {detail}; fix that file", names_source=True)


def unknown_option(name: str, source: str, suggestion: str | None) -> PluginError:
    hint = (f"; did you mean '{suggestion}'?" if suggestion else
            "; see ansible-doc -t inventory vcs.inventory.git for the options")
    return PluginError(f"unknown option '{name}' in {source}{hint}", names_source=True)


def needs_verify_commit(names: list[str], source: str) -> PluginError:
    listed = " and ".join(f"'{n}'" for n in names)
    return PluginError(
        f"{listed} in {source} {'take' if len(names) > 1 else 'takes'} effect only with 'verify_commit: true', which "
        f"is not set, so no signature would be checked: add 'verify_commit: true' (or remove {listed})",
        names_source=True,
    )


def typed_value(option: str, written: str, kind: str, read: str, source: str, in_list: bool) -> PluginError:
    where = f"an entry of the option '{option}'" if in_list else f"the option '{option}'"
    example = f'{option}: ["{written}"]' if in_list else f'{option}: "{written}"'
    return PluginError(
        f"{where} in {source} is {written}, which YAML reads as the {kind} {read}, not as text; quote it: {example}",
        names_source=True,
    )


def cannot_render(option: str, shown: str, detail: str) -> PluginError:
    return PluginError(f"cannot render the option '{option}' ({shown!r}): {detail}; at inventory time only extra vars "
                       "(-e) and lookups exist: give the template a default(...)")


def url_required() -> PluginError:
    return PluginError("the option 'url' is required: set it to the Git repository that holds the inventory")


def path_type() -> PluginError:
    return PluginError("the option 'path' must be a string or a list of strings (paths inside the repository)")


def negative_depth(depth) -> PluginError:
    return PluginError(f"the option 'depth' must be 0 (full history) or a positive number, got {depth!r}")


def negative(option: str, value) -> PluginError:
    return PluginError(f"the option '{option}' must not be negative, got {value!r}; set it to 0 or more")


# The repository -----------------------------------------------------------------------------

def path_absolute(option: str, rel: str) -> PluginError:
    return PluginError(f"the option '{option}' must be relative to the repository root, got {rel!r}")


def path_climbs(option: str, rel: str) -> PluginError:
    return PluginError(f"the option '{option}' climbs out of the repository ({rel!r}); use a path inside it")


def path_through_symlink(option: str, rel: str) -> PluginError:
    return PluginError(f"the option '{option}' ({rel!r}) resolves outside the repository through a symlink; "
                       "use a path inside it")


def path_not_in_repo(rel: str, safe_url: str, version: str, commit: str) -> PluginError:
    return PluginError(f"the path {rel!r} (option 'path') is not in {safe_url} at {version} "
                       f"(commit {commit[:12]}); check the option 'path'")


def nested_loop() -> PluginError:
    return PluginError("a configuration inside the repository loads the same repository, version and path "
                       "again (it would never end); remove that *.git.yml from the repository")


def nested_too_deep(levels: int) -> PluginError:
    return PluginError(f"sources nested in repositories go deeper than {levels} levels; "
                       "list the repositories in your own inventory instead")


def parser_not_found(name: str) -> PluginError:
    return PluginError(f"the inventory plugin {name!r} enabled for this run was not found; "
                       "fix enable_plugins in the [inventory] section of ansible.cfg")


def unparsable(rel: str, failures: str) -> PluginError:
    return PluginError(f"no inventory plugin could parse {rel!r} from the repository: {failures}")


def host_name_not_plain(host: str) -> PluginError:
    return PluginError(f"the host name {host!r} is not a plain host name (it starts with '-', or "
                       "holds whitespace or shell characters); trust_repo is false, so the repository may not use it")


def template_name(kind: str, name: str) -> PluginError:
    return PluginError(f"the {kind} name {name!r} holds a template; trust_repo is false, so the "
                       "repository may not name hosts or groups with templates")


def untrusted_wrapper(core: str) -> PluginError:
    return PluginError(f"cannot keep the repository's values untrusted on ansible-core {core} (its inventory "
                       "wrapper is not one this collection knows); use a tested ansible-core or set 'trust_repo: true' "
                       "only for a repository whose authors may run code on the controller")


# Warnings (their face and source come from SourceDisplay; the Git cache's arrive through sync's warn) ------

def no_hosts(where: str, safe_url: str, commit: str, skipped: list[str]) -> str:
    found = f"the source added no hosts: the path {where} (option 'path') of {safe_url} at commit {commit[:12]} defines none."
    if not skipped:
        return face(found + " Check the option 'path' and the version.")
    return face(found + f" Ansible's rules for directory sources skipped these files under it: {'; '.join(skipped)}. "
                "Rename such a file (hosts.ini to hosts or hosts.yml), point the option 'path' at the file itself, or "
                "change the setting INVENTORY_IGNORE_EXTS (ANSIBLE_INVENTORY_IGNORE) or INVENTORY_IGNORE_PATTERNS "
                "(ANSIBLE_INVENTORY_IGNORE_REGEX) that skipped it.")


def dropped_variable(varname: str, entity: str, why: str) -> str:
    return face(f"dropped the variable {varname!r} of {entity!r}: trust_repo is false and {why}")


def damaged_stored_parse(path: str, detail: str) -> str:
    return face(f"ignoring the damaged stored parse {path} ({detail}); parsing the checkout again")


def leads_outside(rel: str) -> str:
    return face(f"skipped {rel!r}: it leads outside the repository")


def plugin_cannot_parse(plugin_name: str, rel: str, detail: str) -> str:
    return face(f"the {plugin_name} plugin cannot parse {rel!r} of the repository: {detail}")


def skipped_unparsable(rel: str) -> str:
    return face(f"skipped {rel!r} of the repository: no inventory plugin could parse it (as for a file of a local "
                "directory source); fix or remove it")


def script_not_run(rel: str) -> str:
    return face(f"not running the executable {rel!r} as a script inventory; set 'allow_scripts: true' to allow it")


def plugin_config_skipped(rel: str) -> str:
    return face(f"skipped {rel!r}: it configures an inventory plugin, and trust_repo is false, so only data files "
                "(INI, YAML, JSON, TOML) of the repository are read")


def misnamed_source(source: str) -> str:
    return face(f"{source} sets 'plugin: vcs.inventory.git', but its name does not end in git.yml or git.yaml, so "
                "Ansible does not hand it to this plugin and reads no hosts from it; rename it (for example to "
                "prod.git.yml)")


# Which commit (version lists, mirrors, the host-loss guard) ------------------------------------

def version_list_empty() -> PluginError:
    return PluginError("the option 'version' is an empty list; give at least one branch, tag or commit id, "
                       "or leave the option out for the remote's default branch")


def version_entry_not_string(index: int, value, kind: str) -> PluginError:
    return PluginError(f"entry {index} of the option 'version' ({value}) is {kind}, not a string; quote it in the source file")


def mirrors_type() -> PluginError:
    return PluginError("the option 'mirrors' must be a list of URLs (or, in ANSIBLE_VCS_INVENTORY_MIRRORS, "
                       "URLs separated by commas)")


def max_host_loss_range(value) -> PluginError:
    return PluginError(f"the option 'max_host_loss' must be a whole percent from 0 to 100, got {value!r}; "
                       "leave it out to switch the guard off")
