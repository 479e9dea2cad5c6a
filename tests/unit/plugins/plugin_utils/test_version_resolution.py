"""How a configured version maps onto a remote's advertised refs (pure logic)."""

from __future__ import annotations

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils import sync_errors, versions

MAIN = "1" * 40
STABLE = "2" * 40
TAG_OBJECT = "3" * 40
TAG_COMMIT = "4" * 40
REFS = {
    b"HEAD": MAIN.encode(),
    b"refs/heads/main": MAIN.encode(),
    b"refs/heads/stable": STABLE.encode(),
    b"refs/tags/v1": TAG_OBJECT.encode(),
    b"refs/tags/v1^{}": TAG_COMMIT.encode(),
}


@pytest.mark.parametrize("version, want, name", [
    (None, MAIN, "HEAD"),
    ("main", MAIN, "main"),
    ("stable", STABLE, "stable"),
    ("refs/heads/stable", STABLE, "refs/heads/stable"),
    ("v1", TAG_OBJECT, "v1"),  # the tag object is wanted; it is peeled after the fetch
    (TAG_COMMIT, TAG_OBJECT, TAG_COMMIT),  # the commit a tag points at: want the advertised tag
    ("4444444", TAG_OBJECT, "4444444"),  # abbreviated, matching a peeled tag
    (STABLE[:12], STABLE, STABLE[:12]),
    ("a" * 40, "a" * 40, "a" * 40),  # not a tip: wanted by id
])
def test_resolve(version, want, name):
    sha, shown, _exact = versions.resolve(REFS, {}, version)
    assert sha == want
    assert shown == name


def test_abbreviation_that_is_no_tip_needs_a_full_fetch():
    sha, shown, exact = versions.resolve(REFS, {}, "abcdef1")
    assert sha is None and exact and shown == "abcdef1"


@pytest.mark.parametrize("version", ["nope", "feature/x", "v2"])
def test_unknown_names_are_refused_with_the_option_named(version):
    with pytest.raises(sync_errors.VersionNotFound, match="option 'version'"):
        versions.resolve(REFS, {}, version)


def test_empty_remote_has_no_head():
    with pytest.raises(sync_errors.VersionNotFound, match="no HEAD"):
        versions.resolve({}, {}, None)
