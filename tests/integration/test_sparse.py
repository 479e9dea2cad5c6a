"""Partial fetch and sparse checkouts against real servers that do and do not filter."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils import git_cache, locking
from helpers.counting_proxy import CountingProxy
from helpers.servers import GitDaemon, HttpGitServer
from helpers.upstream import Upstream, git

BIG = os.urandom(400_000)  # a binary outside the inventory: incompressible
# Inventory files without .ini: ansible-core 2.16 skips *.ini files inside a directory source.
KUBESPRAY_LIKE = {
    "inventory/sample/hosts": "[kube_control_plane]\nnode1\n[etcd:children]\nkube_control_plane\n",
    "inventory/sample/group_vars/all/all.yml": "bin_dir: /usr/local/bin\n",
    "inventory/sample/group_vars/etcd.yml": "etcd_deployment_type: host\n",
    "inventory/local/hosts": ("node1 ansible_connection=local local_release_dir=/tmp\n"
                              "[kube_control_plane]\nnode1\n[etcd]\nnode1\n"),
    "inventory/local/group_vars": os.path.join("..", "sample", "group_vars"),  # made a symlink below
    "roles/kubernetes/tasks/main.yml": "- debug: msg=hi\n",
    "contrib/terraform/blob.bin": BIG,
    "docs/big.bin": BIG[::-1],
}


def make_layout(upstream: Upstream, files: dict) -> str:
    links = {k: v for k, v in files.items() if k == "inventory/local/group_vars"}
    upstream.write({k: v for k, v in files.items() if k not in links})
    for rel, target in links.items():
        os.symlink(target, os.path.join(upstream.work, rel))
    return upstream.commit()


def sync(cache, url: str, paths, **kwargs) -> git_cache.Checkout:
    checkout = git_cache.sync(git_cache.SyncOptions(url=url, cache_dir=str(cache), paths=paths, **kwargs))
    locking.release(checkout.lock_fd)
    return checkout


def files_of(root: str) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            found.add(os.path.relpath(os.path.join(dirpath, name), root))
    return found


def server_of(entry: str) -> dict:
    with open(os.path.join(entry, "server.json")) as handle:
        return json.load(handle)


@pytest.fixture(params=["git", "http"])
def served(request, repos_root):
    """(upstream that filters and serves blobs by id, url through a counting proxy, proxy)."""
    upstream = Upstream(repos_root, allow_any_sha=True, allow_filter=True)
    server = GitDaemon(repos_root) if request.param == "git" else HttpGitServer(repos_root)
    try:
        with CountingProxy(server.port) as proxy:
            yield upstream, server.url("inventory").replace(f":{server.port}/", f":{proxy.port}/"), proxy
    finally:
        server.stop()


LOCAL_SET = {"inventory/local/hosts", "inventory/local/group_vars", "inventory/sample/group_vars/all/all.yml",
             "inventory/sample/group_vars/etcd.yml"}


def test_a_filtering_server_sends_only_what_the_inventory_needs(served, tmp_path):
    upstream, url, proxy = served
    commit = make_layout(upstream, KUBESPRAY_LIKE)
    before = proxy.snapshot()
    checkout = sync(tmp_path / "cache", url, ["inventory/local/hosts"])
    used = proxy.since(before)
    assert checkout.commit == commit
    assert files_of(checkout.path) == LOCAL_SET  # the symlink and its target, nothing else
    assert used["bytes_down"] < 20_000, used  # the two binaries alone are 800 KB
    assert server_of(checkout.entry) == {"filter": True, "blobs_by_id": True}
    with open(os.path.join(checkout.path, "inventory/local/group_vars/etcd.yml")) as handle:
        assert handle.read() == "etcd_deployment_type: host\n"
    # Nothing new: nothing is fetched, the checkout stands.
    before = proxy.snapshot()
    again = sync(tmp_path / "cache", url, ["inventory/local/hosts"])
    assert again.path == checkout.path and proxy.since(before)["bytes_down"] < 1024


def test_a_changed_path_on_a_warm_cache_adds_only_what_is_missing(served, tmp_path):
    upstream, url, proxy = served
    make_layout(upstream, KUBESPRAY_LIKE)
    first = sync(tmp_path / "cache", url, ["inventory/local/hosts"])
    inode = os.lstat(os.path.join(first.path, "inventory/local/hosts")).st_ino
    before = proxy.snapshot()
    wider = sync(tmp_path / "cache", url, ["inventory/local/hosts", "roles"])
    assert proxy.since(before)["bytes_down"] < 5_000
    assert files_of(wider.path) == LOCAL_SET | {"roles/kubernetes/tasks/main.yml"}
    assert os.lstat(os.path.join(wider.path, "inventory/local/hosts")).st_ino == inode  # not rewritten
    # The narrower path is served by the wider checkout, with no fetch.
    again = sync(tmp_path / "cache", url, ["roles"])
    assert files_of(again.path) == files_of(wider.path)


def test_a_new_commit_fetches_only_its_needed_blobs(served, tmp_path):
    upstream, url, proxy = served
    make_layout(upstream, KUBESPRAY_LIKE)
    sync(tmp_path / "cache", url, ["inventory/sample"])
    new = upstream.commit({"docs/other.bin": os.urandom(300_000), "inventory/sample/group_vars/etcd.yml": "x: 1\n"})
    before = proxy.snapshot()
    checkout = sync(tmp_path / "cache", url, ["inventory/sample"])
    assert checkout.commit == new and proxy.since(before)["bytes_down"] < 10_000
    assert files_of(checkout.path) == {"inventory/sample/hosts", "inventory/sample/group_vars/all/all.yml",
                                       "inventory/sample/group_vars/etcd.yml"}


@pytest.mark.parametrize("refused", [False, True])
def test_without_filters_the_commit_comes_whole_once(repos_root, tmp_path, refused):
    """No filter: one full shallow fetch. A filter advertised, then refused: asked once, then remembered."""
    upstream = Upstream(repos_root, allow_filter=refused)
    if refused:
        git("config", "uploadpackfilter.allow", "false", cwd=upstream.bare)
    commit = make_layout(upstream, KUBESPRAY_LIKE)
    daemon = GitDaemon(repos_root)
    try:
        with CountingProxy(daemon.port) as proxy:
            url = daemon.url("inventory").replace(f":{daemon.port}/", f":{proxy.port}/")
            checkout = sync(tmp_path / "cache", url, ["inventory/local/hosts"])
            used = proxy.since(proxy.snapshot() | {"bytes_down": 0, "bytes_up": 0, "connections": 0})
            assert checkout.commit == commit and files_of(checkout.path) == LOCAL_SET
            assert 800_000 < used["bytes_down"] < 880_000, used  # each binary once
            assert server_of(checkout.entry) == {"filter": False}
            new = upstream.commit({"inventory/local/hosts": "node2\n"})
            before = proxy.snapshot()
            assert sync(tmp_path / "cache", url, ["inventory/local/hosts"]).commit == new
            assert proxy.since(before)["connections"] == 1  # no filter asked for in vain
    finally:
        daemon.stop()


def test_the_repo_root_as_path_is_the_whole_tree(served, tmp_path):
    upstream, url, _proxy = served
    make_layout(upstream, KUBESPRAY_LIKE)
    checkout = sync(tmp_path / "cache", url, [""])
    assert files_of(checkout.path) == set(KUBESPRAY_LIKE)


@pytest.mark.parametrize("path", ["inventory/sample", "inventory/local", "inventory/local/hosts",
                                  "inventory/sample/hosts"])
def test_kubespray_like_layout_equals_the_oracle(path, ansible, repos_root, tmp_path):
    from conftest import oracle, strip_audit, write_source

    upstream = Upstream(repos_root, allow_filter=True)
    commit = make_layout(upstream, KUBESPRAY_LIKE)
    daemon = GitDaemon(repos_root)
    try:
        source = write_source(tmp_path, url=daemon.url("inventory"), path=path)
        got = ansible.list(source)
    finally:
        daemon.stop()
    assert strip_audit(got) == oracle(ansible, upstream, commit, path, tmp_path)
    assert got["_meta"]["hostvars"].get("node1", {}).get("git_inventory_commit") == commit, got


def test_gc_consolidates_a_partial_mirror_and_keeps_what_checkouts_need(served, tmp_path):
    from ansible_collections.vcs.inventory.plugins.plugin_utils import cache_gc

    upstream, url, _proxy = served
    make_layout(upstream, KUBESPRAY_LIKE)
    first = sync(tmp_path / "cache", url, ["inventory/local/hosts"])
    for k in range(3):
        upstream.commit({"inventory/local/hosts": f"node{k}\n", "docs/big.bin": os.urandom(1000)})
        sync(tmp_path / "cache", url, ["inventory/local/hosts", "roles"])
    mirror = os.path.join(first.entry, "mirror.git")
    assert cache_gc.consolidate_packs(mirror, None, lambda m: None, limit=0)
    last = sync(tmp_path / "cache", url, ["inventory/sample"])  # another path after GC: its blobs come by id
    assert files_of(last.path) >= {"inventory/sample/hosts", "roles/kubernetes/tasks/main.yml"}
    from dulwich.repo import Repo

    with Repo(mirror) as repo:
        assert len(list(repo.object_store.packs)) <= 2


# uploadpack.packObjectsHook: a server that filters but will not pack a blob asked for by id.
NO_BLOBS_BY_ID = """#!/bin/sh
revs=$(mktemp)
cat > "$revs"
for want in $(grep -E '^[0-9a-f]{40}$' "$revs"); do
  if [ "$(git cat-file -t "$want" 2>/dev/null)" = blob ]; then
    echo "fatal: this server does not send objects by id" >&2
    rm -f "$revs"
    exit 1
  fi
done
"$@" < "$revs"
status=$?
rm -f "$revs"
exit $status
"""


def test_a_server_that_refuses_blobs_by_id_gets_the_commit_whole_once_and_is_remembered(repos_root, tmp_path):
    hook = tmp_path / "no-blobs-by-id.sh"
    hook.write_text(NO_BLOBS_BY_ID)
    hook.chmod(0o755)
    config = tmp_path / "server-gitconfig"  # protected (global) config: the only place git reads this hook from
    config.write_text(f"[uploadpack]\n\tpackObjectsHook = {hook}\n")
    upstream = Upstream(repos_root, allow_filter=True)
    commit = make_layout(upstream, KUBESPRAY_LIKE)
    daemon = GitDaemon(repos_root, env={"GIT_CONFIG_GLOBAL": str(config)})
    try:
        with CountingProxy(daemon.port) as proxy:
            url = daemon.url("inventory").replace(f":{daemon.port}/", f":{proxy.port}/")
            checkout = sync(tmp_path / "cache", url, ["inventory/local/hosts"])
            assert checkout.commit == commit and files_of(checkout.path) == LOCAL_SET
            assert server_of(checkout.entry) == {"filter": True, "blobs_by_id": False}
            assert 800_000 < proxy.snapshot()["bytes_down"] < 880_000  # the blobs came once, with the commit
            new = upstream.commit({"inventory/local/hosts": "node2\n"})
            before = proxy.snapshot()
            assert sync(tmp_path / "cache", url, ["inventory/local/hosts"]).commit == new
            assert proxy.since(before)["connections"] == 1  # no filter, no refused request: one full fetch
    finally:
        daemon.stop()
