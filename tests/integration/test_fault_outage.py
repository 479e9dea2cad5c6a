"""Git outages: refresh_interval without network, on_sync_failure fail/use_cache, no cache at all,
and a server that accepts connections and never answers (timeout)."""

from __future__ import annotations

import json
import os

import pytest

from conftest import plain_audit, write_source
from helpers.faults import TcpProxy, assert_failed_cleanly, flat, hostvars, restart
from helpers.servers import free_port

HOSTS_A = "[web]\nweb1\nweb2\n\n[db]\ndb1\n"
HOSTS_B = "[web]\nweb1\nweb2\nweb3\n\n[db]\ndb1\n"


@pytest.fixture
def proxy(git_daemon):
    server = TcpProxy(git_daemon.port)
    yield server
    server.close()


def proxied_url(proxy: TcpProxy) -> str:
    return f"git://127.0.0.1:{proxy.port}/inventory.git"


def stale_flags(listing: dict) -> set:
    return {v["git_inventory_stale"] for v in hostvars(listing).values()}


def commits(listing: dict) -> set:
    return {v["git_inventory_commit"] for v in hostvars(listing).values()}


def test_refresh_interval_uses_no_network_at_all(ansible, upstream, git_daemon, proxy, tmp_path):
    first_commit = upstream.commit({"hosts": HOSTS_A})
    source = write_source(tmp_path, url=proxied_url(proxy), refresh_interval=3600)
    first = ansible.list(source)
    assert commits(first) == {first_commit}
    assert proxy.connections >= 1 and proxy.bytes_in > 0
    seen = (proxy.connections, proxy.bytes_in)

    new_commit = upstream.commit({"hosts": HOSTS_B})
    # Inside the interval: the cached commit, and not one connection (not even a ref advertisement).
    assert ansible.list(source) == first
    assert (proxy.connections, proxy.bytes_in) == seen

    # With the server and the port gone, the run is just as good and says nothing.
    git_daemon.stop()
    proxy.refuse()
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    assert plain_audit(json.loads(proc.stdout)) == first
    assert "WARNING" not in proc.stderr, proc.stderr

    # The same url and version without the interval asks the remote again (--flush-cache too, in
    # test_cache_bounds.py).
    restart(git_daemon)
    proxy.listen()
    asking = write_source(tmp_path, "asking.git.yml", url=proxied_url(proxy))
    fresh = ansible.list(asking)
    assert commits(fresh) == {new_commit}
    assert "web3" in hostvars(fresh)
    assert proxy.connections > seen[0]


def test_fail_mode_names_the_remote_without_credentials(ansible, upstream, http_server, tmp_path):
    upstream.commit({"hosts": HOSTS_A})
    token = "tok-9f3b1c7e5a"
    url = http_server.url("inventory", userinfo=f"deploy:{token}")
    safe_url = http_server.url("inventory")
    source = write_source(tmp_path, url=url)
    assert set(hostvars(ansible.list(source))) == {"web1", "web2", "db1"}

    http_server.stop()
    proc = ansible.inventory("-i", source, "--list")
    assert_failed_cleanly(proc, safe_url, "connection refused")
    assert token not in proc.stdout + proc.stderr
    for dirpath, _dirs, files in os.walk(ansible.cache_dir):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as handle:
                assert token.encode() not in handle.read(), os.path.join(dirpath, name)


def test_use_cache_serves_the_last_good_commit_marked_stale(ansible, upstream, git_daemon, tmp_path):
    good = upstream.commit({"hosts": HOSTS_A})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), on_sync_failure="use_cache")
    first = ansible.list(source)
    assert stale_flags(first) == {False}

    git_daemon.stop()
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    stale = plain_audit(json.loads(proc.stdout))
    assert set(hostvars(stale)) == {"web1", "web2", "db1"}
    assert stale_flags(stale) == {True}
    assert commits(stale) == {good}
    warning = flat(proc.stderr)
    assert "WARNING" in proc.stderr
    for needle in (f"cached commit {good[:12]}", "last synced", "ago", git_daemon.url("inventory"),
                   "connection refused"):
        assert flat(needle) in warning, (needle, proc.stderr)
    assert "Traceback" not in proc.stderr

    restart(git_daemon)
    newer = upstream.commit({"hosts": HOSTS_B})
    fresh = ansible.list(source)
    assert stale_flags(fresh) == {False}
    assert commits(fresh) == {newer}


@pytest.mark.parametrize("mode", ["fail", "use_cache"])
def test_no_cache_and_remote_down_is_a_clear_error(ansible, tmp_path, mode):
    url = f"git://127.0.0.1:{free_port()}/inventory.git"
    proc = ansible.inventory("-i", write_source(tmp_path, url=url, on_sync_failure=mode), "--list")
    needles = [url, "connection refused"]
    if mode == "use_cache":
        needles.append("no earlier good checkout is cached")
    assert_failed_cleanly(proc, *needles)
    assert not hostvars(plain_audit(json.loads(proc.stdout or "{}")))


def test_timeout_on_a_server_that_never_answers(ansible, upstream, git_daemon, proxy, tmp_path):
    good = upstream.commit({"hosts": HOSTS_A})
    url = proxied_url(proxy)
    use_cache = write_source(tmp_path, "cached.git.yml", url=url, timeout=2, on_sync_failure="use_cache")
    strict = write_source(tmp_path, "strict.git.yml", url=url, timeout=2)
    assert stale_flags(ansible.list(use_cache)) == {False}

    proxy.mode = "hang"  # accepts the connection, never sends a byte
    before = proxy.connections
    proc = ansible.inventory("-i", use_cache, "--list", timeout=120)
    assert proc.returncode == 0, proc.stderr
    listing = plain_audit(json.loads(proc.stdout))
    assert stale_flags(listing) == {True} and commits(listing) == {good}
    assert flat(f"no answer from {url} within 2s") in flat(proc.stderr), proc.stderr

    proc = ansible.inventory("-i", strict, "--list", timeout=120)
    assert_failed_cleanly(proc, f"no answer from {url} within 2s", "option 'timeout'")
    assert proxy.connections >= before + 2  # both runs did reach the hung server
