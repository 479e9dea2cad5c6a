"""needed_set: what a checkout holds for the configured paths (pure logic, no repository)."""

from __future__ import annotations

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils.needed_set import MODE_SYMLINK, WHOLE_TREE, Closure, covers, normalise

FILE = 0o100644
TREE = {
    "inventory/sample/inventory.ini": FILE,
    "inventory/sample/group_vars/all/all.yml": FILE,
    "inventory/sample/group_vars/etcd.yml": FILE,
    "inventory/local/hosts.ini": FILE,
    "inventory/local/group_vars": MODE_SYMLINK,
    "inventory/localx/hosts": FILE,
    "inventory/hosts.yml": FILE,
    "inventory/group_vars/all.yml": FILE,
    "inventory/host_vars/web1.yml": FILE,
    "roles/x/tasks/main.yml": FILE,
    "loop/a": MODE_SYMLINK,
    "out": MODE_SYMLINK,
    "link-to-dir/hosts": FILE,
    "alias": MODE_SYMLINK,
}
TARGETS = {"inventory/local/group_vars": "../sample/group_vars", "loop/a": "../loop", "out": "../../etc",
           "alias": "link-to-dir"}


def needed(paths, targets=None):
    return Closure(TREE, (TARGETS if targets is None else targets).get).run(paths)


@pytest.mark.parametrize("paths,expected", [
    (["inventory/sample"], {"inventory/sample/inventory.ini", "inventory/sample/group_vars/all/all.yml",
                            "inventory/sample/group_vars/etcd.yml"}),
    (["inventory/local"], {"inventory/local/hosts.ini", "inventory/local/group_vars",
                           "inventory/sample/group_vars/all/all.yml", "inventory/sample/group_vars/etcd.yml"}),
    (["inventory/hosts.yml"], {"inventory/hosts.yml", "inventory/group_vars/all.yml", "inventory/host_vars/web1.yml"}),
    (["inventory/local/hosts.ini"], {"inventory/local/hosts.ini", "inventory/local/group_vars",
                                     "inventory/sample/group_vars/all/all.yml", "inventory/sample/group_vars/etcd.yml"}),
    (["loop"], {"loop/a"}),  # a symlink to its own directory ends
    (["out"], {"out"}),  # a target outside the repository: the symlink only (the checkout skips it)
    (["alias/hosts"], {"alias", "link-to-dir/hosts"}),  # a symlink in the middle of the path
    (["nothing/here"], set()),
])
def test_needed_set(paths, expected):
    closure = needed(paths)
    assert closure.needed == expected and not closure.pending


def test_a_directory_name_is_not_a_prefix_of_its_neighbour():
    assert "inventory/localx/hosts" not in needed(["inventory/local"]).needed


def test_unknown_symlink_targets_are_pending_until_their_blobs_arrive():
    closure = needed(["inventory/local"], targets={})
    assert closure.pending == {"inventory/local/group_vars"}
    assert "inventory/sample/group_vars/etcd.yml" not in closure.needed


def test_the_root_is_the_whole_tree():
    assert normalise(["inv", "", "x"]) == WHOLE_TREE == normalise(None) == normalise(["./"])
    assert needed([""]).needed == set(TREE)


def test_normalise_and_covers():
    assert normalise(["inv/", "./inv", "b//c"]) == ("b/c", "inv")
    assert covers(("a", "b"), ("a",)) and covers(WHOLE_TREE, ("x",)) and not covers(("a",), ("a", "b"))


DOT_TREE = {"inv/.s": MODE_SYMLINK, "inv/hosts.yml": MODE_SYMLINK, "inv/group_vars/all.yml": MODE_SYMLINK,
            "real.yml": FILE, "inv/real.yml": FILE, "secret.yml": FILE, "inv/secret.yml": FILE}
DOT_TARGETS = {"inv/.s": ".", "inv/hosts.yml": ".s/../real.yml", "inv/group_vars/all.yml": "../.s/.s/../../secret.yml"}


def test_a_dot_dot_after_a_symlink_goes_up_from_where_the_link_leads():
    closure = Closure(DOT_TREE, DOT_TARGETS.get).run(["inv/hosts.yml"])
    # On disk inv/.s/.. is the repository root (inv/.s is inv), not inv as normpath would have it.
    assert "real.yml" in closure.needed and "inv/real.yml" not in closure.needed
    # The chain of group_vars/all.yml climbs out on disk: nothing it names is fetched for it.
    assert "secret.yml" not in closure.needed and "inv/secret.yml" not in closure.needed
    assert {"inv/.s", "inv/group_vars/all.yml"} <= closure.needed


def test_links_to_their_own_directory_end_quickly():
    tree = {f"d/l{i}": MODE_SYMLINK for i in range(30)} | {"d/hosts": FILE}
    closure = Closure(tree, lambda path: ".").run(["d"])
    assert closure.needed == set(tree)
