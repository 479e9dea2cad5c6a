"""Symlinks are judged where they really lead on disk, not by their text: a chain through a link to
"." that looks inside but climbs out is skipped with a warning, for every reader (this plugin's
loader and Ansible's vars plugins), over git daemon, with trust_repo true and false. A plain clone
of the same commit shows what the attack would reach."""

from __future__ import annotations

import json
import os

import pytest

from conftest import oracle, plain_audit, said, write_source
from helpers.upstream import Upstream

MARKER = "OUTSIDE-MARKER"
HOSTS = "web:\n  hosts:\n    web1:\n    web2:\n"
PLAY = """
- hosts: web
  gather_facts: false
  connection: local
  tasks:
    - debug:
        msg: "PORT={{ port }} STOLEN={{ stolen | default('none') }} VAULTED={{ vaulted | default('none') }}"
"""


def dot_chain(secret: str, start: str = "../") -> str:
    """From inv/<dir>/ (start "../") or inv/ (start ""): to inv, 30 times through inv/.s (inv itself), 30 times
    up, then an absolute path.

    On paper (normpath) that stays inside the repository; on disk it is the path itself (the kernel
    follows 40 links in one lookup, and the checkout is less than 30 levels deep).
    """
    return start + ".s/" * 30 + "../" * 30 + secret.lstrip("/")


@pytest.fixture
def outside(tmp_path):
    """A plain secret and a directory with a vault file, beside the repository: never to be read."""
    directory = tmp_path / "outside"
    (directory / "web1").mkdir(parents=True)
    (directory / "secret.yml").write_text(f"stolen: {MARKER}\n")
    password = tmp_path / "vault-password"
    password.write_text("correct horse battery staple\n")
    vaulted = directory / "web1" / "vault.yml"
    vaulted.write_text(f"vaulted: VAULT-{MARKER}\n")
    return directory


def _encrypt(ansible, outside) -> str:
    password = os.path.join(os.path.dirname(outside), "vault-password")
    proc = ansible.run("ansible-vault", "encrypt", "--vault-password-file", password, outside / "web1" / "vault.yml")
    assert proc.returncode == 0, proc.stderr
    return password


def _hostile_repo(upstream: Upstream, outside) -> str:
    links = {
        "inv/.s": ".",
        # the dot chain to a file outside, read by host_group_vars as group_vars/all.yml
        "inv/group_vars/all.yml": dot_chain(str(outside / "secret.yml")),
        # a host_vars directory that is a directory outside holding a vault file
        "inv/host_vars/web1": dot_chain(str(outside / "web1")),
        # a link to a link to the chain
        "inv/group_vars/web2.yml": "../hop1", "inv/hop1": "hop2", "inv/hop2": dot_chain(str(outside / "secret.yml"), start=""),
        # a loop
        "inv/group_vars/loop.yml": "../loop_a", "inv/loop_a": "loop_b", "inv/loop_b": "loop_a",
        # a chain that stays inside: kept
        "inv/host_vars/web2.yml": "../.s/.s/.s/data/web2.yml",
    }
    upstream.write({"inv/hosts.yml": HOSTS, "inv/group_vars/web.yml": "port: 8080\n",
                    "inv/data/web2.yml": "role_of_web2: backup\n"})
    for rel, target in links.items():
        path = os.path.join(upstream.work, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)
    return upstream.commit()


SKIPPED_OUT = ("inv/group_vars/all.yml", "inv/host_vars/web1", "inv/group_vars/web2.yml", "inv/hop2", "inv/hop1")
SKIPPED_LOOP = ("inv/group_vars/loop.yml", "inv/loop_a", "inv/loop_b")


def plain(listing):
    """Untrusted values shown as plain ones ({"__ansible_unsafe": x} -> x)."""
    if isinstance(listing, dict):
        if set(listing) == {"__ansible_unsafe"}:
            return listing["__ansible_unsafe"]
        return {k: plain(v) for k, v in listing.items()}
    return [plain(v) for v in listing] if isinstance(listing, list) else listing


def _warned(stderr: str) -> None:
    for rel in SKIPPED_OUT:
        assert said(f"vcs.inventory.git: skipped the symlink '{rel}': it points outside the repository", stderr), rel
    for rel in SKIPPED_LOOP:
        assert said(f"vcs.inventory.git: skipped the symlink '{rel}': it loops", stderr), rel
    assert not said("skipped the symlink 'inv/host_vars/web2.yml'", stderr)
    assert not said("skipped the symlink 'inv/.s'", stderr)


@pytest.mark.parametrize("trust_repo", [True, False])
@pytest.mark.parametrize("server_filters", [False, True], ids=["full-fetch", "needed-set"])
def test_links_that_climb_out_on_disk_are_skipped(ansible, repos_root, git_daemon, tmp_path, outside, trust_repo,
                                                  server_filters):
    upstream = Upstream(repos_root, allow_filter=server_filters)
    password = _encrypt(ansible, outside)
    commit = _hostile_repo(upstream, outside)

    # The attack is real: a plain clone of this commit reads both secrets, the vault one decrypted.
    clone = oracle(ansible, upstream, commit, "inv", tmp_path, "--vault-password-file", password)
    assert clone["_meta"]["hostvars"]["web1"]["stolen"] == MARKER
    assert clone["_meta"]["hostvars"]["web1"]["vaulted"] == f"VAULT-{MARKER}"

    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv", trust_repo=trust_repo)
    proc = ansible.inventory("-i", source, "--list", "--vault-password-file", password)
    assert proc.returncode == 0, proc.stderr
    assert MARKER not in proc.stdout + proc.stderr
    _warned(proc.stderr)
    hostvars = plain(plain_audit(json.loads(proc.stdout)))["_meta"]["hostvars"]
    # The data files beside the hostile links still load, and the link that stays inside is followed.
    assert hostvars["web1"]["port"] == 8080 and hostvars["web2"]["port"] == 8080
    assert hostvars["web2"]["role_of_web2"] == "backup"
    assert hostvars["web1"]["git_inventory_commit"] == commit

    for host in ("web1", "web2"):
        proc = ansible.inventory("-i", source, "--host", host, "--vault-password-file", password)
        assert proc.returncode == 0, proc.stderr
        assert MARKER not in proc.stdout + proc.stderr
        assert plain(plain_audit(json.loads(proc.stdout)))["port"] == 8080

    # Nothing the checkout holds leads out of it.
    (checkout,) = [os.path.join(d, commit) for d in _trees_dirs(ansible.cache_dir)]
    for dirpath, dirnames, filenames in os.walk(checkout):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                real = os.path.realpath(full)
                assert real == checkout or real.startswith(checkout + os.sep), (full, real)


def test_a_play_never_sees_the_files_outside(ansible, upstream, git_daemon, tmp_path, outside):
    password = _encrypt(ansible, outside)
    _hostile_repo(upstream, outside)
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    for trust_repo in (True, False):
        source = write_source(tmp_path, f"p{trust_repo}.git.yml", url=git_daemon.url("inventory"), path="inv",
                              trust_repo=trust_repo)
        proc = ansible.playbook("-i", source, str(play), "--vault-password-file", password)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert '"msg": "PORT=8080 STOLEN=none VAULTED=none"' in proc.stdout, proc.stdout
        assert MARKER not in proc.stdout + proc.stderr
        _warned(proc.stderr)


def test_a_checkout_of_an_older_version_is_written_again_under_the_rule(
        ansible, upstream, git_daemon, tmp_path, outside):
    """A checkout written under the rule on paper (a manifest without the format) is rebuilt, quietly."""
    commit = _hostile_repo(upstream, outside)
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv")
    ansible.list(source)
    (trees_dir,) = _trees_dirs(ansible.cache_dir)
    checkout = os.path.join(trees_dir, commit)
    manifest_path = checkout + ".json"
    with open(manifest_path) as handle:
        manifest = json.load(handle)
    # What an older version left: the chain written as a link, a manifest that lists it, no format.
    os.symlink(dot_chain(str(outside / "secret.yml")), os.path.join(checkout, "inv", "group_vars", "all.yml"))
    manifest.pop("format")
    manifest["files"]["inv/group_vars/all.yml"] = ["0" * 40, 0o120000, 0, 0]
    for info in manifest["files"].values():
        del info[4:]
    with open(manifest_path, "w") as handle:
        json.dump(manifest, handle)

    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    assert MARKER not in proc.stdout + proc.stderr
    assert not said("was changed on disk", proc.stderr)
    assert not os.path.lexists(os.path.join(checkout, "inv", "group_vars", "all.yml"))
    with open(manifest_path) as handle:
        assert json.load(handle)["format"] == 2


def _trees_dirs(cache_dir: str) -> list[str]:
    return [os.path.join(cache_dir, name, "trees") for name in os.listdir(cache_dir)
            if os.path.isdir(os.path.join(cache_dir, name, "trees"))]
