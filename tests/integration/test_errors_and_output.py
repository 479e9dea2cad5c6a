"""Every user error is one clear message that names the option or value; output is quiet by default."""

from __future__ import annotations

import json

import pytest

from conftest import said, write_source
from helpers.servers import free_port

NOISE = ("Traceback", "Exception ignored", "ResourceWarning", "Counting objects", "Enumerating objects")


def assert_clean_failure(proc, *needles):
    assert proc.returncode != 0, proc.stdout
    for needle in needles:
        assert said(needle, proc.stderr), (needle, proc.stderr)
    for noise in NOISE:
        assert noise not in proc.stderr, (noise, proc.stderr)


def test_missing_url(ansible, tmp_path):
    proc = ansible.inventory("-i", write_source(tmp_path), "--list")
    assert_clean_failure(proc, "url")


def test_unsupported_scheme(ansible, tmp_path):
    proc = ansible.inventory("-i", write_source(tmp_path, url="ftp://127.0.0.1/x.git"), "--list")
    assert_clean_failure(proc, "option 'url'", "ftp")


def test_unreachable_server(ansible, tmp_path):
    url = f"git://127.0.0.1:{free_port()}/inventory.git"
    proc = ansible.inventory("-i", write_source(tmp_path, url=url), "--list")
    assert_clean_failure(proc, url, "connection refused")


@pytest.mark.parametrize("server", ["git_daemon", "http_server"])
def test_unknown_repository(request, ansible, upstream, tmp_path, server):
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    a:\n"})
    url = request.getfixturevalue(server).url("no-such-repo")
    proc = ansible.inventory("-i", write_source(tmp_path, url=url), "--list")
    assert_clean_failure(proc, url)
    assert said("option 'url'", proc.stderr) or said("cannot read", proc.stderr)


def test_path_not_in_repo(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    a:\n"})
    proc = ansible.inventory("-i", write_source(tmp_path, url=git_daemon.url("inventory"), path="inventories/nope"),
                             "--list")
    assert_clean_failure(proc, "'inventories/nope'", "option 'path'")


def test_missing_dulwich_is_a_one_line_error(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    a:\n"})
    shadow = tmp_path / "shadow" / "dulwich"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named dulwich')\n")
    proc = ansible.inventory("-i", write_source(tmp_path, url=git_daemon.url("inventory")), "--list",
                             env={"PYTHONPATH": str(shadow.parent)})
    assert_clean_failure(proc, "dulwich")


def test_quiet_by_default_and_commit_at_vv(ansible, upstream, git_daemon, tmp_path):
    commit = upstream.commit({"hosts.yml": "all:\n  hosts:\n    a:\n"})
    source = write_source(tmp_path, url=git_daemon.url("inventory"))
    proc = ansible.inventory("-i", source, "--list")  # cold run: clone
    assert proc.returncode == 0
    json.loads(proc.stdout)  # stdout is only the JSON
    assert proc.stderr == "", proc.stderr
    proc = ansible.inventory("-i", source, "--graph", "-vv")
    assert proc.returncode == 0
    assert commit in proc.stdout + proc.stderr
    assert "Exception ignored" not in proc.stderr
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    b:\n"})
    proc = ansible.inventory("-i", source, "--graph", "-vvv")
    assert proc.returncode == 0
    assert "objects" in proc.stdout  # dulwich progress is shown only when asked for


def test_rerun_with_leftovers_never_says_already_exists(ansible, upstream, git_daemon, tmp_path):
    """The failure this project exists for: a rerun that trips over what an earlier run left behind."""
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    a:\n"})
    source = write_source(tmp_path, url=git_daemon.url("inventory"))
    assert ansible.inventory("-i", source, "--list").returncode == 0
    cache = tmp_path / "cache"
    entry = next(p for p in cache.iterdir() if p.is_dir())
    (entry / "trees" / "tmp-12345-deadbeef").mkdir()  # a half-built tree of a killed run
    (entry / "trees" / "tmp-12345-deadbeef" / "hosts.yml").write_text("all:\n  hosts:\n    ghost:\n")
    for _attempt in range(3):
        proc = ansible.inventory("-i", source, "--list")
        assert proc.returncode == 0, proc.stderr
        assert "already exists" not in proc.stderr
        assert set(json.loads(proc.stdout)["_meta"]["hostvars"]) == {"a"}
    assert not (entry / "trees" / "tmp-12345-deadbeef").exists()
