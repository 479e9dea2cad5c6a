"""Which failures of url send a run to the mirrors, and which credentials a mirror gets."""

from __future__ import annotations

import socket
import ssl

import pytest
from dulwich.client import HTTPUnauthorized
from dulwich.errors import GitProtocolError, NotGitRepository

from ansible_collections.vcs.inventory.plugins.plugin_utils.bundles import bundle_path
from ansible_collections.vcs.inventory.plugins.plugin_utils.mirrors import mirror_remote, unreachable
from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import TransportOptions
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import parse_remote


def wrapped(outer: Exception, inner: Exception) -> Exception:
    try:
        try:
            raise inner
        except Exception as exc:
            raise outer from exc
    except Exception as exc:  # noqa: BLE001 - the chain is what is tested
        return exc


@pytest.mark.parametrize("exc", [
    ConnectionRefusedError(111, "Connection refused"),
    socket.gaierror(-2, "Name or service not known"),
    socket.timeout("timed out"),
    ssl.SSLError("certificate verify failed"),
    GitProtocolError("unexpected http resp 502 for http://h/x.git/info/refs"),
    GitProtocolError("unexpected http resp 503 for http://h/x.git/info/refs"),
    wrapped(GitProtocolError("failed"), ConnectionRefusedError(111, "Connection refused")),
])
def test_unreachable(exc):
    assert unreachable(exc)


@pytest.mark.parametrize("exc", [
    HTTPUnauthorized("Basic", "http://h/x.git"),
    GitProtocolError("unexpected http resp 403 for http://h/x.git/info/refs"),
    NotGitRepository("no such repository"),
    wrapped(GitProtocolError("unexpected http resp 500 for x"), HTTPUnauthorized("Basic", "x")),
    ValueError("something local"),
])
def test_answers_are_no_reason_for_a_mirror(exc):
    assert not unreachable(exc)


def test_credentials_only_to_the_same_host():
    primary = parse_remote("https://deploy:t0ken@git.example.com/inv.git")
    same = mirror_remote("https://git.example.com:8443/replica/inv.git", primary, TransportOptions())
    assert (same.username, same.password) == ("deploy", "t0ken")
    other = mirror_remote("https://mirror.example.org/inv.git", primary, TransportOptions())
    assert (other.username, other.password) == (None, None)
    own = mirror_remote("https://reader:r3ad@mirror.example.org/inv.git", primary, TransportOptions())
    assert (own.username, own.password) == ("reader", "r3ad")
    token = parse_remote("https://TOKEN123@git.example.com/inv.git")
    same_token = mirror_remote("https://git.example.com/replica.git", token, TransportOptions())
    assert "TOKEN123" in same_token.secrets  # still redacted wherever the mirror's URL is shown


def test_bundle_paths(tmp_path):
    assert bundle_path(parse_remote(str(tmp_path / "x.bundle"))) == str(tmp_path / "x.bundle")
    assert bundle_path(parse_remote(f"file://{tmp_path}/x.bundle")) == f"{tmp_path}/x.bundle"
    assert bundle_path(parse_remote(str(tmp_path / "x.git"))) is None
    assert bundle_path(parse_remote("https://h/x.bundle")) is None
