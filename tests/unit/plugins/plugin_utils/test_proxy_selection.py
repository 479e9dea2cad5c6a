"""Which proxy a Git URL goes through: git's and curl's rules, urllib's HTTP_PROXY rule, secrets kept apart."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils.proxies import (
    ProxyConfigError,
    bypassed,
    option_source,
    parse_proxy,
    select,
)

HTTPS = "https://git.example.com/ops/infra.git"
HTTP = "http://git.example.com/ops/infra.git"


def chosen(url, env, option=None, origin=None):
    proxy = select(url, option, origin, environ=env)
    return None if proxy is None else (proxy.url, proxy.source)


@pytest.mark.parametrize("name", ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])
def test_https_urls_use_the_https_and_all_variables(name):
    assert chosen(HTTPS, {name: "proxy.corp:3128"}) == ("http://proxy.corp:3128", f"the environment variable {name}")


def test_lowercase_wins_and_an_empty_variable_counts_as_unset():
    env = {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"}
    assert chosen(HTTPS, env)[0] == "http://lower:1"
    assert chosen(HTTPS, {"https_proxy": "", "HTTPS_PROXY": "http://upper:2"})[0] == "http://upper:2"
    assert chosen(HTTPS, {"all_proxy": "", "https_proxy": " "}) is None


def test_http_urls_never_use_https_proxy():
    assert chosen(HTTP, {"https_proxy": "http://p:1"}) is None
    assert chosen(HTTPS, {"http_proxy": "http://p:1"}) is None
    assert chosen(HTTP, {"http_proxy": "http://p:1", "https_proxy": "http://q:2"})[0] == "http://p:1"


def test_uppercase_http_proxy_is_ignored_in_cgi_like_urllib():
    assert chosen(HTTP, {"HTTP_PROXY": "http://p:1"})[0] == "http://p:1"
    assert chosen(HTTP, {"HTTP_PROXY": "http://p:1", "REQUEST_METHOD": "GET"}) is None
    assert chosen(HTTP, {"http_proxy": "http://p:1", "REQUEST_METHOD": "GET"})[0] == "http://p:1"


def test_the_option_wins_and_names_where_it_came_from():
    env = {"https_proxy": "http://env:1"}
    assert chosen(HTTPS, env, "http://opt:2") == ("http://opt:2", "the option 'proxy'")
    assert chosen(HTTPS, env, "http://opt:2", "env: ANSIBLE_VCS_INVENTORY_PROXY")[1] == (
        "the environment variable ANSIBLE_VCS_INVENTORY_PROXY")
    assert option_source("/etc/ansible/ansible.cfg") == "[vcs_inventory] proxy in /etc/ansible/ansible.cfg"
    assert option_source("default") == option_source(None) == option_source("Direct") == "the option 'proxy'"
    assert chosen(HTTPS, env, "")[0] == "http://env:1"  # an empty option is unset too


def test_no_proxy_forms():
    assert bypassed("git.example.com", 443, "git.example.com")
    assert bypassed("git.example.com", 443, "example.com")  # a name matches its subdomains
    assert bypassed("git.example.com", 443, ".example.com")
    assert not bypassed("git.example.com", 443, "ample.com")  # whole labels only
    assert bypassed("GIT.Example.COM", 443, "other, git.example.com")
    assert bypassed("10.1.2.3", 443, "10.0.0.0/8")
    assert bypassed("10.1.2.3", 443, "10.1.2.3")
    assert not bypassed("11.1.2.3", 443, "10.0.0.0/8")
    assert bypassed("::1", 443, "::1") and bypassed("[::1]", 443, "[::1]:443")
    assert bypassed("anything", 80, "*")
    assert bypassed("git.example.com", 8443, "git.example.com:8443")
    assert not bypassed("git.example.com", 443, "git.example.com:8443")


def test_no_proxy_and_uppercase_no_proxy_apply_to_every_source():
    assert chosen(HTTPS, {"https_proxy": "http://p:1", "NO_PROXY": "example.com"}) is None
    assert chosen(HTTPS, {"no_proxy": "*"}, "http://opt:2") is None
    assert chosen(HTTPS, {"https_proxy": "http://p:1", "no_proxy": "", "NO_PROXY": "other.org"})[0] == "http://p:1"


def test_credentials_go_to_a_header_only():
    proxy = parse_proxy("http://us%40er:p%3Ass@proxy.corp:3128", "the option 'proxy'")
    assert proxy.url == "http://proxy.corp:3128"
    assert (proxy.username, proxy.password) == ("us@er", "p:ss")
    token = base64.b64encode(b"us@er:p:ss").decode()
    assert proxy.headers == {"Proxy-Authorization": "Basic " + token}
    assert "p:ss" not in proxy.describe() and "p%3Ass" not in proxy.describe() and "proxy.corp:3128" in proxy.describe()
    assert {"p:ss", "p%3Ass", token} <= set(proxy.secrets)
    assert "p:ss" not in repr(proxy.url)


def test_defaults_to_http_and_port_1080_like_git():
    assert parse_proxy("proxy.corp", "x").url == "http://proxy.corp:1080"
    assert parse_proxy("http://[fd00::1]:8080/", "x").url == "http://[fd00::1]:8080"


@pytest.mark.parametrize("value", ["socks5://proxy:1080", "https://proxy:443", "http://proxy:notaport",
                                   "http://:3128", "http://proxy:3128/path", "http://pro xy:1"])
def test_malformed_proxies_name_their_source_and_never_quote_the_value(value):
    with pytest.raises(ProxyConfigError, match="the environment variable HTTPS_PROXY") as caught:
        select(HTTPS, environ={"HTTPS_PROXY": value.replace("proxy", "us:SECRET@proxy", 1)})
    assert "SECRET" not in str(caught.value)


def test_other_schemes_never_use_a_proxy():
    env = {"all_proxy": "socks5://bad"}
    for url in ("git://git.example.com/x.git", "ssh://git@git.example.com/x.git", "/srv/x.git"):
        assert select(url, environ=env) is None
