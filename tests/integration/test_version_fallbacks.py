"""version as a list: the first entry the remote has wins; empty entries are skipped; the run
switches when an earlier entry appears; the error lists every entry; refresh_interval reuses the choice."""

from __future__ import annotations

import pytest

from conftest import said, write_source


def versions_and_commits(listing: dict) -> tuple[set, set]:
    hostvars = listing["_meta"]["hostvars"].values()
    return {v["git_inventory_version"] for v in hostvars}, {v["git_inventory_commit"] for v in hostvars}


@pytest.mark.parametrize("server", ["git_daemon", "http_server"])
def test_first_entry_missing_then_created(request, ansible, upstream, tmp_path, server):
    url = request.getfixturevalue(server).url("inventory")
    main = upstream.commit({"hosts.yml": "all:\n  hosts:\n    m1:\n"}, "main")
    source = write_source(tmp_path, url=url, version=[
        "{{ lookup('env', 'VCS_TEST_UNSET_VARIABLE') }}",  # renders empty: skipped
        "{{ feature_branch }}",
        "main",
    ])
    listing = ansible.list(source, "-e", "feature_branch=feature/new")
    assert versions_and_commits(listing) == ({"main"}, {main})
    assert set(listing["_meta"]["hostvars"]) == {"m1"}

    upstream.checkout_branch("feature/new")
    feature = upstream.commit({"hosts.yml": "all:\n  hosts:\n    f1:\n"}, "feature", branch="feature/new")
    listing = ansible.list(source, "-e", "feature_branch=feature/new")
    assert versions_and_commits(listing) == ({"feature/new"}, {feature})
    assert set(listing["_meta"]["hostvars"]) == {"f1"}


def test_a_full_commit_id_and_a_tag_in_the_list(ansible, upstream, git_daemon, tmp_path):
    first = upstream.commit({"hosts.yml": "all:\n  hosts:\n    a:\n"}, "one")
    upstream.tag("v1")
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    a:\n    b:\n"}, "two")
    url = git_daemon.url("inventory")
    listing = ansible.list(write_source(tmp_path, url=url, version=["no-such-branch", first, "main"]))
    assert versions_and_commits(listing) == ({first}, {first})
    listing = ansible.list(write_source(tmp_path, url=url, version=["no-such-branch", "v1", "main"]))
    assert versions_and_commits(listing) == ({"v1"}, {first})


def test_no_entry_matches_lists_every_entry(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    m1:\n"}, "main")
    source = write_source(tmp_path, url=git_daemon.url("inventory"),
                          version=["{{ lookup('env', 'VCS_TEST_UNSET_VARIABLE') }}", "{{ wanted }}", "develop"])
    proc = ansible.inventory("-i", source, "--list", "-e", "wanted=release/9")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert said("no entry of the option 'version' names a branch, tag or commit the repository has", out), out
    assert said("\"{{ lookup('env', 'VCS_TEST_UNSET_VARIABLE') }}\" -> '' (empty, skipped)", out), out
    assert said("'{{ wanted }}' -> 'release/9'", out), out
    assert said("'develop'", out), out


def test_an_entry_that_is_no_string_is_refused(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    m1:\n"}, "main")
    source = tmp_path / "prod.git.yml"
    source.write_text(f"plugin: vcs.inventory.git\nurl: {git_daemon.url('inventory')}\nversion: [main, 2024-01-01]\n")
    proc = ansible.inventory("-i", str(source), "--list")
    assert proc.returncode != 0
    # The strict read of the source file sees the YAML type first and quotes what was written.
    assert said("an entry of the option 'version' in", proc.stdout + proc.stderr), proc.stdout + proc.stderr
    assert said("is 2024-01-01, which YAML reads as the date 2024-01-01, not as text; quote it: version: [\"2024-01-01\"]",
                proc.stdout + proc.stderr), proc.stdout + proc.stderr


def test_refresh_interval_reuses_the_choice_without_network(ansible, upstream, repos_root, tmp_path):
    from helpers.servers import GitDaemon

    upstream.commit({"hosts.yml": "all:\n  hosts:\n    m1:\n"}, "main")
    upstream.checkout_branch("stable")
    stable = upstream.commit({"hosts.yml": "all:\n  hosts:\n    s1:\n"}, "stable", branch="stable")
    daemon = GitDaemon(repos_root)
    try:
        source = write_source(tmp_path, url=daemon.url("inventory"), version=["stable", "main"],
                              refresh_interval=3600)
        assert versions_and_commits(ansible.list(source)) == ({"stable"}, {stable})
    finally:
        daemon.stop()  # the port is closed: any network call would fail
    assert versions_and_commits(ansible.list(source)) == ({"stable"}, {stable})
    # Another list is another choice: it needs the network, which is down.
    other = write_source(tmp_path, name="other.git.yml", url=daemon.url("inventory"), version=["main"],
                         refresh_interval=3600)
    assert ansible.inventory("-i", other, "--list").returncode != 0


def test_one_connection_serves_the_whole_list(ansible, upstream, repos_root, tmp_path):
    """The list costs what a single version costs: one git:// connection (ls-refs and fetch on it)."""
    from helpers.counting_proxy import CountingProxy
    from helpers.servers import GitDaemon

    upstream.commit({"hosts.yml": "all:\n  hosts:\n    m1:\n"}, "main")
    daemon = GitDaemon(repos_root)
    try:
        with CountingProxy(daemon.port) as proxy:
            url = f"git://127.0.0.1:{proxy.port}/inventory.git"
            used = {}
            for label, version in [("single", "main"), ("list", ["nope-1", "{{ 'nope-2' }}", "", "main"])]:
                source = write_source(tmp_path, name=f"{label}.git.yml", url=url, version=version,
                                      cache_dir=str(tmp_path / f"cache-{label}"))
                before = proxy.snapshot()
                assert versions_and_commits(ansible.list(source))[0] == {"main"}
                used[label] = proxy.since(before)["connections"]
    finally:
        daemon.stop()
    assert used["list"] == used["single"] == 1, used
