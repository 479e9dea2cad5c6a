"""commit_signatures through git_cache.sync: real repositories, commits signed by git with real keys."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils import commit_signatures, git_cache, locking
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import read_json
from helpers.signing import GnupgHome, signed_commit, signed_for_namespace, ssh_fingerprint, ssh_key, tampered_copy

HOSTS = {"hosts": "[web]\nweb1\n"}


@pytest.fixture
def gnupg(monkeypatch):
    home = GnupgHome()
    monkeypatch.setenv("GNUPGHOME", home.path)  # what the plugin reads, as a user's environment would set it
    yield home
    home.close()


def sync(upstream, tmp_path, **verify) -> git_cache.Checkout:
    opts = git_cache.SyncOptions(url=upstream.bare, cache_dir=str(tmp_path / "cache"),
                                 verify=commit_signatures.verify_options(True, verify.get("signers"), verify.get("allowlist")),
                                 on_sync_failure=verify.get("on_sync_failure", "fail"))
    checkout = git_cache.sync(opts)
    locking.release(checkout.lock_fd)
    return checkout


def refused(upstream, tmp_path, **verify) -> str:
    with pytest.raises(git_cache.SyncError) as caught:
        sync(upstream, tmp_path, **verify)
    return str(caught.value)


def checkouts(tmp_path) -> list[str]:
    return [name for entry in os.listdir(tmp_path / "cache") if os.path.isdir(tmp_path / "cache" / entry / "trees")
            for name in os.listdir(tmp_path / "cache" / entry / "trees") if len(name) == 40]


def test_an_ssh_signature_by_an_allowed_key_gives_the_signer(upstream, tmp_path):
    key, public = ssh_key(tmp_path, "alice")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f'alice@example.com namespaces="git" {public}\n')
    commit = signed_commit(upstream, HOSTS, ssh_key_path=key)
    checkout = sync(upstream, tmp_path, signers=str(signers))
    assert checkout.commit == commit
    assert checkout.signer == f"alice@example.com {ssh_fingerprint(key)}"
    state = read_json(os.path.join(checkout.entry, "state", os.listdir(os.path.join(checkout.entry, "state"))[0]))
    assert state["signer"] == checkout.signer and state["verified"] == checkout.verified


def test_a_commit_changed_after_signing_is_refused_whatever_the_key(upstream, tmp_path, gnupg):
    key, public = ssh_key(tmp_path, "alice")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"alice@example.com {public}\n")
    forged = tampered_copy(upstream, signed_commit(upstream, HOSTS, ssh_key_path=key))
    message = refused(upstream, tmp_path, signers=str(signers))
    assert f"the commit {forged[:12]}" in message and "SSH signature by alice@example.com" in message
    assert "is bad" in message

    bob = gnupg.new_key("Bob <bob@example.com>")
    forged = tampered_copy(upstream, signed_commit(upstream, {"hosts": "[web]\nweb2\n"}, gpg_home=gnupg, gpg_key=bob))
    message = refused(upstream, tmp_path, allowlist=[bob])
    assert f"the commit {forged[:12]}" in message and "its OpenPGP signature is bad" in message
    assert checkouts(tmp_path) == []  # never checked out


def test_a_key_missing_from_the_keyring_and_an_expired_key_are_refused(upstream, tmp_path, gnupg):
    stranger = GnupgHome()
    try:
        outsider = stranger.new_key("Mallory <mallory@example.com>")
        commit = signed_commit(upstream, HOSTS, gpg_home=stranger, gpg_key=outsider)
    finally:
        stranger.close()
    message = refused(upstream, tmp_path)
    assert f"{commit[:12]}" in message and "which is not in the GnuPG keyring" in message and gnupg.path in message

    # A key that expired in 2020 made a signature while it was valid: gpg calls it good (EXPKEYSIG, exit 0).
    old = gnupg.new_key("Old <old@example.com>", expire="2d", faked_time="20200101T000000")
    wrapper = tmp_path / "gpg-in-2020"
    wrapper.write_text('#!/bin/sh\nexec gpg --faked-system-time 20200101T120000 "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    from helpers.upstream import git

    git("config", "gpg.program", str(wrapper), cwd=upstream.work)
    commit = signed_commit(upstream, {"hosts": "[web]\nold\n"}, gpg_home=gnupg, gpg_key=old)
    git("config", "--unset", "gpg.program", cwd=upstream.work)
    message = refused(upstream, tmp_path)
    assert f"{commit[:12]}" in message and f"OpenPGP key {old}, which has expired" in message
    assert checkouts(tmp_path) == []


def test_changing_the_allowed_keys_re_verifies_the_cached_commit(upstream, tmp_path, gnupg, git_daemon):
    bob = gnupg.new_key("Bob <bob@example.com>")
    eve = gnupg.new_key("Eve <eve@example.com>")
    commit = signed_commit(upstream, HOSTS, gpg_home=gnupg, gpg_key=bob)

    def run(allowlist, refresh=3600, on_failure="fail"):
        opts = git_cache.SyncOptions(url=git_daemon.url("inventory"), cache_dir=str(tmp_path / "cache"),
                                     refresh_interval=refresh, on_sync_failure=on_failure,
                                     verify=commit_signatures.verify_options(True, None, allowlist))
        checkout = git_cache.sync(opts)
        locking.release(checkout.lock_fd)
        return checkout

    assert run([bob]).signer == bob
    # Inside refresh_interval, but the allowlist changed: checked again, and refused.
    with pytest.raises(git_cache.SyncError, match="not in 'gpg_allowlist'"):
        run([eve])
    # Server gone, use_cache: the cached commit is verified again from the mirror under the new list.
    git_daemon.stop()
    checkout = run([bob, eve], refresh=0, on_failure="use_cache")
    assert (checkout.commit, checkout.signer, checkout.stale) == (commit, bob, True)
    with pytest.raises(git_cache.SyncError, match="no earlier good checkout is cached"):
        run([eve], refresh=0, on_failure="use_cache")


def test_settings_digest_follows_the_allowed_signers_file_and_the_keyring(tmp_path, gnupg):
    signers = tmp_path / "allowed_signers"
    signers.write_text("")
    opts = commit_signatures.verify_options(True, str(signers), [])
    first = commit_signatures.settings_digest(opts)
    assert commit_signatures.settings_digest(opts) == first
    signers.write_text("alice@example.com ssh-ed25519 AAAA\n")
    second = commit_signatures.settings_digest(opts)
    gnupg.new_key("Carol <carol@example.com>")
    third = commit_signatures.settings_digest(opts)
    allow = commit_signatures.settings_digest(commit_signatures.verify_options(True, str(signers), ["A" * 40]))
    assert len({first, second, third, allow}) == 4


def test_an_ssh_signature_needs_an_allowed_signers_file_and_the_git_namespace(upstream, tmp_path):
    key, public = ssh_key(tmp_path, "alice")
    commit = signed_commit(upstream, HOSTS, ssh_key_path=key)
    message = refused(upstream, tmp_path)
    assert f"the commit {commit[:12]}" in message and "no allowed signers file is set" in message

    signers = tmp_path / "allowed_signers"
    signers.write_text(f"alice@example.com {public}\n")
    # Alice's good signature, but made for files ("-n file"), not for a commit.
    copied = signed_for_namespace(upstream, key, "file")
    message = refused(upstream, tmp_path, signers=str(signers))
    assert f"the commit {copied[:12]}" in message and "made for the namespace 'file', not 'git'" in message
    assert checkouts(tmp_path) == []


def test_an_annotated_tag_is_read_at_its_commit_which_must_be_signed(upstream, tmp_path):
    key, public = ssh_key(tmp_path, "alice")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"alice@example.com {public}\n")
    unsigned = upstream.commit(HOSTS)
    upstream.tag("v1")

    def tagged(name):
        opts = git_cache.SyncOptions(url=upstream.bare, cache_dir=str(tmp_path / "cache"), version=name,
                                     verify=commit_signatures.verify_options(True, str(signers), None))
        checkout = git_cache.sync(opts)
        locking.release(checkout.lock_fd)
        return checkout

    with pytest.raises(git_cache.SyncError, match=f"the commit {unsigned[:12]} of .* at version 'v1': it is not signed"):
        tagged("v1")
    signed = signed_commit(upstream, {"hosts": "[web]\nweb2\n"}, ssh_key_path=key)
    upstream.tag("v2")
    assert tagged("v2").commit == signed
