# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`mirrors`: other URLs (or bundles) that serve the same repository when `url` cannot be reached.

Only a primary that cannot be reached sends the run to the mirrors: refused, no such host, a
timeout, TLS, or an HTTP 5xx. A primary that answers (authentication failed, no such repository,
no such version) is the answer. Mirrors are tried in order, each once; the first that serves a
commit wins, and the cache entry stays the primary's (its last good commit, its state). The
primary's credentials go only to mirrors on the same host. No Ansible imports.
"""

from __future__ import annotations

import errno
import re
import socket
from dataclasses import replace
from urllib.parse import urlsplit

from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import RemoteFailure, VersionNotFound
from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import check as check_transport
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import Remote, parse_remote, redact

__metaclass__ = type

# dulwich reports an HTTP status other than 200/401/404/407 only in this text (a GitProtocolError).
_HTTP_STATUS = re.compile(r"unexpected http resp (\d{3})")
_UNREACHABLE_ERRNOS = (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT, errno.ECONNRESET)


def unreachable(exc: BaseException) -> bool:
    """Whether a remote failure says the server could not be reached (as opposed to an answer it gave)."""
    import ssl

    from dulwich.client import HTTPUnauthorized
    from dulwich.errors import NotGitRepository

    try:
        import urllib3.exceptions as u3

        u3_types: tuple = (u3.NewConnectionError, u3.ConnectTimeoutError, u3.ReadTimeoutError, u3.SSLError,
                           u3.ProtocolError)
    except ImportError:  # pragma: no cover - urllib3 comes with dulwich
        u3_types = ()
    chain, current = [], exc
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        reason = getattr(current, "reason", None)
        current = reason if isinstance(reason, BaseException) else (current.__cause__ or current.__context__)
    if any(isinstance(c, (HTTPUnauthorized, NotGitRepository)) for c in chain):
        return False  # the server answered: wrong credentials or no such repository
    for cause in chain:
        status = _HTTP_STATUS.search(str(cause))
        if status:
            return status.group(1).startswith("5")
        if isinstance(cause, (ConnectionRefusedError, ConnectionResetError, socket.gaierror, socket.timeout,
                              TimeoutError, ssl.SSLError) + u3_types):
            return True
        if isinstance(cause, OSError) and cause.errno in _UNREACHABLE_ERRNOS:
            return True
    return False


def mirror_remote(url: str, primary: Remote, transport) -> Remote:
    """The mirror as a remote; it carries the primary's credentials only when it is on the same host."""
    remote = parse_remote(url)
    if remote.kind in ("http", "https") and primary.kind in ("http", "https") and not remote.username \
            and _host(remote.url) == _host(primary.url):
        remote = replace(remote, username=primary.username, password=primary.password,
                         token_user=primary.token_user)
    check_transport(remote, transport)
    return remote


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def fetch_with_mirrors(entry, fetch):
    """fetch() from the primary, else from each mirror in turn; the warning names who failed and who served.

    entry.remote is the remote that served when this returns (git_inventory_url names it).
    """
    try:
        return fetch()
    except RemoteFailure as exc:
        if not entry.opts.mirrors or not getattr(exc, "unreachable", False):
            raise
        primary_failure = str(exc)
    primary = entry.remote
    failures = []
    remember = entry.remember_server
    for url in entry.opts.mirrors:
        try:
            remote = mirror_remote(url, primary, entry.opts.transport)
        except ValueError as exc:
            failures.append(f"{redact(url)}: {redact(str(exc))}")
            continue
        entry.remote = remote
        entry.remember_server = lambda **support: None  # what a mirror supports says nothing of the primary
        try:
            result = fetch()
        except (RemoteFailure, VersionNotFound) as exc:
            failures.append(f"{remote.safe_url}: {exc}")
            continue
        finally:
            entry.remember_server = remember
        entry.warn(f"{primary.safe_url} could not be reached ({primary_failure}); the mirror {remote.safe_url} "
                   "(option 'mirrors') served this run")
        return result
    entry.remote = primary
    failure = RemoteFailure(f"{primary_failure}; no mirror could serve it either (option 'mirrors'): "
                            + "; ".join(failures))
    failure.unreachable = True
    raise failure


def served_url(entry, state: dict) -> str:
    """The (redacted) URL that served the state's commit: the primary, or one of the configured mirrors."""
    url = state.get("url")
    if url == entry.remote.safe_url or not isinstance(url, str):
        return entry.remote.safe_url
    for mirror in entry.opts.mirrors or []:
        try:
            if parse_remote(mirror).safe_url == url:
                return url
        except ValueError:
            continue
    return entry.remote.safe_url
