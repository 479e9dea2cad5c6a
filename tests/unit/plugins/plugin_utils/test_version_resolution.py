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
    ("HEAD", MAIN, "HEAD"),  # the remote's default branch
    ("main", MAIN, "main"),
    ("stable", STABLE, "stable"),
    ("refs/heads/stable", STABLE, "refs/heads/stable"),
    ("v1", TAG_OBJECT, "v1"),  # the tag object is wanted; it is peeled after the fetch
    (TAG_COMMIT, TAG_OBJECT, TAG_COMMIT),  # the commit a tag points at: want the advertised tag
    ("a" * 40, "a" * 40, "a" * 40),  # not a tip: wanted by id
])
def test_resolve(version, want, name):
    sha, shown = versions.resolve(REFS, version)
    assert sha == want
    assert shown == name


def test_abbreviation_that_is_no_tip_needs_a_full_fetch():
    sha, shown = versions.resolve(REFS, "abcdef1")
    assert sha is None and shown == "abcdef1"


@pytest.mark.parametrize("version", ["nope", "feature/x", "v2"])
def test_unknown_names_are_refused_with_the_option_named(version):
    with pytest.raises(sync_errors.VersionNotFound, match="option 'version'"):
        versions.resolve(REFS, version)


def test_empty_remote_has_no_head():
    with pytest.raises(sync_errors.VersionNotFound, match="no HEAD"):
        versions.resolve({}, None)


@pytest.mark.parametrize("version", ["4444444", STABLE[:12]])
def test_an_abbreviation_unique_among_tips_is_still_checked_against_the_history(version):
    # The pinned commit may be no tip at all, and a ref pushed by anyone could share its first digits.
    sha, shown = versions.resolve(REFS, version)
    assert sha is None and shown == version


def test_an_abbreviation_checked_before_is_kept():
    sha, _shown = versions.resolve(REFS, STABLE[:12], known=STABLE)
    assert sha == STABLE
    # ... but only when it is the commit that prefix named
    assert versions.resolve(REFS, STABLE[:12], known=MAIN)[0] is None


def test_an_abbreviation_of_several_tips_is_ambiguous_and_lists_them():
    ground = "abcdef1" + "0" * 33
    pinned = "abcdef1" + "9" * 33
    refs = dict(REFS, **{"refs/pull/7/head": ground.encode(), "refs/heads/prod": pinned.encode()})
    refs = {k.encode() if isinstance(k, str) else k: v for k, v in refs.items()}
    with pytest.raises(sync_errors.VersionNotFound) as caught:
        versions.resolve(refs, "abcdef1")
    message = str(caught.value)
    assert "ambiguous" in message and ground[:12] in message and pinned[:12] in message
    assert "refs/pull/7/head" in message and "option 'version'" in message


@pytest.mark.parametrize("version", ["abcd", "abc12"])
def test_too_short_commit_ids_are_refused(version):
    with pytest.raises(sync_errors.VersionNotFound, match="at least 7 hex digits"):
        versions.resolve(REFS, version)


def test_a_name_both_tag_and_branch_uses_the_tag_and_warns():
    refs = dict(REFS)
    refs[b"refs/tags/stable"] = TAG_OBJECT.encode()
    said = []
    sha, shown = versions.resolve(refs, "stable", warn=said.append)
    assert sha == TAG_OBJECT and shown == "stable"
    assert len(said) == 1 and "using the tag" in said[0] and "refs/heads/stable" in said[0]
    assert versions.resolve(refs, "refs/heads/stable")[0] == STABLE
    assert versions.resolve(refs, "refs/tags/stable")[0] == TAG_OBJECT
