# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors of a sync, and how a failure of the remote is told apart from a damaged cache."""

from __future__ import annotations

import errno
import socket
import zlib

from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import ProxyFailure, SshClientMissing
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import Remote, redact

__metaclass__ = type


class SyncError(Exception):
    """The base of the Git cache's errors. Raised by sync() itself, the message is redacted and says what to do.

    The subclasses are caught inside sync(), which turns each into a fallback or a SyncError that
    names the remote and the option to change.
    """


class RemoteFailure(SyncError):
    """The remote could not be read (down, refused, timed out, auth, protocol)."""


class VersionNotFound(SyncError):
    """The remote answered, and it has no such version."""


class UnusableCommit(SyncError):
    """The remote answered with something this plugin refuses to use: an invalid ref name, a commit
    other than the pinned id. Nothing of it was used; use_cache may serve the last good commit."""


class Damaged(SyncError):
    """The mirror does not hold what the last good sync left in it."""


class DulwichMissing(SyncError):
    """dulwich cannot be imported by the Python that runs the sync; the Ansible side says which pip to run."""


# Errors that say the disk cannot take more: never a reason to wipe anything.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def plain_detail(exc: BaseException, secrets=()) -> str:
    """What went wrong, in words, for an error that carries no message of ours: never a Python class name."""
    detail = redact(str(exc), list(secrets)).strip()
    if isinstance(exc, KeyError):
        return f"an object or entry is missing ({detail})" if detail else "an object or entry is missing"
    if isinstance(exc, zlib.error):
        return f"compressed data is corrupt ({detail})"
    if isinstance(exc, (EOFError, TimeoutError)) and not detail:
        return "the data ended early" if isinstance(exc, EOFError) else "timed out"
    return detail or "an error that gave no details"


def is_remote_error(exc: BaseException) -> bool:
    """Whether exc says the remote could not be read, as opposed to a damaged local cache."""
    import ssl  # here, like dulwich: a run that needs no network (refresh_interval) never loads it

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


def _causes(exc: BaseException) -> list[BaseException]:
    """exc and what it wraps: urllib3's MaxRetryError keeps the cause in .reason, others in __cause__/__context__."""
    chain, current = [], exc
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = getattr(current, "reason", None) if isinstance(getattr(current, "reason", None), BaseException) \
            else (current.__cause__ or current.__context__)
    return chain


def describe_remote_error(exc: BaseException, remote: Remote, timeout: float) -> str:
    """One line for a failure of the remote, classified by the exception's type where there is one.

    Only what ssh and the server say on stderr (dulwich's HangupException carries it) is text alone.
    """
    import ssl

    from dulwich.client import HTTPUnauthorized
    from dulwich.errors import HangupException, NotGitRepository

    detail = redact(str(exc), remote.secrets).strip()
    causes = _causes(exc)

    def caused_by(*types) -> bool:
        return any(isinstance(cause, types) for cause in causes)

    try:
        from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError
        from urllib3.exceptions import SSLError as Urllib3SSLError
    except ImportError:  # pragma: no cover - urllib3 comes with dulwich
        ConnectTimeoutError = ReadTimeoutError = Urllib3SSLError = ()  # noqa: N806
    said = ""
    if isinstance(exc, HangupException):
        said = "\n".join(line.decode("utf-8", "replace") for line in exc.stderr_lines or []).lower()
    if isinstance(exc, ProxyFailure):  # it names the proxy and where it was set, already redacted
        return detail
    if isinstance(exc, SshClientMissing):  # says which package brings ssh
        return f"cannot read {remote.safe_url}: {detail}"
    if caused_by(HTTPUnauthorized):
        return (f"authentication failed for {remote.safe_url}: check the options 'username' and 'password' "
                "(or the credentials in the URL)")
    if "permission denied (" in said:  # ssh: "Permission denied (publickey)."
        return (f"authentication failed for {remote.safe_url}: {detail}; check the option 'key_file' "
                "and that its public key may read the repository")
    # Refused before timed out: urllib3's NewConnectionError (which wraps the refusal) is a ConnectTimeoutError.
    if caused_by(ConnectionRefusedError) or "connection refused" in said:
        return f"cannot connect to {remote.safe_url}: connection refused; is the Git server up and the 'url' right?"
    if caused_by(socket.timeout, TimeoutError, ConnectTimeoutError, ReadTimeoutError) or "timed out" in said:
        return f"no answer from {remote.safe_url} within {timeout:g}s (option 'timeout'): {detail or 'timed out'}"
    if (caused_by(NotGitRepository) or "not found" in said or "does not appear" in said
            or "repository not exported" in detail.lower()):  # git daemon's answer for a missing repository
        return f"no Git repository at {remote.safe_url}: check the option 'url' ({detail or 'not found'})"
    if caused_by(ssl.SSLError, Urllib3SSLError):
        return (f"TLS error talking to {remote.safe_url}: {detail}; for a private CA set 'ca_path', "
                "or 'validate_certs: false' to skip verification")
    if "host key" in said:
        return (f"SSH host key check failed for {remote.safe_url}: {detail}; add the key to 'known_hosts_file' "
                "or set 'accept_hostkey: true'")
    return f"cannot read {remote.safe_url}: {plain_detail(exc, remote.secrets)}; run with -vvv to see the steps"
