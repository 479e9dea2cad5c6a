"""The cache stays bounded: hundreds of reruns, new commits and force-pushes leave an entry about the
size of a fresh clone; unused entries of other remotes go unless a process still uses them; Ansible's
refresh controls force a real sync; -vv says which entry was used and how big it is."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from ansible.release import __version__ as CORE_VERSION

from ansible_collections.vcs.inventory.plugins.plugin_utils import cache_gc, git_cache, locking

from conftest import IMPORT_PATH, oracle, strip_audit, write_source
from helpers.upstream import Upstream, git

CORE = tuple(int(part) for part in CORE_VERSION.split(".")[:2])

RUNS = 300
COMMIT_EVERY = 3
FORCE_PUSH_EVERY = 40
HOSTS = 300  # with the files below, 23 files and 28 KB: per-file overheads do not hide what the cache holds
HOST_VARS = 20


def _inventory(step: int) -> dict:
    """About the same size at every step, so a fresh clone's size is the yardstick throughout."""
    lines = [f"web{i} ansible_host=10.0.{i // 250}.{i % 250} rack=r{i % 10} owner=team{i % 7}\n" for i in range(HOSTS)]
    files = {"inv/hosts": "[web]\n" + "".join(lines) + "\n[db]\ndb1\n\n[prod:children]\nweb\ndb\n"}
    for i in range(HOST_VARS):
        files[f"inv/host_vars/web{i}.yml"] = f"slot: {i}\nrevision: {step if i == step % HOST_VARS else 0}\n"
    files["inv/group_vars/web.yml"] = f"http_port: 8080\nrelease: r{step}\n"
    files["inv/group_vars/all.yml"] = "users:\n" + "".join(f"  - name: user{i}\n    uid: {2000 + i}\n" for i in range(400))
    return files


def entry_stats(entry: str) -> dict:
    """Files, bytes on disk (a hard-linked file counted once) and packs of one cache entry."""
    files = size = packs = 0
    seen = set()
    for dirpath, _dirs, names in os.walk(entry):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            files += 1
            packs += name.endswith(".pack")
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                size += st.st_size
    return {"files": files, "bytes": size, "packs": packs}


def _only_entry(cache_dir: str) -> str:
    entries = [n for n in os.listdir(cache_dir) if not n.startswith(".")]
    assert len(entries) == 1, entries
    return os.path.join(cache_dir, entries[0])


def test_soak_stays_bounded_and_ends_equal_to_the_oracle(ansible, upstream, git_daemon, tmp_path):
    url = git_daemon.url("inventory")
    upstream.commit(_inventory(0))
    messages, warnings = [], []

    def sync(cache_dir: str) -> git_cache.Checkout:
        checkout = git_cache.sync(git_cache.SyncOptions(url=url, cache_dir=cache_dir), warn=warnings.append,
                                  progress=messages.append)
        locking.release(checkout.lock_fd)  # what the end of a job's process does
        return checkout

    sync(ansible.cache_dir)
    entry = _only_entry(ansible.cache_dir)
    start = peak = entry_stats(entry)
    commits = force_pushes = 0
    for run in range(1, RUNS):
        if run % FORCE_PUSH_EVERY == 0:
            upstream.reset_hard("HEAD~2")  # two commits vanish upstream: their objects become unreachable here
            upstream.commit(_inventory(run), message=f"rewrite {run}", push=False)
            upstream.force_push()
            force_pushes += 1
        elif run % COMMIT_EVERY == 0:
            upstream.commit(_inventory(run), message=f"change {run}")
            commits += 1
        checkout = sync(ansible.cache_dir)
        assert checkout.commit == upstream.head()
        stats = entry_stats(entry)
        peak = {key: max(peak[key], stats[key]) for key in stats}
        assert stats["packs"] <= cache_gc.PACK_LIMIT + 1, (run, stats)
        assert len(os.listdir(os.path.join(entry, "trees"))) == 3, "only the current checkout, manifest and lock"
    end = entry_stats(entry)

    fresh_dir = str(tmp_path / "fresh")
    sync(fresh_dir)
    fresh = entry_stats(_only_entry(fresh_dir))
    report = (f"{RUNS} runs, {commits} commits, {force_pushes} force-pushes, "
              f"{sum('consolidated' in m for m in messages)} consolidations, {len(warnings)} warnings; "
              f"start {start}, end {end}, peak {peak}, fresh clone {fresh}")
    print(report)
    assert warnings == []
    # Packs pile up to the limit between consolidations; everything else is one checkout and its mirror.
    assert peak["files"] <= 2 * fresh["files"] + 2 * (cache_gc.PACK_LIMIT + 1), report
    assert peak["bytes"] <= 3 * fresh["bytes"], report
    assert end["files"] <= 2 * fresh["files"] + 2 * (cache_gc.PACK_LIMIT + 1), report
    # Each fetch adds a pack: the limit was crossed, and crossed again after every consolidation.
    assert sum("consolidated" in m for m in messages) >= (commits + force_pushes) // (cache_gc.PACK_LIMIT + 1)
    mirror = os.path.join(entry, "mirror.git")
    git("fsck", "--no-dangling", cwd=mirror)  # real git accepts the consolidated pack and the shallow file

    expected = oracle(ansible, upstream, upstream.head(), "inv", tmp_path)
    listing = ansible.list(write_source(tmp_path, url=url, path="inv"))
    assert strip_audit(listing) == expected
    assert listing["_meta"]["hostvars"]["web0"]["git_inventory_commit"] == upstream.head()


HOLD = """\
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


class Holder:
    """Another process holding a flock until the test lets go (a job syncing or reading the entry)."""

    def __init__(self, path: str, mode: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, path, mode], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "held", line

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def _age(entry: str, days: float) -> None:
    """Fake a last use days ago."""
    old = time.time() - days * cache_gc.DAY
    for name in ("entry.json", "lock.owner"):
        os.utime(os.path.join(entry, name), (old, old))


@pytest.mark.parametrize("held", ["entry lock", "checkout pin"])
def test_stale_entries_go_unless_a_process_uses_them(held, ansible, git_daemon, tmp_path):
    repos = str(tmp_path / "repos")
    old_repo, new_repo = Upstream(repos, name="old"), Upstream(repos, name="current")
    old_repo.commit({"hosts": "[web]\nold1\n"})
    new_repo.commit({"hosts": "[web]\nnew1\n"})
    old_source = write_source(tmp_path, "old.git.yml", url=git_daemon.url("old"))
    source = write_source(tmp_path, url=git_daemon.url("current"), refresh_interval=3600, cache_max_age=30)
    assert set(ansible.list(old_source)["_meta"]["hostvars"]) == {"old1"}
    old_entry = _only_entry(ansible.cache_dir)
    commit = old_repo.head()
    assert set(ansible.list(source)["_meta"]["hostvars"]) == {"new1"}  # first use of the other remote
    current = [n for n in os.listdir(ansible.cache_dir) if n != os.path.basename(old_entry)]

    if held == "entry lock":
        holder = Holder(os.path.join(old_entry, "lock"), "exclusive")
    else:
        holder = Holder(os.path.join(old_entry, "trees", f"{commit}.lock"), "shared")
    try:
        _age(old_entry, 31)
        # Inside refresh_interval: no network, and still the run that prunes.
        assert set(ansible.list(source)["_meta"]["hostvars"]) == {"new1"}
        assert os.path.isdir(os.path.join(old_entry, "trees", commit)), "an entry in use must survive"
    finally:
        holder.release()

    _age(old_entry, 29)
    ansible.list(source)
    assert os.path.isdir(old_entry), "29 days unused is not stale with cache_max_age=30"
    _age(old_entry, 31)
    ansible.list(source)
    assert not os.path.exists(old_entry), "unused for 31 days and nobody holds it: it must go"
    assert os.listdir(ansible.cache_dir) == current


def test_cache_max_age_zero_never_prunes(ansible, git_daemon, tmp_path):
    repos = str(tmp_path / "repos")
    Upstream(repos, name="old").commit({"hosts": "[web]\nold1\n"})
    Upstream(repos, name="current").commit({"hosts": "[web]\nnew1\n"})
    ansible.list(write_source(tmp_path, "old.git.yml", url=git_daemon.url("old")))
    old_entry = _only_entry(ansible.cache_dir)
    _age(old_entry, 3650)
    ansible.list(write_source(tmp_path, url=git_daemon.url("current")), env={"ANSIBLE_VCS_INVENTORY_CACHE_MAX_AGE": "0"})
    assert os.path.isdir(os.path.join(old_entry, "mirror.git"))


SHOW_PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: "SHOW {{ inventory_hostname }} {{ git_inventory_commit }}"
"""

# ansible-inventory has --flush-cache from ansible-core 2.17 on; ansible-playbook has it on every version.
FLUSH_TOOLS = ["ansible-playbook"] + (["ansible-inventory"] if CORE >= (2, 17) else [])


def _seen(ansible, tool: str, source: str, tmp_path, *args) -> dict:
    """Host name -> git_inventory_commit, as the tool sees the inventory."""
    if tool == "ansible-inventory":
        listing = ansible.list(source, *args)
        return {name: hostvars["git_inventory_commit"] for name, hostvars in listing["_meta"]["hostvars"].items()}
    play = tmp_path / "show.yml"
    play.write_text(SHOW_PLAY)
    proc = ansible.playbook("-i", source, str(play), *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(re.findall(r'"msg": "SHOW (\S+) ([0-9a-f]{40})"', proc.stdout))


@pytest.mark.parametrize("tool", FLUSH_TOOLS)
def test_flush_cache_inside_refresh_interval_picks_up_a_new_commit(tool, ansible, upstream, git_daemon, tmp_path):
    first = upstream.commit({"hosts": "[web]\nweb1\n"})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), refresh_interval=86400)
    assert _seen(ansible, tool, source, tmp_path) == {"web1": first}
    second = upstream.commit({"hosts": "[web]\nweb1\nweb2\n"})
    assert _seen(ansible, tool, source, tmp_path) == {"web1": first}, "inside refresh_interval the cache is used"
    assert _seen(ansible, tool, source, tmp_path, "--flush-cache") == {"web1": second, "web2": second}
    # The forced sync is the new last good state: later runs inside the interval see it too.
    assert _seen(ansible, tool, source, tmp_path) == {"web1": second, "web2": second}


COMMIT_SCRIPT = """\
set -e
cd "$1"
printf '[web]\\nweb1\\nweb2\\n' > hosts
git add -A
git commit -q -m "add web2"
git push -q origin HEAD:refs/heads/main
"""

REFRESH_PLAY = """\
- hosts: web
  gather_facts: false
  tasks:
    - debug:
        msg: "BEFORE {{{{ inventory_hostname }}}} {{{{ git_inventory_commit }}}}"
    - command: bash {script} {work}
      delegate_to: localhost
      run_once: true
      environment: {env}
    - meta: refresh_inventory
- hosts: web
  gather_facts: false
  tasks:
    - debug:
        msg: "AFTER {{{{ inventory_hostname }}}} {{{{ git_inventory_commit }}}}"
"""


def test_refresh_inventory_in_a_playbook_picks_up_a_new_commit(ansible, upstream, git_daemon, tmp_path):
    from helpers.upstream import GIT_ENV

    first = upstream.commit({"hosts": "[web]\nweb1\n"})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), refresh_interval=86400)
    script = tmp_path / "commit.sh"
    script.write_text(COMMIT_SCRIPT)
    play = tmp_path / "refresh.yml"
    play.write_text(REFRESH_PLAY.format(script=script, work=upstream.work, env=dict(GIT_ENV)))
    proc = ansible.playbook("-i", source, str(play), env={"ANSIBLE_PYTHON_INTERPRETER": sys.executable})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    second = upstream.head()
    assert second != first
    assert f"BEFORE web1 {first}" in proc.stdout
    assert f"AFTER web1 {second}" in proc.stdout
    assert f"AFTER web2 {second}" in proc.stdout
    assert "BEFORE web2" not in proc.stdout


def test_vv_names_the_entry_commit_age_and_size(ansible, upstream, git_daemon, tmp_path):
    commit = upstream.commit({"hosts": "[web]\nweb1\n"})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), refresh_interval=3600)
    ansible.list(source)
    proc = ansible.inventory("-i", source, "--graph", "-vv")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    entry = _only_entry(ansible.cache_dir)
    line = next((text for text in out.splitlines() if entry in text), None)
    assert line is not None, out
    assert commit in line
    assert re.search(r"synced \d+s ago", line), line
    assert re.search(r"\d+ KiB in \d+ files", line), line


def test_gc_keeps_the_checkout_an_older_process_still_reads(upstream, git_daemon, tmp_path):
    """A long job started before a new commit keeps its checkout; the next run after it ends removes it."""
    url = git_daemon.url("inventory")
    cache = str(tmp_path / "cache")
    first = upstream.commit({"hosts": "[web]\nweb1\n"})
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, IMPORT_PATH, url, cache], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == first
        second = upstream.commit({"hosts": "[web]\nweb1\nweb2\n"})
        checkout = git_cache.sync(git_cache.SyncOptions(url=url, cache_dir=cache))
        locking.release(checkout.lock_fd)
        assert checkout.commit == second
        trees_dir = os.path.join(checkout.entry, "trees")
        with open(os.path.join(trees_dir, first, "hosts")) as handle:
            assert handle.read() == "[web]\nweb1\n", "the running job still reads its own commit"
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    checkout = git_cache.sync(git_cache.SyncOptions(url=url, cache_dir=cache))
    locking.release(checkout.lock_fd)
    assert sorted(os.listdir(trees_dir)) == sorted([second, f"{second}.json", f"{second}.lock"])


READER = """\
import sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.vcs.inventory.plugins.plugin_utils import git_cache
checkout = git_cache.sync(git_cache.SyncOptions(url=sys.argv[2], cache_dir=sys.argv[3]))
print(checkout.commit, flush=True)
sys.stdin.read()
"""
