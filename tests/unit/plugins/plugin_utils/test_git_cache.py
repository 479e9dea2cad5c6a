"""git_cache: repair and fallback logic, against real repositories served by git daemon on 127.0.0.1."""

from __future__ import annotations

import errno
import glob
import os
import time

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils import cache_entry, fetch_negotiation, git_cache, locking, sync_errors, trees
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import parse_remote


def run(opts: git_cache.SyncOptions) -> tuple[git_cache.Checkout, list[str]]:
    warnings: list[str] = []
    checkout = git_cache.sync(opts, warn=warnings.append)
    locking.release(checkout.lock_fd)
    return checkout, warnings


@pytest.fixture
def synced(upstream, git_daemon, tmp_path):
    """A cache entry after one good sync: (options, checkout, entry object)."""
    upstream.commit({"hosts": "[web]\nweb1\n", "group_vars/web.yml": "a: 1\n"})
    opts = git_cache.SyncOptions(url=git_daemon.url("inventory"), cache_dir=str(tmp_path / "cache"))
    checkout, warnings = run(opts)
    assert warnings == []
    entry = cache_entry.CacheEntry(opts.cache_dir, parse_remote(opts.url), opts, lambda m: None, lambda m: None)
    return opts, checkout, entry


def test_leftovers_of_dead_writers_go_and_nothing_else(synced):
    _opts, checkout, entry = synced
    before = sorted(os.path.relpath(p, entry.path) for p in glob.glob(os.path.join(entry.path, "**"), recursive=True))
    planted = ["mirror.git/objects/tmp_pack_x1", "mirror.git/objects/pack/tmpx2.pack", "mirror.git/config.lock",
               "mirror.git/objects/pack/pack-" + "0" * 40 + ".pack", "trees/tmp-1-dead/hosts",
               "state/x.json.tmp-1-dead", "lock.owner.tmp-1"]
    for rel in planted:
        os.makedirs(os.path.dirname(os.path.join(entry.path, rel)), exist_ok=True)
        with open(os.path.join(entry.path, rel), "w") as handle:
            handle.write("x")
    removed = entry.remove_leftovers()
    assert sorted(removed) == sorted(p.replace("/hosts", "") for p in planted)
    after = sorted(os.path.relpath(p, entry.path) for p in glob.glob(os.path.join(entry.path, "**"), recursive=True))
    assert after == before
    assert trees.check_tree(entry.trees, checkout.commit)[0] is None


@pytest.mark.parametrize("damage,reason", [
    (lambda m: open(os.path.join(m, "HEAD"), "w").write("junk\n"), "HEAD"),
    (lambda m: [os.unlink(p) for p in glob.glob(os.path.join(m, "refs", "heads", "*"))], "ref"),
    (lambda m: [os.unlink(p) for p in glob.glob(os.path.join(m, "objects", "pack", "*"))], "missing"),
])
def test_check_mirror_finds_damage(synced, damage, reason):
    from dulwich.repo import Repo

    _opts, _checkout, entry = synced
    with Repo(entry.mirror) as repo:
        entry.check_mirror(repo, synced_before=True)  # healthy
    damage(entry.mirror)
    with Repo(entry.mirror) as repo:
        with pytest.raises(sync_errors.Damaged, match=reason):
            entry.check_mirror(repo, synced_before=True)


def test_slow_client_keeps_shallow_negotiation_in_order(upstream, git_daemon, tmp_path, monkeypatch):
    """The server's shallow lines arrive while haves are sent: they must not be read as ACKs."""
    import dulwich.client

    real = dulwich.client._fileno_can_read

    def slow_can_read(fileno):
        time.sleep(0.05)  # by now the server has answered the wants
        return real(fileno)

    monkeypatch.setattr(dulwich.client, "_fileno_can_read", slow_can_read)
    opts = git_cache.SyncOptions(url=git_daemon.url("inventory"), cache_dir=str(tmp_path / "cache"))
    tips = []
    for k in range(3):
        tips.append(upstream.commit({"hosts": f"[web]\nweb{k}\n"}))
        checkout, warnings = run(opts)
        assert warnings == [] and checkout.commit == tips[-1]
    with open(glob.glob(str(tmp_path / "cache" / "*" / "mirror.git" / "shallow"))[0]) as handle:
        assert set(handle.read().split()) == set(tips)


def test_other_versions_refs_survive_a_full_fetch(upstream, git_daemon, tmp_path):
    old = upstream.commit({"hosts": "[web]\nold\n"})
    upstream.commit({"hosts": "[web]\nnew\n"})
    main = git_cache.SyncOptions(url=git_daemon.url("inventory"), cache_dir=str(tmp_path / "cache"), version="main")
    assert run(main)[1] == []
    by_id = git_cache.SyncOptions(url=main.url, cache_dir=main.cache_dir, version=old[:10])
    checkout, _warnings = run(by_id)  # not a ref tip: the whole history is fetched into a new mirror
    assert checkout.commit == old
    assert run(main)[1] == []  # main's ref came along: no "damaged" rebuild


def test_use_cache_rebuilds_a_changed_checkout_from_the_mirror(synced, git_daemon):
    opts, checkout, _entry = synced
    with open(os.path.join(checkout.path, "hosts"), "a") as handle:
        handle.write("evil\n")
    git_daemon.stop()
    opts.on_sync_failure = "use_cache"
    stale, warnings = run(opts)
    assert stale.stale and stale.commit == checkout.commit
    assert any("rebuilding it from the cached mirror" in w for w in warnings), warnings
    assert trees.check_tree(os.path.dirname(stale.path), stale.commit)[0] is None
    with open(os.path.join(stale.path, "hosts")) as handle:
        assert "evil" not in handle.read()


def test_an_entry_that_is_a_file_is_replaced(upstream, git_daemon, tmp_path):
    upstream.commit({"hosts": "[web]\nweb1\n"})
    opts = git_cache.SyncOptions(url=git_daemon.url("inventory"), cache_dir=str(tmp_path / "cache"))
    key = cache_entry.CacheEntry(opts.cache_dir, parse_remote(opts.url), opts, None, None).path
    os.makedirs(opts.cache_dir, mode=0o700)
    with open(key, "w") as handle:
        handle.write("not a directory")
    checkout, warnings = run(opts)
    assert any("was not a directory" in w for w in warnings)
    assert trees.check_tree(os.path.dirname(checkout.path), checkout.commit)[0] is None


def test_lock_timeout_is_a_sync_error_naming_entry_remote_and_holder(synced):
    opts, _checkout, entry = synced
    opts.lock_timeout = 0.2
    with locking.EntryLock(entry.path, 5, "test"):
        with pytest.raises(git_cache.SyncError) as caught:
            git_cache.sync(opts)
    message = str(caught.value)
    assert entry.path in message and opts.url in message and f"held by pid {os.getpid()}" in message


@pytest.mark.parametrize("exc,needle", [
    (OSError(errno.ENOSPC, "No space left on device"), "cannot grow"),
    (OSError(errno.EFBIG, "File too large"), "cannot grow"),
    (OSError(errno.EROFS, "Read-only file system"), "set 'cache_dir'"),
    (KeyError("deadbeef"), "an object or entry is missing ('deadbeef')"),
])
def test_every_failure_becomes_one_clear_sync_error(exc, needle):
    remote = parse_remote("https://user:hunter2@example.invalid/repo.git")
    error = git_cache._as_sync_error(exc, "/cache", remote)
    assert isinstance(error, git_cache.SyncError) and needle in str(error)
    assert "hunter2" not in str(error)


def test_capped_walker_offers_at_most_the_limit():
    class Walker:
        shallow = {b"x"}

        def __init__(self):
            self.items = iter([b"a", b"b", b"c"])

        def __next__(self):
            return next(self.items, None)

    capped = fetch_negotiation._CappedWalker(Walker(), 2)
    assert [next(capped), next(capped), next(capped)] == [b"a", b"b", None]
    assert capped.shallow == {b"x"}


def test_a_mirror_dropped_by_garbage_collection_is_fetched_again_without_a_warning(synced, upstream):
    opts, checkout, entry = synced
    trees.remove_tree(entry.mirror)  # what cache_gc does with a mirror it cannot consolidate
    again, warnings = run(opts)
    assert warnings == []
    assert again.commit == checkout.commit
    newer = upstream.commit({"hosts": "[web]\nweb1\nweb2\n"})
    trees.remove_tree(entry.mirror)
    latest, warnings = run(opts)
    assert warnings == [] and latest.commit == newer
