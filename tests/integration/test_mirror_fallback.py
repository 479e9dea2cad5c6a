"""mirrors and bundles: a primary that is down (a closed port) is served by a git daemon mirror or a
bundle; a primary that answers 401 is the answer (no mirror tried); the primary's credentials go only
to mirrors on the same host; a bundle as url, v2 and v3."""

from __future__ import annotations

import json
import os

import pytest

from conftest import plain_audit, said, write_source
from helpers.servers import HttpGitServer, free_port
from helpers.upstream import git

HOSTS = "all:\n  hosts:\n    web1:\n    web2:\n"


def audit(listing: dict) -> dict:
    values = {}
    for hostvars in listing["_meta"]["hostvars"].values():
        for key in ("git_inventory_url", "git_inventory_commit", "git_inventory_stale"):
            values.setdefault(key, set()).add(hostvars[key])
    return {key: (value.pop() if len(value) == 1 else value) for key, value in values.items()}


def make_bundle(upstream, path: str, version: int = 2) -> str:
    git("bundle", "create", f"--version={version}", path, "--all", cwd=upstream.bare)
    return path


def down_url() -> str:
    return f"http://127.0.0.1:{free_port()}/inventory.git"  # nothing listens there: connection refused


def test_a_primary_that_is_down_is_served_by_a_git_daemon_mirror(ansible, upstream, git_daemon, tmp_path):
    commit = upstream.commit({"hosts.yml": HOSTS})
    primary = down_url()
    source = write_source(tmp_path, url=primary, mirrors=[git_daemon.url("inventory")])
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    values = audit(plain_audit(json.loads(proc.stdout)))
    assert values == {"git_inventory_url": git_daemon.url("inventory"), "git_inventory_commit": commit,
                      "git_inventory_stale": False}
    assert said(f"{primary} could not be reached (cannot connect to {primary}: connection refused", proc.stderr)
    assert said(f"the mirror {git_daemon.url('inventory')} (option 'mirrors') served this run", proc.stderr)


@pytest.mark.parametrize("version", [2, 3])
def test_a_bundle_mirror_and_the_env_var(ansible, upstream, tmp_path, version):
    commit = upstream.commit({"hosts.yml": HOSTS})
    bundle = make_bundle(upstream, str(tmp_path / "inventory.bundle"), version)
    source = write_source(tmp_path, url=down_url())
    # The first mirror is down too; the bundle, as a file:// URL, serves.
    env = {"ANSIBLE_VCS_INVENTORY_MIRRORS": f"{down_url()},file://{bundle}"}
    proc = ansible.inventory("-i", source, "--list", env=env)
    assert proc.returncode == 0, proc.stderr
    expected = {"git_inventory_url": f"file://{bundle}", "git_inventory_commit": commit, "git_inventory_stale": False}
    assert audit(plain_audit(json.loads(proc.stdout))) == expected
    assert said(f"the mirror file://{bundle} (option 'mirrors') served this run", proc.stderr)


def test_a_bundle_as_url_with_paths_and_a_new_release(ansible, upstream, tmp_path):
    upstream.commit({"inventory/hosts.yml": HOSTS, "docs/readme.md": "x\n"})
    bundle = str(tmp_path / "release.bundle")
    make_bundle(upstream, bundle)
    source = write_source(tmp_path, url=bundle, version="main", path="inventory")
    assert set(ansible.list(source)["_meta"]["hostvars"]) == {"web1", "web2"}
    second = upstream.commit({"inventory/hosts.yml": HOSTS + "    web3:\n"})
    os.unlink(bundle)
    make_bundle(upstream, bundle)  # the next release ships a new bundle in the same place
    listing = ansible.list(source)
    assert set(listing["_meta"]["hostvars"]) == {"web1", "web2", "web3"}
    assert audit(listing)["git_inventory_commit"] == second
    assert audit(listing)["git_inventory_url"] == bundle


def test_a_primary_that_answers_401_is_the_answer(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": HOSTS})
    server = HttpGitServer(upstream.root, auth="deploy:right")
    try:
        source = write_source(tmp_path, url=server.url("inventory"), username="deploy", password="wrong",
                              mirrors=[git_daemon.url("inventory")])
        proc = ansible.inventory("-i", source, "--list")
    finally:
        server.stop()
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert said("authentication failed for", out), out
    assert "mirror" not in out and "wrong" not in out


def test_credentials_go_only_to_a_mirror_on_the_same_host(ansible, upstream, tmp_path):
    commit = upstream.commit({"hosts.yml": HOSTS})
    server = HttpGitServer(upstream.root, auth="deploy:s3cret-token")
    try:
        primary = f"http://deploy:s3cret-token@127.0.0.1:{free_port()}/inventory.git"
        same_host = server.url("inventory")
        listing = ansible.list(write_source(tmp_path, url=primary, mirrors=[same_host]))
        assert audit(listing)["git_inventory_commit"] == commit
        assert audit(listing)["git_inventory_url"] == same_host
        # The same server under another host name gets no credentials: it answers 401, no mirror serves.
        other_host = f"http://localhost:{server.port}/inventory.git"
        source = write_source(tmp_path, name="other.git.yml", url=primary, mirrors=[other_host],
                              cache_dir=str(tmp_path / "other-cache"))
        proc = ansible.inventory("-i", source, "--list")
    finally:
        server.stop()
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert said(f"no mirror could serve it either (option 'mirrors'): {other_host}: authentication failed", out), out
    assert "s3cret-token" not in out


def test_use_cache_when_the_primary_and_every_mirror_are_down(ansible, upstream, tmp_path):
    commit = upstream.commit({"hosts.yml": HOSTS})
    bundle = make_bundle(upstream, str(tmp_path / "inventory.bundle"))
    primary = down_url()
    source = write_source(tmp_path, url=primary, mirrors=[bundle], on_sync_failure="use_cache")
    assert audit(ansible.list(source))["git_inventory_url"] == bundle
    os.unlink(bundle)
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    values = audit(plain_audit(json.loads(proc.stdout)))
    assert values["git_inventory_commit"] == commit and values["git_inventory_stale"] is True
    assert said("no mirror could serve it either", proc.stderr), proc.stderr
