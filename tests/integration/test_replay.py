"""The replay recipe of docs/replay.md: record git_inventory_commit, push a new commit, rerun with
-e inventory_commit=<recorded> and get the old hosts, on this controller and on a fresh one."""

from __future__ import annotations

import re

from conftest import write_source

PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: "RAN {{ inventory_hostname }} AT {{ git_inventory_commit }}"
"""


def _ran(proc) -> dict:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(re.findall(r'"msg": "RAN (\S+) AT ([0-9a-f]{40})"', proc.stdout))


def test_a_rerun_with_the_recorded_commit_gets_the_old_hosts(ansible, upstream, http_server, tmp_path):
    first = upstream.commit({"hosts": "[web]\nweb1\nweb2\n"})
    source = write_source(tmp_path, url=http_server.url("inventory"),
                          version="{{ inventory_commit | default('main') }}")
    play = tmp_path / "site.yml"
    play.write_text(PLAY)

    job = _ran(ansible.playbook("-i", source, play))
    assert job == {"web1": first, "web2": first}
    recorded = job["web1"]

    second = upstream.commit({"hosts": "[web]\nweb3\n"})
    assert _ran(ansible.playbook("-i", source, play)) == {"web3": second}  # a plain rerun takes the newest

    replay = ["-e", f"inventory_commit={recorded}"]
    assert _ran(ansible.playbook("-i", source, play, *replay)) == job
    # Another controller (an empty cache) replays the same job: the commit is no branch tip any more.
    fresh = {"ANSIBLE_VCS_INVENTORY_CACHE_DIR": str(tmp_path / "other-controller")}
    assert _ran(ansible.playbook("-i", source, play, *replay, env=fresh)) == job
    # An abbreviated id, as people copy it from a log, names the same commit.
    assert _ran(ansible.playbook("-i", source, play, "-e", f"inventory_commit={recorded[:12]}")) == job
