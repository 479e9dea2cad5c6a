"""Bounded runs: sync_timeout against a server that dribbles, timeout over HTTP(S) without retries,
lock_timeout on a checkout's lock. Real servers on 127.0.0.1, the real ansible-inventory.

The bounds asserted are the generous ones the options promise (the option plus a few seconds for
ansible-inventory to start), not measurements."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import plain_audit, write_source
from helpers.faults import TcpProxy, assert_failed_cleanly, flat, hostvars, leftovers, only_entry
from helpers.tls import make_tls_files

HELPERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "helpers")
HOSTS = "[web]\nweb1\nweb2\n"
STARTUP = 8  # seconds for ansible-inventory to start and load, on a busy machine


def timed(ansible, source: str):
    started = time.monotonic()
    proc = ansible.inventory("-i", source, "--list")
    return proc, time.monotonic() - started


@pytest.fixture
def dribbling(git_daemon):
    """git daemon behind a relay; switch `mode` to "dribble" to pass its answers on one byte every 2 s."""
    relay = TcpProxy(git_daemon.port, delay=2.0)
    yield relay
    relay.close()


def test_sync_timeout_cuts_a_dribbling_server_and_use_cache_serves_stale(ansible, upstream, dribbling, tmp_path):
    good = upstream.commit({"hosts": HOSTS})
    url = f"git://127.0.0.1:{dribbling.port}/inventory.git"
    source = write_source(tmp_path, url=url, timeout=10, sync_timeout=6, on_sync_failure="use_cache")
    assert set(hostvars(ansible.list(source))) == {"web1", "web2"}
    entry = only_entry(ansible.cache_dir)
    upstream.commit({"hosts": HOSTS + "web3\n"})

    dribbling.mode = "dribble"  # every wait is 2 s, well within timeout: only sync_timeout ends it
    proc, took = timed(ansible, source)
    assert proc.returncode == 0, proc.stderr
    assert took < 6 + STARTUP, took
    assert "sync_timeout" in flat(proc.stderr) and flat("while fetching the version HEAD") in flat(proc.stderr)
    served = hostvars(plain_audit(json.loads(proc.stdout)))
    assert set(served) == {"web1", "web2"}
    assert {v["git_inventory_commit"] for v in served.values()} == {good}
    assert {v["git_inventory_stale"] for v in served.values()} == {True}
    assert leftovers(entry) == []

    # The lock is free at once, and nothing of the cut fetch is used: without the relay's delay the
    # next run fetches the new commit.
    from ansible_collections.vcs.inventory.plugins.plugin_utils import locking

    fd = locking.try_lock(os.path.join(entry, "lock"))
    assert fd is not None
    locking.release(fd)
    dribbling.mode = "forward"
    fresh = hostvars(ansible.list(source))
    assert set(fresh) == {"web1", "web2", "web3"}
    assert {v["git_inventory_stale"] for v in fresh.values()} == {False}


def test_sync_timeout_without_a_cache_fails_naming_the_option(ansible, upstream, dribbling, tmp_path):
    upstream.commit({"hosts": HOSTS})
    dribbling.mode = "dribble"
    source = write_source(tmp_path, url=f"git://127.0.0.1:{dribbling.port}/inventory.git", timeout=10,
                          sync_timeout=4)
    proc, took = timed(ansible, source)
    assert took < 4 + STARTUP, took
    assert_failed_cleanly(proc, "within 4s (option 'sync_timeout') while fetching the version HEAD",
                          f"127.0.0.1:{dribbling.port}")
    assert leftovers(only_entry(ansible.cache_dir)) == []


@pytest.fixture
def silent():
    """A listener that accepts connections and never sends a byte (no HTTP answer, no TLS handshake)."""
    listener = TcpProxy(mode="hang")
    yield listener
    listener.close()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_timeout_over_http_is_one_wait_not_four(ansible, silent, tmp_path, scheme):
    options = {"url": f"{scheme}://127.0.0.1:{silent.port}/inventory.git", "timeout": 2}
    if scheme == "https":
        options["ca_path"] = make_tls_files(str(tmp_path / "tls")).ca_cert
    source = write_source(tmp_path, **options)
    proc, took = timed(ansible, source)
    assert took < 5, took  # four attempts (urllib3's default retries) would take 8 s and more
    assert_failed_cleanly(proc, f"no answer from {scheme}://127.0.0.1:{silent.port}/inventory.git within 2s",
                          "option 'timeout'")
    assert silent.connections == 1  # no retry


def test_lock_timeout_bounds_the_wait_for_a_checkout_lock(ansible, upstream, git_daemon, tmp_path, collections_path):
    commit = upstream.commit({"hosts": HOSTS})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), lock_timeout=5)
    ansible.list(source)
    entry = only_entry(ansible.cache_dir)
    holder = subprocess.Popen([sys.executable, os.path.join(HELPERS, "lock_holder.py"), collections_path, entry,
                               commit], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc, took = timed(ansible, source)
        assert took < 10, took
        assert_failed_cleanly(proc, f"the lock {os.path.join(entry, 'trees', commit + '.lock')}",
                              f"the checkout {commit[:12]}", f"held by pid {holder.pid}", "lock_timeout")
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    fd_free = ansible.inventory("-i", source, "--list")
    assert fd_free.returncode == 0, fd_free.stderr


def big_blob_repo(root: str, name: str, filters: bool) -> None:
    """A bare repository whose inventory directory holds a 512 MiB file of zeros (about 0.5 MiB packed)."""
    work = os.path.join(root, name + "-work")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.invalid")

    def git(*args, **kwargs):
        return subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True, **kwargs).stdout

    os.makedirs(os.path.join(work, "inv"))
    git("init", "-q")
    with open(os.path.join(work, "inv", "hosts"), "w") as handle:
        handle.write(HOSTS)
    zeros = subprocess.Popen(["head", "-c", "512M", "/dev/zero"], stdout=subprocess.PIPE)
    blob = git("hash-object", "-w", "--stdin", stdin=zeros.stdout).decode().strip()
    zeros.wait()
    git("update-index", "--add", "--cacheinfo", f"100644,{blob},inv/big.bin")
    git("add", "inv/hosts")
    git("commit", "-qm", "inventory with a big file")
    bare = os.path.join(root, name + ".git")
    git("clone", "-q", "--bare", work, bare)
    if filters:
        for key in ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant"):
            subprocess.run(["git", "-C", bare, "config", key, "true"], check=True)


def entry_bytes(entry: str) -> int:
    return sum(os.lstat(os.path.join(d, n)).st_size for d, _s, names in os.walk(entry) for n in names)


@pytest.mark.parametrize("filters", [True, False], ids=["filtering-server", "plain-server"])
def test_a_file_over_max_file_size_is_never_fetched_whole_or_written(
        ansible, repos_root, git_daemon, tmp_path, filters):
    big_blob_repo(repos_root, "big", filters)
    source = write_source(tmp_path, url=git_daemon.url("big"), path="inv")
    proc = ansible.inventory("-i", source, "--list")
    # Only a filtering server lets the run know which file it was: elsewhere the size arrives first.
    named = "the file inv/big.bin is 512.0 MiB" if filters else "a file is 512.0 MiB"
    assert_failed_cleanly(proc, named, "(536870912 bytes)", "max_file_size (64 MiB)", "option 'max_file_size'")
    entry = only_entry(ansible.cache_dir)
    assert entry_bytes(entry) < 4 * 1024 * 1024  # neither the mirror nor a checkout holds it
    assert not [n for n in os.listdir(os.path.join(entry, "trees")) if not n.startswith(".")]
