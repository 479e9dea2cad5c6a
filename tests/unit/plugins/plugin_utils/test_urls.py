"""Remote URLs: credentials are split off and never kept in what is shown or stored."""

from __future__ import annotations

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import cache_key, parse_remote, redact

TOKEN = "tok/en:with@odd%chars+"
QUOTED = "tok%2Fen%3Awith%40odd%25chars%2B"


@pytest.mark.parametrize("url, safe, user, password", [
    ("https://deploy:s3cret@git.example.com/ops/inv.git", "https://git.example.com/ops/inv.git", "deploy", "s3cret"),
    (f"https://deploy:{QUOTED}@git.example.com:8443/inv.git", "https://git.example.com:8443/inv.git", "deploy", TOKEN),
    ("http://git.example.com/inv.git", "http://git.example.com/inv.git", None, None),
    ("HTTPS://Git.Example.com/inv.git?x=1#frag", "https://git.example.com/inv.git?x=1", None, None),
    ("https://[::1]:8443/inv.git", "https://[::1]:8443/inv.git", None, None),
])
def test_http_credentials_leave_the_url(url, safe, user, password):
    remote = parse_remote(url)
    assert (remote.url, remote.safe_url, remote.username, remote.password) == (safe, safe, user, password)
    if password:
        assert password in remote.secrets


def test_http_options_win_over_the_url():
    remote = parse_remote("https://old:oldpw@host/inv.git", username="new", password="newpw")
    assert (remote.username, remote.password, remote.safe_url) == ("new", "newpw", "https://host/inv.git")


def test_a_token_given_as_the_user_name_is_a_secret():
    remote = parse_remote("https://ghp_abcdef0123456789@github.example/inv.git")
    assert remote.username == "ghp_abcdef0123456789" and remote.password is None
    assert "ghp_abcdef0123456789" in remote.secrets
    assert remote.safe_url == "https://github.example/inv.git"


def test_a_plain_user_name_with_a_password_is_not_a_secret():
    assert "deploy" not in parse_remote("https://deploy@host/inv.git", password="pw").secrets


@pytest.mark.parametrize("url, safe, user", [
    ("ssh://git@host:2222/ops/inv.git", "ssh://git@host:2222/ops/inv.git", "git"),
    ("ssh://git:pw@host/ops/inv.git", "ssh://git@host/ops/inv.git", "git"),
    ("git+ssh://host/inv.git", "git+ssh://host/inv.git", None),
    ("git@host:ops/inv.git", "git@host:ops/inv.git", "git"),
    ("host:/srv/inv.git", "host:/srv/inv.git", None),
    ("git:pw@host:ops/inv.git", "git@host:ops/inv.git", "git"),
])
def test_ssh_urls(url, safe, user):
    remote = parse_remote(url)
    assert (remote.kind, remote.safe_url, remote.username) == ("ssh", safe, user)
    assert "pw" not in remote.safe_url


def test_http_username_and_password_options_do_not_touch_ssh_logins():
    # ANSIBLE_VCS_INVENTORY_USERNAME set for an HTTPS server must not change the user of a git@ URL.
    remote = parse_remote("git@host:ops/inv.git", username="https-user", password="https-token")
    assert (remote.username, remote.password, remote.safe_url) == ("git", None, "git@host:ops/inv.git")
    remote = parse_remote("ssh://git@host/inv.git", username="https-user", password="https-token")
    assert (remote.username, remote.password, remote.safe_url) == ("git", None, "ssh://git@host/inv.git")


def test_git_and_file_urls_drop_userinfo_but_remember_the_password():
    remote = parse_remote("git://u:pw@host/inv.git")
    assert remote.safe_url == "git://host/inv.git" and "pw" in remote.secrets


def test_local_paths(tmp_path):
    remote = parse_remote(str(tmp_path))
    assert (remote.kind, remote.url) == ("local", str(tmp_path))


@pytest.mark.parametrize("url, fragment", [
    ("https://deploy:Zq9/rest@host/inv.git", "Zq9"),  # an unencoded "/" makes the password look like a port
    ("https://deploy:Zq9@host:Xk7/inv.git", "Xk7"),
])
def test_an_unparsable_url_is_refused_without_quoting_it(url, fragment):
    with pytest.raises(ValueError) as info:
        parse_remote(url)
    assert fragment not in str(info.value)
    assert "percent-encode" in str(info.value)


@pytest.mark.parametrize("url", ["", "   ", None])
def test_an_empty_url_names_the_option(url):
    with pytest.raises(ValueError, match="option 'url'"):
        parse_remote(url)


def test_an_unknown_scheme_names_the_option():
    with pytest.raises(ValueError, match="unsupported scheme 'ftp'"):
        parse_remote("ftp://host/inv.git")


@pytest.mark.parametrize("text, expected", [
    ("cannot read https://u:pw@host/x.git: 500", "cannot read https://host/x.git: 500"),
    ("at https://u:p@ss@host/x.git now", "at https://host/x.git now"),
    ("https://host/x.git?q=a@b", "https://host/x.git?q=a@b"),
    ("mail admin@example.com about https://host/x", "mail admin@example.com about https://host/x"),
    ("two: http://a:1@h1/ and ssh://b:2@h2/", "two: http://h1/ and ssh://h2/"),
])
def test_redact_removes_userinfo(text, expected):
    assert redact(text) == expected


def test_redact_removes_every_form_of_a_secret_longest_first():
    remote = parse_remote("https://host/inv.git", username="u", password=TOKEN)
    text = f"raw {TOKEN} quoted {QUOTED} end"
    assert redact(text, remote.secrets) == "raw ******** quoted ******** end"


def test_cache_key_ignores_credentials_case_of_host_and_dot_git():
    keys = {cache_key(parse_remote(u)) for u in (
        "https://git.example.com/ops/inv.git", "https://u:pw@GIT.example.com/ops/inv", "https://git.example.com/ops/inv/",
    )}
    assert len(keys) == 1
    (key,) = keys
    assert key.startswith("inv-") and "pw" not in key
    assert cache_key(parse_remote("https://git.example.com/ops/Inv.git")) != key


def test_a_short_secret_is_redacted_where_it_stands_alone_not_inside_words():
    text = "cannot go through the proxy http://127.0.0.1:3128 (port 3128): user p, password p"
    assert redact(text, ["p"]) == "cannot go through the proxy http://127.0.0.1:3128 (port 3128): user ********, password ********"
    assert redact("a:p@host and p.", ["p"]) == "a:********@host and ********."
    assert redact("the token abcdefgh inside xabcdefghx", ["abcdefgh"]) == "the token ******** inside x********x"
