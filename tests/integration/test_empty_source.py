"""A source that adds no hosts warns (and does not fail, as a local copy does not), naming the files
Ansible's ignore rules skipped, the setting that skipped them and the fix."""

from __future__ import annotations

import json

from ansible import constants as C

from conftest import said, write_source

INI = "[db]\ndb1\n\n[web]\nweb1\nweb2\n"
LAYOUT = {
    "inventories/prod/hosts.ini": INI,
    "inventories/prod/README.md": "The production inventory.\n",
    "inventories/prod/group_vars/web.yml": "http_port: 8080\n",
    "inventories/prod/host_vars/db1.yml": "backup: true\n",
}
# ansible-core 2.16-2.18 skip *.ini in a directory source by default; 2.19 reads them.
CORE_SKIPS_INI = ".ini" in C.INVENTORY_IGNORE_EXTS


def hosts(proc) -> set:
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout)["_meta"].get("hostvars", {})) | set(
        h for g in json.loads(proc.stdout).values() if isinstance(g, dict) for h in g.get("hosts", []))


def test_skipped_ini_file_is_named_with_its_setting_and_the_fix(ansible, upstream, git_daemon, tmp_path):
    commit = upstream.commit(LAYOUT)
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inventories/prod")
    env = {"ANSIBLE_INVENTORY_IGNORE": ".ini,.md"}  # what 2.16-2.18 do by default, on every core
    proc = ansible.inventory("-i", source, "--list", env=env)
    assert hosts(proc) == set()  # as a local copy: no failure
    local = upstream.clone_at(str(tmp_path / "local"), commit)
    assert hosts(ansible.inventory("-i", f"{local}/inventories/prod", "--list", env=env)) == set()
    assert said(f"vcs.inventory.git: the source added no hosts: the path 'inventories/prod' (option 'path') of "
                f"{git_daemon.url('inventory')} at commit {commit[:12]} defines none.", proc.stderr)
    assert said("skipped these files under it: inventories/prod/README.md (INVENTORY_IGNORE_EXTS, '.md'); "
                "inventories/prod/hosts.ini (INVENTORY_IGNORE_EXTS, '.ini').", proc.stderr)
    assert said("Rename such a file (hosts.ini to hosts or hosts.yml), point the option 'path' at the file itself",
                proc.stderr)
    assert not said("group_vars", proc.stderr)  # always skipped, read as vars: not news


def test_default_rules_of_this_core(ansible, upstream, git_daemon, tmp_path):
    upstream.commit(LAYOUT)
    proc = ansible.inventory("-i", write_source(tmp_path, url=git_daemon.url("inventory"), path="inventories/prod"),
                             "--list")
    if CORE_SKIPS_INI:
        assert hosts(proc) == set()
        assert said("inventories/prod/hosts.ini (INVENTORY_IGNORE_EXTS, '.ini')", proc.stderr)
    else:
        assert hosts(proc) == {"db1", "web1", "web2"}
        assert not said("added no hosts", proc.stderr)


def test_ignore_patterns_are_named_too(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"inv/prod_hosts": INI})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv")
    proc = ansible.inventory("-i", source, "--list", env={"ANSIBLE_INVENTORY_IGNORE_REGEX": "^prod_"})
    assert hosts(proc) == set()
    assert said("inv/prod_hosts (INVENTORY_IGNORE_PATTERNS, '^prod_')", proc.stderr)


def test_the_fixes_work_on_every_core(ansible, upstream, git_daemon, tmp_path):
    env = {"ANSIBLE_INVENTORY_IGNORE": ".ini"}
    upstream.commit(dict(LAYOUT, **{"inventories/stage/hosts": INI, "inventories/test/hosts.yml":
                                    "all:\n  children:\n    web:\n      hosts:\n        web1:\n"}))
    for name, path, expected in (("file", "inventories/prod/hosts.ini", {"db1", "web1", "web2"}),
                                 ("renamed", "inventories/stage", {"db1", "web1", "web2"}),
                                 ("yaml", "inventories/test", {"web1"})):
        source = write_source(tmp_path, name=f"{name}.git.yml", url=git_daemon.url("inventory"), path=path)
        proc = ansible.inventory("-i", source, "--list", env=env)
        assert hosts(proc) == expected
        assert not said("added no hosts", proc.stderr)


def test_a_path_with_no_inventory_files_says_so(ansible, upstream, git_daemon, tmp_path):
    commit = upstream.commit({"inv/hosts.yml": "all:\n  children:\n    web: {}\n"})
    proc = ansible.inventory("-i", write_source(tmp_path, url=git_daemon.url("inventory"), path="inv"), "--list")
    assert hosts(proc) == set()
    assert said(f"the path 'inv' (option 'path') of {git_daemon.url('inventory')} at commit {commit[:12]} defines "
                "none. Check the option 'path' and the version.", proc.stderr)
