# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Git remote URLs: split credentials off, redact, and derive the cache key.

Pure functions, no Ansible and no dulwich imports, so they are cheap and unit-testable.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

__metaclass__ = type

# scp-like syntax: [user@]host:path, with no "://" and a host that is not a drive letter.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>(?!//).+)$")
_SCHEMES = ("https", "http", "git", "ssh", "git+ssh", "ssh+git", "file")


@dataclass(frozen=True)
class Remote:
    """A remote split into what may be shown and stored, and what may not."""

    url: str  # what is given to the Git client: no password, no token
    safe_url: str  # what is shown and stored: no userinfo secrets at all
    kind: str  # https, http, git, ssh, file, local
    username: str | None = None
    password: str | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.password and quote(self.password, safe="")) if s)


def parse_remote(url: str, username: str | None = None, password: str | None = None) -> Remote:
    """Parse a remote URL; explicit username/password win over userinfo in the URL."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("the option 'url' is empty: set it to the Git repository to read the inventory from")
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ValueError(
                f"the option 'url' uses the unsupported scheme '{scheme}': use https://, http://, git://, ssh://, "
                "user@host:path, file:// or a local path"
            )
        url_user = unquote(parts.username) if parts.username else None
        url_password = unquote(parts.password) if parts.password is not None else None
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        if ":" in (parts.hostname or ""):  # IPv6 literal
            host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
        kind = "ssh" if scheme in ("ssh", "git+ssh", "ssh+git") else scheme
        user = username if username else url_user
        secret = password if password else url_password
        if kind in ("http", "https"):
            # Credentials travel per call; the URL handed on carries none.
            clean = urlunsplit((scheme, host, parts.path, parts.query, ""))
            return Remote(clean, clean, kind, user, secret)
        if kind == "ssh":
            netloc = f"{quote(user, safe='')}@{host}" if user else host
            clean = urlunsplit((scheme, netloc, parts.path, "", ""))
            return Remote(clean, clean, kind, user, secret)
        if kind == "file":
            clean = urlunsplit((scheme, host, parts.path, "", ""))
            return Remote(clean, clean, kind)
        clean = urlunsplit((scheme, host, parts.path, "", ""))
        return Remote(clean, clean, kind)
    match = _SCP_LIKE.match(url)
    if match and not os.path.exists(url) and not re.match(r"^[A-Za-z]:[\\/]", url):
        user = username or match.group("user")
        netloc = f"{user}@{match.group('host')}" if user else match.group("host")
        clean = f"{netloc}:{match.group('path')}"
        return Remote(clean, clean, "ssh", user, password)
    path = os.path.abspath(os.path.expanduser(url))
    return Remote(path, path, "local")


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Remove userinfo passwords from any URL in text, and every known secret string."""
    text = re.sub(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@", r"\g<scheme>", str(text))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def cache_key(remote: Remote) -> str:
    """A directory name for the remote: readable tail plus a hash of the normalised URL."""
    normal = remote.safe_url.rstrip("/")
    if normal.endswith(".git"):
        normal = normal[:-4]
    if remote.kind in ("http", "https", "git", "ssh"):
        # scheme and host are case-insensitive; the path is not.
        match = re.match(r"^([^:]+://)?([^/:]*)(.*)$", normal)
        if match:
            normal = (match.group(1) or "").lower() + match.group(2).lower() + match.group(3)
    digest = hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]
    tail = re.split(r"[/:]", normal)[-1] or "repo"
    tail = re.sub(r"[^A-Za-z0-9._-]", "_", tail)[:40].lstrip(".") or "repo"
    return f"{tail}-{digest}"
