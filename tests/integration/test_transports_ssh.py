"""SSH transport against a real sshd: deploy key, host key checking, both URL forms, extra ssh args."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import said, write_source
from helpers.sshd import Sshd, make_key

HOSTS = "all:\n  hosts:\n    web1:\n      port: 8080\n"


class SshSetup:
    """A user key the server accepts, the server, and a known_hosts file that holds (or not) its key."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory)
        self.key_file = os.path.join(directory, "deploy_key")
        self.server = Sshd(os.path.join(directory, "sshd"), [make_key(self.key_file)])
        self.known_hosts = os.path.join(directory, "known_hosts")
        self.trust_server()

    def trust_server(self, line: str | None = None) -> None:
        with open(self.known_hosts, "w", encoding="ascii") as handle:
            handle.write((line or self.server.known_hosts_line()) + "\n")

    def forget_server(self) -> None:
        open(self.known_hosts, "w").close()

    def options(self, **extra) -> dict:
        return {"key_file": self.key_file, "known_hosts_file": self.known_hosts, "timeout": 20, **extra}


@pytest.fixture
def ssh(tmp_path):
    setup = SshSetup(str(tmp_path / "ssh"))
    yield setup
    setup.server.stop()


@pytest.fixture
def repo(upstream):
    return upstream.commit({"hosts.yml": HOSTS})


def hostvars(listing: dict) -> dict:
    return listing["_meta"]["hostvars"]


def test_deploy_key_over_ssh_url(ansible, upstream, repo, ssh, tmp_path):
    url = ssh.server.url(upstream.bare)
    listing = ansible.list(write_source(tmp_path, url=url, **ssh.options()))
    assert hostvars(listing)["web1"]["git_inventory_commit"] == repo
    assert hostvars(listing)["web1"]["git_inventory_url"] == url
    assert f"Accepted publickey for {ssh.server.user}" in ssh.server.read_log()


def test_a_key_the_server_does_not_accept_fails(ansible, upstream, repo, ssh, tmp_path):
    other_key = str(tmp_path / "other_key")
    make_key(other_key)
    url = ssh.server.url(upstream.bare)
    proc = ansible.inventory("-i", write_source(tmp_path, url=url, **ssh.options(key_file=other_key)), "--list")
    assert proc.returncode != 0
    assert said(f"authentication failed for {url}", proc.stderr)
    assert said("Permission denied (publickey)", proc.stderr) and said("'key_file'", proc.stderr)


def test_unknown_host_key_is_refused(ansible, upstream, repo, ssh, tmp_path):
    ssh.forget_server()
    url = ssh.server.url(upstream.bare)
    proc = ansible.inventory("-i", write_source(tmp_path, url=url, **ssh.options()), "--list")
    assert proc.returncode != 0
    assert said(f"SSH host key check failed for {url}", proc.stderr)
    assert said("'accept_hostkey: true'", proc.stderr)
    assert os.path.getsize(ssh.known_hosts) == 0  # nothing learnt on the way
    assert "Accepted publickey" not in ssh.server.read_log()


def test_accept_hostkey_learns_the_key_into_known_hosts_file(ansible, upstream, repo, ssh, tmp_path):
    ssh.forget_server()
    url = ssh.server.url(upstream.bare)
    listing = ansible.list(write_source(tmp_path, url=url, **ssh.options(accept_hostkey=True)))
    assert hostvars(listing)["web1"]["git_inventory_commit"] == repo
    found = subprocess.run(["ssh-keygen", "-F", f"[127.0.0.1]:{ssh.server.port}", "-f", ssh.known_hosts],
                           capture_output=True, text=True, check=False)
    assert ssh.server.host_public_key.split()[1] in found.stdout
    # Learnt once, it is now simply known: strict checking passes.
    listing = ansible.list(write_source(tmp_path, url=url, **ssh.options()))
    assert hostvars(listing)["web1"]["git_inventory_commit"] == repo


def test_a_changed_host_key_is_refused_even_with_accept_hostkey(ansible, upstream, repo, ssh, tmp_path):
    impostor = make_key(str(tmp_path / "impostor_host_key")).split()
    ssh.trust_server(f"[127.0.0.1]:{ssh.server.port} {impostor[0]} {impostor[1]}")
    url = ssh.server.url(upstream.bare)
    proc = ansible.inventory("-i", write_source(tmp_path, url=url, **ssh.options(accept_hostkey=True)), "--list")
    assert proc.returncode != 0
    assert said(f"SSH host key check failed for {url}", proc.stderr)
    assert "Accepted publickey" not in ssh.server.read_log()


def test_scp_like_url_with_the_port_in_ssh_common_args(ansible, upstream, repo, ssh, tmp_path):
    url = ssh.server.scp_url(upstream.bare)
    listing = ansible.list(write_source(tmp_path, url=url, **ssh.options(ssh_common_args=f"-p {ssh.server.port}")))
    assert hostvars(listing)["web1"]["git_inventory_commit"] == repo
    assert hostvars(listing)["web1"]["git_inventory_url"] == url


def test_scp_like_url_through_an_ssh_config_file(ansible, upstream, repo, ssh, tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host inventory-git\n"
        "  HostName 127.0.0.1\n"
        f"  Port {ssh.server.port}\n"
        f"  User {ssh.server.user}\n"
        f"  IdentityFile {ssh.key_file}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {ssh.known_hosts}\n"
    )
    url = f"inventory-git:{upstream.bare}"
    # Only the config file says where and who: without ssh_common_args this host does not even resolve.
    listing = ansible.list(write_source(tmp_path, url=url, timeout=20, ssh_common_args=f"-F {config}"))
    assert hostvars(listing)["web1"]["git_inventory_commit"] == repo
    assert hostvars(listing)["web1"]["git_inventory_url"] == url


def test_missing_ssh_client_is_named(ansible, upstream, repo, tmp_path):
    # A PATH with Python and Ansible only: no ssh program to run.
    env = {"PATH": os.path.dirname(sys.executable)}
    source = write_source(tmp_path, url=f"ssh://git@127.0.0.1:1{upstream.bare}", timeout=5)
    proc = ansible.inventory("-i", source, "--list", env=env)
    assert proc.returncode != 0
    assert said("'ssh' is missing from PATH", proc.stderr) and said("openssh-client", proc.stderr)
