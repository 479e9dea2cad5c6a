"""Connection settings from the environment, as AWX credential types and runners inject them; the
source file still wins. And a password without a user name is refused before anything is contacted."""

from __future__ import annotations

import json
import os
import socket

import pytest

from conftest import said, write_source
from helpers.servers import HttpGitServer
from helpers.sshd import Sshd, make_key
from helpers.tls import make_tls_files

HOSTS = "all:\n  hosts:\n    web1:\n"


def hostnames(proc) -> set:
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout)["_meta"]["hostvars"])


@pytest.fixture
def sshd(tmp_path, upstream):
    upstream.commit({"hosts.yml": HOSTS})
    directory = tmp_path / "ssh"
    directory.mkdir()
    key = str(directory / "deploy_key")
    server = Sshd(str(directory / "sshd"), [make_key(key)])
    server.key_file = key
    server.known_hosts = str(directory / "known_hosts")
    with open(server.known_hosts, "w", encoding="ascii") as handle:
        handle.write(server.known_hosts_line() + "\n")
    yield server
    server.stop()


def test_ssh_deploy_key_and_known_hosts_from_the_environment(ansible, upstream, sshd, tmp_path):
    env = {"ANSIBLE_VCS_INVENTORY_KEY_FILE": sshd.key_file, "ANSIBLE_VCS_INVENTORY_KNOWN_HOSTS_FILE": sshd.known_hosts,
           "ANSIBLE_VCS_INVENTORY_TIMEOUT": "20"}
    source = write_source(tmp_path, url=sshd.url(upstream.bare))
    assert hostnames(ansible.inventory("-i", source, "--list", env=env)) == {"web1"}
    assert f"Accepted publickey for {sshd.user}" in sshd.read_log()
    # Without them the same file cannot authenticate: the variables did it.
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0 and said("SSH host key check failed", proc.stderr)


def test_accept_hostkey_and_ssh_common_args_from_the_environment(ansible, upstream, sshd, tmp_path):
    open(sshd.known_hosts, "w").close()
    env = {"ANSIBLE_VCS_INVENTORY_KNOWN_HOSTS_FILE": sshd.known_hosts, "ANSIBLE_VCS_INVENTORY_ACCEPT_HOSTKEY": "true",
           # no key_file: the key reaches ssh through the extra arguments alone
           "ANSIBLE_VCS_INVENTORY_SSH_COMMON_ARGS": f"-o IdentityFile={sshd.key_file} -o IdentitiesOnly=yes"}
    source = write_source(tmp_path, url=sshd.url(upstream.bare))
    assert hostnames(ansible.inventory("-i", source, "--list", env=env)) == {"web1"}
    with open(sshd.known_hosts, encoding="ascii") as handle:
        assert handle.read().strip()  # the new host key was accepted and remembered


def test_the_source_file_wins_over_the_environment(ansible, upstream, sshd, tmp_path):
    empty = str(tmp_path / "empty_known_hosts")
    open(empty, "w").close()
    env = {"ANSIBLE_VCS_INVENTORY_KNOWN_HOSTS_FILE": empty, "ANSIBLE_VCS_INVENTORY_KEY_FILE": str(tmp_path / "nokey")}
    source = write_source(tmp_path, url=sshd.url(upstream.bare), key_file=sshd.key_file,
                          known_hosts_file=sshd.known_hosts)
    assert hostnames(ansible.inventory("-i", source, "--list", env=env)) == {"web1"}


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_files(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def https_server(upstream, tls_files):
    upstream.commit({"hosts.yml": HOSTS})
    server = HttpGitServer(upstream.root, tls=(tls_files.server_cert, tls_files.server_key))
    yield server
    server.stop()


def test_ca_path_and_validate_certs_from_the_environment(ansible, https_server, tls_files, tmp_path):
    source = write_source(tmp_path, url=https_server.url("inventory"))
    refused = ansible.inventory("-i", source, "--list")
    assert refused.returncode != 0 and said("CERTIFICATE_VERIFY_FAILED", refused.stderr)
    assert hostnames(ansible.inventory("-i", source, "--list",
                                       env={"ANSIBLE_VCS_INVENTORY_CA_PATH": tls_files.ca_cert})) == {"web1"}
    assert hostnames(ansible.inventory("-i", source, "--list",
                                       env={"ANSIBLE_VCS_INVENTORY_VALIDATE_CERTS": "false"})) == {"web1"}
    # The file wins: validate_certs: true in it beats the variable.
    strict = write_source(tmp_path, name="strict.git.yml", url=https_server.url("inventory"), validate_certs=True)
    proc = ansible.inventory("-i", strict, "--list", env={"ANSIBLE_VCS_INVENTORY_VALIDATE_CERTS": "0"})
    assert proc.returncode != 0 and said("CERTIFICATE_VERIFY_FAILED", proc.stderr)


def test_timeout_from_the_environment(ansible, tmp_path):
    with socket.socket() as silent:  # accepts connections (in the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"git://127.0.0.1:{silent.getsockname()[1]}/inventory.git"
        proc = ansible.inventory("-i", write_source(tmp_path, url=url), "--list",
                                 env={"ANSIBLE_VCS_INVENTORY_TIMEOUT": "2"})
    assert proc.returncode != 0
    assert said(f"no answer from {url} within 2s (option 'timeout')", proc.stderr)


class Counter:
    """A TCP listener that counts connections without answering them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def connections(self) -> int:
        count = 0
        while True:
            try:
                conn, _addr = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1


@pytest.mark.parametrize("where", ["option", "env", "url"])
def test_a_password_without_a_user_name_is_refused_before_any_connection(ansible, tmp_path, where):
    counter = Counter()
    try:
        url = f"http://127.0.0.1:{counter.port}/inventory.git"
        options, env = {}, {"ANSIBLE_VCS_INVENTORY_USERNAME": ""}
        if where == "option":
            options["password"] = "tok3n-value"
        elif where == "env":
            env["ANSIBLE_VCS_INVENTORY_PASSWORD"] = "tok3n-value"
        else:
            url = f"http://:tok3n-value@127.0.0.1:{counter.port}/inventory.git"
        proc = ansible.inventory("-i", write_source(tmp_path, url=url, **options), "--list", env=env)
        assert proc.returncode != 0
        assert said("a password or token is set but no user name", proc.stderr)
        assert said("set the option 'username' (or ANSIBLE_VCS_INVENTORY_USERNAME)", proc.stderr)
        assert said("Bitbucket wants 'x-token-auth' and a GitLab OAuth token 'oauth2'", proc.stderr)
        assert "tok3n-value" not in proc.stdout + proc.stderr
        assert counter.connections() == 0
        assert not os.path.exists(ansible.cache_dir)
    finally:
        counter.sock.close()
