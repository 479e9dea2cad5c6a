# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the dulwich client for a remote from our own options, never from a repository's config.

A git config inside the cache could name programs to run (core.gitProxy, core.sshCommand, ...);
every client here is built from an empty ConfigDict plus the plugin's options, so nothing planted
in the cache is ever honoured.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import warnings
from dataclasses import dataclass
from typing import Iterator

from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import Remote

__metaclass__ = type


@dataclass(frozen=True)
class TransportOptions:
    timeout: float = 60
    validate_certs: bool = True
    ca_path: str | None = None
    key_file: str | None = None
    accept_hostkey: bool = False
    known_hosts_file: str | None = None
    ssh_common_args: str | None = None


def _ssh_command(opts: TransportOptions) -> str:
    timeout = max(int(opts.timeout), 1)
    args = [
        "ssh",
        "-o", "BatchMode=yes",  # never prompt: a job has no terminal
        "-o", f"ConnectTimeout={timeout}",
        "-o", f"ServerAliveInterval={max(timeout // 3, 1)}",
        "-o", "ServerAliveCountMax=3",
        "-o", "StrictHostKeyChecking=" + ("accept-new" if opts.accept_hostkey else "yes"),
    ]
    if opts.known_hosts_file:
        args += ["-o", f"UserKnownHostsFile={os.path.expanduser(opts.known_hosts_file)}"]
    if opts.key_file:
        args += ["-o", "IdentitiesOnly=yes"]
    command = shlex.join(args)
    if opts.ssh_common_args:
        command += " " + opts.ssh_common_args
    return command


class SshClientMissing(ConnectionError):
    """The ssh program could not be started (the remote was never reached)."""


def _ssh_vendor():
    from dulwich.client import SubprocessSSHVendor

    class _Vendor(SubprocessSSHVendor):
        def run_command(self, *args, **kwargs):
            try:
                return super().run_command(*args, **kwargs)
            except FileNotFoundError:
                raise SshClientMissing(
                    "the OpenSSH client program 'ssh' is missing from PATH; SSH URLs need it (package openssh-client "
                    "on Debian and Ubuntu, openssh-clients on Fedora and RHEL; see bindep.txt)"
                ) from None

    return _Vendor()


def _quiet_when_unverified(manager_cls):
    """The user turned verification off on purpose (validate_certs: false): no warning per request."""
    from urllib3.exceptions import InsecureRequestWarning

    class _Quiet(manager_cls):
        def request(self, *args, **kwargs):  # dulwich only calls request()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InsecureRequestWarning)
                return super().request(*args, **kwargs)

    return _Quiet


def make_client(remote: Remote, opts: TransportOptions):
    """Return (client, path, protocol_version) for a fetch from remote."""
    from dulwich.client import default_urllib3_manager, get_transport_and_path
    from dulwich.config import ConfigDict

    config = ConfigDict()
    kwargs = {"config": config, "quiet": True}
    protocol_version = None
    if remote.kind in ("http", "https"):
        if remote.kind == "https":
            config.set((b"http",), b"sslVerify", b"true" if opts.validate_certs else b"false")
            if opts.ca_path:
                config.set((b"http",), b"sslCAInfo", os.path.expanduser(opts.ca_path).encode())
        quiet = {}
        if not opts.validate_certs:
            import urllib3

            quiet = {"pool_manager_cls": _quiet_when_unverified(urllib3.PoolManager),
                     "proxy_manager_cls": _quiet_when_unverified(urllib3.ProxyManager)}
        kwargs["pool_manager"] = default_urllib3_manager(
            config, base_url=remote.url, timeout=opts.timeout,
            cert_reqs=None if opts.validate_certs else "CERT_NONE", **quiet,
        )
        kwargs["username"] = remote.username
        kwargs["password"] = remote.password
    elif remote.kind == "ssh":
        kwargs["ssh_command"] = _ssh_command(opts)
        if opts.key_file:
            kwargs["key_filename"] = os.path.expanduser(opts.key_file)
    # Protocol v2 everywhere the server has it: ls-refs asks for the wanted ref only. Over the stateful
    # transports dulwich would send every local commit as a "have"; fetch_negotiation caps them.
    client, path = get_transport_and_path(remote.url, **kwargs)
    if remote.kind == "ssh":
        client.ssh_vendor = _ssh_vendor()
    return client, path, protocol_version


@contextlib.contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """git:// in dulwich has no timeout of its own: give new sockets one for the call's duration."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)
