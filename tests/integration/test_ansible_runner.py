"""ansible-runner, as AWX and other automation controllers call it: a private data dir whose inventory/
holds a .git.yml source, and a playbook that asserts on variables that come from the repository.

ansible-runner is installed in the hygiene venv only; `make hygiene` runs this file from there.
"""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from conftest import BIN, write_source

__metaclass__ = type

PLAYBOOK = """\
- name: Use the inventory from Git
  hosts: web
  gather_facts: false
  tasks:
    - name: The vars of the repository and the commit it was read at
      ansible.builtin.assert:
        that:
          - http_port == 8080
          - env_name == 'prod'
          - git_inventory_commit == expected_commit
          - git_inventory_stale is false
        quiet: true

    - name: Report the commit
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} {{ git_inventory_commit }}"
"""


def runner(private_data_dir, ansible, ident: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [os.path.join(BIN, "ansible-runner"), "run", str(private_data_dir), "-p", "site.yml", "--ident", ident],
        env=ansible.env(), capture_output=True, text=True, timeout=300, check=False,
    )


def events(private_data_dir, ident: str) -> list[dict]:
    folder = os.path.join(str(private_data_dir), "artifacts", ident, "job_events")
    result = []
    for name in sorted(os.listdir(folder), key=lambda n: int(n.split("-", 1)[0])):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            result.append(json.load(handle))
    return result


def artifact(private_data_dir, ident: str, name: str) -> str:
    with open(os.path.join(str(private_data_dir), "artifacts", ident, name), encoding="utf-8") as handle:
        return handle.read()


def make_private_data_dir(tmp_path, url: str, commit: str):
    pdd = tmp_path / "runner"
    (pdd / "project").mkdir(parents=True)
    (pdd / "inventory").mkdir()
    (pdd / "env").mkdir()
    (pdd / "project" / "site.yml").write_text(PLAYBOOK)
    write_source(pdd / "inventory", "prod.git.yml", url=url, path="inventories/prod")
    (pdd / "env" / "extravars").write_text(yaml.safe_dump({"expected_commit": commit}))
    return pdd


def test_runner_run_reads_hosts_and_vars_from_git(ansible, upstream, git_daemon, tmp_path):
    commit = upstream.commit({
        "inventories/prod/hosts.ini": "[web]\nweb1\nweb2\n\n[web:vars]\nansible_connection=local\n",
        "inventories/prod/group_vars/all.yml": "env_name: prod\n",
        "inventories/prod/group_vars/web.yml": "http_port: 8080\n",
    })
    pdd = make_private_data_dir(tmp_path, git_daemon.url("inventory"), commit)

    proc = runner(pdd, ansible, "first")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert artifact(pdd, "first", "status") == "successful"
    assert artifact(pdd, "first", "rc") == "0"
    ok = [e for e in events(pdd, "first") if e["event"] == "runner_on_ok" and e["event_data"]["task"] == "Report the commit"]
    assert sorted(e["event_data"]["host"] for e in ok) == ["web1", "web2"]
    assert {e["event_data"]["res"]["msg"] for e in ok} == {f"web1 {commit}", f"web2 {commit}"}


def test_runner_rerun_follows_a_new_commit_and_fails_on_a_wrong_one(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"inventories/prod/hosts.ini": "[web]\nweb1 ansible_connection=local http_port=8080 env_name=prod\n"})
    first = upstream.head()
    pdd = make_private_data_dir(tmp_path, git_daemon.url("inventory"), first)
    assert runner(pdd, ansible, "one").returncode == 0
    assert artifact(pdd, "one", "status") == "successful"

    # The next job after a push: the same cache, the new commit; the playbook still expects the old one.
    upstream.commit({"inventories/prod/hosts.ini": "[web]\nweb1 ansible_connection=local http_port=8081 env_name=prod\n"})
    proc = runner(pdd, ansible, "two")
    assert proc.returncode != 0
    assert artifact(pdd, "two", "status") == "failed"
    failed = [e for e in events(pdd, "two") if e["event"] == "runner_on_failed"]
    assert [e["event_data"]["host"] for e in failed] == ["web1"]
    assert "http_port == 8080" in json.dumps(failed[0]["event_data"]["res"])
