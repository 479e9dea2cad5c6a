"""The AWX credential types of docs/recipes.md, word for word: their injectors are rendered the way AWX
renders them (Jinja, files written for the job, env vars pointing at them) and the plugin must read the
repository with nothing else set: an SSH deploy key against sshd, and an HTTPS token with a private CA
through an authenticating proxy."""

from __future__ import annotations

import json
import os
import re
from urllib.parse import quote

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from conftest import ROOT, write_source
from helpers.forward_proxy import ForwardProxy
from helpers.servers import HttpGitServer
from helpers.sshd import Sshd, make_key
from helpers.tls import make_tls_files

HOSTS = "all:\n  hosts:\n    web1:\n"


def credential_types() -> list[tuple[dict, dict]]:
    """(inputs, injectors) of every credential type in the recipes, in order."""
    with open(os.path.join(ROOT, "docs", "recipes.md"), encoding="utf-8") as handle:
        blocks = re.findall(r"```yaml\n(.*?)```", handle.read(), re.S)
    types, inputs = [], None
    for block in blocks:
        if block.startswith("# Input configuration"):
            inputs = yaml.safe_load(block)
        elif block.startswith("# Injector configuration"):
            types.append((inputs, yaml.safe_load(block)))
    return types


def find_type(field: str) -> tuple[dict, dict]:
    return next(t for t in credential_types() if any(f["id"] == field for f in t[0]["fields"]))


def inject(credential: tuple[dict, dict], values: dict, directory: str) -> dict:
    """What AWX does with a credential of this type: required fields checked, files written, env rendered."""
    inputs, injectors = credential
    missing = [name for name in inputs.get("required", []) if not values.get(name)]
    assert not missing, f"required fields without a value: {missing}"
    values = {f["id"]: values.get(f["id"], "") for f in inputs["fields"]}
    jinja = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    filenames: dict | str = {}
    for key, template in (injectors.get("file") or {}).items():
        path = os.path.join(directory, f"awx_{key.replace('.', '_')}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(jinja.from_string(template).render(**values))
        if key == "template":
            filenames = path
        else:
            filenames[key.split(".", 1)[1]] = path
    return {name: jinja.from_string(template).render(tower={"filename": filenames}, **values)
            for name, template in injectors["env"].items()}


def hostnames(proc) -> set:
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout)["_meta"]["hostvars"])


def test_the_ssh_deploy_key_type(ansible, upstream, tmp_path):
    upstream.commit({"hosts.yml": HOSTS})
    (tmp_path / "ssh").mkdir()
    key = str(tmp_path / "ssh" / "deploy_key")
    server = Sshd(str(tmp_path / "ssh" / "sshd"), [make_key(key)])
    try:
        with open(key, encoding="ascii") as handle:
            pasted = handle.read().rstrip("\n")  # as pasted into the AWX form, without the final newline
        jobdir = tmp_path / "job"
        jobdir.mkdir()
        env = inject(find_type("ssh_key"), {"ssh_key": pasted, "known_hosts": server.known_hosts_line()}, str(jobdir))
        proc = ansible.inventory("-i", write_source(tmp_path, url=server.url(upstream.bare)), "--list", env=env)
        assert hostnames(proc) == {"web1"}
        assert f"Accepted publickey for {server.user}" in server.read_log()
    finally:
        server.stop()


def test_the_https_token_type_with_the_ca_type_through_a_proxy(ansible, upstream, tmp_path):
    upstream.commit({"hosts.yml": HOSTS})
    tls = make_tls_files(str(tmp_path / "tls"))
    server = HttpGitServer(upstream.root, auth="deploy:t0ken", tls=(tls.server_cert, tls.server_key))
    proxy = ForwardProxy(auth="px:px-pass")
    try:
        jobdir = tmp_path / "job"
        jobdir.mkdir()
        with open(tls.ca_cert, encoding="ascii") as handle:
            ca_cert = handle.read()
        env = inject(find_type("token"), {"username": "deploy", "token": "t0ken",
                                          "proxy": proxy.url(f"px:{quote('px-pass')}")}, str(jobdir))
        env.update(inject(find_type("ca_cert"), {"ca_cert": ca_cert}, str(jobdir)))
        proc = ansible.inventory("-i", write_source(tmp_path, url=server.url("inventory")), "--list", env=env)
        assert hostnames(proc) == {"web1"}
        assert len(proxy.passed("CONNECT")) >= 1 and proxy.refused() == 0
        # The proxy field is optional: left empty, it is unset and the connection is direct.
        env = inject(find_type("token"), {"username": "deploy", "token": "t0ken"}, str(tmp_path))
        env.update(inject(find_type("ca_cert"), {"ca_cert": ca_cert}, str(tmp_path)))
        before = len(proxy.requests)
        assert hostnames(ansible.inventory("-i", write_source(tmp_path, url=server.url("inventory")), "--list",
                                           env=env)) == {"web1"}
        assert len(proxy.requests) == before
    finally:
        proxy.stop()
        server.stop()


def test_the_token_type_requires_a_user_name():
    inputs, _injectors = find_type("token")
    assert "username" in inputs["required"]
    with pytest.raises(AssertionError, match="username"):
        inject(find_type("token"), {"token": "t0ken"}, "/nonexistent")
