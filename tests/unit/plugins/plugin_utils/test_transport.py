"""The dulwich client is built from our options alone: strict ssh defaults, TLS settings, clear errors."""

from __future__ import annotations

import shlex
import ssl

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import (
    SshClientMissing,
    TransportOptions,
    _ssh_command,
    make_client,
)
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import parse_remote


def options_of(command: str) -> list[str]:
    args = shlex.split(command)
    return [args[i + 1] for i, arg in enumerate(args) if arg == "-o"]


def test_ssh_never_prompts_and_checks_host_keys_strictly_by_default():
    opts = options_of(_ssh_command(TransportOptions(timeout=30)))
    assert "BatchMode=yes" in opts and "StrictHostKeyChecking=yes" in opts and "ConnectTimeout=30" in opts
    assert not any(o.startswith(("UserKnownHostsFile", "IdentitiesOnly")) for o in opts)


def test_accept_hostkey_only_accepts_new_keys(tmp_path):
    opts = options_of(_ssh_command(TransportOptions(accept_hostkey=True, known_hosts_file=str(tmp_path / "kh"))))
    assert "StrictHostKeyChecking=accept-new" in opts  # a changed key is still refused
    assert f"UserKnownHostsFile={tmp_path / 'kh'}" in opts


def test_key_file_is_the_only_identity_and_extra_args_come_last():
    command = _ssh_command(TransportOptions(key_file="~/k", ssh_common_args="-o ProxyJump=bastion -p 2222"))
    assert "IdentitiesOnly=yes" in options_of(command)
    # ssh keeps the first value it sees for an option: ours cannot be overridden by the extra args.
    assert shlex.split(command)[-4:] == ["-o", "ProxyJump=bastion", "-p", "2222"]


def test_ssh_client_uses_our_command_and_key(tmp_path):
    client, path, protocol = make_client(parse_remote("ssh://git@127.0.0.1:2222/srv/inv.git"),
                                         TransportOptions(key_file=str(tmp_path / "key")))
    assert path == "/srv/inv.git" and protocol is None  # v2 where the server has it: ls-refs asks for one ref
    assert client.ssh_command.startswith("ssh -o BatchMode=yes")
    assert client.key_filename == str(tmp_path / "key")
    assert (client.host, client.port, client.username) == ("127.0.0.1", 2222, "git")


def test_a_missing_ssh_program_is_named():
    client, _path, _protocol = make_client(parse_remote("git@127.0.0.1:inv.git"), TransportOptions())
    with pytest.raises(SshClientMissing, match="openssh-client"):
        client.ssh_vendor.run_command("127.0.0.1", b"git-upload-pack 'inv.git'", ssh_command="no-such-ssh-program-here")


def test_https_verifies_with_the_given_ca(tmp_path):
    ca = tmp_path / "ca.pem"
    client, _path, _protocol = make_client(parse_remote("https://u:pw@127.0.0.1/inv.git"), TransportOptions(ca_path=str(ca)))
    pool = client.pool_manager.connection_pool_kw
    assert pool["ca_certs"] == str(ca) and pool["cert_reqs"] == "CERT_REQUIRED"


def test_validate_certs_false_turns_verification_off():
    client, _path, _protocol = make_client(parse_remote("https://127.0.0.1/inv.git"), TransportOptions(validate_certs=False))
    assert client.pool_manager.connection_pool_kw["cert_reqs"] in ("CERT_NONE", ssl.CERT_NONE)
