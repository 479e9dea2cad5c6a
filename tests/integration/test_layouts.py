"""The oracle over several repository layouts: the plugin equals ansible-inventory on a plain clone."""

from __future__ import annotations

import json

import pytest

from conftest import oracle, plain_audit, strip_audit, write_source

YAML_INV = """\
all:
  children:
    web:
      hosts:
        web1: {http_port: 80}
        web2:
      vars:
        tier: front
    db:
      hosts:
        db1:
"""
JSON_INV = json.dumps({"app": {"hosts": {"app1": {"x": 1}, "app2": None}, "vars": {"tier": "app"}}})
TOML_INV = """\
[cache.hosts]
cache1 = { port = 6379 }
cache2 = {}

[cache.vars]
tier = "cache"
"""
INI_INV = """\
[lb]
lb1 weight=3
lb2

[lb:vars]
tier=edge

[front:children]
lb
"""

LAYOUTS = {
    # name: (files, path)
    "ini-file": ({"inv/hosts.ini": INI_INV, "inv/group_vars/lb.yml": "ntp: pool\n",
                  "inv/host_vars/lb1.yml": "weight: 5\n"}, "inv/hosts.ini"),
    "yaml-file-root-vars": ({"hosts.yml": YAML_INV, "group_vars/all.yml": "dns: 1.1.1.1\n",
                             "group_vars/web/main.yml": "tier: web-dir\n", "group_vars/web/extra.yaml": "cdn: true\n",
                             "host_vars/db1/vars.yml": "role: primary\n"}, "hosts.yml"),
    "json-file": ({"envs/prod/hosts.json": JSON_INV, "envs/prod/group_vars/app.json": '{"replicas": 3}'},
                  "envs/prod/hosts.json"),
    "toml-file": ({"hosts.toml": TOML_INV, "group_vars/cache.yml": "maxmem: 1g\n"}, "hosts.toml"),
    "directory-mixed": ({"inventories/prod/01-web.yml": YAML_INV, "inventories/prod/02-app.json": JSON_INV,
                         "inventories/prod/lb": INI_INV, "inventories/prod/sub/cache.toml": TOML_INV,
                         "inventories/prod/README.md": "# not an inventory\n",
                         "inventories/prod/old.retry": "web1\n",
                         "inventories/prod/group_vars/all.yml": "env: prod\n",
                         "inventories/prod/group_vars/web.yml": "tier: override\n",
                         "inventories/prod/host_vars/app1.yml": "x: 2\n",
                         "inventories/staging/hosts.yml": "all:\n  hosts:\n    stage1:\n"}, "inventories/prod"),
    "repo-root": ({"hosts.yml": YAML_INV, "group_vars/web.yml": "tier: root\n", "docs/notes.md": "x\n"}, ""),
    "precedence": ({"inv/hosts": "[web]\nweb1 color=red\n[web:vars]\nsize=s\n[all:vars]\nsize=m\n",
                    "inv/group_vars/all.yml": "size: l\ncolor: blue\n",
                    "inv/host_vars/web1.yml": "color: green\n"}, "inv"),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_layout_equals_the_oracle(layout, ansible, upstream, git_daemon, tmp_path):
    files, path = LAYOUTS[layout]
    commit = upstream.commit(files)
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path=path)
    got = ansible.list(source)
    assert strip_audit(got) == oracle(ansible, upstream, commit, path, tmp_path)
    hostvars = got["_meta"]["hostvars"]
    assert hostvars, "the layout must produce hosts"
    assert all(v["git_inventory_commit"] == commit for v in hostvars.values())


def test_playbook_runs_on_hosts_from_git(ansible, upstream, http_server, tmp_path):
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    node1:\n    node2:\n  vars:\n    ansible_connection: local\n",
                     "group_vars/all.yml": "greeting: hello from git\n"})
    source = write_source(tmp_path, url=http_server.url("inventory"))
    playbook = tmp_path / "site.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.copy:\n        dest: \"{{ out }}/{{ inventory_hostname }}\"\n"
        "        content: \"{{ greeting }} {{ git_inventory_commit }}\"\n"
    )
    proc = ansible.playbook("-i", source, str(playbook), "-e", f"out={tmp_path}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    commit = upstream.head()
    for node in ("node1", "node2"):
        assert (tmp_path / node).read_text() == f"hello from git {commit}"


def test_ansible_cfg_inventory_and_enable_plugins(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"hosts.yml": "all:\n  hosts:\n    cfg1:\n"})
    write_source(tmp_path, name="inventory.git.yml", url=git_daemon.url("inventory"))
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\ninventory = inventory.git.yml\n\n[inventory]\nenable_plugins = vcs.inventory.git, host_list, yaml, ini\n"
    )
    proc = ansible.inventory("--list", cwd=str(tmp_path), env={"ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg")})
    assert proc.returncode == 0, proc.stderr
    assert "cfg1" in plain_audit(json.loads(proc.stdout))["_meta"]["hostvars"]


def test_hosts_an_earlier_source_defined_get_the_audit_vars_too(ansible, upstream, git_daemon, tmp_path):
    commit = upstream.commit({"hosts.yml": "all:\n  hosts:\n    shared:\n    repo_only:\n"})
    local = tmp_path / "local.yml"
    local.write_text("all:\n  hosts:\n    shared:\n      from_local: 1\n    local_only:\n")
    source = write_source(tmp_path, url=git_daemon.url("inventory"))
    for _run in ("fresh parse", "stored parse"):
        hostvars = ansible.list(str(local), "-i", source)["_meta"]["hostvars"]
        assert hostvars["shared"]["git_inventory_commit"] == commit
        assert hostvars["shared"]["from_local"] == 1
        assert hostvars["repo_only"]["git_inventory_commit"] == commit
        assert "git_inventory_commit" not in hostvars.get("local_only", {})
