"""HTTP(S) proxies: a real forward proxy in front of `git http-backend` (HTTP, and HTTPS with a private CA).

Every test counts the requests that went through the proxy: a proxy that is meant to be used must
see the fetch, one that is not must see nothing.
"""

from __future__ import annotations

import base64
import json
import os
from urllib.parse import quote

import pytest

from conftest import said, write_source
from helpers.forward_proxy import ForwardProxy
from helpers.leaks import leaks
from helpers.servers import HttpGitServer, free_port
from helpers.tls import make_tls_files

HOSTS = "all:\n  hosts:\n    web1:\n    web2:\n"
PROXY_USER = "proxyuser"
PROXY_PASSWORD = "pr0xy/p@ss:w%rd"  # characters that need quoting in a URL
VARIABLES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
             "NO_PROXY", "ANSIBLE_VCS_INVENTORY_PROXY")
# Both plugins enabled, as the README's ansible.cfg has them: a failed source is tried again through auto.
BOTH = {"ANSIBLE_INVENTORY_ENABLED": "vcs.inventory.git,auto,yaml,ini"}


def proxy_env(**values) -> dict:
    """An environment with no proxy setting from the machine, plus values."""
    env = {name: "" for name in VARIABLES}
    env.update(values)
    return env


def hosts_of(proc) -> set:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return set(json.loads(proc.stdout)["_meta"]["hostvars"])


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_files(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture(params=["http", "https"])
def git_server(request, upstream, tls_files):
    upstream.commit({"hosts.yml": HOSTS})
    tls = (tls_files.server_cert, tls_files.server_key) if request.param == "https" else None
    server = HttpGitServer(upstream.root, tls=tls)
    server.tls_options = {"ca_path": tls_files.ca_cert} if tls else {}
    yield server
    server.stop()


@pytest.fixture
def proxy():
    server = ForwardProxy()
    yield server
    server.stop()


@pytest.fixture
def auth_proxy():
    server = ForwardProxy(auth=f"{PROXY_USER}:{PROXY_PASSWORD}")
    yield server
    server.stop()


def through(proxy: ForwardProxy, scheme: str) -> int:
    """How many requests of the fetch went through the proxy: tunnels for https, requests for http."""
    return len(proxy.passed("CONNECT")) if scheme == "https" else len(proxy.passed()) - len(proxy.passed("CONNECT"))


def source(tmp_path, server, **options) -> str:
    return write_source(tmp_path, url=server.url("inventory"), **server.tls_options, **options)


def test_the_scheme_s_own_variable_is_used(ansible, git_server, proxy, tmp_path):
    name = f"{git_server.scheme}_proxy"
    proc = ansible.inventory("-i", source(tmp_path, git_server), "--list", env=proxy_env(**{name: proxy.url()}))
    assert hosts_of(proc) == {"web1", "web2"}
    assert through(proxy, git_server.scheme) >= 1
    if git_server.scheme == "http":
        assert all(target.startswith(f"http://127.0.0.1:{git_server.port}/") for _m, target in proxy.passed())


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "all_proxy", "ALL_PROXY"])
def test_https_urls_also_use_the_uppercase_and_all_variables(ansible, tls_files, upstream, proxy, tmp_path, name):
    upstream.commit({"hosts.yml": HOSTS})
    server = HttpGitServer(upstream.root, tls=(tls_files.server_cert, tls_files.server_key))
    try:
        proc = ansible.inventory("-i", write_source(tmp_path, url=server.url("inventory"), ca_path=tls_files.ca_cert),
                                 "--list", env=proxy_env(**{name: proxy.url()}))
    finally:
        server.stop()
    assert hosts_of(proc) == {"web1", "web2"}
    assert len(proxy.passed("CONNECT")) >= 1
    assert all(target == f"127.0.0.1:{server.port}" for _m, target in proxy.passed())


def test_uppercase_http_proxy_outside_cgi_only(ansible, http_server, upstream, proxy, tmp_path):
    upstream.commit({"hosts.yml": HOSTS})
    path = write_source(tmp_path, url=http_server.url("inventory"))
    assert hosts_of(ansible.inventory("-i", path, "--list", env=proxy_env(HTTP_PROXY=proxy.url()))) == {"web1", "web2"}
    used = len(proxy.passed())
    assert used >= 1
    cgi = proxy_env(HTTP_PROXY=proxy.url(), REQUEST_METHOD="GET")
    assert hosts_of(ansible.inventory("-i", path, "--list", env=cgi)) == {"web1", "web2"}
    assert len(proxy.passed()) == used  # in a CGI program HTTP_PROXY may come from a request header


def test_a_variable_for_the_other_scheme_is_not_used(ansible, git_server, proxy, tmp_path):
    other = "http_proxy" if git_server.scheme == "https" else "https_proxy"
    proc = ansible.inventory("-i", source(tmp_path, git_server), "--list", env=proxy_env(**{other: proxy.url()}))
    assert hosts_of(proc) == {"web1", "web2"}
    assert proxy.requests == []


@pytest.mark.parametrize("no_proxy", [("no_proxy", "127.0.0.1"), ("NO_PROXY", "127.0.0.0/8"), ("no_proxy", "*"),
                                      ("no_proxy", "example.org, 127.0.0.1:{port}")])
def test_no_proxy_bypasses_the_proxy(ansible, git_server, proxy, tmp_path, no_proxy):
    name, value = no_proxy
    env = proxy_env(**{f"{git_server.scheme}_proxy": proxy.url(), name: value.format(port=git_server.port),
                       "ANSIBLE_VCS_INVENTORY_PROXY": proxy.url()})
    assert hosts_of(ansible.inventory("-i", source(tmp_path, git_server), "--list", env=env)) == {"web1", "web2"}
    assert proxy.requests == []


def test_no_proxy_for_another_host_keeps_the_proxy(ansible, git_server, proxy, tmp_path):
    env = proxy_env(**{f"{git_server.scheme}_proxy": proxy.url(), "no_proxy": "git.example.org,10.0.0.0/8"})
    assert hosts_of(ansible.inventory("-i", source(tmp_path, git_server), "--list", env=env)) == {"web1", "web2"}
    assert through(proxy, git_server.scheme) >= 1


@pytest.mark.parametrize("where", ["option", "env"])
def test_the_proxy_option_wins_over_the_environment(ansible, git_server, auth_proxy, tmp_path, where):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: using it would fail the run
    value = auth_proxy.url(f"{PROXY_USER}:{quote(PROXY_PASSWORD, safe='')}")
    env = proxy_env(https_proxy=dead, http_proxy=dead, all_proxy=dead)
    options = {}
    if where == "option":
        options["proxy"] = value
    else:
        env["ANSIBLE_VCS_INVENTORY_PROXY"] = value
    proc = ansible.inventory("-i", source(tmp_path, git_server, **options), "--list", env=env)
    assert hosts_of(proc) == {"web1", "web2"}
    assert through(auth_proxy, git_server.scheme) >= 1 and auth_proxy.refused() == 0


def test_proxy_with_validate_certs_false(ansible, tls_files, upstream, proxy, tmp_path):
    upstream.commit({"hosts.yml": HOSTS})
    server = HttpGitServer(upstream.root, tls=(tls_files.server_cert, tls_files.server_key))
    try:
        path = write_source(tmp_path, url=server.url("inventory"), validate_certs=False, proxy=proxy.url())
        proc = ansible.inventory("-i", path, "--list", env=proxy_env())
        assert hosts_of(proc) == {"web1", "web2"}
        assert len(proxy.passed("CONNECT")) >= 1
        # Without ca_path and with verification on, the server's certificate is checked through the tunnel.
        strict = write_source(tmp_path, name="strict.git.yml", url=server.url("inventory"), proxy=proxy.url())
        proc = ansible.inventory("-i", strict, "--list", env=proxy_env())
    finally:
        server.stop()
    assert proc.returncode != 0 and said("CERTIFICATE_VERIFY_FAILED", proc.stderr)


@pytest.mark.parametrize("where", ["option", "HTTPS_PROXY"])
def test_a_wrong_proxy_password_names_the_proxy_once(ansible, git_server, auth_proxy, tmp_path, where):
    value = auth_proxy.url(f"{PROXY_USER}:wrong-{quote(PROXY_PASSWORD, safe='')}")
    env = dict(proxy_env(), **BOTH)
    options = {}
    if where == "option":
        options["proxy"] = value
        origin = "the option 'proxy'"
    else:
        env.update(HTTPS_PROXY=value, http_proxy=value)
        origin = "the environment variable " + ("HTTPS_PROXY" if git_server.scheme == "https" else "http_proxy")
    proc = ansible.inventory("-i", source(tmp_path, git_server, **options), "--list", "-vvvv", env=env)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert said(f"the proxy {auth_proxy.url()} (with a user name and password) from {origin} rejected its user "
                f"name and password (407 Proxy Authentication Required): correct them in {origin}", output)
    assert not said("authentication failed", output)
    assert not said("damaged", output)
    # One attempt for the run, although auto tries the source again, and no retry of a refused tunnel.
    assert auth_proxy.refused() == 1 and auth_proxy.passed() == []
    assert not said("wrong-", output) and not said(quote(PROXY_PASSWORD, safe=""), output)


def test_a_proxy_without_credentials_where_one_is_needed(ansible, git_server, auth_proxy, tmp_path):
    proc = ansible.inventory("-i", source(tmp_path, git_server, proxy=auth_proxy.url()), "--list", env=proxy_env())
    assert proc.returncode != 0
    assert said(f"the proxy {auth_proxy.url()} from the option 'proxy' requires authentication (407 Proxy "
                "Authentication Required): add the proxy's user name and password to the option 'proxy', as user:password@ "
                "before the host", proc.stderr)


def test_an_empty_all_proxy_is_unset(ansible, git_server, tmp_path):
    path = source(tmp_path, git_server)
    env = proxy_env(all_proxy="", ALL_PROXY="")
    env.pop("https_proxy")
    env.pop("http_proxy")
    for _run in (1, 2):
        proc = ansible.inventory("-i", path, "--list", env=env)
        assert hosts_of(proc) == {"web1", "web2"}
        assert not said("damaged", proc.stderr) and not said("WARNING", proc.stderr), proc.stderr


@pytest.mark.parametrize("value", ["socks5://127.0.0.1:1080", "http://127.0.0.1:99999", "http://proxy.corp:3128/x"])
def test_a_malformed_proxy_is_a_configuration_error(ansible, git_server, tmp_path, value):
    env = proxy_env(ANSIBLE_VCS_INVENTORY_PROXY=value)
    proc = ansible.inventory("-i", source(tmp_path, git_server), "--list", env=env)
    assert proc.returncode != 0
    assert said("the proxy from the environment variable ANSIBLE_VCS_INVENTORY_PROXY", proc.stderr)
    assert not os.path.exists(ansible.cache_dir)  # refused before the cache or the network is touched


def test_a_proxy_that_goes_down_is_no_cache_damage(ansible, git_server, proxy, tmp_path):
    path = source(tmp_path, git_server, proxy=proxy.url(), on_sync_failure="use_cache")
    assert hosts_of(ansible.inventory("-i", path, "--list", env=proxy_env())) == {"web1", "web2"}
    entries = [e for e in os.listdir(ansible.cache_dir) if os.path.isdir(os.path.join(ansible.cache_dir, e))]
    before = {e: sorted(os.listdir(os.path.join(ansible.cache_dir, e, "trees"))) for e in entries}
    proxy.stop()
    proc = ansible.inventory("-i", path, "--list", env=proxy_env())
    assert hosts_of(proc) == {"web1", "web2"}
    assert said(f"because the sync failed: cannot go through the proxy {proxy.url()} from the option 'proxy'",
                proc.stderr)
    assert not said("damaged", proc.stderr) and not said("wiping", proc.stderr)
    assert {e: sorted(os.listdir(os.path.join(ansible.cache_dir, e, "trees"))) for e in entries} == before


@pytest.mark.parametrize("where", ["env", "option"])
def test_proxy_credentials_never_show_up(ansible, git_server, auth_proxy, tmp_path, where):
    value = auth_proxy.url(f"{PROXY_USER}:{quote(PROXY_PASSWORD, safe='')}")
    header = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    needles = [PROXY_PASSWORD, quote(PROXY_PASSWORD, safe=""), header, "pr0xy"]
    env = dict(proxy_env(), ANSIBLE_DISPLAY_TRACEBACK="always", **BOTH)

    def configured(proxy_value: str) -> tuple[str, dict]:
        if where == "env":
            return source(tmp_path, git_server, on_sync_failure="use_cache"), dict(
                env, ANSIBLE_VCS_INVENTORY_PROXY=proxy_value)
        return source(tmp_path, git_server, on_sync_failure="use_cache", proxy=proxy_value), env

    outputs = []
    path, run_env = configured(value)
    for args in (["--list"], ["--graph"], ["--host", "web1"]):
        proc = ansible.inventory("-i", path, *args, "-vvvv", env=run_env)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout + proc.stderr)
    assert auth_proxy.proxy_authorizations and set(auth_proxy.proxy_authorizations) == {"Basic " + header}
    path, wrong_env = configured(value.replace("pr0xy", "pr0xy-wrong"))
    proc = ansible.inventory("-i", path, "--list", "-vvvv", env=wrong_env)  # the stale fallback
    assert said("rejected its user name and password", proc.stderr)
    outputs.append(proc.stdout + proc.stderr)
    auth_proxy.stop()
    path, run_env = configured(value)
    proc = ansible.inventory("-i", path, "--list", "-vvvv", env=run_env)  # proxy down
    assert said("cannot go through the proxy", proc.stderr)
    outputs.append(proc.stdout + proc.stderr)
    assert not leaks({f"run {i}": text for i, text in enumerate(outputs)}, [ansible.cache_dir, ansible.home], needles)


def test_the_proxy_from_ansible_cfg(ansible, git_server, auth_proxy, tmp_path):
    config = tmp_path / "ansible.cfg"
    good = auth_proxy.url(f"{PROXY_USER}:{quote(PROXY_PASSWORD, safe='')}")  # ansible.cfg has no % interpolation
    config.write_text(f"[vcs_inventory]\nproxy = {good}\n")
    env = proxy_env(ANSIBLE_CONFIG=str(config))
    env.pop("ANSIBLE_VCS_INVENTORY_PROXY")
    assert hosts_of(ansible.inventory("-i", source(tmp_path, git_server), "--list", env=env)) == {"web1", "web2"}
    assert through(auth_proxy, git_server.scheme) >= 1 and auth_proxy.refused() == 0
    config.write_text(f"[vcs_inventory]\nproxy = {good.replace('pr0xy', 'b4dpass')}\n")
    proc = ansible.inventory("-i", source(tmp_path, git_server), "--list", env=env)
    assert proc.returncode != 0
    assert said(f"from [vcs_inventory] proxy in {config} rejected its user name and password", proc.stderr)
    assert not said("b4dpass", proc.stderr)
