# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors of a sync, and how a failure of the remote is told apart from a damaged cache."""

from __future__ import annotations

import errno
import socket
import ssl

from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import ProxyFailure
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import Remote, redact

__metaclass__ = type


class SyncError(Exception):
    """A sync could not produce a checkout. The message is redacted and says what to do."""


class RemoteFailure(Exception):
    """The remote could not be read (down, refused, timed out, auth, protocol)."""


class VersionNotFound(Exception):
    """The remote answered, and it has no such version."""


class Damaged(Exception):
    """The mirror does not hold what the last good sync left in it."""


# Errors that say the disk cannot take more: never a reason to wipe anything.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def is_remote_error(exc: BaseException) -> bool:
    """Whether exc says the remote could not be read, as opposed to a damaged local cache."""
    from dulwich.client import HTTPUnauthorized
    from dulwich.errors import GitProtocolError, NotGitRepository

    remote_types: tuple = (GitProtocolError, HTTPUnauthorized, NotGitRepository, ssl.SSLError, socket.timeout,
                           TimeoutError, ConnectionError, socket.gaierror)
    try:
        from dulwich.client import HTTPProxyUnauthorized

        remote_types += (HTTPProxyUnauthorized,)
    except ImportError:  # pragma: no cover - older dulwich
        pass
    try:
        import urllib3.exceptions

        remote_types += (urllib3.exceptions.HTTPError,)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(exc, remote_types):
        return True
    return isinstance(exc, OSError) and exc.errno in (
        errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT, errno.EPIPE,
    )


def describe_remote_error(exc: BaseException, remote: Remote, timeout: float) -> str:
    from dulwich.client import HTTPUnauthorized
    from dulwich.errors import NotGitRepository

    detail = redact(str(exc), remote.secrets).strip()
    if isinstance(exc, ProxyFailure):  # it names the proxy and where it was set, already redacted
        return detail
    if isinstance(exc, HTTPUnauthorized):
        return (f"authentication failed for {remote.safe_url}: check the options 'username' and 'password' "
                "(or the credentials in the URL)")
    if "permission denied (" in detail.lower():  # ssh: "Permission denied (publickey)."
        return (f"authentication failed for {remote.safe_url}: {detail}; check the option 'key_file' "
                "and that its public key may read the repository")
    if isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in detail.lower():
        return f"no answer from {remote.safe_url} within {timeout:g}s (option 'timeout'): {detail or 'timed out'}"
    if isinstance(exc, ConnectionRefusedError) or "refused" in detail.lower():
        return f"cannot connect to {remote.safe_url}: connection refused; is the Git server up and the 'url' right?"
    if isinstance(exc, NotGitRepository) or "not found" in detail.lower() or "does not appear" in detail.lower():
        return f"no Git repository at {remote.safe_url}: check the option 'url' ({detail or 'not found'})"
    if isinstance(exc, ssl.SSLError) or "certificate" in detail.lower():
        return (f"TLS error talking to {remote.safe_url}: {detail}; for a private CA set 'ca_path', "
                "or 'validate_certs: false' to skip verification")
    if "host key" in detail.lower():
        return (f"SSH host key check failed for {remote.safe_url}: {detail}; add the key to 'known_hosts_file' "
                "or set 'accept_hostkey: true'")
    return f"cannot read {remote.safe_url}: {type(exc).__name__}: {detail or 'no details'}"
