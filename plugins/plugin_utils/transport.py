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

from ansible_collections.vcs.inventory.plugins.plugin_utils import proxies
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import Remote, check_credentials, hidden_repr, redact

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
    proxy: str | None = None  # the option 'proxy' (a secret when it holds credentials)
    proxy_origin: str | None = None  # where Ansible took it from ("env: ANSIBLE_VCS_INVENTORY_PROXY", ...)

    def __repr__(self) -> str:  # the proxy may carry a password
        return hidden_repr(self, urls=("proxy",))


def check(remote: Remote, opts: TransportOptions) -> None:
    """Refuse settings that cannot work before any lock is taken or the network is used (ValueError)."""
    if remote.kind in ("http", "https"):
        check_credentials(remote)
        proxies.select(remote.url, opts.proxy, opts.proxy_origin)


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
                wrapper = super().run_command(*args, **kwargs)
            except FileNotFoundError:
                raise SshClientMissing(
                    "the OpenSSH client program 'ssh' is missing from PATH; SSH URLs need it (package openssh-client "
                    "on Debian and Ubuntu, openssh-clients on Fedora and RHEL; see bindep.txt)"
                ) from None
            proc = getattr(wrapper, "proc", None)  # dulwich 0.21-1.2: SubprocessWrapper.proc
            if proc is not None:
                from ansible_collections.vcs.inventory.plugins.plugin_utils import deadline

                deadline.watch_process(proc)  # sync_timeout ends ssh by ending the process
            return wrapper

    return _Vendor()


class ProxyFailure(ConnectionError):
    """The HTTP proxy refused or could not be reached; the message names it (redacted) and its source."""


def _through_proxy(manager_cls, proxy: proxies.Proxy):
    """Turn a proxy's failure into a ProxyFailure that names the proxy, not the Git server."""
    from urllib3.exceptions import MaxRetryError, ProxyError

    def failure(error: ProxyError) -> ProxyFailure:
        original = getattr(error, "original_error", None)
        # http.client reports a refused CONNECT only as this text: "Tunnel connection failed: 407 ...".
        if isinstance(original, OSError) and str(original).startswith("Tunnel connection failed: 407"):
            return _refused(proxy)
        detail = redact(str(original or error), proxy.secrets)
        return ProxyFailure(f"cannot go through {proxy.describe()}: {detail}; check that setting, or list the Git "
                            "server's host in no_proxy to connect to it directly")

    class _Proxied(manager_cls):
        # dulwich sends every request through request(): the one place to see the proxy's answer.
        def request(self, method, url, *args, **kwargs):
            try:
                response = super().request(method, url, *args, **kwargs)
            except MaxRetryError as exc:
                if isinstance(exc.reason, ProxyError):
                    raise failure(exc.reason) from None
                raise
            except ProxyError as exc:
                raise failure(exc) from None
            if response.status == 407:  # an http:// URL: the proxy itself answers the request
                response.drain_conn()
                response.release_conn()
                raise _refused(proxy)
            return response

    return _Proxied


def _refused(proxy: proxies.Proxy) -> ProxyFailure:
    if proxy.username or proxy.password:
        return ProxyFailure(f"{proxy.describe()} rejected its user name and password (407 Proxy Authentication "
                            f"Required): correct them in {proxy.source}")
    return ProxyFailure(f"{proxy.describe()} requires authentication (407 Proxy Authentication Required): "
                        f"add the proxy's user name and password to {proxy.source}, as user:password@ before the host")


def _pool_manager(remote: Remote, opts: TransportOptions):
    """The urllib3 pool for an http(s) remote, through the proxy that applies to it.

    Built here rather than by dulwich: dulwich reads only some proxy variables (and breaks on an
    empty one), and ignores proxies altogether for a pool it is given, as for a private CA.
    """
    import urllib3
    from dulwich.client import default_user_agent_string

    proxy = proxies.select(remote.url, opts.proxy, opts.proxy_origin)
    kwargs = {"headers": {"User-agent": default_user_agent_string()}, "timeout": opts.timeout}
    if remote.kind == "https":
        kwargs["cert_reqs"] = "CERT_REQUIRED" if opts.validate_certs else "CERT_NONE"
        kwargs["ca_certs"] = os.path.expanduser(opts.ca_path) if opts.ca_path else None
    if proxy is None:
        manager_cls = _bounded(urllib3.PoolManager, opts.timeout)
        if not opts.validate_certs:
            manager_cls = _quiet_when_unverified(manager_cls)
        return manager_cls(**kwargs)
    manager_cls = _through_proxy(_bounded(urllib3.ProxyManager, opts.timeout), proxy)
    if not opts.validate_certs:
        manager_cls = _quiet_when_unverified(manager_cls)
    return manager_cls(proxy.url, proxy_headers=proxy.headers, **kwargs)


def _bounded(manager_cls, timeout: float):
    """Every request waits at most `timeout` once: no retry multiplies it, sync_timeout can shorten it.

    urllib3 retries a connection or read that timed out three more times by default: a server that
    accepts and never answers would hold the run for four timeouts while the message says one.
    Redirects are still followed (dulwich relies on urllib3 for them).
    """
    import urllib3

    from ansible_collections.vcs.inventory.plugins.plugin_utils import deadline

    class _Bounded(manager_cls):
        def request(self, method, url, *args, **kwargs):  # dulwich only calls request()
            wait = deadline.wait(timeout)
            kwargs["timeout"] = urllib3.Timeout(connect=wait, read=wait)
            kwargs["retries"] = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5)
            response = super().request(method, url, *args, **kwargs)
            sock = getattr(getattr(response, "connection", None), "sock", None)  # urllib3 1.26-2.x
            if sock is not None:
                deadline.watch_socket(sock.fileno())  # the body is read later: sync_timeout cuts it
            return response

    return _Bounded


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
    from dulwich.client import get_transport_and_path
    from dulwich.config import ConfigDict

    from ansible_collections.vcs.inventory.plugins.plugin_utils.bundles import make_bundle_client

    bundle = make_bundle_client(remote)  # a *.bundle file is read locally
    if bundle is not None:
        return bundle
    config = ConfigDict()
    kwargs = {"config": config, "quiet": True}
    protocol_version = None
    if remote.kind in ("http", "https"):
        kwargs["pool_manager"] = _pool_manager(remote, opts)
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
    if remote.kind == "git":
        _watch_connections(client)
    return client, path, protocol_version


def _watch_connections(client) -> None:
    """Hand each git:// connection to sync_timeout's watchdog, which shuts it down at the deadline."""
    from ansible_collections.vcs.inventory.plugins.plugin_utils import deadline

    connect = client._connect

    def watched(*args, **kwargs):
        proto, can_read, stderr = connect(*args, **kwargs)
        # dulwich 0.21-1.2: TCPGitClient reads through the socket's file object (Protocol.read is its read).
        reader = getattr(proto.read, "__self__", None)
        try:
            deadline.watch_socket(reader.fileno())
        except (AttributeError, OSError, ValueError):
            pass  # then socket timeouts alone bound the call
        return proto, can_read, stderr

    client._connect = watched


@contextlib.contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """git:// in dulwich has no timeout of its own: give new sockets one for the call's duration."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)
