"""Garbage collection of one cache entry, on real mirrors that git_cache built from real repositories:
consolidation keeps exactly what the refs reach down to the shallow boundary, forgotten versions go,
other entries go only when unused and free."""

from __future__ import annotations

import json
import os
import time

from ansible_collections.vcs.inventory.plugins.plugin_utils import cache_gc, git_cache, locking, versions

from helpers.upstream import Upstream, git


def _sync(upstream: Upstream, cache: str, **options) -> git_cache.Checkout:
    warnings = []
    checkout = git_cache.sync(git_cache.SyncOptions(url=upstream.bare, cache_dir=cache, **options),
                              warn=warnings.append)
    locking.release(checkout.lock_fd)
    assert warnings == []
    return checkout


def _objects(mirror: str) -> set[str]:
    from dulwich.repo import Repo

    with Repo(mirror) as repo:
        return {sha.decode() for sha in repo.object_store}


def _reachable(mirror: str) -> set[str]:
    """What real git says the refs reach (it honours the shallow file)."""
    out = git("rev-list", "--objects", "--all", cwd=mirror)
    return {line.split()[0] for line in out.splitlines() if line}


def _packs(mirror: str) -> int:
    return sum(n.endswith(".pack") for n in os.listdir(os.path.join(mirror, "objects", "pack")))


def test_consolidation_keeps_only_what_the_shallow_tip_reaches(tmp_path):
    upstream = Upstream(str(tmp_path))
    cache = str(tmp_path / "cache")
    for step in range(cache_gc.PACK_LIMIT - 2):
        upstream.commit({"hosts": f"[web]\nweb{step}\n", f"host_vars/web{step % 3}.yml": f"step: {step}\n"})
        checkout = _sync(upstream, cache)
    mirror = os.path.join(checkout.entry, "mirror.git")
    before = _objects(mirror)
    assert _packs(mirror) > 1 and len(before) > len(_reachable(mirror)), "old tips are still in the store"

    assert cache_gc.consolidate_packs(mirror, None, lambda m: None, limit=0)
    assert _packs(mirror) == 1
    assert _objects(mirror) == _reachable(mirror)
    with open(os.path.join(mirror, "shallow")) as handle:
        assert handle.read().split() == [checkout.commit], "only the tip is a shallow boundary any more"
    git("fsck", "--strict", "--no-dangling", cwd=mirror)
    assert _sync(upstream, cache).commit == checkout.commit
    upstream.commit({"hosts": "[web]\nafter\n"})
    assert _sync(upstream, cache).commit == upstream.head(), "the consolidated mirror still fetches"


def test_objects_a_force_push_orphaned_are_dropped(tmp_path):
    upstream = Upstream(str(tmp_path))
    cache = str(tmp_path / "cache")
    upstream.commit({"hosts": "[web]\nweb1\n"})
    base = upstream.head()
    upstream.commit({"hosts": "[web]\nweb1\n", "secret-typo.yml": "only in the rewritten commit\n"})
    orphan_blob = git("rev-parse", "HEAD:secret-typo.yml", cwd=upstream.work)
    checkout = _sync(upstream, cache)
    mirror = os.path.join(checkout.entry, "mirror.git")
    assert orphan_blob in _objects(mirror)
    upstream.reset_hard(base)
    upstream.commit({"hosts": "[web]\nweb1\nweb2\n"}, push=False)
    upstream.force_push()
    _sync(upstream, cache)

    cache_gc.consolidate_packs(mirror, None, lambda m: None, limit=0)
    assert orphan_blob not in _objects(mirror)
    assert _objects(mirror) == _reachable(mirror)
    git("fsck", "--strict", "--no-dangling", cwd=mirror)


def test_a_full_history_mirror_keeps_its_whole_history(tmp_path):
    upstream = Upstream(str(tmp_path))
    cache = str(tmp_path / "cache")
    for step in range(5):
        upstream.commit({"hosts": f"[web]\nweb{step}\n"})
        checkout = _sync(upstream, cache, depth=0)
    mirror = os.path.join(checkout.entry, "mirror.git")
    cache_gc.consolidate_packs(mirror, None, lambda m: None, limit=0)
    history = git("rev-list", "HEAD", cwd=upstream.work).split()
    assert len(history) == 5 and set(history) <= _objects(mirror)
    git("fsck", "--strict", "--no-dangling", cwd=mirror)


def test_a_version_unused_for_cache_max_age_days_is_forgotten(tmp_path):
    upstream = Upstream(str(tmp_path))
    cache = str(tmp_path / "cache")
    upstream.commit({"hosts": "[web]\nold\n"})
    upstream.tag("v1")
    upstream.commit({"hosts": "[web]\nnew\n"})
    tagged = _sync(upstream, cache, version="v1")
    current = _sync(upstream, cache, version="main")
    trees_dir = os.path.join(current.entry, "trees")
    state_dir = os.path.join(current.entry, "state")
    assert os.path.isdir(os.path.join(trees_dir, tagged.commit)), "a last good checkout of a live version stays"
    tag_state = os.path.join(state_dir, versions.version_key("v1") + ".json")
    with open(tag_state) as handle:
        assert json.load(handle)["commit"] == tagged.commit

    old = time.time() - 31 * cache_gc.DAY
    os.utime(tag_state, (old, old))
    _sync(upstream, cache, version="main", cache_max_age=60)
    assert os.path.exists(tag_state), "31 days is within cache_max_age=60"
    _sync(upstream, cache, version="main", cache_max_age=30)
    assert not os.path.exists(tag_state)
    assert not os.path.exists(os.path.join(trees_dir, tagged.commit))
    refs = git("for-each-ref", "--format=%(refname)", cwd=os.path.join(current.entry, "mirror.git")).split()
    assert refs == ["refs/heads/v-" + versions.version_key("main")]


def test_only_stale_unlocked_entries_of_the_cache_root_are_pruned(tmp_path):
    root = tmp_path / "cache"
    own = root / "own-0123456789abcdef"
    stale = root / "stale-0123456789abcdef"
    fresh = root / "fresh-0123456789abcdef"
    busy = root / "busy-0123456789abcdef"
    not_an_entry = root / "notes"
    old_trash = root / (cache_gc.TRASH_PREFIX + "1-deadbeef")
    for path in (own, stale, fresh, busy, not_an_entry, old_trash):
        path.mkdir(parents=True)
        (path / "entry.json").write_text("{}")
    old = time.time() - 40 * cache_gc.DAY
    for path in (stale, busy, not_an_entry, old_trash):
        os.utime(path / "entry.json", (old, old))
        os.utime(path, (old, old))
    holder = locking.try_lock(str(busy / "lock"))
    try:
        removed = cache_gc.prune_stale_entries(str(root), str(own), 30)
    finally:
        locking.release(holder)
    assert removed == [stale.name]
    assert sorted(os.listdir(root)) == sorted([own.name, fresh.name, busy.name, not_an_entry.name])
    assert cache_gc.prune_stale_entries(str(root), str(own), 0) == []


def test_a_mirror_that_cannot_be_consolidated_is_dropped_and_fetched_again(tmp_path, monkeypatch):
    upstream = Upstream(str(tmp_path))
    cache = str(tmp_path / "cache")
    upstream.commit({"hosts": "[web]\nweb1\n"})
    checkout = _sync(upstream, cache)
    mirror = os.path.join(checkout.entry, "mirror.git")
    pack_dir = os.path.join(mirror, "objects", "pack")
    for name in os.listdir(pack_dir):  # bit rot: every pack's data turns to zeros
        if name.endswith(".pack"):
            path = os.path.join(pack_dir, name)
            size = os.path.getsize(path)
            with open(path, "r+b") as handle:
                handle.write(b"\0" * size)
    monkeypatch.setattr(cache_gc, "PACK_LIMIT", 0)
    warnings = []
    cache_gc.collect(checkout.entry, os.path.join(checkout.entry, "state", versions.version_key(None) + ".json"),
                     30, warn=warnings.append)
    assert len(warnings) == 1 and "consolidate" in warnings[0], warnings
    assert not os.path.exists(mirror)
    assert os.path.isdir(checkout.path), "the checkout a run reads is kept"
    upstream.commit({"hosts": "[web]\nweb1\nweb2\n"})
    again = git_cache.sync(git_cache.SyncOptions(url=upstream.bare, cache_dir=cache))  # may say it rebuilt the mirror
    locking.release(again.lock_fd)
    assert again.commit == upstream.head()
    git("fsck", "--strict", "--no-dangling", cwd=mirror)
