"""max_host_loss, the -v change summary and git_inventory_previous_commit, over real pushes."""

from __future__ import annotations

import json

from conftest import plain_audit, said, write_source


def hosts_yaml(names, variables=None) -> str:
    lines = ["all:", "  hosts:"]
    for name in names:
        value = (variables or {}).get(name)
        lines.append(f"    {name}:" + (f" {{role: {value}}}" if value else ""))
    return "\n".join(lines) + "\n"


def audit(listing: dict, key: str) -> set:
    return {v[key] for v in plain_audit(listing)["_meta"]["hostvars"].values()}


def test_the_guard_refuses_serves_stale_accepts_once_and_then_holds_the_new_commit(ansible, upstream, git_daemon, tmp_path):
    names = [f"web{i:03d}" for i in range(100)]
    first = upstream.commit({"hosts.yml": hosts_yaml(names)})
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[vcs_inventory]\nmax_host_loss = 50\n")
    env = {"ANSIBLE_CONFIG": str(cfg)}
    url = git_daemon.url("inventory")
    source = write_source(tmp_path, url=url)
    stale_source = write_source(tmp_path, name="stale.git.yml", url=url, on_sync_failure="use_cache")

    assert len(ansible.list(source, env=env)["_meta"]["hostvars"]) == 100  # the first sync passes
    second = upstream.commit({"hosts.yml": hosts_yaml(names[60:])})  # 60 of 100 gone

    for _run in range(2):  # and again: the refused commit never became the last good one
        proc = ansible.inventory("-i", source, "--list", env=env)
        assert proc.returncode != 0
        out = proc.stdout + proc.stderr
        assert said(f"vcs.inventory.git: {second[:12]} would remove 60 of 100 hosts (60%), more than max_host_loss "
                    f"(50) allows; last good commit {first[:12]}", out), out
        assert said("removed: web000, web001, web002, web003, web004, web005, web006, web007, web008, web009 "
                    "and 50 more", out), out

    proc = ansible.inventory("-i", stale_source, "--list", env=env)
    assert proc.returncode == 0, proc.stderr
    listing = plain_audit(json.loads(proc.stdout))
    assert len(listing["_meta"]["hostvars"]) == 100
    assert audit(listing, "git_inventory_commit") == {first} and audit(listing, "git_inventory_stale") == {True}
    assert said(f"{second[:12]} would remove 60 of 100 hosts (60%)", proc.stderr), proc.stderr

    # The environment variable beats ansible.cfg for one run, since the source file does not set the option.
    accepted = ansible.list(source, env={**env, "ANSIBLE_VCS_INVENTORY_MAX_HOST_LOSS": "60"})
    assert len(accepted["_meta"]["hostvars"]) == 40 and audit(accepted, "git_inventory_commit") == {second}
    # The accepted commit is now the last good one: the limit of 50 passes from here on.
    listing = ansible.list(source, env=env)
    assert audit(listing, "git_inventory_commit") == {second}
    assert audit(listing, "git_inventory_previous_commit") == {first}


def test_a_loss_within_the_limit_passes(ansible, upstream, git_daemon, tmp_path):
    names = [f"db{i}" for i in range(10)]
    upstream.commit({"hosts.yml": hosts_yaml(names)})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), max_host_loss=50)
    ansible.list(source)
    upstream.commit({"hosts.yml": hosts_yaml(names[5:])})  # exactly 50%: allowed
    assert len(ansible.list(source)["_meta"]["hostvars"]) == 5
    proc = ansible.inventory("-i", write_source(tmp_path, url=git_daemon.url("inventory"), max_host_loss=101),
                             "--list")
    assert proc.returncode != 0
    assert said("the option 'max_host_loss' must be a whole percent from 0 to 100, got 101", proc.stderr)


def test_the_summary_line_and_the_previous_commit(ansible, upstream, git_daemon, tmp_path):
    names = [f"web{i}" for i in range(1, 7)] + ["db3"]
    first = upstream.commit({"hosts.yml": hosts_yaml(names)})
    source = write_source(tmp_path, url=git_daemon.url("inventory"))
    listing = ansible.list(source)
    assert audit(listing, "git_inventory_previous_commit") == {""}  # the first sync

    new_names = [n for n in names if n != "db3"] + ["web7", "web8", "web9"]
    changed = {f"web{i}": "frontend" for i in range(1, 6)}
    second = upstream.commit({"hosts.yml": hosts_yaml(new_names, changed)})
    proc = ansible.inventory("-i", source, "--list", "-v")
    assert proc.returncode == 0, proc.stderr
    line = (f"vcs.inventory.git: prod.git.yml: {first[:12]} -> {second[:12]}: 3 hosts added (web7, web8, web9), "
            "1 removed (db3), 5 with changed variables")
    assert line in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    listing = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert audit(listing, "git_inventory_previous_commit") == {first}

    # An unchanged commit: no summary, the same previous commit.
    proc = ansible.inventory("-i", source, "--list", "-v")
    assert "->" not in proc.stderr and f"{first[:12]} -> " not in proc.stdout
    assert audit(json.loads(proc.stdout[proc.stdout.index("{"):]), "git_inventory_previous_commit") == {first}

    # Without -v nothing is said; names are cut at 10.
    many = [f"new{i:02d}" for i in range(12)]
    third = upstream.commit({"hosts.yml": hosts_yaml(new_names + many)})
    proc = ansible.inventory("-i", source, "--list")
    assert "hosts added" not in proc.stdout + proc.stderr
    assert audit(plain_audit(json.loads(proc.stdout)), "git_inventory_previous_commit") == {second}
    fourth = upstream.commit({"hosts.yml": hosts_yaml(new_names)})
    proc = ansible.inventory("-i", source, "--list", "-v")
    assert (f"{third[:12]} -> {fourth[:12]}: 0 hosts added, 12 removed (new00, new01, new02, new03, new04, new05, "
            "new06, new07, new08, new09 and 2 more), 0 with changed variables") in proc.stdout + proc.stderr
