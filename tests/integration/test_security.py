"""Nothing escapes the repository: paths, symlinks, script inventories, submodules."""

from __future__ import annotations

import glob
import json
import os
import socket
import subprocess
import threading

import pytest

from conftest import said, write_source
from helpers.upstream import git

HOSTS = "all:\n  hosts:\n    web1:\n"


def hosts_of(listing: dict) -> set:
    return set(listing["_meta"]["hostvars"])


@pytest.fixture
def outside(tmp_path):
    """A secret beside the repository, in inventory format: it must never be read."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.yml").write_text("all:\n  hosts:\n    stolen:\n      secret: OUTSIDE-MARKER\n")
    return directory


@pytest.mark.parametrize("path, message", [
    ("/etc", "must be relative to the repository root"),
    ("../outside", "climbs out of the repository"),
    ("inventories/../../outside", "climbs out of the repository"),
])
def test_path_outside_the_repository_is_refused(ansible, upstream, git_daemon, tmp_path, path, message):
    upstream.commit({"inventories/hosts.yml": HOSTS})
    proc = ansible.inventory("-i", write_source(tmp_path, url=git_daemon.url("inventory"), path=path), "--list")
    assert proc.returncode != 0
    assert said(message, proc.stderr) and said(repr(path), proc.stderr)


def test_symlinks_out_of_the_repository_are_not_followed(ansible, upstream, git_daemon, tmp_path, outside):
    secret = str(outside / "secret.yml")
    climbing = "../" * 40 + secret.lstrip("/")  # enough ../ to reach / from wherever the checkout lives
    links = {"absolute.yml": secret, "climbing.yml": climbing, "dirlink": str(outside),
             "loop_a": "loop_b", "loop_b": "loop_a", "inside.yml": "hosts.yml"}
    upstream.write({"hosts.yml": HOSTS})
    for name, target in links.items():
        os.symlink(target, os.path.join(upstream.work, name))
    upstream.commit()
    url = git_daemon.url("inventory")

    proc = ansible.inventory("-i", write_source(tmp_path, url=url), "--list")
    assert proc.returncode == 0, proc.stderr
    assert hosts_of(json.loads(proc.stdout)) == {"web1"}
    assert not said("OUTSIDE-MARKER", proc.stdout + proc.stderr)
    for name in ("absolute.yml", "climbing.yml", "dirlink"):
        assert said(f"skipped the symlink '{name}': it points outside the repository", proc.stderr)
    for name in ("loop_a", "loop_b"):
        assert said(f"skipped the symlink '{name}': it loops", proc.stderr)
    assert not said("skipped the symlink 'inside.yml'", proc.stderr)

    # Naming the skipped link as the path does not reach its target either.
    proc = ansible.inventory("-i", write_source(tmp_path, url=url, path="dirlink/secret.yml"), "--list")
    assert proc.returncode != 0
    assert said("'dirlink/secret.yml'", proc.stderr) and said("option 'path'", proc.stderr)
    assert not said("OUTSIDE-MARKER", proc.stdout + proc.stderr)


@pytest.fixture
def script_repo(upstream, tmp_path):
    marker = tmp_path / "script-ran"
    upstream.write({"hosts.yml": HOSTS, "dynamic.sh": (
        "#!/bin/sh\n"
        f"touch '{marker}'\n"
        "echo '{\"scripted\": {\"hosts\": [\"s1\"]}, \"_meta\": {\"hostvars\": {}}}'\n")})
    os.chmod(os.path.join(upstream.work, "dynamic.sh"), 0o755)
    upstream.commit()
    return marker


def test_executable_inventory_is_not_run_by_default(ansible, script_repo, git_daemon, tmp_path):
    proc = ansible.inventory("-i", write_source(tmp_path, url=git_daemon.url("inventory")), "--list")
    assert proc.returncode == 0, proc.stderr
    assert hosts_of(json.loads(proc.stdout)) == {"web1"}
    assert not script_repo.exists()
    assert said("not running the executable 'dynamic.sh'", proc.stderr) and said("allow_scripts", proc.stderr)


def test_executable_inventory_runs_with_allow_scripts(ansible, script_repo, git_daemon, tmp_path):
    listing = ansible.list(write_source(tmp_path, url=git_daemon.url("inventory"), allow_scripts=True))
    assert hosts_of(listing) == {"web1", "s1"}
    assert script_repo.exists()


class ConnectionCounter:
    """A TCP listener on 127.0.0.1 that only counts who connects to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            self.count += 1
            conn.close()

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


def test_submodules_are_never_fetched(ansible, upstream, git_daemon, tmp_path):
    from helpers.upstream import Upstream

    sub = Upstream(upstream.root, name="sub")
    sub_commit = sub.commit({"hosts.yml": "all:\n  hosts:\n    from_submodule:\n"})
    marker = tmp_path / "ext-ran"
    counter = ConnectionCounter()
    try:
        upstream.write({"hosts.yml": HOSTS, ".gitmodules": (
            '[submodule "sub"]\n\tpath = modules/sub\n'
            f"\turl = git://127.0.0.1:{counter.port}/sub.git\n"
            '[submodule "evil"]\n\tpath = modules/evil\n'
            f"\turl = ext::sh -c touch% {marker}\n")})
        git("add", "hosts.yml", ".gitmodules", cwd=upstream.work)
        for path in ("modules/sub", "modules/evil"):
            git("update-index", "--add", "--cacheinfo", f"160000,{sub_commit},{path}", cwd=upstream.work)
        # Not upstream.commit(): its `add -A` would drop the gitlinks, which have no directory here.
        git("commit", "-q", "-m", "submodules", cwd=upstream.work)
        git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=upstream.work)
        assert "160000 commit" in git("ls-tree", "-r", "HEAD", cwd=upstream.work)
        proc = ansible.inventory("-i", write_source(tmp_path, url=git_daemon.url("inventory")), "--list")
        assert proc.returncode == 0, proc.stderr
        assert hosts_of(json.loads(proc.stdout)) == {"web1"}
        assert said("skipped the submodule 'modules/sub'", proc.stderr)
        assert counter.count == 0
    finally:
        counter.stop()
    assert not marker.exists()
    mirrors = glob.glob(os.path.join(ansible.cache_dir, "*", "mirror.git"))
    assert len(mirrors) == 1
    probe = subprocess.run(["git", "--git-dir", mirrors[0], "cat-file", "-e", sub_commit], capture_output=True, check=False)
    assert probe.returncode != 0, "the submodule's commit reached the cache"
    assert not glob.glob(os.path.join(ansible.cache_dir, "*", "trees", "*", "modules", "*", "*"))
