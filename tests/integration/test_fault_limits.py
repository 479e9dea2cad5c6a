"""Limits and changes: a full disk, a lock held too long, a deleted branch, a changed url."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import BIN, write_source
from helpers.faults import (
    assert_failed_cleanly,
    file_size_limit,
    flat,
    hostvars,
    leftovers,
    only_entry,
    tree_mismatch,
)
from helpers.upstream import Upstream

HELPERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "helpers")


def test_full_disk_is_a_clear_error_and_keeps_the_last_good_checkout(ansible, upstream, git_daemon, tmp_path):
    good = upstream.commit({"hosts": "[web]\nweb1\n"})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), on_sync_failure="use_cache")
    first = ansible.list(source)
    entry = only_entry(ansible.cache_dir)
    # Random bytes do not compress: the fetched pack alone is past the limit below.
    newer = upstream.commit({"hosts": "[web]\nweb1\nweb2\n", "blob.bin": os.urandom(3 * 1024 * 1024)})

    proc = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", source, "--list"], env=ansible.env(),
                          capture_output=True, text=True, timeout=120, check=False,
                          preexec_fn=file_size_limit(1024 * 1024))
    assert_failed_cleanly(proc, git_daemon.url("inventory"), "cannot grow", "File too large")
    assert tree_mismatch(os.path.join(entry, "trees", good), upstream.bare, good) is None
    with open(os.path.join(entry, "state", os.listdir(os.path.join(entry, "state"))[0])) as handle:
        assert json.load(handle)["commit"] == good
    assert leftovers(entry) == []

    assert ansible.list(source) != first  # with room again, the new commit arrives
    assert {v["git_inventory_commit"] for v in hostvars(ansible.list(source)).values()} == {newer}


def test_lock_timeout_names_the_entry_and_its_holder(ansible, upstream, git_daemon, tmp_path, collections_path):
    upstream.commit({"hosts": "[web]\nweb1\n"})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), lock_timeout=1)
    ansible.list(source)
    entry = only_entry(ansible.cache_dir)
    holder = subprocess.Popen([sys.executable, os.path.join(HELPERS, "lock_holder.py"), collections_path, entry],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc = ansible.inventory("-i", source, "--list")
        assert_failed_cleanly(proc, f"lock on cache entry {entry}", f"held by pid {holder.pid}", "lock_timeout")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        holder.stdout.close()
    # The kernel dropped the dead holder's lock: nothing to clean up by hand.
    assert set(hostvars(ansible.list(source))) == {"web1"}


@pytest.mark.parametrize("mode", ["fail", "use_cache"])
def test_deleted_branch_is_never_served(ansible, upstream, git_daemon, tmp_path, mode):
    upstream.commit({"hosts": "[web]\nweb1\n"})
    upstream.checkout_branch("feature")
    upstream.commit({"hosts": "[web]\nweb1\nfeature1\n"}, branch="feature")
    source = write_source(tmp_path, url=git_daemon.url("inventory"), version="feature", on_sync_failure=mode)
    assert "feature1" in hostvars(ansible.list(source))

    upstream.delete_branch("feature")
    proc = ansible.inventory("-i", source, "--list")
    assert_failed_cleanly(proc, "'feature'", "option 'version'")
    assert "feature1" not in proc.stdout


def test_changed_url_never_serves_the_old_repository(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts": "[alpha]\nalpha1\n"})
    beta = Upstream(upstream.root, name="beta")
    beta_commit = beta.commit({"hosts": "[beta]\nbeta1\n"})
    options = {"on_sync_failure": "use_cache"}
    source = write_source(tmp_path, url=git_daemon.url("inventory"), **options)
    assert set(hostvars(ansible.list(source))) == {"alpha1"}

    write_source(tmp_path, url=git_daemon.url("beta"), **options)
    listing = ansible.list(source)
    assert set(hostvars(listing)) == {"beta1"}
    assert hostvars(listing)["beta1"]["git_inventory_commit"] == beta_commit

    gone = git_daemon.url("gamma")  # the server answers: there is no such repository
    write_source(tmp_path, url=gone, **options)
    proc = ansible.inventory("-i", source, "--list")
    assert_failed_cleanly(proc, gone)
    assert "alpha1" not in proc.stdout and "beta1" not in proc.stdout
    assert "cachedcommit" not in flat(proc.stderr)
