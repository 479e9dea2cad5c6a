"""refnames: names a server sends, checked as git check-ref-format checks them."""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils import refnames
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import UnusableCommit

NAMES = [
    b"refs/heads/main", b"refs/heads/feature/x-1", b"refs/tags/v1.10", b"refs/heads/\xc3\xa9t\xc3\xa9",
    b"refs/heads/a b", b"refs/heads/a\nb", b"refs/heads/#jinja2:variable_start_string:'[['\n[[x]]",
    b"refs/heads/a..b", b"refs/heads/.hidden", b"refs/heads/x.lock", b"refs/heads/x.", b"refs/heads/a//b",
    b"refs/heads/a@{1}", b"refs/heads/a~1", b"refs/heads/a^", b"refs/heads/a:b", b"refs/heads/a?", b"refs/heads/a*",
    b"refs/heads/a[", b"refs/heads/a\\b", b"refs/heads/a\x7f", b"refs/heads/a\tb", b"/refs/heads/a", b"refs/heads/",
    b"main", b"@", b"refs/heads/@", b"refs/heads/\xff",
]


@pytest.mark.parametrize("name", NAMES)
def test_valid_ref_name_agrees_with_git(name):
    # git itself is the reference; a name it refuses is refused here too (and non-UTF-8 besides).
    git = subprocess.run(["git", "check-ref-format", name], capture_output=True, check=False).returncode == 0
    ours = refnames.valid_ref_name(name)
    assert ours == (git and name != b"refs/heads/\xff"), name


def test_head_branch_names_are_checked_and_quoted_safely():
    assert refnames.branch_of_head(b"refs/heads/release/2.0") == "release/2.0"
    assert refnames.branch_of_head(None) is None
    evil = b"refs/heads/#jinja2:variable_start_string:'[[',variable_end_string:']]'\n[[lookup('pipe','id')]]" + b"x" * 200
    with pytest.raises(UnusableCommit) as caught:
        refnames.branch_of_head(evil)
    text = str(caught.value)
    assert "\n" not in text and "\\n" in text and len(text) < 300 and "'version'" in text
    with pytest.raises(UnusableCommit):
        refnames.branch_of_head(b"refs/tags/v1")  # HEAD names a branch, nothing else
