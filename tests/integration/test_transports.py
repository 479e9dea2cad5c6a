"""HTTP(S) transports: Basic auth from options, env and the URL; TLS with a private CA."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from conftest import plain_audit, said, write_source
from helpers.servers import HttpGitServer
from helpers.tls import make_tls_files

USER = "deploy"
# Characters that break naive URL handling: the password must still work and stay hidden.
PASSWORD = "s3cr/et:p@ss%word+"
HOSTS = "all:\n  hosts:\n    web1:\n      port: 8080\n"


def hostvars(listing: dict) -> dict:
    return listing["_meta"]["hostvars"]


@pytest.fixture
def repo(upstream):
    return upstream.commit({"hosts.yml": HOSTS})


@pytest.fixture
def auth_server(tmp_path):
    root = tmp_path / "repos"
    root.mkdir(exist_ok=True)
    server = HttpGitServer(str(root), auth=f"{USER}:{PASSWORD}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_files(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def tls_server(tmp_path, tls_files):
    root = tmp_path / "repos"
    root.mkdir(exist_ok=True)
    server = HttpGitServer(str(root), auth=f"{USER}:{PASSWORD}", tls=(tls_files.server_cert, tls_files.server_key))
    yield server
    server.stop()


def test_basic_auth_from_options(ansible, repo, auth_server, tmp_path):
    url = auth_server.url("inventory")
    listing = ansible.list(write_source(tmp_path, url=url, username=USER, password=PASSWORD))
    assert hostvars(listing)["web1"]["git_inventory_commit"] == repo
    assert hostvars(listing)["web1"]["git_inventory_url"] == url


def test_basic_auth_from_environment(ansible, repo, auth_server, tmp_path):
    url = auth_server.url("inventory")
    env = {"ANSIBLE_VCS_INVENTORY_USERNAME": USER, "ANSIBLE_VCS_INVENTORY_PASSWORD": PASSWORD}
    listing = ansible.list(write_source(tmp_path, url=url), env=env)
    assert hostvars(listing)["web1"]["git_inventory_commit"] == repo


def test_basic_auth_from_credentials_in_the_url(ansible, repo, auth_server, tmp_path):
    url = auth_server.url("inventory", userinfo=f"{USER}:{quote(PASSWORD, safe='')}")
    listing = ansible.list(write_source(tmp_path, url=url))
    assert hostvars(listing)["web1"]["git_inventory_commit"] == repo
    assert hostvars(listing)["web1"]["git_inventory_url"] == auth_server.url("inventory")


def test_vaulted_password_in_the_source_file(ansible, repo, auth_server, tmp_path):
    vault_password = tmp_path / "vault-password"
    vault_password.write_text("correct horse battery staple\n")
    encrypted = ansible.run("ansible-vault", "encrypt_string", "--vault-password-file", vault_password,
                            "--name", "password", PASSWORD)
    assert encrypted.returncode == 0, encrypted.stderr
    source = tmp_path / "vaulted.git.yml"
    source.write_text(f"plugin: vcs.inventory.git\nurl: {auth_server.url('inventory')}\nusername: {USER}\n{encrypted.stdout}")
    proc = ansible.inventory("-i", source, "--list", "--vault-password-file", vault_password, "-vvvv")
    assert proc.returncode == 0, proc.stderr
    assert f'"__ansible_unsafe": "{repo}"' in proc.stdout  # git_inventory_commit, listed as unsafe
    assert not said(PASSWORD, proc.stdout + proc.stderr)


def test_options_win_over_credentials_in_the_url(ansible, repo, auth_server, tmp_path):
    url = auth_server.url("inventory", userinfo="nobody:wrong")
    listing = ansible.list(write_source(tmp_path, url=url, username=USER, password=PASSWORD))
    assert hostvars(listing)["web1"]["git_inventory_commit"] == repo


@pytest.mark.parametrize("credentials", [{"username": USER, "password": "wrong"}, {}], ids=["wrong-password", "none"])
def test_failed_authentication_names_the_redacted_url(ansible, repo, auth_server, tmp_path, credentials):
    source = write_source(tmp_path, url=auth_server.url("inventory"), **credentials)
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0
    assert said(f"authentication failed for {auth_server.url('inventory')}", proc.stderr)
    assert "web1" not in proc.stdout


def test_untrusted_ca_is_refused(ansible, repo, tls_server, tmp_path):
    source = write_source(tmp_path, url=tls_server.url("inventory"), username=USER, password=PASSWORD)
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0
    assert said(f"TLS error talking to {tls_server.url('inventory')}", proc.stderr)
    assert said("CERTIFICATE_VERIFY_FAILED", proc.stderr)
    assert said("'ca_path'", proc.stderr)
    assert "web1" not in proc.stdout


def test_a_different_ca_is_refused(ansible, repo, tls_server, tmp_path):
    other = make_tls_files(str(tmp_path / "other-ca"), ca_name="some other CA")
    source = write_source(tmp_path, url=tls_server.url("inventory"), username=USER, password=PASSWORD,
                          ca_path=other.ca_cert)
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0
    assert said("CERTIFICATE_VERIFY_FAILED", proc.stderr)


def test_private_ca_through_ca_path(ansible, repo, tls_server, tls_files, tmp_path):
    url = tls_server.url("inventory")
    listing = ansible.list(write_source(tmp_path, url=url, username=USER, password=PASSWORD, ca_path=tls_files.ca_cert))
    assert hostvars(listing)["web1"]["git_inventory_commit"] == repo
    assert hostvars(listing)["web1"]["git_inventory_url"] == url


def test_validate_certs_false_skips_verification(ansible, repo, tls_server, tmp_path):
    source = write_source(tmp_path, url=tls_server.url("inventory"), username=USER, password=PASSWORD,
                          validate_certs=False)
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    assert hostvars(plain_audit(json.loads(proc.stdout)))["web1"]["git_inventory_commit"] == repo
    assert not said("InsecureRequestWarning", proc.stderr)  # asked for: no warning on every request


def test_https_credentials_in_the_url_with_a_private_ca(ansible, repo, tls_server, tls_files, tmp_path):
    url = tls_server.url("inventory", userinfo=f"{USER}:{quote(PASSWORD, safe='')}")
    listing = ansible.list(write_source(tmp_path, url=url, ca_path=tls_files.ca_cert))
    assert hostvars(listing)["web1"]["git_inventory_url"] == tls_server.url("inventory")
