"""verify_commit: commits signed by git with real SSH and OpenPGP keys, served by git daemon and smart HTTP,
read by the real ansible-inventory."""

from __future__ import annotations

import glob
import json
import os
import subprocess

import pytest

from conftest import BIN, oracle, plain_audit, strip_audit, write_source
from helpers.faults import assert_failed_cleanly, flat, hostvars
from helpers.signing import GnupgHome, signed_commit, ssh_fingerprint, ssh_key
from helpers.upstream import GIT_ENV

HOSTS_A = "[web]\nweb1\nweb2\n\n[db]\ndb1\n"
HOSTS_B = "[web]\nweb1\nweb2\nweb3\n\n[db]\ndb1\n"
FILES_A = {"hosts": HOSTS_A, "group_vars/web.yml": "http_port: 8080\n"}


@pytest.fixture
def gnupg():
    """A GnuPG home with two keys: Bob (who signs with a subkey) and Eve. Both are in the keyring."""
    home = GnupgHome()
    home.bob = home.new_key("Bob <bob@example.com>")
    home.bob_subkey = home.add_signing_subkey(home.bob)
    home.eve = home.new_key("Eve <eve@example.com>")
    yield home
    home.close()


@pytest.fixture
def alice(tmp_path):
    """Alice's SSH key and an allowed signers file that lists it for git: (key path, signers file, principal+fingerprint)."""
    key, public = ssh_key(tmp_path, "alice")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f'alice@example.com namespaces="git" {public}\n')
    return key, str(signers), f"alice@example.com {ssh_fingerprint(key)}"


REPLAYED = "the stored parse of "  # replayed, or restored in one step


def verbose(ansible, source: str, tmp_path) -> str:
    """What ansible-inventory --list -vvv prints (the listing goes to a file)."""
    proc = ansible.inventory("-i", source, "--list", "--output", tmp_path / "listing.json", "-vvv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def audit(listing: dict, name: str) -> set:
    return {v.get(name) for v in hostvars(listing).values()}


def kept_files(cache_dir: str) -> list[str]:
    """Every file of the cache entries outside the mirror: checkouts, their manifests, states, stored parses."""
    return [p for p in glob.glob(os.path.join(cache_dir, "*", "**"), recursive=True)
            if os.path.isfile(p) and f"{os.sep}mirror.git{os.sep}" not in p]


def mirror_refs(cache_dir: str) -> set[str]:
    """The commits the mirrors' version refs point at."""
    refs = set()
    for path in glob.glob(os.path.join(cache_dir, "*", "mirror.git", "refs", "heads", "v-*")):
        with open(path) as handle:
            refs.add(handle.read().strip())
    return refs


def mentions(cache_dir: str, commit: str) -> list[str]:
    found = [p for p in kept_files(cache_dir) if commit in p]
    for path in kept_files(cache_dir):
        with open(path, "rb") as handle:
            if commit.encode() in handle.read():
                found.append(path)
    return found


def test_an_ssh_signed_commit_is_read_with_its_signer(ansible, upstream, git_daemon, alice, tmp_path):
    key, signers, signer = alice
    commit = signed_commit(upstream, FILES_A, ssh_key_path=key)
    # The option names and their environment variables are the documented contract.
    source = write_source(tmp_path, url=git_daemon.url("inventory"))
    env = {"ANSIBLE_VCS_INVENTORY_VERIFY_COMMIT": "true", "ANSIBLE_VCS_INVENTORY_SSH_ALLOWED_SIGNERS": signers}
    listing = ansible.list(source, env=env)
    assert audit(listing, "git_inventory_signer") == {signer}
    assert audit(listing, "git_inventory_commit") == {commit}
    assert audit(listing, "git_inventory_stale") == {False}
    assert strip_audit(listing) == oracle(ansible, upstream, commit, "", tmp_path)
    # Without verify_commit there is no signer var.
    assert audit(ansible.list(source), "git_inventory_signer") == {None}


def test_an_openpgp_subkey_signature_over_http_counts_for_its_primary_key(
        ansible, upstream, http_server, gnupg, tmp_path):
    commit = signed_commit(upstream, FILES_A, gpg_home=gnupg, gpg_key=gnupg.bob)
    raw = subprocess.run(["git", "verify-commit", "--raw", commit], cwd=upstream.work, capture_output=True, text=True,
                         env=dict(os.environ, GNUPGHOME=gnupg.path, **GIT_ENV), check=False)
    assert f"VALIDSIG {gnupg.bob_subkey} " in raw.stderr  # git signed with the subkey
    spaced = " ".join(gnupg.bob[i:i + 4] for i in range(0, 40, 4)).lower()
    source = write_source(tmp_path, url=http_server.url("inventory"), verify_commit=True, gpg_allowlist=[spaced])
    listing = ansible.list(source, env={"GNUPGHOME": gnupg.path})
    assert audit(listing, "git_inventory_signer") == {gnupg.bob}
    assert audit(listing, "git_inventory_commit") == {commit}
    assert set(hostvars(listing)) == {"web1", "web2", "db1"}


def test_an_unsigned_commit_is_refused_and_nothing_of_it_is_kept(ansible, upstream, http_server, alice, tmp_path):
    _key, signers, _signer = alice
    commit = upstream.commit(FILES_A)
    source = write_source(tmp_path, url=http_server.url("inventory"), verify_commit=True, ssh_allowed_signers=signers)
    proc = ansible.inventory("-i", source, "--list")
    assert_failed_cleanly(proc, f"refusing the commit {commit[:12]} of {http_server.url('inventory')} at version "
                                "'main': it is not signed, and verify_commit is on")
    assert "web1" not in proc.stdout
    assert mentions(ansible.cache_dir, commit) == []  # no checkout, no state, no stored parse
    assert mirror_refs(ansible.cache_dir) == set()  # and no mirror ref keeps it


def test_a_key_of_the_keyring_outside_the_allowlist_is_refused(ansible, upstream, git_daemon, gnupg, tmp_path):
    commit = signed_commit(upstream, FILES_A, gpg_home=gnupg, gpg_key=gnupg.eve)
    env = {"GNUPGHOME": gnupg.path}
    source = write_source(tmp_path, url=git_daemon.url("inventory"), verify_commit=True, gpg_allowlist=[gnupg.bob])
    proc = ansible.inventory("-i", source, "--list", env=env)
    assert_failed_cleanly(proc, f"refusing the commit {commit[:12]}", f"it is signed by the OpenPGP key {gnupg.eve}, "
                                "which is not in 'gpg_allowlist'")
    assert mentions(ansible.cache_dir, commit) == []
    # With no allowlist, any valid key of the keyring may sign.
    open_source = write_source(tmp_path, "any.git.yml", url=git_daemon.url("inventory"), verify_commit=True)
    assert audit(ansible.list(open_source, env=env), "git_inventory_signer") == {gnupg.eve}


def test_an_ssh_key_past_its_valid_before_is_refused(ansible, upstream, http_server, alice, tmp_path):
    key, signers, signer = alice
    commit = signed_commit(upstream, FILES_A, ssh_key_path=key)
    with open(signers) as handle:
        line = handle.read()
    with open(signers, "w") as handle:
        handle.write(line.replace('namespaces="git"', 'namespaces="git",valid-before="20200101"'))
    source = write_source(tmp_path, url=http_server.url("inventory"), verify_commit=True, ssh_allowed_signers=signers)
    proc = ansible.inventory("-i", source, "--list")
    assert_failed_cleanly(proc, f"refusing the commit {commit[:12]}", f"signed by the SSH key {signer.split()[1]} of "
                                "alice@example.com", "valid-before=20200101; the key has expired or is not valid yet")
    assert mentions(ansible.cache_dir, commit) == []


def test_use_cache_serves_the_last_verified_commit_flagged_stale(ansible, upstream, git_daemon, alice, tmp_path):
    key, signers, signer = alice
    good = signed_commit(upstream, FILES_A, ssh_key_path=key)
    source = write_source(tmp_path, url=git_daemon.url("inventory"), verify_commit=True, ssh_allowed_signers=signers,
                          on_sync_failure="use_cache")
    assert audit(ansible.list(source), "git_inventory_commit") == {good}

    pushed = upstream.commit({"hosts": HOSTS_B})  # unsigned: a stolen push token, say
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    listing = plain_audit(json.loads(proc.stdout))
    assert set(hostvars(listing)) == {"web1", "web2", "db1"}
    assert audit(listing, "git_inventory_commit") == {good}
    assert audit(listing, "git_inventory_stale") == {True}
    assert audit(listing, "git_inventory_signer") == {signer}
    assert flat(f"using the cached commit {good[:12]}") in flat(proc.stderr)
    assert flat(f"refusing the commit {pushed[:12]}") in flat(proc.stderr)
    assert flat("it is not signed") in flat(proc.stderr)
    assert mentions(ansible.cache_dir, pushed) == []
    assert mirror_refs(ansible.cache_dir) == {good}  # the refused commit is not what the mirror keeps

    failing = write_source(tmp_path, "failing.git.yml", url=git_daemon.url("inventory"), verify_commit=True,
                           ssh_allowed_signers=signers)
    assert_failed_cleanly(ansible.inventory("-i", failing, "--list"), f"refusing the commit {pushed[:12]}")

    signed_commit(upstream, {"hosts": HOSTS_B}, ssh_key_path=key)  # the team signs the change: no longer stale
    listing = ansible.list(source)
    assert audit(listing, "git_inventory_stale") == {False}
    assert "web3" in hostvars(listing)


def test_turning_verify_commit_on_over_a_warm_cache_verifies_again(ansible, upstream, git_daemon, alice, tmp_path):
    key, signers, signer = alice
    unsigned = upstream.commit(FILES_A)
    options = {"url": git_daemon.url("inventory"), "refresh_interval": 3600, "on_sync_failure": "use_cache"}
    source = write_source(tmp_path, **options)
    assert audit(ansible.list(source), "git_inventory_commit") == {unsigned}  # cached, parsed and stored

    # Inside refresh_interval, with use_cache: the cached commit was never verified, so nothing can be served.
    source = write_source(tmp_path, **options, verify_commit=True, ssh_allowed_signers=signers)
    proc = ansible.inventory("-i", source, "--list")
    assert_failed_cleanly(proc, f"refusing the commit {unsigned[:12]}", "it is not signed",
                          "no earlier good checkout is cached, so on_sync_failure=use_cache cannot help")

    signed = signed_commit(upstream, {"hosts": HOSTS_B}, ssh_key_path=key)
    listing = ansible.list(source)
    assert (audit(listing, "git_inventory_commit"), audit(listing, "git_inventory_signer")) == ({signed}, {signer})
    assert REPLAYED in verbose(ansible, source, tmp_path)  # the verified parse is stored and replayed

    # A second key joins the allowed signers file: the commit is verified again, and its stored parse,
    # made under other settings, is not replayed.
    _other, public = ssh_key(tmp_path, "mallory")
    with open(signers, "a") as handle:
        handle.write(f"mallory@example.com {public}\n")
    assert REPLAYED not in verbose(ansible, source, tmp_path)

    # Only that other key, still inside refresh_interval: verified again, and refused.
    with open(signers, "w") as handle:
        handle.write(f"mallory@example.com {public}\n")
    proc = ansible.inventory("-i", source, "--list")
    assert_failed_cleanly(proc, f"refusing the commit {signed[:12]}", "which is not in the allowed signers file")


@pytest.mark.parametrize("kind, program, package", [("openpgp", "gpg", "gnupg"), ("ssh", "ssh-keygen", "openssh-client")])
def test_a_missing_program_names_its_package(ansible, upstream, git_daemon, gnupg, alice, tmp_path, kind, program,
                                             package):
    key, signers, _signer = alice
    if kind == "ssh":
        commit = signed_commit(upstream, FILES_A, ssh_key_path=key)
    else:
        commit = signed_commit(upstream, FILES_A, gpg_home=gnupg, gpg_key=gnupg.bob)
    source = write_source(tmp_path, url=git_daemon.url("inventory"), verify_commit=True, ssh_allowed_signers=signers)
    assert not os.path.exists(os.path.join(BIN, program))
    proc = ansible.inventory("-i", source, "--list", env={"PATH": BIN, "GNUPGHOME": gnupg.path})
    assert_failed_cleanly(proc, f"cannot verify the commit {commit[:12]}",
                          f"the program '{program}' is missing from PATH; install it (package {package} on Debian")
    assert mentions(ansible.cache_dir, commit) == []
