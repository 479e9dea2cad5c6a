"""trees: a checkout is written whole or not at all, and any later change to it is noticed."""

from __future__ import annotations

import os

import pytest
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from ansible_collections.vcs.inventory.plugins.plugin_utils import trees


def commit_files(repo: Repo, files: dict) -> str:
    """Write files ({path: bytes}) as one commit straight into repo's object store."""
    def build(entries: dict) -> bytes:
        tree = Tree()
        for name, value in entries.items():
            if isinstance(value, dict):
                tree.add(name.encode(), 0o040000, build(value))
            else:
                blob = Blob.from_string(value)
                repo.object_store.add_object(blob)
                tree.add(name.encode(), 0o100644, blob.id)
        repo.object_store.add_object(tree)
        return tree.id

    nested: dict = {}
    for path, data in files.items():
        *dirs, leaf = path.split("/")
        node = nested
        for part in dirs:
            node = node.setdefault(part, {})
        node[leaf] = data
    commit = Commit()
    commit.tree = build(nested)
    commit.author = commit.committer = b"Test <test@example.invalid>"
    commit.author_time = commit.commit_time = 1700000000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"test"
    repo.object_store.add_object(commit)
    return commit.id.decode()


@pytest.fixture
def repo(tmp_path):
    with Repo.init_bare(str(tmp_path / "mirror.git"), mkdir=True) as bare:
        yield bare


@pytest.fixture
def trees_dir(tmp_path):
    path = tmp_path / "trees"
    path.mkdir()
    return str(path)


FILES = {"hosts": b"[web]\nweb1\n", "group_vars/web.yml": b"port: 80\n", "host_vars/web1.yml": b"a: 1\n"}


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def test_build_writes_exactly_the_commit_and_verifies(repo, trees_dir):
    commit = commit_files(repo, FILES)
    assert trees.build_tree(repo, commit, trees_dir) == []
    root = os.path.join(trees_dir, commit)
    for rel, data in FILES.items():
        assert read(os.path.join(root, rel)) == data
    assert trees.check_tree(trees_dir, commit)[0] is None
    assert [n for n in os.listdir(trees_dir) if n.startswith("tmp-") or ".tmp-" in n] == []


@pytest.mark.parametrize("change,expected", [
    (lambda root: open(os.path.join(root, "hosts"), "a").write("evil\n"), "the file 'hosts' was changed"),
    (lambda root: open(os.path.join(root, "evil.yml"), "w").write("x"), "untracked file 'evil.yml'"),
    (lambda root: os.unlink(os.path.join(root, "group_vars", "web.yml")), "files are missing"),
    (lambda root: os.symlink("/etc/hostname", os.path.join(root, "group_vars", "all.yml")), "untracked file"),
])
def test_verify_notices_local_changes(repo, trees_dir, change, expected):
    commit = commit_files(repo, FILES)
    trees.build_tree(repo, commit, trees_dir)
    change(os.path.join(trees_dir, commit))
    assert expected in trees.check_tree(trees_dir, commit)[0]


def test_verify_notices_a_damaged_manifest_or_a_missing_tree(repo, trees_dir):
    commit = commit_files(repo, FILES)
    trees.build_tree(repo, commit, trees_dir)
    with open(trees.manifest_path(trees_dir, commit), "w") as handle:
        handle.write("{broken")
    assert "manifest" in trees.check_tree(trees_dir, commit)[0]
    trees.build_tree(repo, commit, trees_dir)
    trees.remove_tree(os.path.join(trees_dir, commit))
    assert trees.check_tree(trees_dir, commit)[0] == "the checkout is missing"


def test_an_edited_previous_tree_is_never_linked_into_the_next(repo, trees_dir):
    first = commit_files(repo, FILES)
    trees.build_tree(repo, first, trees_dir)
    with open(os.path.join(trees_dir, first, "hosts"), "a") as handle:  # same inode, new size
        handle.write("evil\n")
    second = commit_files(repo, dict(FILES, **{"host_vars/web1.yml": b"a: 2\n"}))
    trees.build_tree(repo, second, trees_dir, previous=first)
    assert read(os.path.join(trees_dir, second, "hosts")) == FILES["hosts"]
    assert trees.check_tree(trees_dir, second)[0] is None
    # Unchanged, untouched files are shared with the previous tree rather than written again.
    first_vars = os.stat(os.path.join(trees_dir, first, "group_vars", "web.yml"))
    second_vars = os.stat(os.path.join(trees_dir, second, "group_vars", "web.yml"))
    assert first_vars.st_ino == second_vars.st_ino


def test_a_failed_build_leaves_nothing_and_keeps_the_old_tree(repo, trees_dir):
    good = commit_files(repo, FILES)
    trees.build_tree(repo, good, trees_dir)
    # A tree entry named ".git" must never be written (CVE-2014-9706 class).
    bad_tree = Tree()
    blob = Blob.from_string(b"[core]\n")
    repo.object_store.add_object(blob)
    bad_tree.add(b"hosts", 0o100644, blob.id)
    inner = Tree()
    inner.add(b"config", 0o100644, blob.id)
    repo.object_store.add_object(inner)
    bad_tree.add(b".git", 0o040000, inner.id)
    repo.object_store.add_object(bad_tree)
    commit = Commit()
    commit.tree = bad_tree.id
    commit.author = commit.committer = b"Test <test@example.invalid>"
    commit.author_time = commit.commit_time = 1700000000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"bad"
    repo.object_store.add_object(commit)
    with pytest.raises(trees.UnsafeTree):
        trees.build_tree(repo, commit.id.decode(), trees_dir, previous=good)
    assert sorted(os.listdir(trees_dir)) == sorted([good, f"{good}.json"])
    assert trees.check_tree(trees_dir, good)[0] is None


def test_remove_tree_copes_with_read_only_parts(tmp_path):
    target = tmp_path / "t"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "f").write_text("x")
    os.chmod(target / "sub", 0o500)
    trees.remove_tree(str(target))
    assert not target.exists()
    link = tmp_path / "link"
    os.symlink(str(tmp_path), link)
    trees.remove_tree(str(link))  # a symlink goes, never what it points at
    assert not link.exists() and tmp_path.exists()
