"""The core promise: a .git.yml source gives what ansible-inventory gives on a plain clone."""

from __future__ import annotations

import pytest

from conftest import oracle, strip_audit, write_source

INI = """\
[web]
web1 ansible_host=10.0.0.1
web2

[db]
db1 role=primary

[prod:children]
web
db

[prod:vars]
env=prod
"""


def test_first_run_and_rerun_equal_the_oracle(ansible, upstream, git_daemon, tmp_path):
    commit = upstream.commit({"inventories/prod/hosts": INI,
                              "inventories/prod/group_vars/web.yml": "http_port: 8080\n",
                              "inventories/prod/host_vars/db1.yml": "backup: true\n"})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inventories/prod")
    expected = oracle(ansible, upstream, commit, "inventories/prod", tmp_path)
    first = ansible.list(source)
    assert strip_audit(first) == expected
    assert first["_meta"]["hostvars"]["web1"]["git_inventory_commit"] == commit
    assert first["_meta"]["hostvars"]["web1"]["http_port"] == 8080
    second = ansible.list(source)
    assert second == first


def test_upstream_commit_is_picked_up(ansible, upstream, http_server, tmp_path):
    upstream.commit({"hosts": "[web]\nweb1\n"})
    source = write_source(tmp_path, url=http_server.url("inventory"))
    assert set(ansible.list(source)["_meta"]["hostvars"]) == {"web1"}
    commit = upstream.commit({"hosts": "[web]\nweb1\nweb2\n"})
    listing = ansible.list(source)
    assert set(listing["web"]["hosts"]) == {"web1", "web2"}
    assert listing["_meta"]["hostvars"]["web2"]["git_inventory_commit"] == commit


@pytest.mark.parametrize("form", ["file", "path"])
def test_file_url_and_plain_local_path(ansible, upstream, tmp_path, form):
    commit = upstream.commit({"hosts.yml": "all:\n  hosts:\n    local1:\n"})
    url = f"file://{upstream.bare}" if form == "file" else upstream.bare
    listing = ansible.list(write_source(tmp_path, url=url))
    assert listing["_meta"]["hostvars"]["local1"]["git_inventory_commit"] == commit
    assert listing["_meta"]["hostvars"]["local1"]["git_inventory_url"] == url
