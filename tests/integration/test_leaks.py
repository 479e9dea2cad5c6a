"""A token never shows up: not in output at -vvvv (success, fallback or failure), not in tracebacks,
not in --list, not in any file of the cache or of Ansible's home."""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import quote

import pytest

from conftest import plain_audit, said, write_source
from helpers.leaks import leaks
from helpers.servers import HttpGitServer
from helpers.tls import make_tls_files

USER = "deploy"
VERBOSE = {"ANSIBLE_DISPLAY_TRACEBACK": "always"}


def make_token() -> tuple[str, str]:
    """(token, its random core). The core alone is what is searched for, so a partial leak counts too;
    the rest holds characters that need quoting in a URL."""
    core = secrets.token_hex(16)
    return f"tok/{core}:@%+", core


def needles(token: str, core: str) -> list[str]:
    return [core, token, quote(token, safe=""), base64.b64encode(f"{USER}:{token}".encode()).decode()]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_files(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture(params=["http", "https"])
def server(request, upstream, tmp_path, tls_files):
    token, core = make_token()
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    web1:\n    web2:\n"})
    tls = (tls_files.server_cert, tls_files.server_key) if request.param == "https" else None
    srv = HttpGitServer(upstream.root, auth=f"{USER}:{token}", tls=tls)
    srv.token, srv.core = token, core
    srv.tls_options = {"ca_path": tls_files.ca_cert} if tls else {}
    yield srv
    srv.stop()


def configure(tmp_path, srv, where: str, token: str, **extra) -> tuple[str, dict]:
    """A source file and env carrying token the way `where` says."""
    env = dict(VERBOSE)
    options = {**srv.tls_options, **extra}
    if where == "url":
        options["url"] = srv.url("inventory", userinfo=f"{USER}:{quote(token, safe='')}")
    elif where == "password":
        options.update(url=srv.url("inventory"), username=USER, password=token)
    else:
        options["url"] = srv.url("inventory")
        env.update(ANSIBLE_VCS_INVENTORY_USERNAME=USER, ANSIBLE_VCS_INVENTORY_PASSWORD=token)
    # The url goes first: a parser that echoes the first line it cannot read must not see a token after it.
    ordered = {"url": options.pop("url"), **options}
    return write_source(tmp_path, **ordered), env


@pytest.mark.parametrize("where", ["url", "password", "env"])
def test_token_never_leaks(ansible, server, tmp_path, where):
    wrong, wrong_core = make_token()
    search = needles(server.token, server.core) + needles(wrong, wrong_core)
    places = [ansible.cache_dir, ansible.home]
    safe_url = server.url("inventory")

    source, env = configure(tmp_path, server, where, server.token, on_sync_failure="use_cache")
    output = tmp_path / "list.json"
    ok = ansible.inventory("-i", source, "--list", "-vvvv", "--output", output, env=env)
    assert ok.returncode == 0, ok.stderr
    listing = plain_audit(json.loads(output.read_text()))
    assert {v["git_inventory_url"] for v in listing["_meta"]["hostvars"].values()} == {safe_url}
    assert leaks({"stdout": ok.stdout, "stderr": ok.stderr, "--list": output.read_text()}, places, search) == []

    # A wrong token while a good checkout is cached: the fallback warning names the cause, not the token.
    source, env = configure(tmp_path, server, where, wrong, on_sync_failure="use_cache")
    stale = ansible.inventory("-i", source, "--list", "-vvvv", "--output", output, env=env)
    assert stale.returncode == 0, stale.stderr
    assert said(f"authentication failed for {safe_url}", stale.stderr)
    assert plain_audit(json.loads(output.read_text()))["_meta"]["hostvars"]["web1"]["git_inventory_stale"] is True
    assert leaks({"stdout": stale.stdout, "stderr": stale.stderr, "--list": output.read_text()}, places, search) == []

    # A wrong token and no fallback: the error, at full verbosity with tracebacks.
    source, env = configure(tmp_path, server, where, wrong)
    failed = ansible.inventory("-i", source, "--list", "-vvvv", env=env)
    assert failed.returncode != 0
    assert said(f"authentication failed for {safe_url}", failed.stderr)
    assert leaks({"stdout": failed.stdout, "stderr": failed.stderr}, places, search) == []


def test_token_in_url_never_reaches_a_playbook_run(ansible, server, tmp_path):
    source, env = configure(tmp_path, server, "url", server.token)
    playbook = tmp_path / "show.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n        var: hostvars['web1']\n"
        "    - ansible.builtin.debug:\n        msg: \"{{ groups['all'] | map('extract', hostvars, 'git_inventory_url') }}\"\n"
    )
    proc = ansible.playbook("-i", source, str(playbook), "-vvvv", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert server.url("inventory") in proc.stdout
    search = needles(server.token, server.core)
    assert leaks({"stdout": proc.stdout, "stderr": proc.stderr}, [ansible.cache_dir, ansible.home], search) == []


def test_a_template_error_in_the_url_does_not_quote_its_token(ansible, tmp_path):
    token, core = make_token()
    url = f"https://{USER}:{quote(token, safe='')}@127.0.0.1:1/{{{{ undefined_repo_name }}}}.git"
    source = write_source(tmp_path, url=url)
    proc = ansible.inventory("-i", source, "--list", "-vvvv", env=VERBOSE)
    assert proc.returncode != 0
    assert said("cannot render the option 'url' ('https://127.0.0.1:1/{{ undefined_repo_name }}.git')", proc.stderr)
    assert leaks({"stdout": proc.stdout, "stderr": proc.stderr}, [ansible.home], needles(token, core)) == []
