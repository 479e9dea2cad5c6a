# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which HTTP proxy a Git URL goes through, the way git (libcurl) and Python's urllib choose it.

- The option `proxy` wins over the environment.
- https:// URLs: https_proxy, then HTTPS_PROXY; http:// URLs: http_proxy, then HTTP_PROXY (but not
  when REQUEST_METHOD is set: in a CGI program HTTP_PROXY comes from a request header, "httpoxy");
  then all_proxy, ALL_PROXY for both. Lowercase wins over uppercase; an empty variable counts as unset.
- no_proxy, then NO_PROXY: comma-separated host names (a name also matches its subdomains), .domain
  suffixes, IP addresses, CIDR networks, host:port, and `*` for every host. It applies to every proxy.

A proxy is `http://[user:password@]host[:port]` (no scheme means http://; no port means 1080, as in
git and curl). Its credentials travel in a Proxy-Authorization header only and are never part of
what is shown. Pure functions, no Ansible and no dulwich imports.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import quote, unquote, urlsplit

from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import hidden_repr

__metaclass__ = type

DEFAULT_PORT = 1080  # git and curl use it for a proxy URL without a port
OPTION = "proxy"


class ProxyConfigError(ValueError):
    """A proxy setting that cannot be used; the message names where it came from."""


@dataclass(frozen=True)
class Proxy:
    url: str  # http://host:port: what the client connects to; no credentials
    source: str  # where the setting came from, for messages: "the option 'proxy'", "the environment variable ..."
    username: str | None = None
    password: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The Proxy-Authorization header for the proxy's Basic authentication, if it has credentials."""
        if self.username is None and self.password is None:
            return {}
        pair = f"{self.username or ''}:{self.password or ''}".encode("utf-8")
        return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every form of the password that could end up in a text (to redact it)."""
        if not self.password:
            return ()
        values = [self.password, quote(self.password, safe="")]
        values += [value.split(" ", 1)[1] for value in self.headers.values()]
        return tuple(dict.fromkeys(values))

    def describe(self) -> str:
        """The proxy as shown in messages: its address and where it was configured, never its credentials."""
        login = " (with a user name and password)" if self.username or self.password else ""
        return f"the proxy {self.url}{login} from {self.source}"

    def __repr__(self) -> str:  # the password never shows
        return hidden_repr(self, secret=("password",))


def option_source(origin: str | None) -> str:
    """Say where the option `proxy` came from, given Ansible's origin for it.

    Ansible names an environment variable as "env: NAME" and an ansible.cfg entry by the file's path;
    the source file's own settings are "Direct" (2.19) or unknown (None, as on 2.16).
    """
    origin = (origin or "").strip()
    if origin.startswith("env:"):
        return f"the environment variable {origin[4:].strip()}"
    if origin and origin not in ("default", "Direct") and not origin.startswith("var:"):
        return f"[vcs_inventory] proxy in {origin}"
    return f"the option '{OPTION}'"


def parse_proxy(value: str, source: str) -> Proxy:
    """Parse a proxy setting; a ProxyConfigError names source and never quotes the value."""
    text = value.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise ProxyConfigError(
            f"the proxy from {source} is not a valid URL (a bad port or bracket?); expected "
            "http://[user:password@]host:port, with '@', ':', '/' and '%' in the user name or password percent-encoded"
        ) from None
    scheme = parts.scheme.lower()
    if scheme != "http":
        raise ProxyConfigError(
            f"the proxy from {source} uses the scheme '{scheme}', which is not supported: use an HTTP proxy, "
            "http://[user:password@]host:port (HTTPS Git URLs still go through it encrypted, with CONNECT)"
        )
    if not host or any(c.isspace() for c in text) or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ProxyConfigError(
            f"the proxy from {source} is not of the form http://[user:password@]host:port; "
            "check it for a missing host, spaces, or a path after the port"
        )
    shown_host = f"[{host}]" if ":" in host else host
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return Proxy(f"http://{shown_host}:{port or DEFAULT_PORT}", source, username, password)


def _first(environ: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    for name in names:
        value = (environ.get(name) or "").strip()
        if value:
            return name, value
    return None


def _proxy_variables(scheme: str, environ: Mapping[str, str]) -> tuple[str, ...]:
    if scheme == "https":
        return ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
    cgi = "REQUEST_METHOD" in environ  # HTTP_PROXY may be a request's "Proxy:" header there
    return ("http_proxy",) + (() if cgi else ("HTTP_PROXY",)) + ("all_proxy", "ALL_PROXY")


def bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether no_proxy (curl's syntax) says host[:port] is reached without a proxy."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry_port = None
        if entry.startswith("["):  # [v6]:port or [v6]
            inside, _sep, rest = entry[1:].partition("]")
            entry, entry_port = inside, rest[1:] if rest.startswith(":") else None
        elif entry.count(":") == 1:  # name:port or v4:port (a bare v6 address has more colons)
            entry, entry_port = entry.split(":")
        if entry_port is not None and (not entry_port.isdigit() or port is None or int(entry_port) != port):
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.lstrip(".").rstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def select(url: str, option: str | None = None, option_origin: str | None = None,
           environ: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy to reach the http(s) URL through, or None for a direct connection."""
    environ = os.environ if environ is None else environ
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return None
    if option is not None and str(option).strip():
        chosen = (option_source(option_origin), str(option))
    else:
        found = _first(environ, _proxy_variables(scheme, environ))
        if found is None:
            return None
        chosen = (f"the environment variable {found[0]}", found[1])
    proxy = parse_proxy(chosen[1], chosen[0])  # a malformed value is an error even for a bypassed host
    no_proxy = _first(environ, ("no_proxy", "NO_PROXY"))
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = None
    if no_proxy and parts.hostname and bypassed(parts.hostname, port, no_proxy[1]):
        return None
    return proxy
