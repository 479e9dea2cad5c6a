# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Git remote URLs: split credentials off, redact, and derive the cache key.

Pure functions, no Ansible and no dulwich imports, so they are cheap and unit-testable.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, fields
from urllib.parse import quote, unquote, urlsplit, urlunsplit

__metaclass__ = type

# scp-like syntax: [user@]host:path, with no "://" and a host that is not a drive letter.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>(?!//).+)$")
_SCHEMES = ("https", "http", "git", "ssh", "git+ssh", "ssh+git", "file")
HIDDEN = "********"


def hidden_repr(obj, secret: tuple[str, ...] = (), urls: tuple[str, ...] = ()) -> str:
    """The repr of a dataclass with its secret fields shown as ******** and its URL fields without userinfo.

    Any repr, str, f-string or %r of such an object (a careless log line) then carries no credential.
    """
    shown = []
    for item in fields(obj):
        value = getattr(obj, item.name)
        if item.name in secret and value:
            text = repr(HIDDEN)
        elif item.name in urls and isinstance(value, str):
            text = repr(hide_userinfo(value))
        else:
            text = repr(value)
        shown.append(f"{item.name}={text}")
    return f"{type(obj).__name__}({', '.join(shown)})"


def hide_userinfo(url: str) -> str:
    """url without whatever precedes its last "@" in the authority (user:password@host, token@host)."""
    if "@" not in url:
        return url
    if "://" in url:
        return redact(url)
    return f"{HIDDEN}@{url.rpartition('@')[2]}"  # user@host:path, a proxy's user:password@host:port


@dataclass(frozen=True)
class Remote:
    """A remote split into what may be shown and stored, and what may not."""

    url: str  # what is given to the Git client: no password, no token
    safe_url: str  # what is shown and stored: no userinfo secrets at all
    kind: str  # https, http, git, ssh, file, local
    username: str | None = None
    password: str | None = None
    token_user: bool = False  # the URL's user name is the token (https://TOKEN@host/...)

    @property
    def secrets(self) -> tuple[str, ...]:
        values = [self.password] + ([self.username] if self.token_user else [])
        return tuple(dict.fromkeys(form for v in values if v for form in (v, quote(v, safe=""))))

    def __repr__(self) -> str:  # the password, or a token given as the user name, never shows
        return hidden_repr(self, secret=("password", "username") if self.token_user else ("password",))


def parse_remote(url: str, username: str | None = None, password: str | None = None) -> Remote:
    """Parse a remote URL; for HTTP(S), explicit username/password win over userinfo in the URL."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("the option 'url' is empty: set it to the Git repository to read the inventory from")
    url = url.strip()
    if "://" in url:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            # urllib's message quotes the part it choked on, which may be a piece of a password.
            raise ValueError(
                "the option 'url' is not a valid URL; percent-encode '/', '@', ':' and '%' inside a user name or "
                "password, or better, move them to the options 'username' and 'password'"
            ) from None
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ValueError(
                f"the option 'url' uses the unsupported scheme '{scheme}': use https://, http://, git://, ssh://, "
                "user@host:path, file:// or a local path"
            )
        url_user = unquote(parts.username) if parts.username else None
        url_password = unquote(parts.password) if parts.password is not None else None
        host = parts.hostname or ""
        if port:
            host = f"{host}:{port}"
        if ":" in (parts.hostname or ""):  # IPv6 literal
            host = f"[{parts.hostname}]" + (f":{port}" if port else "")
        kind = "ssh" if scheme in ("ssh", "git+ssh", "ssh+git") else scheme
        if kind in ("http", "https"):
            # Credentials travel per call; the URL handed on carries none.
            user = username if username else url_user
            secret = password if password else url_password
            clean = urlunsplit((scheme, host, parts.path, parts.query, ""))
            return Remote(clean, clean, kind, user, secret, token_user=bool(user and not secret and not username))
        if kind == "ssh":
            # username/password are HTTP(S) options: an SSH login is the URL's user (or ssh's config) with a
            # key. A password in an ssh URL is never used, only kept to be redacted.
            netloc = f"{quote(url_user, safe='')}@{host}" if url_user else host
            clean = urlunsplit((scheme, netloc, parts.path, "", ""))
            return Remote(clean, clean, kind, url_user, url_password)
        # git:// and file:// have no login: drop userinfo, and still keep a password to redact it.
        clean = urlunsplit((scheme, host, parts.path, "", ""))
        return Remote(clean, clean, kind, password=url_password)
    match = _SCP_LIKE.match(url)
    if match and not os.path.exists(url) and not re.match(r"^[A-Za-z]:[\\/]", url):
        # "user:secret@host:path" is no valid SSH login; keep the secret only to redact it.
        user, _sep, secret = (match.group("user") or "").partition(":")
        netloc = f"{user}@{match.group('host')}" if user else match.group("host")
        clean = f"{netloc}:{match.group('path')}"
        return Remote(clean, clean, "ssh", user or None, secret or None)
    path = os.path.abspath(os.path.expanduser(url))
    return Remote(path, path, "local")


def check_credentials(remote: Remote) -> None:
    """A password with no user name is never sent (Git clients send Basic auth only with a user): refuse it."""
    if remote.password and not remote.username:
        raise ValueError(
            "a password or token is set but no user name, so it would never be sent and the server would answer "
            "'authentication failed': set the option 'username' (or ANSIBLE_VCS_INVENTORY_USERNAME); for a token, "
            "any non-empty name works on GitHub and GitLab (for example 'git'), Bitbucket wants 'x-token-auth' and a "
            "GitLab OAuth token 'oauth2'"
        )


# Secrets shorter than this are redacted where they stand alone, not inside words.
SHORT_SECRET = 8


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Remove the userinfo of any URL in text, and every known secret string."""
    # Greedy up to the last "@" of the authority: an unencoded "@" inside a password is removed whole.
    text = re.sub(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s?#]*@", r"\g<scheme>", str(text))
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):  # longest first: no partial remains
        if len(secret) >= SHORT_SECRET:
            text = text.replace(secret, "********")
        else:
            # A short secret ("x") is a part of many words ("proxy", "port"): only where it stands alone.
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "********", text)
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
