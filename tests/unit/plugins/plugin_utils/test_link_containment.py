"""link_containment: a symlink stays only where following it, as the kernel does, never leaves the root."""

from __future__ import annotations

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils.link_containment import LOOP, MAX_LINK_HOPS, OUTSIDE, refused


def verdicts(links: dict) -> dict:
    return refused(list(links), links.get)


@pytest.mark.parametrize("links, expected", [
    # inv/.s is inv itself: "../.s/.s/../../../x" is inside on paper, three levels up on disk.
    ({"inv/.s": ".", "inv/group_vars/all.yml": "../.s/.s/../../../srv/secret.yml"},
     {"inv/group_vars/all.yml": OUTSIDE}),
    ({"inv/.s": ".", "inv/group_vars/all.yml": "../.s/.s/../hosts.yml"}, {}),  # inv/.., the root: inside
    ({"inv/host_vars/web1": "../.s/.s/../../..", "inv/.s": "."}, {"inv/host_vars/web1": OUTSIDE}),
    # Links to links: the chain is followed to its end.
    ({"a": "b", "b": "c", "c": "hosts.yml"}, {}),
    ({"a": "b", "b": "c", "c": "../x"}, {"a": OUTSIDE, "b": OUTSIDE, "c": OUTSIDE}),
    # Through a linked directory: "deep" is d/e/f on disk, so its ".." climb from there.
    ({"deep": "d/e/f", "x": "deep/../../../y"}, {}),
    ({"deep": "d/e", "x": "deep/../../../y"}, {"x": OUTSIDE}),
    ({"up": "d/..", "d": "..", "x": "up/hosts"}, {"d": OUTSIDE, "up": OUTSIDE, "x": OUTSIDE}),
    # Loops, short and long.
    ({"a": "a"}, {"a": LOOP}),
    ({"a": "b", "b": "a", "c": "a/hosts"}, {"a": LOOP, "b": LOOP, "c": LOOP}),
    ({"d/l": "../d/l/x"}, {"d/l": LOOP}),
    # Out and back in through the root's own name is out: that name changes when the tree is published.
    ({"inv/x": "../../tmp-123/hosts.yml"}, {"inv/x": OUTSIDE}),
    ({"x": "/etc/passwd", "y": "", "z": "a\0b"}, {"x": OUTSIDE, "y": OUTSIDE, "z": OUTSIDE}),
    ({"x": "./././hosts.yml", "y": "dir//sub/../hosts.yml"}, {}),
])
def test_verdicts(links, expected):
    assert verdicts(links) == expected


def test_a_chain_longer_than_the_kernel_follows_is_refused_at_its_start_only():
    links = {f"l{i}": f"l{i + 1}" for i in range(MAX_LINK_HOPS + 5)}
    links[f"l{MAX_LINK_HOPS + 5}"] = "hosts.yml"
    found = verdicts(links)
    # l5 to l45 are 41 links, one more than the kernel follows (ELOOP); l6 is 40 and opens.
    assert found == {f"l{i}": LOOP for i in range(6)}


def test_a_refused_link_met_first_as_a_step_of_a_long_chain_is_judged_alone():
    links = {f"l{i}": f"l{i + 1}" for i in range(MAX_LINK_HOPS + 2)}
    links[f"l{MAX_LINK_HOPS + 2}"] = "hosts.yml"
    order = list(links)  # the long chain first, then its tail, which alone is short
    assert set(refused(order, links.get)) == {"l0", "l1", "l2"}


def test_many_links_to_their_own_directory_cost_little():
    links = {f"d/l{i}": "." for i in range(2000)}
    links["x"] = "d/" + "/".join(f"l{i}" for i in range(30)) + "/../../out"
    assert verdicts(links) == {"x": OUTSIDE}
