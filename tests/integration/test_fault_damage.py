"""Every kind of cache damage: the next run repairs it, says so in a warning, and serves exactly
the commit (what was planted in the cache never reaches the inventory)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess

import pytest

from conftest import oracle, plain_audit, strip_audit, write_source
from helpers.faults import flat, hostvars, leftovers, only_entry, tree_mismatch

FILES = {
    "hosts": "[web]\nweb1\nweb2\n\n[db]\ndb1\n",
    "group_vars/web.yml": "http_port: 8080\n",
    "host_vars/db1.yml": "role: primary\n",
}
EVIL_INVENTORY = "all:\n  hosts:\n    evil1:\n      planted: true\n"


def mirror(entry: str, *parts: str) -> str:
    return os.path.join(entry, "mirror.git", *parts)


def delete_packs(entry, commit):
    packs = glob.glob(mirror(entry, "objects", "pack", "*.pack"))
    assert packs
    for path in packs:
        os.unlink(path)


def truncate_loose_objects(entry, commit):
    # A mirror whose objects are loose (as git itself leaves small fetches), each cut in half.
    for pack in glob.glob(mirror(entry, "objects", "pack", "*.pack")):
        moved = pack + ".moved"
        os.rename(pack, moved)
        os.unlink(pack[:-5] + ".idx")
        with open(moved, "rb") as handle:
            subprocess.run(["git", "unpack-objects", "-q"], stdin=handle, cwd=mirror(entry), check=True)
        os.unlink(moved)
    loose = glob.glob(mirror(entry, "objects", "??", "*"))
    assert loose
    for path in loose:
        os.chmod(path, 0o600)
        with open(path, "r+b") as handle:
            handle.truncate(os.path.getsize(path) // 2)


def garbage_head(entry, commit):
    with open(mirror(entry, "HEAD"), "wb") as handle:
        handle.write(b"\x00\x01 not a ref\n")


def garbage_config(entry, commit):
    with open(mirror(entry, "config"), "wb") as handle:
        handle.write(b"[core\n\tbare = maybe\n\x00\xff\n")


def stale_locks_and_tmp_packs(entry, commit):
    for rel in ("objects/tmp_pack_dead01", "objects/pack/tmpdead02.pack", "config.lock", "shallow.lock", "HEAD.lock"):
        with open(mirror(entry, rel), "wb") as handle:
            handle.write(os.urandom(512))
    for ref in glob.glob(mirror(entry, "refs", "heads", "*")):
        open(ref + ".lock", "w").close()
    half_built = os.path.join(entry, "trees", "tmp-999999-deadbeef")
    os.makedirs(half_built)
    with open(os.path.join(half_built, "evil.yml"), "w") as handle:
        handle.write(EVIL_INVENTORY)
    state = glob.glob(os.path.join(entry, "state", "*.json"))[0]
    open(state + ".tmp-999999-dead", "w").close()


def delete_refs(entry, commit):
    shutil.rmtree(mirror(entry, "refs", "heads"))
    os.mkdir(mirror(entry, "refs", "heads"))
    if os.path.exists(mirror(entry, "packed-refs")):
        os.unlink(mirror(entry, "packed-refs"))


def plain_directory(entry, commit):
    # Someone's copy of an inventory, even at the very path of the checkout, but not our cache.
    shutil.rmtree(entry)
    os.makedirs(os.path.join(entry, "trees", commit))
    for path in (os.path.join(entry, "hosts"), os.path.join(entry, "trees", commit, "evil.yml")):
        with open(path, "w") as handle:
            handle.write(EVIL_INVENTORY)


def plain_file(entry, commit):
    shutil.rmtree(entry)
    with open(entry, "w") as handle:
        handle.write(EVIL_INVENTORY)


def local_edit(entry, commit):
    with open(os.path.join(entry, "trees", commit, "hosts"), "a") as handle:  # in place: same inode
        handle.write("evil1 planted=true\n")


def untracked_files(entry, commit):
    tree = os.path.join(entry, "trees", commit)
    with open(os.path.join(tree, "evil.yml"), "w") as handle:
        handle.write(EVIL_INVENTORY)
    with open(os.path.join(tree, "group_vars", "all.yml"), "w") as handle:
        handle.write("planted: true\n")


def garbage_manifest(entry, commit):
    with open(os.path.join(entry, "trees", f"{commit}.json"), "w") as handle:
        handle.write("{not json")


CASES = {
    "delete_packs": (delete_packs, "was damaged"),
    "truncate_loose_objects": (truncate_loose_objects, "was damaged"),
    "garbage_head": (garbage_head, "was damaged (its HEAD"),
    "garbage_config": (garbage_config, "was damaged"),
    "stale_locks_and_tmp_packs": (stale_locks_and_tmp_packs, "removed stale temporary, lock or orphaned pack files"),
    "delete_refs": (delete_refs, "was damaged (the ref"),
    "plain_directory": (plain_directory, "was not a usable cache"),
    "plain_file": (plain_file, "was not a directory"),
    "local_edit": (local_edit, "changed on disk (the file 'hosts' was changed)"),
    "untracked_files": (untracked_files, "changed on disk (it holds the untracked file"),
    "garbage_manifest": (garbage_manifest, "changed on disk (its manifest"),
}
# Some kinds again with a new upstream commit to fetch after the damage, or inside refresh_interval
# (where no fetch happens, yet the checkout must still be checked).
PARAMS = [(kind, "same") for kind in CASES] + [
    ("delete_packs", "new_commit"), ("truncate_loose_objects", "new_commit"), ("delete_refs", "new_commit"),
    ("local_edit", "new_commit"), ("local_edit", "refresh_interval"), ("untracked_files", "refresh_interval"),
]


@pytest.mark.parametrize("kind,upstream_state", PARAMS, ids=[f"{k}-{u}" for k, u in PARAMS])
def test_damage_is_repaired_with_a_warning(ansible, upstream, git_daemon, tmp_path, kind, upstream_state):
    damage, warning = CASES[kind]
    commit = upstream.commit(FILES)
    options = {"refresh_interval": 3600} if upstream_state == "refresh_interval" else {}
    source = write_source(tmp_path, url=git_daemon.url("inventory"), **options)
    seeded = ansible.list(source)
    assert {v["git_inventory_commit"] for v in hostvars(seeded).values()} == {commit}
    entry = only_entry(ansible.cache_dir)

    damage(entry, commit)
    if upstream_state == "new_commit":
        # hosts stays the same blob: the new checkout must not reuse the edited copy of it.
        commit = upstream.commit({"host_vars/db1.yml": "role: primary\nbackup: true\n"})

    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    if (kind, upstream_state) != ("local_edit", "new_commit"):  # there, the edited checkout is simply not used
        assert flat(warning) in flat(proc.stderr), proc.stderr
    listing = plain_audit(json.loads(proc.stdout))
    if upstream_state == "new_commit":
        assert strip_audit(listing) == oracle(ansible, upstream, commit, "", tmp_path)
        assert {v["git_inventory_commit"] for v in hostvars(listing).values()} == {commit}
    else:
        assert listing == seeded
    assert "evil1" not in proc.stdout and "planted" not in proc.stdout
    assert tree_mismatch(os.path.join(entry, "trees", commit), upstream.bare, commit) is None
    assert leftovers(entry) == []

    again = ansible.inventory("-i", source, "--list")  # repaired for good: the next run is quiet
    assert again.returncode == 0 and plain_audit(json.loads(again.stdout)) == listing
    assert "WARNING" not in again.stderr, again.stderr
