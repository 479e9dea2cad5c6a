"""lookup('vcs.inventory.current_branch'): the branch of the playbook's work tree, through real
ansible-playbook runs; '' for a detached HEAD or outside any work tree; linked worktrees; a directory argument."""

from __future__ import annotations

import os
import re

import pytest

from conftest import write_source
from helpers.upstream import git

PLAY = """- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: "VERSION={{ git_inventory_version }} LOOKUP={{ lookup('vcs.inventory.current_branch') }}"
"""
PLAY_WITH_DIR = """- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: "LOOKUP={{ lookup('vcs.inventory.current_branch', '%s') }}"
"""


@pytest.fixture
def branches(upstream):
    """The inventory repo: main holds host m1, branch 'feature/x' host f1."""
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    m1:\n"}, "main")
    upstream.checkout_branch("feature/x")
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    f1:\n"}, "feature", branch="feature/x")
    return upstream


@pytest.fixture
def playbooks(tmp_path):
    """A playbook repository (a real work tree, made with git), on branch feature/x."""
    work = tmp_path / "playbooks"
    work.mkdir()
    git("init", "-q", "-b", "main", str(work))
    (work / "site.yml").write_text(PLAY)
    git("add", "site.yml", cwd=str(work))
    git("commit", "-q", "-m", "play", cwd=str(work))
    git("checkout", "-q", "-b", "feature/x", cwd=str(work))
    return work


def run(ansible, tmp_path, playbook, url) -> tuple[set, set]:
    source = write_source(tmp_path, url=url, version="{{ lookup('vcs.inventory.current_branch') }}")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir(exist_ok=True)  # not a work tree: the branch must come from the playbook's directory
    proc = ansible.playbook("-i", source, str(playbook), cwd=str(elsewhere))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return set(re.findall(r"VERSION=(\S*)", proc.stdout)), set(re.findall(r"LOOKUP=(\S*)\"", proc.stdout))


def test_the_inventory_follows_the_playbooks_branch(ansible, branches, playbooks, git_daemon, tmp_path):
    versions, lookups = run(ansible, tmp_path, playbooks / "site.yml", git_daemon.url("inventory"))
    assert versions == {"feature/x"} and lookups == {"feature/x"}


def test_a_detached_head_gives_empty_and_the_default_branch_serves(ansible, branches, playbooks, git_daemon, tmp_path):
    git("checkout", "-q", "--detach", cwd=str(playbooks))
    versions, lookups = run(ansible, tmp_path, playbooks / "site.yml", git_daemon.url("inventory"))
    assert versions == {"main"} and lookups == {""}


def test_outside_any_work_tree_gives_empty(ansible, branches, git_daemon, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "site.yml").write_text(PLAY)
    versions, lookups = run(ansible, tmp_path, plain / "site.yml", git_daemon.url("inventory"))
    assert versions == {"main"} and lookups == {""}


def test_a_linked_worktree_reads_its_own_branch(ansible, branches, playbooks, git_daemon, tmp_path):
    git("checkout", "-q", "main", cwd=str(playbooks))
    linked = tmp_path / "linked"
    git("worktree", "add", "-q", str(linked), "feature/x", cwd=str(playbooks))
    assert os.path.isfile(linked / ".git")  # a .git file, not a directory
    versions, lookups = run(ansible, tmp_path, linked / "site.yml", git_daemon.url("inventory"))
    assert versions == {"feature/x"} and lookups == {"feature/x"}
    versions, lookups = run(ansible, tmp_path, playbooks / "site.yml", git_daemon.url("inventory"))
    assert versions == {"main"} and lookups == {"main"}


def test_a_directory_argument_and_a_submodule(ansible, branches, playbooks, tmp_path):
    sub_source = tmp_path / "subsource"
    git("init", "-q", "-b", "release", str(sub_source))
    git("commit", "-q", "--allow-empty", "-m", "s", cwd=str(sub_source))
    git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub_source), "vendor/sub",
        cwd=str(playbooks))
    assert os.path.isfile(playbooks / "vendor" / "sub" / ".git")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    h1:\n")
    for directory, expected in [(playbooks / "vendor" / "sub", "release"), (playbooks, "feature/x"),
                                (tmp_path / "playbooks" / ".." / "cwd-none", None)]:
        if expected is None:
            os.makedirs(directory, exist_ok=True)
            expected = ""
        play = tmp_path / "dir.yml"
        play.write_text(PLAY_WITH_DIR % directory)
        proc = ansible.playbook("-i", str(inventory), str(play), cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert set(re.findall(r"LOOKUP=(\S*)\"", proc.stdout)) == {expected}, directory


def test_a_directory_that_does_not_exist_is_named(ansible, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    h1:\n")
    play = tmp_path / "dir.yml"
    play.write_text(PLAY_WITH_DIR % (tmp_path / "missing"))
    proc = ansible.playbook("-i", str(inventory), str(play), cwd=str(tmp_path))
    assert proc.returncode != 0
    assert "vcs.inventory.current_branch: the directory" in proc.stdout + proc.stderr
