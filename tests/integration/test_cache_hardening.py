"""The cache cannot be turned against its user: planted git settings and hooks never run, and
what the cache holds is private to its owner, whatever the umask."""

from __future__ import annotations

import glob
import os
import stat

import pytest

from conftest import said, write_source
from helpers.servers import free_port
from helpers.sshd import Sshd, make_key

HOSTS = "all:\n  hosts:\n    web1:\n"
HOOKS = ("pre-receive", "post-receive", "update", "post-update", "reference-transaction", "post-checkout",
         "post-merge", "pre-commit", "post-commit", "fsmonitor-watchman", "push-to-checkout")


def plant(mirror: str, home: str, marker: str) -> None:
    """Every git setting that names a program (or reroutes the fetch), in the mirror's config and the
    user's, plus executable hooks: each would touch marker, or break the fetch, if it were honoured."""
    evil = os.path.join(os.path.dirname(marker), "evil.sh")
    with open(evil, "w") as handle:
        handle.write(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    os.chmod(evil, 0o755)
    settings = (
        "[core]\n"
        f"\tgitProxy = {evil}\n\tsshCommand = {evil}\n\tfsmonitor = {evil}\n\thooksPath = {os.path.dirname(evil)}\n"
        f"\taskPass = {evil}\n\tpager = {evil}\n"
        "[http]\n"
        f"\tproxy = http://127.0.0.1:{free_port()}\n\tsslVerify = false\n\textraHeader = X-Planted: 1\n"
        '[url "git://127.0.0.1:1/"]\n\tinsteadOf = git://\n\tinsteadOf = http://\n\tinsteadOf = ssh://\n'
        '[filter "evil"]\n'
        f"\tsmudge = {evil}\n\tclean = {evil}\n\tprocess = {evil}\n\trequired = true\n"
        '[credential]\n'
        f"\thelper = !{evil}\n"
    )
    with open(os.path.join(mirror, "config"), "a") as handle:
        handle.write(settings)
    with open(os.path.join(home, ".gitconfig"), "w") as handle:
        handle.write(settings)
    hooks = os.path.join(mirror, "hooks")
    os.makedirs(hooks, exist_ok=True)
    for name in HOOKS:
        path = os.path.join(hooks, name)
        with open(path, "w") as handle:
            handle.write(f"#!/bin/sh\ntouch '{marker}'\n")
        os.chmod(path, 0o755)


@pytest.fixture
def ssh_server(tmp_path):
    key = str(tmp_path / "deploy_key")
    server = Sshd(str(tmp_path / "sshd"), [make_key(key)])
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(server.known_hosts_line() + "\n")
    server.options = {"key_file": key, "known_hosts_file": str(known_hosts), "timeout": 20}
    yield server
    server.stop()


@pytest.mark.parametrize("transport", ["git", "http", "ssh"])
def test_planted_git_settings_and_hooks_never_run(request, ansible, upstream, tmp_path, transport):
    if transport == "git":
        url, options = request.getfixturevalue("git_daemon").url("inventory"), {}
    elif transport == "http":
        url, options = request.getfixturevalue("http_server").url("inventory"), {}
    else:
        server = request.getfixturevalue("ssh_server")
        url, options = server.url(upstream.bare), server.options
    upstream.commit({"hosts.yml": HOSTS})
    source = write_source(tmp_path, url=url, **options)
    ansible.list(source)

    marker = tmp_path / "planted-ran"
    (mirror,) = glob.glob(os.path.join(ansible.cache_dir, "*", "mirror.git"))
    plant(mirror, ansible.home, str(marker))
    # A new commit that asks for the planted filter: the next run must really fetch and check out.
    new = upstream.commit({"hosts.yml": HOSTS + "    web2:\n", ".gitattributes": "* filter=evil\n"})
    evil = os.path.join(str(tmp_path), "evil.sh")
    env = {name: evil for name in ("GIT_SSH", "GIT_SSH_COMMAND", "GIT_PROXY_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS")}
    listing = ansible.list(source, env=env)
    assert set(listing["_meta"]["hostvars"]) == {"web1", "web2"}
    assert listing["_meta"]["hostvars"]["web2"]["git_inventory_commit"] == new
    assert not marker.exists()


def modes(root: str) -> dict[str, int]:
    found = {root: stat.S_IMODE(os.lstat(root).st_mode)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode):
                found[path] = stat.S_IMODE(st.st_mode)
    return found


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_cache_is_private_whatever_the_umask(ansible, upstream, git_daemon, tmp_path, umask):
    upstream.commit({"hosts.yml": HOSTS, "group_vars/all.yml": "x: 1\n", "run.sh": "#!/bin/sh\n"})
    os.chmod(os.path.join(upstream.work, "run.sh"), 0o755)
    upstream.commit()
    source = write_source(tmp_path, url=git_daemon.url("inventory"))
    previous = os.umask(umask)
    try:
        ansible.list(source)
        upstream.commit({"hosts.yml": HOSTS + "    web2:\n"})
        ansible.list(source)  # a fetch into the existing mirror and a second tree
    finally:
        os.umask(previous)
    found = modes(ansible.cache_dir)
    assert found[ansible.cache_dir] == 0o700
    for entry in glob.glob(os.path.join(ansible.cache_dir, "*")):
        if os.path.isdir(entry):
            assert found[entry] == 0o700, entry
    exposed = {path: oct(mode) for path, mode in found.items() if mode & 0o077}
    assert exposed == {}


def test_an_existing_cache_dir_open_to_others_is_refused_and_left_alone(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": HOSTS})
    os.makedirs(ansible.cache_dir)
    os.chmod(ansible.cache_dir, 0o777)
    proc = ansible.inventory("-i", write_source(tmp_path, url=git_daemon.url("inventory")), "--list")
    assert proc.returncode != 0 and said("is open to others (mode 0777)", proc.stderr), proc.stderr
    assert stat.S_IMODE(os.stat(ansible.cache_dir).st_mode) == 0o777 and os.listdir(ansible.cache_dir) == []
    os.chmod(ansible.cache_dir, 0o700)  # what the message says to do
    assert "web1" in ansible.list(write_source(tmp_path, url=git_daemon.url("inventory")))["_meta"]["hostvars"]


def test_a_cache_dir_owned_by_someone_else_is_refused(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": HOSTS})
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign-cache"
        foreign.mkdir()
        os.chown(foreign, 65534, 65534)
    else:
        foreign = "/var/tmp"  # root's, on every Linux: never ours, and not written to here
    source = write_source(tmp_path, url=git_daemon.url("inventory"), cache_dir=str(foreign))
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0
    assert said("belongs to another user", proc.stderr) and said("'cache_dir'", proc.stderr)
    assert "web1" not in proc.stdout
    if os.geteuid() == 0:
        assert os.listdir(foreign) == []
