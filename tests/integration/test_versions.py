"""version: branch, tag, full and abbreviated commit ids, switching, force-push, deleted branches."""

from __future__ import annotations

import pytest

from conftest import said, write_source


def hosts_of(listing: dict) -> set:
    return set(listing["_meta"]["hostvars"])


def commit_of(listing: dict) -> str:
    commits = {v["git_inventory_commit"] for v in listing["_meta"]["hostvars"].values()}
    assert len(commits) == 1, commits
    return commits.pop()


@pytest.fixture
def history(upstream):
    """main: c1 (a) -> c2 (a, b) tagged v1 -> c3 (a, b, c); branch 'stable' at c1."""
    c1 = upstream.commit({"hosts.yml": "all:\n  hosts:\n    a:\n"}, "one")
    upstream.commit(push=False, message="noop")  # keep c1 off the tips below
    upstream.checkout_branch("stable")
    upstream.reset_hard(c1)
    upstream.force_push("stable")
    upstream.checkout_branch("main", create=False)
    c2 = upstream.commit({"hosts.yml": "all:\n  hosts:\n    a:\n    b:\n"}, "two")
    upstream.tag("v1")
    c3 = upstream.commit({"hosts.yml": "all:\n  hosts:\n    a:\n    b:\n    c:\n"}, "three")
    return {"c1": c1, "c2": c2, "c3": c3}


@pytest.mark.parametrize("server", ["git_daemon", "http_server"])
def test_branch_tag_and_commit_pins(request, ansible, upstream, history, tmp_path, server):
    url = request.getfixturevalue(server).url("inventory")
    cases = [
        (None, history["c3"], "main"),
        ("main", history["c3"], "main"),
        ("stable", history["c1"], "stable"),
        ("v1", history["c2"], "v1"),
        (history["c3"], history["c3"], history["c3"]),  # a tip, by full id
        (history["c2"][:10], history["c2"], history["c2"][:10]),  # abbreviated
        (history["c2"], history["c2"], history["c2"]),  # not a tip: fetched fully or by id
    ]
    for version, expected_commit, expected_version in cases:
        options = {"url": url} if version is None else {"url": url, "version": version}
        source = write_source(tmp_path, **options)  # one cache: every switch reuses the same entry
        listing = ansible.list(source)
        assert commit_of(listing) == expected_commit, version
        assert {v["git_inventory_version"] for v in listing["_meta"]["hostvars"].values()} == {expected_version}


def test_switching_back_and_forth_on_one_cache(ansible, upstream, history, git_daemon, tmp_path):
    url = git_daemon.url("inventory")
    for version, hosts in [("main", {"a", "b", "c"}), ("stable", {"a"}), ("v1", {"a", "b"}), ("main", {"a", "b", "c"})]:
        listing = ansible.list(write_source(tmp_path, url=url, version=version))
        assert hosts_of(listing) == hosts, version


def test_force_push_is_followed(ansible, upstream, history, git_daemon, tmp_path):
    source = write_source(tmp_path, url=git_daemon.url("inventory"), version="main")
    assert hosts_of(ansible.list(source)) == {"a", "b", "c"}
    upstream.reset_hard(history["c1"])
    rewritten = upstream.commit({"hosts.yml": "all:\n  hosts:\n    z:\n"}, "rewritten", push=False)
    upstream.force_push()
    listing = ansible.list(source)
    assert hosts_of(listing) == {"z"}
    assert commit_of(listing) == rewritten


def test_full_history_depth_zero(ansible, upstream, history, git_daemon, tmp_path):
    source = write_source(tmp_path, url=git_daemon.url("inventory"), version=history["c1"], depth=0)
    assert hosts_of(ansible.list(source)) == {"a"}


def test_commit_by_id_where_the_server_allows_it(ansible, tmp_path, git_daemon):
    from helpers.upstream import Upstream

    up = Upstream(git_daemon.root, name="anysha", allow_any_sha=True)
    old = up.commit({"hosts.yml": "all:\n  hosts:\n    old:\n"})
    up.commit({"hosts.yml": "all:\n  hosts:\n    new:\n"})
    listing = ansible.list(write_source(tmp_path, url=git_daemon.url("anysha"), version=old))
    assert hosts_of(listing) == {"old"}
    assert commit_of(listing) == old


def test_deleted_branch_is_an_error_not_old_data(ansible, upstream, history, git_daemon, tmp_path):
    source = write_source(tmp_path, url=git_daemon.url("inventory"), version="stable", on_sync_failure="use_cache")
    assert hosts_of(ansible.list(source)) == {"a"}
    upstream.delete_branch("stable")
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0
    assert said("'stable'", proc.stderr) and "version" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_version_names_the_option(ansible, upstream, history, git_daemon, tmp_path):
    proc = ansible.inventory("-i", write_source(tmp_path, url=git_daemon.url("inventory"), version="nope"), "--list")
    assert proc.returncode != 0
    assert said("'nope'", proc.stderr) and said("option 'version'", proc.stderr)


def test_unknown_commit_id_over_a_local_path_keeps_the_cache(ansible, upstream, history, tmp_path):
    good = write_source(tmp_path, url=upstream.bare)
    assert hosts_of(ansible.list(good)) == {"a", "b", "c"}
    proc = ansible.inventory("-i", write_source(tmp_path, name="bad.git.yml", url=upstream.bare, version="a" * 40),
                             "--list")
    assert proc.returncode != 0
    assert said("option 'version'", proc.stderr)
    assert "damaged" not in proc.stderr
    rerun = ansible.inventory("-i", good, "--list")
    assert rerun.returncode == 0 and "damaged" not in rerun.stderr and "WARNING" not in rerun.stderr
