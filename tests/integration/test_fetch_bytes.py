"""What a sync costs on the wire, counted by a TCP proxy between the cache and a real server."""

from __future__ import annotations

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils import git_cache, locking
from helpers.counting_proxy import CountingProxy
from helpers.upstream import git

TAGS = 300


def _sync(opts: git_cache.SyncOptions) -> git_cache.Checkout:
    checkout = git_cache.sync(opts)
    locking.release(checkout.lock_fd)
    return checkout


def _many_tags(upstream, count: int = TAGS) -> str:
    head = upstream.commit({"hosts": "[web]\nweb1\n", "group_vars/web.yml": "a: 1\n"})
    for k in range(count):
        git("tag", f"release-{k:04d}", cwd=upstream.work)
    git("push", "-q", "origin", "--tags", cwd=upstream.work)
    return head


@pytest.fixture(params=["git", "http"])
def counted_url(request, upstream, repos_root):
    """(url through a counting proxy, the proxy) for git daemon and smart HTTP."""
    from helpers.servers import GitDaemon, HttpGitServer

    server = GitDaemon(repos_root) if request.param == "git" else HttpGitServer(repos_root)
    try:
        with CountingProxy(server.port) as proxy:
            yield server.url("inventory").replace(f":{server.port}/", f":{proxy.port}/"), proxy, request.param
    finally:
        server.stop()


@pytest.mark.parametrize("version", [None, "main", "release-0150"])
def test_a_rerun_with_nothing_new_moves_under_one_kib_despite_hundreds_of_tags(
        upstream, counted_url, tmp_path, version):
    url, proxy, scheme = counted_url
    head = _many_tags(upstream)
    opts = git_cache.SyncOptions(url=url, version=version, cache_dir=str(tmp_path / "cache"))
    assert _sync(opts).commit == head
    before = proxy.snapshot()
    assert _sync(opts).commit == head
    used = proxy.since(before)
    # The ref list of 300 tags alone would be 18 KB; over HTTP two requests' headers take about 1 KB more.
    assert used["bytes_up"] + used["bytes_down"] <= (1024 if scheme == "git" else 2048), used


def test_one_new_commit_moves_little_whatever_the_history(upstream, counted_url, tmp_path):
    """The haves stay few: a one-commit rerun of a full-history mirror does not send every local commit."""
    url, proxy, _scheme = counted_url
    for k in range(400):
        upstream.commit(message=f"c{k}", push=False)
    _many_tags(upstream, 50)
    opts = git_cache.SyncOptions(url=url, version="main", depth=0, cache_dir=str(tmp_path / "cache"))
    _sync(opts)
    new = upstream.commit({"hosts": "[web]\nweb2\n"})
    before = proxy.snapshot()
    assert _sync(opts).commit == new
    used = proxy.since(before)
    # 256 haves at most (50 bytes each), one ref asked for, a pack of three objects.
    assert used["bytes_up"] <= 14_000 and used["bytes_down"] <= 4_000, used
