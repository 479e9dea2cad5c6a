"""version lists: which entry an advertisement picks, and the keys and prefixes of one list."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils import lfs_pointers, version_lists
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import VersionNotFound

A, B = "a" * 40, "b" * 40
REFS = {b"HEAD": A.encode(), b"refs/heads/main": A.encode(), b"refs/tags/v1": B.encode()}


def opts(*pairs):
    return SimpleNamespace(version=None, version_list=list(pairs))


def test_the_first_entry_the_remote_has_wins():
    assert version_lists.choose(REFS, opts(("{{ x }}", ""), ("feature", "feature"), ("main", "main"))) == "main"
    assert version_lists.choose(REFS, opts(("v1", "v1"), ("main", "main"))) == "v1"
    assert version_lists.choose(REFS, opts(("nope", "nope"), (B, B))) == B  # a full id wins unchecked
    assert version_lists.choose(REFS, opts(("refs/heads/main", "refs/heads/main"))) == "refs/heads/main"
    assert version_lists.choose(REFS, opts(("HEAD", "HEAD"))) == "HEAD"


def test_no_match_lists_every_entry():
    with pytest.raises(VersionNotFound) as failed:
        version_lists.choose(REFS, opts(("{{ x }}", ""), ("{{ y }}", "dev"), ("abc1234", "abc1234")))
    text = str(failed.value)
    assert "'{{ x }}' -> '' (empty, skipped)" in text and "'{{ y }}' -> 'dev'" in text and "'abc1234'" in text


def test_keys_and_prefixes():
    one = version_lists.state_key(opts(("a", "main"), ("b", "")))
    assert one == version_lists.state_key(opts(("c", "main")))  # the rendered list is the key
    assert one != version_lists.state_key(opts(("c", "dev"), ("a", "main")))
    assert one != version_lists.state_key(SimpleNamespace(version="main", version_list=None))
    assert version_lists.ref_prefixes(["dev", "HEAD", "refs/x/y"]) == [
        b"refs/heads/dev", b"refs/tags/dev", b"HEAD", b"refs/heads/refs/x/y", b"refs/tags/refs/x/y", b"refs/x/y"]


def test_lfs_pointer_detection():
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 10\n"
    assert lfs_pointers.is_pointer(pointer)
    assert not lfs_pointers.is_pointer(b"all:\n  hosts:\n    version https://git-lfs.github.com/spec/v1\n")
    assert not lfs_pointers.is_pointer(pointer + b"x" * 2000)  # a pointer is under 1024 bytes
