"""Objects that carry a credential never show it: repr, str, f-strings, %-formatting, inside containers."""

from __future__ import annotations

import logging

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils.git_cache import SyncOptions
from ansible_collections.vcs.inventory.plugins.plugin_utils.git_source import Settings
from ansible_collections.vcs.inventory.plugins.plugin_utils.proxies import parse_proxy
from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import TransportOptions
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import hide_userinfo, parse_remote

PASSWORD = "Pa55-w0rd:x@y"  # an "@" and a ":" inside, as in real tokens that were not percent-encoded
QUOTED = "Pa55-w0rd%3Ax%40y"
TOKEN = "ghp_0123456789abcdef"


def renderings(obj) -> list[str]:
    """Every everyday way an object becomes text, alone and inside the containers logs print."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "syncing %s with %r", (obj, obj), None)
    return [repr(obj), str(obj), f"{obj}", f"{obj!r}", "%s" % (obj,), "%r" % (obj,), "{}".format(obj),
            format(obj), repr([obj]), str({"x": obj}), repr((obj,)), record.getMessage()]


def secret_forms(secret: str) -> list[str]:
    return [secret, QUOTED if secret == PASSWORD else secret, "w0rd"]


def objects():
    proxy_url = f"http://squid:{QUOTED}@proxy.example.com:3128"
    transport = TransportOptions(proxy=proxy_url)
    sync = SyncOptions(url=f"https://deploy:{QUOTED}@git.example.com/inv.git", username="deploy", password=PASSWORD,
                       transport=transport)
    yield "remote with a password", parse_remote(f"https://deploy:{QUOTED}@git.example.com/inv.git"), PASSWORD
    yield "remote with an explicit password", parse_remote("https://git.example.com/inv.git", "deploy", PASSWORD), PASSWORD
    yield "remote with a token as user", parse_remote(f"https://{TOKEN}@git.example.com/inv.git"), TOKEN
    yield "ssh remote with a password", parse_remote(f"ssh://deploy:{QUOTED}@git.example.com/inv.git"), PASSWORD
    yield "proxy", parse_proxy(proxy_url, "the option 'proxy'"), PASSWORD
    yield "transport options", transport, PASSWORD
    yield "transport options, proxy without a scheme", TransportOptions(proxy=f"squid:{PASSWORD}@proxy:3128"), PASSWORD
    yield "sync options", sync, PASSWORD
    yield "sync options, scp-like url", SyncOptions(url=f"deploy:{PASSWORD}@git.example.com:inv.git"), PASSWORD
    yield "settings", Settings(sync=sync, paths=[], allow_scripts=False, trust_repo=True), PASSWORD


@pytest.mark.parametrize("name, obj, secret", list(objects()), ids=[n for n, _o, _s in objects()])
def test_no_rendering_shows_the_credential(name, obj, secret):
    for text in renderings(obj):
        for form in secret_forms(secret):
            assert form not in text, (name, text)
        assert type(obj).__name__ in text or "{'x':" in text


def test_what_is_not_secret_still_shows():
    remote = parse_remote("https://git.example.com/inv.git", "deploy", PASSWORD)
    assert "https://git.example.com/inv.git" in repr(remote) and "'deploy'" in repr(remote)
    assert "password='********'" in repr(remote)
    assert "password=None" in repr(parse_remote("https://git.example.com/inv.git"))
    sync = SyncOptions(url="https://git.example.com/inv.git", version="main", timeout=5)
    assert "version='main'" in repr(sync) and "timeout=5" in repr(sync) and "git.example.com/inv.git" in repr(sync)
    assert "proxy.example.com:3128" in repr(TransportOptions(proxy="http://proxy.example.com:3128"))


def test_the_secret_is_still_there_for_the_call_that_needs_it():
    remote = parse_remote(f"https://deploy:{QUOTED}@git.example.com/inv.git")
    assert remote.password == PASSWORD and PASSWORD in remote.secrets
    proxy = parse_proxy(f"http://squid:{QUOTED}@proxy:3128", "the option 'proxy'")
    assert proxy.password == PASSWORD and proxy.headers["Proxy-Authorization"].startswith("Basic ")


@pytest.mark.parametrize("url, shown", [
    ("https://u:p@host/x.git", "https://host/x.git"),
    ("https://u:p@ss@host/x.git", "https://host/x.git"),
    ("git@host:org/x.git", "********@host:org/x.git"),
    ("u:p@ss@host:3128", "********@host:3128"),
    ("https://host/x.git", "https://host/x.git"),
])
def test_hide_userinfo(url, shown):
    assert hide_userinfo(url) == shown
