"""A source file is read strictly, and every message of the plugin has one face.

Through the real ansible-inventory and ansible-playbook against a real git daemon: a misspelled
option, an allow-list without verify_commit and a version YAML typed as a number fail the source;
each error and warning starts with the plugin's prefix and names the source file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import plain_audit, said, write_source
from helpers.servers import free_port

HOSTS = "all:\n  hosts:\n    a:\n"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def troubleshooting() -> str:
    with open(os.path.join(ROOT, "docs", "troubleshooting.md"), encoding="utf-8") as handle:
        return handle.read()


def assert_documented(message: str) -> None:
    """message, with its variable parts as the page writes them (<url>), is quoted in troubleshooting.md."""
    assert said("vcs.inventory.git: " + message, troubleshooting()), message


# A Python class name in a message ("SshClientMissing: ...", "KeyError: ...").
CLASS_NAME = re.compile(r"\b(?:[A-Z][a-z0-9]+){2,}(?:Error|Exception|Missing|Failure|Timeout)\b|\bKeyError\b")


def write_raw(directory, text: str, name: str = "prod.git.yml") -> str:
    """A source file written as given, so that YAML sees the values unquoted."""
    path = os.path.join(str(directory), name)
    with open(path, "w") as handle:
        handle.write("plugin: vcs.inventory.git\n" + text)
    return path


def assert_face(stderr: str, message: str, source: str, names_source: bool = False) -> None:
    """message is printed with the prefix, and with the source file (in its text, or at its end)."""
    assert message.startswith("vcs.inventory.git: ")
    assert said(message, stderr), (message, stderr)
    if not names_source:
        assert said(f"(source {source})", stderr), stderr
    assert not CLASS_NAME.search(stderr), stderr


def test_a_misspelled_option_fails_with_the_closest_name(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": HOSTS})
    source = write_raw(tmp_path, f"url: {git_daemon.url('inventory')}\nverison: '1.1'\n")
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0, proc.stdout
    assert_face(proc.stderr, f"vcs.inventory.git: unknown option 'verison' in {source}; did you mean 'version'?",
                source, names_source=True)
    play = tmp_path / "site.yml"
    play.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n")
    proc = ansible.playbook("-i", source, str(play))
    assert proc.returncode != 0, proc.stdout
    assert said(f"vcs.inventory.git: unknown option 'verison' in {source}; did you mean 'version'?",
                proc.stdout + proc.stderr), proc.stdout + proc.stderr


def test_options_of_constructed_and_aliases_are_known(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    a:\n      dc: x\n"})
    source = write_raw(tmp_path, f"repo: {git_daemon.url('inventory')}\nstrict: true\nleading_separator: true\n"
                                 "keyed_groups:\n  - key: dc\n    prefix: dc\ncompose: {}\ngroups: {}\n"
                                 "use_extra_vars: false\n")
    listing = ansible.list(source)
    assert "dc_x" in listing


@pytest.mark.parametrize("given", [["gpg_allowlist"], ["ssh_allowed_signers"], ["gpg_allowlist", "ssh_allowed_signers"]])
def test_an_allow_list_without_verify_commit_fails(ansible, upstream, git_daemon, tmp_path, given):
    upstream.commit({"hosts.yml": HOSTS})
    lines = {"gpg_allowlist": "gpg_allowlist: []\n", "ssh_allowed_signers": "ssh_allowed_signers: ~/allowed\n"}
    source = write_raw(tmp_path, f"url: {git_daemon.url('inventory')}\nverify_commit: false\n"
                       + "".join(lines[n] for n in given))
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0, proc.stdout
    listed = " and ".join(f"'{n}'" for n in given)
    verb = "take" if len(given) > 1 else "takes"
    assert_face(proc.stderr, f"vcs.inventory.git: {listed} in {source} {verb} effect only with 'verify_commit: true', "
                f"which is not set, so no signature would be checked: add 'verify_commit: true' (or remove {listed})",
                source, names_source=True)


def test_a_version_yaml_reads_as_a_number_fails_and_quoted_serves_its_tag(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    one_one:\n"})
    upstream.tag("1.1")
    ten = upstream.commit({"hosts.yml": "all:\n  hosts:\n    one_ten:\n"})
    upstream.tag("1.10")
    url = git_daemon.url("inventory")
    source = write_raw(tmp_path, f"url: {url}\nversion: 1.10\n")
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0, proc.stdout
    assert_face(proc.stderr, f"vcs.inventory.git: the option 'version' in {source} is 1.10, which YAML reads as the "
                'number 1.1, not as text; quote it: version: "1.10"', source, names_source=True)
    quoted = write_raw(tmp_path, f'url: {url}\nversion: "1.10"\n', name="quoted.git.yml")
    listing = ansible.list(quoted)
    assert set(listing["_meta"]["hostvars"]) == {"one_ten"}
    assert listing["_meta"]["hostvars"]["one_ten"]["git_inventory_commit"] == ten


@pytest.mark.parametrize("text,message", [
    ("version: 0123456\n", "the option 'version' in {source} is 0123456, which YAML reads as the number 42798, "
                           'not as text; quote it: version: "0123456"'),
    ("version: yes\n", "the option 'version' in {source} is yes, which YAML reads as the boolean true, not as text; "
                       'quote it: version: "yes"'),
    ("version: 2024-01-31\n", "the option 'version' in {source} is 2024-01-31, which YAML reads as the date "
                              '2024-01-31, not as text; quote it: version: "2024-01-31"'),
    ("path:\n  - hosts.yml\n  - 1.10\n", "an entry of the option 'path' in {source} is 1.10, which YAML reads as the "
                                         'number 1.1, not as text; quote it: path: ["1.10"]'),
])
def test_typed_values_fail_quoting_what_was_written(ansible, upstream, git_daemon, tmp_path, text, message):
    upstream.commit({"hosts.yml": HOSTS})
    source = write_raw(tmp_path, f"url: {git_daemon.url('inventory')}\n{text}")
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0, proc.stdout
    assert_face(proc.stderr, "vcs.inventory.git: " + message.format(source=source), source, names_source=True)


# Each error the plugin can end a source with, as (options of the source file, the message's start).
# "{url}" is the git daemon's repository, "{source}" the source file.
ERRORS = [
    ("", "the option 'url' is required: set it to the Git repository that holds the inventory", None),
    ("url: ftp://127.0.0.1/x.git\n", "the option 'url' uses the unsupported scheme 'ftp'",
     "the option 'url' uses the unsupported scheme '<scheme>'"),
    ("url: '{url}'\npath: {{a: 1}}\n", "the option 'path' must be a string or a list of strings", None),
    ("url: '{url}'\ndepth: -1\n", "the option 'depth' must be 0 (full history) or a positive number, got -1",
     "the option 'depth' must be 0 (full history) or a positive number, got <value>"),
    ("url: '{url}'\ntimeout: -1\n", "the option 'timeout' must not be negative, got -1; set it to 0 or more",
     "the option '<option>' must not be negative, got <value>; set it to 0 or more"),
    ("url: '{url}'\npath: /etc\n", "the option 'path' must be relative to the repository root, got '/etc'",
     "the option 'path' must be relative to the repository root, got '<path>'"),
    ("url: '{url}'\npath: ../x\n", "the option 'path' climbs out of the repository ('../x'); use a path inside it",
     "the option 'path' climbs out of the repository ('<path>'); use a path inside it"),
    ("url: '{url}'\npath: nope\n", "the path 'nope' (option 'path') is not in {url} at main",
     "the path '<path>' (option 'path') is not in <url> at <version>"),
    ("url: '{url}'\nversion: '{{{{ nope }}}}'\n", "cannot render the option 'version' ('{{{{ nope }}}}'):",
     "cannot render the option '<option>' ('<value>'):"),
    ("url: '{url}'\nversion: nope\n", "cannot use {url}: version 'nope' is neither a branch, a tag nor a commit id",
     "cannot use <url>: version '<version>' is neither a branch, a tag nor a commit id"),
    ("url: '{url}'\nversion: abcd\n", "cannot use {url}: version 'abcd' is too short for a commit id",
     "cannot use <url>: version '<version>' is too short for a commit id"),
    ("url: '{url}'\nverify_commit: true\ngpg_allowlist: [AB12]\n",
     "the option 'gpg_allowlist' holds 'AB12', which is not an OpenPGP fingerprint",
     "the option 'gpg_allowlist' holds '<value>', which is not an OpenPGP fingerprint"),
    ("url: '{url}'\ndepth: many\n", "cannot read {source}:", "cannot read <file>:"),
    ("url: '{url}'\nzzz_qqq: 1\n",
     "unknown option 'zzz_qqq' in {source}; see ansible-doc -t inventory vcs.inventory.git for the options",
     "unknown option '<key>' in <file>; see ansible-doc -t inventory vcs.inventory.git for the options"),
    ("url: 'git://127.0.0.1:{port}/x.git'\n", "cannot connect to git://127.0.0.1:{port}/x.git: connection refused",
     "cannot connect to <url>: connection refused"),
    ("url: '{base}/no-such-repo'\n", "no Git repository at {base}/no-such-repo", "no Git repository at <url>"),
    ("url: 'http://127.0.0.1:{port}/x.git'\npassword: secret\n", "a password or token is set but no user name",
     None),
    ("url: '{url}'\npath: bad.yml\n", "no inventory plugin could parse 'bad.yml' from the repository:",
     "no inventory plugin could parse '<path>' from the repository:"),
    ("url: '{url}'\ncache_dir: '{source}'\n", "the cache directory {source} is not a directory; set 'cache_dir'",
     "the cache directory <path> is not a directory; set 'cache_dir'"),
    ("url: '{url}'\nverify_commit: true\n", "refusing the commit {head12} of {url} at version 'main': it is not signed",
     "refusing the commit <commit> of <url> at version '<version>': it is not signed"),
]


@pytest.mark.parametrize("text,message,documented", ERRORS, ids=[m.split(":")[0][:40] for _t, m, _d in ERRORS])
def test_every_error_has_the_face(ansible, upstream, git_daemon, tmp_path, text, message, documented):
    upstream.commit({"hosts.yml": HOSTS, "bad.yml": "all: [\n"})
    url = git_daemon.url("inventory")
    values = {"url": url, "base": url.rsplit("/", 1)[0], "port": free_port(), "head12": upstream.head()[:12]}
    source = os.path.join(str(tmp_path), "prod.git.yml")
    values["source"] = source
    write_raw(tmp_path, text.format(**values))
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0, proc.stdout
    assert "secret" not in proc.stderr
    assert_face(proc.stderr, "vcs.inventory.git: " + message.format(**values), source,
                names_source=f"in {source}" in message.format(**values) or "cannot read {source}" in message)
    assert_documented(documented or message)


# Each warning, as (files of the repository, options, the warning's start); the run succeeds.
WARNINGS = [
    ({"inv/group_vars/all.yml": "x: 1\n"}, "path: inv\n", "the source added no hosts: the path 'inv' (option 'path')"),
    ({"inv/hosts.yml": HOSTS, "inv/run.sh": "#!/bin/sh\necho '{}'\n"}, "path: inv\n",
     "not running the executable 'inv/run.sh' as a script inventory; set 'allow_scripts: true' to allow it"),
    ({"hosts.yml": "all:\n  hosts:\n    a:\n      ansible_python_interpreter: /bin/false\n"}, "trust_repo: false\n",
     "dropped the variable 'ansible_python_interpreter' of 'a' in"),
    ({"inv/hosts.yml": HOSTS, "inv/bad.yml": "all: [\n"}, "path: inv\n",
     "skipped 'inv/bad.yml' of the repository: no inventory plugin could parse it"),
    ({"inv/hosts.yml": HOSTS, "inv/bad.yml": "all: [\n"}, "path: inv\n",
     "the yaml plugin cannot parse 'inv/bad.yml' of the repository:"),
]


@pytest.mark.parametrize("files,text,message", WARNINGS, ids=[m[:40] for _f, _t, m in WARNINGS])
def test_every_warning_has_the_face(ansible, upstream, git_daemon, tmp_path, files, text, message):
    upstream.commit(files)
    if "inv/run.sh" in files:
        os.chmod(os.path.join(upstream.work, "inv/run.sh"), 0o755)
        upstream.commit(message="executable")
    source = write_raw(tmp_path, f"url: {git_daemon.url('inventory')}\n{text}")
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    plain_audit(json.loads(proc.stdout))
    assert_face(proc.stderr, "vcs.inventory.git: " + message, source)
    assert_documented(message.replace("'inv/run.sh'", "'<file>'").replace("'inv/bad.yml'", "'<file>'")
                      .replace("'inv'", "'<path>'").replace("the yaml plugin", "the <plugin> plugin")
                      .replace("'ansible_python_interpreter' of 'a'", "'<name>' of '<host or group>'"))


def test_a_tag_and_branch_warning_has_the_face(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": HOSTS})
    upstream.tag("release")
    upstream.commit({"hosts.yml": HOSTS}, branch="release")
    source = write_raw(tmp_path, f"url: {git_daemon.url('inventory')}\nversion: release\n")
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    assert_face(proc.stderr, "vcs.inventory.git: version 'release' names both a tag and a branch; using the tag", source)


BLOCK_DULWICH = '''import sys


class _NoDulwich:
    """As if dulwich were not installed for this Python."""

    def find_spec(self, name, path=None, target=None):
        if name == "dulwich" or name.startswith("dulwich."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoDulwich())
'''


@pytest.mark.parametrize("how", ["not installed", "broken"])
def test_missing_dulwich_says_which_pip_to_run(ansible, upstream, git_daemon, tmp_path, how):
    upstream.commit({"hosts.yml": HOSTS})
    shim = tmp_path / "shim"
    if how == "not installed":
        shim.mkdir()
        (shim / "sitecustomize.py").write_text(BLOCK_DULWICH)
    else:  # found, but its import fails
        (shim / "dulwich").mkdir(parents=True)
        (shim / "dulwich" / "__init__.py").write_text("raise ImportError('No module named dulwich._objects')\n")
    source = write_source(tmp_path, url=git_daemon.url("inventory"))
    proc = ansible.inventory("-i", source, "--list", env={"PYTHONPATH": str(shim)})
    assert proc.returncode != 0, proc.stdout
    found = re.search(r"install it with: (\S+) -m pip install 'dulwich>=1\.2\.13,<2'", " ".join(proc.stderr.split()))
    assert found, proc.stderr
    python = found.group(1)
    assert_face(proc.stderr, "vcs.inventory.git: the Python library dulwich cannot be imported by the Python that "
                f"runs Ansible on this controller ({python}); install it with: {python} -m pip install "
                "'dulwich>=1.2.13,<2'", source)
    assert "Failed to import the required Python library" not in proc.stderr  # Ansible's module boilerplate
    assert "ansible_python_interpreter" not in proc.stderr  # a setting for managed hosts, not the controller
    # The command names the Python that runs Ansible: the one that imports this ansible-core.
    import ansible as ansible_package

    where = subprocess.run([python, "-c", "import ansible, sys; sys.stdout.write(ansible.__file__)"],
                           capture_output=True, text=True, check=True).stdout
    assert os.path.realpath(where) == os.path.realpath(ansible_package.__file__)
    assert os.path.realpath(python) == os.path.realpath(sys.executable)


def test_a_misnamed_source_is_explained(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": HOSTS})
    source = write_source(tmp_path, name="prod.yml", url=git_daemon.url("inventory"))
    proc = ansible.inventory("-i", source, "--list")
    # Ansible goes on without the source (exit 0); the plugin refuses the file but says why.
    assert proc.returncode == 0, proc.stderr
    assert plain_audit(json.loads(proc.stdout))["_meta"]["hostvars"] == {}
    assert said(f"vcs.inventory.git: {source} sets 'plugin: vcs.inventory.git', but its name does not end in "
                "git.yml or git.yaml, so Ansible does not hand it to this plugin and reads no hosts from it; rename "
                "it (for example to prod.git.yml)", proc.stderr), proc.stderr
    assert said("could not be verified by inventory plugin 'vcs.inventory.git'", proc.stderr), proc.stderr
    other = write_source(tmp_path, name="hosts.yml")
    with open(other, "w") as handle:
        handle.write(HOSTS)
    proc = ansible.inventory("-i", other, "--list")
    assert proc.returncode == 0 and "vcs.inventory.git" not in proc.stderr, proc.stderr


def test_a_missing_ssh_client_is_said_without_a_class_name(ansible, upstream, tmp_path):
    upstream.commit({"hosts.yml": HOSTS})
    url = f"ssh://git@127.0.0.1:1{upstream.bare}"
    source = write_source(tmp_path, url=url, timeout=5)
    proc = ansible.inventory("-i", source, "--list", env={"PATH": os.path.dirname(sys.executable)})  # no ssh there
    assert proc.returncode != 0, proc.stdout
    assert_face(proc.stderr, f"vcs.inventory.git: cannot read {url}: the OpenSSH client program 'ssh' is missing from "
                "PATH; SSH URLs need it (package openssh-client on Debian and Ubuntu, openssh-clients on Fedora and "
                "RHEL; see bindep.txt)", source)


def test_ansible_doc_renders_every_description(ansible):
    proc = ansible.run("ansible-doc", "-t", "inventory", "vcs.inventory.git")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "'' }}" not in text and "default('main''" not in text, text
    assert not re.search(r"\b[CVOEIBLU]\(", text), re.search(r".{40}\b[CVOEIBLU]\(.{40}", text)
    assert 'Quote a version that YAML would read as a number' in text
