"""Git LFS pointer files in the needed set are refused by name, never parsed as inventory."""

from __future__ import annotations

import json

from conftest import plain_audit, said, write_source

POINTER = ("version https://git-lfs.github.com/spec/v1\n"
           "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
           "size 12345\n")
HOSTS = "all:\n  hosts:\n    web1:\n"


def test_a_pointer_in_the_needed_set_fails_naming_the_file(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"inventory/hosts.yml": HOSTS, "inventory/group_vars/all.yml": POINTER})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inventory/hosts.yml")
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert said("stores the file 'inventory/group_vars/all.yml' with Git LFS", out), out
    assert said("this plugin does not fetch Git LFS objects", out), out


def test_a_pointer_outside_the_needed_set_is_not_read(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"inventory/hosts.yml": HOSTS, "images/logo.png": POINTER})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inventory")
    assert set(ansible.list(source)["_meta"]["hostvars"]) == {"web1"}


def test_use_cache_serves_the_last_commit_without_pointers(ansible, upstream, git_daemon, tmp_path):
    good = upstream.commit({"hosts.yml": HOSTS})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), on_sync_failure="use_cache")
    assert set(ansible.list(source)["_meta"]["hostvars"]) == {"web1"}
    upstream.commit({"hosts.yml": POINTER})  # someone ran `git lfs track "*.yml"`
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    assert said("stores the file 'hosts.yml' with Git LFS", proc.stderr), proc.stderr

    hostvars = plain_audit(json.loads(proc.stdout))["_meta"]["hostvars"]
    assert hostvars["web1"]["git_inventory_commit"] == good
    assert hostvars["web1"]["git_inventory_stale"] is True
