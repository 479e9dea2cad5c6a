"""Crafted commits served by git daemon: refused with the path named, nothing written outside the
checkout, and no half-written tree published (the last good commit stays what is served)."""

from __future__ import annotations

import glob
import json
import os

import pytest

from conftest import plain_audit, said, write_source
from helpers.git_objects import Objects

HOSTS = "all:\n  hosts:\n    web1:\n"


def hostile_tree(objects: Objects, kind: str, outside: str) -> tuple[str, str]:
    """(tree, the path the refusal must name) for one kind of hostile tree; each also holds hosts.yml."""
    hosts = ("100644", "hosts.yml", objects.blob(HOSTS))
    payload = objects.blob("#!/bin/sh\necho this hook must never be written\n")
    inner = objects.tree([("100755", "x", payload)])
    if kind == "dot-git":
        hooks = objects.tree([("100755", "post-checkout", payload)])
        return objects.tree([("40000", ".git", objects.tree([("40000", "hooks", hooks)])), hosts]), ".git/hooks/post-checkout"
    if kind == "dot-git-upper":
        return objects.tree([("40000", ".GIT", objects.tree([("100644", "config", payload)])), hosts]), ".GIT/config"
    if kind == "ntfs-short-name":
        return objects.tree([("40000", "git~1", objects.tree([("100644", "config", payload)])), hosts]), "git~1/config"
    if kind == "dot-dot":
        return objects.tree([("40000", "..", inner), hosts]), "../x"
    # "link" is a symlink, then "link/x" tries to write through it: as a second entry named "link"
    # (a directory), or as one entry whose name holds a slash. The link points out, or to a real directory.
    out_link = ("120000", "link", objects.blob(outside))
    in_link = ("120000", "link", objects.blob("dir"))
    real_dir = ("40000", "dir", objects.tree([("100644", "keep", objects.blob(""))]))
    if kind == "symlink-out-then-dir":
        return objects.tree([hosts, out_link, ("40000", "link", inner)]), "link"
    if kind == "symlink-out-then-slash-name":
        return objects.tree([hosts, out_link, ("100755", "link/x", payload)]), "link/x"
    if kind == "symlink-in-then-dir":
        return objects.tree([real_dir, hosts, in_link, ("40000", "link", inner)]), "link"
    if kind == "symlink-in-then-slash-name":
        return objects.tree([real_dir, hosts, in_link, ("100755", "link/x", payload)]), "link/x"
    raise AssertionError(kind)


def cache_state(cache_dir: str) -> dict:
    """The names in the entry and in its trees/: a path that climbed out of a checkout would land here."""
    (trees,) = glob.glob(os.path.join(cache_dir, "*", "trees"))
    return {"entry": sorted(os.listdir(os.path.dirname(trees))), "trees": sorted(os.listdir(trees))}


@pytest.fixture
def outside(tmp_path):
    directory = tmp_path / "outside"
    directory.mkdir()
    return directory


@pytest.mark.parametrize("kind", ["dot-git", "dot-git-upper", "ntfs-short-name", "dot-dot", "symlink-out-then-dir",
                                  "symlink-out-then-slash-name", "symlink-in-then-dir", "symlink-in-then-slash-name"])
def test_hostile_tree_is_refused(ansible, upstream, git_daemon, tmp_path, outside, kind):
    good = upstream.commit({"hosts.yml": HOSTS})
    source = write_source(tmp_path, url=git_daemon.url("inventory"))
    ansible.list(source)
    before = cache_state(ansible.cache_dir)
    assert good in before["trees"]

    objects = Objects(upstream.bare)
    tree, named = hostile_tree(objects, kind, str(outside))
    bad = objects.commit(tree, parent=good)
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0
    assert said(f"refusing to check out {git_daemon.url('inventory')}", proc.stderr)
    assert said(bad, proc.stderr) and said(repr(named), proc.stderr)
    # Nothing of the bad commit was published, nothing half-written was left, nothing escaped.
    assert cache_state(ansible.cache_dir) == before
    assert os.listdir(outside) == []
    strays = [os.path.join(d, n) for d, _dirs, names in os.walk(ansible.cache_dir) for n in names if n in ("x", "post-checkout")]
    assert strays == [], strays


def test_last_good_commit_is_served_after_a_hostile_push(ansible, upstream, git_daemon, tmp_path, outside):
    good = upstream.commit({"hosts.yml": HOSTS})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), on_sync_failure="use_cache")
    ansible.list(source)
    objects = Objects(upstream.bare)
    tree, named = hostile_tree(objects, "symlink-out-then-slash-name", str(outside))
    objects.commit(tree, parent=good)
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    hostvars = plain_audit(json.loads(proc.stdout))["_meta"]["hostvars"]
    assert hostvars["web1"]["git_inventory_commit"] == good
    assert hostvars["web1"]["git_inventory_stale"] is True
    assert said(repr(named), proc.stderr)
    assert os.listdir(outside) == []
