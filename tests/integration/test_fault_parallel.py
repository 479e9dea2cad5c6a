"""Parallel runs on one cache: each succeeds and shows one whole commit, also while commits land."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import BIN, oracle, plain_audit, strip_audit, write_source
from helpers.faults import hostvars

PROCESSES = 10
MAX_COMMITS = 40


def revision(k: int) -> dict:
    """Commit k spreads its number over several files: a mixed tree would show two numbers."""
    files = {
        "hosts": f"[rev]\nr{k}-a\nr{k}-b\nr{k}-c\n",
        "group_vars/all.yml": f"rev: {k}\n",
        f"host_vars/r{k}-a.yml": f"host_rev: {k}\n",
    }
    if k > 1:
        files[f"host_vars/r{k - 1}-a.yml"] = None
    return files


def start(ansible, source: str, out_dir: str, name: str) -> tuple[subprocess.Popen, str, str]:
    out, err = os.path.join(out_dir, f"{name}.out"), os.path.join(out_dir, f"{name}.err")
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen([os.path.join(BIN, "ansible-inventory"), "-i", source, "--list"],
                                env=ansible.env(), stdout=stdout, stderr=stderr)
    return proc, out, err


def finish(run: tuple[subprocess.Popen, str, str]) -> dict:
    proc, out, err = run
    try:
        proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with open(err) as handle:
        stderr = handle.read()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "WARNING" not in stderr, stderr
    with open(out) as handle:
        return plain_audit(json.load(handle))


def whole_revision(listing: dict, revisions: dict) -> int:
    """The revision a listing shows, asserting that every part of it comes from that one commit."""
    hosts = hostvars(listing)
    commits = {v["git_inventory_commit"] for v in hosts.values()}
    assert len(commits) == 1, commits
    k = revisions[commits.pop()]
    assert set(hosts) == {f"r{k}-a", f"r{k}-b", f"r{k}-c"}, sorted(hosts)
    assert {v.get("rev") for v in hosts.values()} == {k}
    assert hosts[f"r{k}-a"].get("host_rev") == k
    assert not any("host_rev" in v for name, v in hosts.items() if name != f"r{k}-a")
    return k


def test_parallel_runs_on_a_cold_cache(ansible, upstream, git_daemon, tmp_path):
    commit = upstream.commit(revision(1))
    source = write_source(tmp_path, url=git_daemon.url("inventory"))
    runs = [start(ansible, source, str(tmp_path), f"run{i}") for i in range(PROCESSES)]
    listings = [finish(run) for run in runs]
    assert all(whole_revision(listing, {commit: 1}) == 1 for listing in listings)
    assert all(listing == listings[0] for listing in listings)
    assert strip_audit(listings[0]) == oracle(ansible, upstream, commit, "", tmp_path)


def test_parallel_runs_while_commits_are_pushed(ansible, upstream, git_daemon, tmp_path):
    source = write_source(tmp_path, url=git_daemon.url("inventory"))
    revisions = {}
    runs = []
    for i in range(PROCESSES):
        revisions[upstream.commit(revision(i + 1))] = i + 1
        runs.append((i + 1, start(ansible, source, str(tmp_path), f"run{i}")))
    k = PROCESSES
    while k < MAX_COMMITS and any(run[0].poll() is None for _index, run in runs):
        k += 1
        revisions[upstream.commit(revision(k))] = k
    seen = set()
    for pushed_before_start, run in runs:
        shown = whole_revision(finish(run), revisions)
        assert shown >= pushed_before_start  # never older than what upstream had when the run began
        seen.add(shown)
    print(f"{PROCESSES} parallel runs, {k} commits pushed, {len(seen)} distinct commits seen")
