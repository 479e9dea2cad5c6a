"""trees: a checkout is written whole or not at all, and any later change to it is noticed."""

from __future__ import annotations

import os

import pytest
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from ansible_collections.vcs.inventory.plugins.plugin_utils import trees


class Link:
    def __init__(self, target: str) -> None:
        self.target = target


def commit_files(repo: Repo, files: dict) -> str:
    """Write files ({path: bytes, or Link(target)}) as one commit straight into repo's object store."""
    def build(entries: dict) -> bytes:
        tree = Tree()
        for name, value in entries.items():
            if isinstance(value, dict):
                tree.add(name.encode(), 0o040000, build(value))
            elif isinstance(value, Link):
                blob = Blob.from_string(value.target.encode())
                repo.object_store.add_object(blob)
                tree.add(name.encode(), 0o120000, blob.id)
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


def dot_chain(levels: int, tail: str, dots: int = 5) -> str:
    """From inv/<dir>/: up to inv, through inv/.s (inv itself) `dots` times, then up `levels`: inside on paper."""
    return "../" + ".s/" * dots + "../" * levels + tail


@pytest.fixture
def secret(tmp_path):
    (tmp_path / "secret.yml").write_text("stolen: OUTSIDE-MARKER\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "vault.yml").write_text("stolen: OUTSIDE-MARKER\n")
    return tmp_path


def contents(root: str) -> list[bytes]:
    """Everything a reader of the tree can open, following every link it holds."""
    found = []
    for dirpath, _dirs, names in os.walk(root, followlinks=False):
        for name in names + _dirs:
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):
                found.append(read(full))
            elif os.path.isdir(full) and os.path.islink(full):
                found += [read(os.path.join(full, n)) for n in os.listdir(full) if os.path.isfile(os.path.join(full, n))]
    return found


def test_links_that_leave_on_disk_are_never_written(repo, trees_dir, secret):
    # trees_dir is <tmp>/trees, a tree <tmp>/trees/<sha>: inv/ is three levels below <tmp>.
    commit = commit_files(repo, {
        "inv/hosts.yml": b"all:\n  hosts:\n    web1:\n",
        "inv/.s": Link("."),
        "inv/group_vars/all.yml": Link(dot_chain(3, "secret.yml")),
        "inv/group_vars/web.yml": b"port: 80\n",
        "inv/host_vars/web1": Link(dot_chain(3, "outside")),
        "inv/host_vars/web2.yml": b"a: 1\n",
        "inv/chain_a": Link("chain_b"), "inv/chain_b": Link("host_vars/web1/vault.yml"),
        "inv/inside": Link(".s/.s/hosts.yml"),
        "inv/loop_a": Link("loop_b"), "inv/loop_b": Link("loop_a"),
    })
    warnings = trees.build_tree(repo, commit, trees_dir)
    root = os.path.join(trees_dir, commit)
    for rel in ("inv/group_vars/all.yml", "inv/host_vars/web1", "inv/chain_a", "inv/chain_b"):
        assert not os.path.lexists(os.path.join(root, rel)), rel
        assert any(w.startswith(f"skipped the symlink {rel!r}: it points outside the repository") for w in warnings), rel
    for rel in ("inv/loop_a", "inv/loop_b"):
        assert not os.path.lexists(os.path.join(root, rel))
        assert any(w.startswith(f"skipped the symlink {rel!r}: it loops") for w in warnings)
    assert read(os.path.join(root, "inv", "inside")) == b"all:\n  hosts:\n    web1:\n"
    assert read(os.path.join(root, "inv", "group_vars", "web.yml")) == b"port: 80\n"
    assert not any(b"OUTSIDE-MARKER" in data for data in contents(root))
    assert trees.check_tree(trees_dir, commit) == (None, warnings)
    assert len(warnings) == 6


def test_the_on_disk_rule_holds_when_a_checkout_is_widened(repo, trees_dir, secret):
    # inv/a is inside on paper and, while inv/b is not written, on disk; inv/b -> .s/.s makes it climb out.
    commit = commit_files(repo, {"hosts": b"x\n", "inv/.s": Link("."), "inv/b": Link(".s/.s"),
                                 "inv/a": Link("b/../../z")})
    trees.build_tree(repo, commit, trees_dir, only={"hosts", "inv/a"}, scope=("hosts",))
    root = os.path.join(trees_dir, commit)
    assert os.readlink(os.path.join(root, "inv", "a")) == "b/../../z"
    warnings = trees.extend_tree(repo, commit, trees_dir, only={"inv/.s", "inv/b"}, scope=("",))
    # On disk inv/b is inv, so inv/a is inv/../../z, the z beside the checkout: it goes before inv/b is written.
    assert not os.path.lexists(os.path.join(root, "inv", "a"))
    assert os.readlink(os.path.join(root, "inv", "b")) == ".s/.s"
    assert any(w.startswith("skipped the symlink 'inv/a': it points outside the repository") for w in warnings)
    assert trees.check_tree(trees_dir, commit)[0] is None


def test_a_link_changed_or_planted_with_its_manifest_is_noticed(repo, trees_dir, secret):
    commit = commit_files(repo, {"inv/hosts.yml": b"x\n", "inv/.s": Link("."), "inv/vars": Link("hosts.yml")})
    assert trees.build_tree(repo, commit, trees_dir) == []
    root = os.path.join(trees_dir, commit)
    link = os.path.join(root, "inv", "vars")
    os.unlink(link)
    os.symlink("hosts.yml/..", link)
    assert "the symlink 'inv/vars' was changed" in trees.check_tree(trees_dir, commit)[0]
    # A restored cache whose manifest agrees with its links: the links are followed on disk all the same.
    planted = ".s/.s/.s/../../../secret.yml"  # inv/.s/.s/.s is inv: this is the trees directory's secret.yml
    os.unlink(link)
    os.symlink(planted, link)
    manifest = trees.read_manifest(trees_dir, commit)
    manifest["files"]["inv/vars"][4] = planted
    trees._write_manifest(trees_dir, commit, manifest)
    assert trees.check_tree(trees_dir, commit)[0] == "the symlink 'inv/vars' leads outside the checkout"


def test_a_tree_of_the_older_format_is_outdated(repo, trees_dir):
    commit = commit_files(repo, FILES)
    trees.build_tree(repo, commit, trees_dir)
    manifest = trees.read_manifest(trees_dir, commit)
    del manifest["format"]
    from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import write_json
    write_json(trees.manifest_path(trees_dir, commit), manifest)
    assert trees.check_tree(trees_dir, commit)[0] == trees.OUTDATED
