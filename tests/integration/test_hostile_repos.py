"""What an attacker who can push to the repository (or create refs on the server) tries, served by
git daemon and read through the real ansible-inventory / ansible-playbook. Marker files prove that
nothing from the repository ran; the data files beside the hostile ones still load like a local copy."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import resource
import shutil
import stat
import subprocess
import tempfile
import time

import pytest
import yaml

from conftest import BIN, plain_audit, said, strip_audit, write_source
from helpers.faults import TcpProxy
from helpers.git_objects import Objects
from helpers.upstream import git

DATA = "web:\n  hosts:\n    web1:\n      role: front\n    web2:\n"
LOCAL_PLAY = """\
- hosts: web
  connection: local
  gather_facts: false
  tasks:
    - debug:
        msg: "BECOME_USER={{ ansible_become_user | default('unset') }} ROLE={{ role | default('none') }}"
"""


def _data_only_listing(ansible, upstream, commit, tmp_path, files=("inv/hosts.yml",)) -> dict:
    """ansible-inventory on a plain clone that holds only the data files: what must still load."""
    dest = tmp_path / f"data-only-{len(os.listdir(tmp_path))}"
    upstream.clone_at(str(dest), commit)
    keep = dest / "keep"
    keep.mkdir()
    for rel in files:
        target = keep / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(dest / rel, target)
    return ansible.list(str(keep / os.path.dirname(files[0])))


def _plain(listing):
    """A listing with untrusted values shown as plain ones ({"__ansible_unsafe": x} -> x)."""
    def walk(value):
        if isinstance(value, dict):
            if set(value) == {"__ansible_unsafe"}:
                return value["__ansible_unsafe"]
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value
    return walk(listing)


def _markers(tmp_path):
    return [p.name for p in tmp_path.iterdir() if p.name.startswith("marker-")]


# -- code from the repository never runs ----------------------------------------------------------

def _script_repo(upstream, repos_root, tmp_path) -> str:
    """A second repository holding an executable inventory script that leaves a marker."""
    from helpers.upstream import Upstream

    other = Upstream(repos_root, name="scripts")
    marker = tmp_path / "marker-script"
    other.commit({"inv/run.sh": f"#!/bin/sh\ntouch {marker}\necho '{{}}'\n"})
    os.chmod(os.path.join(other.work, "inv/run.sh"), 0o755)
    other.commit(message="executable")
    return "scripts"


@pytest.mark.parametrize("trust_repo", [True, False])
def test_a_nested_git_source_cannot_widen_allow_scripts(ansible, upstream, git_daemon, repos_root, tmp_path, trust_repo):
    scripts = _script_repo(upstream, repos_root, tmp_path)
    nested = {"plugin": "vcs.inventory.git", "url": git_daemon.url(scripts), "path": "inv", "allow_scripts": True,
              "trust_repo": True}
    commit = upstream.commit({"inv/hosts.yml": DATA, "inv/more.git.yml": yaml.safe_dump(nested)})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv", trust_repo=trust_repo,
                          allow_scripts=False)
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    assert _markers(tmp_path) == []
    if trust_repo:  # read by auto, as from a local copy, but no wider than its parent
        assert said("not running the executable 'inv/run.sh'", proc.stderr)
    else:  # data only: the configuration file is not even read as one
        assert said("skipped 'inv/more.git.yml': it configures an inventory plugin", proc.stderr)
    listing = strip_audit(plain_audit(json.loads(proc.stdout)))
    assert _plain(listing) == _data_only_listing(ansible, upstream, commit, tmp_path)


def test_a_source_that_loads_itself_ends_with_a_warning(ansible, upstream, git_daemon, tmp_path):
    me = {"plugin": "vcs.inventory.git", "url": git_daemon.url("inventory"), "path": "inv"}
    commit = upstream.commit({"inv/hosts.yml": DATA, "inv/self.git.yml": yaml.safe_dump(me)})
    proc = ansible.inventory("-i", write_source(tmp_path, **{k: v for k, v in me.items() if k != "plugin"}), "--list")
    assert proc.returncode == 0, proc.stderr
    assert "RecursionError" not in proc.stderr + proc.stdout
    assert said("loads the same repository, version and path again", proc.stderr)
    assert _plain(strip_audit(plain_audit(json.loads(proc.stdout)))) == _data_only_listing(ansible, upstream, commit, tmp_path)


def _constructed_files(tmp_path) -> dict:
    pipe = "{{ lookup('pipe', 'touch %s') }}"
    return {
        "inv/hosts.yml": DATA,
        "inv/build.yml": yaml.safe_dump({
            "plugin": "ansible.builtin.constructed", "strict": False,
            "compose": {"x": pipe % (tmp_path / "marker-compose")},
            "groups": {"g": pipe % (tmp_path / "marker-groups") + " is defined"},
        }),
        "inv/gen.yml": yaml.safe_dump({
            "plugin": "ansible.builtin.generator",
            "hosts": {"name": pipe % (tmp_path / "marker-generator") + "{{ n }}"},
            "layers": {"n": ["1"]},
        }),
        "inv/sub/deep.json": json.dumps({"plugin": "ansible.builtin.constructed",
                                         "compose": {"y": pipe % (tmp_path / "marker-deep")}}),
        "inv/conf.toml": f'plugin = "ansible.builtin.constructed"\n[compose]\nz = "{pipe % (tmp_path / "marker-toml")}"\n',
    }


def test_plugin_configurations_in_an_untrusted_repo_are_skipped(ansible, upstream, git_daemon, tmp_path):
    commit = upstream.commit(_constructed_files(tmp_path))
    # at any depth of a directory, and given directly in a path list
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path=["inv", "inv/gen.yml"], trust_repo=False)
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    assert _markers(tmp_path) == []
    for rel in ("build.yml", "gen.yml", "sub/deep.json", "conf.toml"):
        assert said(f"skipped 'inv/{rel}': it configures an inventory plugin", proc.stderr), rel
    assert said("skipped 'inv/gen.yml': it configures", proc.stderr)
    assert _plain(strip_audit(plain_audit(json.loads(proc.stdout)))) == _data_only_listing(ansible, upstream, commit, tmp_path)


def test_refresh_inventory_reads_the_untrusted_repo_as_data_again(ansible, upstream, git_daemon, tmp_path):
    upstream.commit(_constructed_files(tmp_path))
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv", trust_repo=False)
    play = tmp_path / "refresh.yml"
    play.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - meta: refresh_inventory\n"
                    "- hosts: web\n  connection: local\n  gather_facts: false\n  tasks:\n    - debug: msg=ROLE={{ role | default('none') }}\n")
    for _round in range(2):  # the second run replays the stored parse
        proc = ansible.playbook("-i", source, str(play))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "ROLE=front" in proc.stdout
        assert _markers(tmp_path) == []


def test_become_and_control_settings_from_an_untrusted_repo_are_dropped(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({
        "inv/hosts.yml": DATA,
        "inv/group_vars/web.yml": yaml.safe_dump({
            "ansible_become_user": "root; touch %s #" % (tmp_path / "marker-become"),
            "ansible_control_path_dir": str(tmp_path / "marker-control-dir"),
            "ansible_become": True, "ansible_become_method": "su",
        }),
        "inv/host_vars/web1.yml": yaml.safe_dump({
            "ansible_host": "-oProxyCommand=touch %s" % (tmp_path / "marker-host"),
            "ansible_user": "deploy", "ansible_port": 2222,
        }),
        "inv/host_vars/web2.yml": yaml.safe_dump({"ansible_host": "10.0.0.2", "ansible_port": "22; id"}),
    })
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv", trust_repo=False)
    listing = ansible.list(source)
    hostvars = listing["_meta"]["hostvars"]
    for host in ("web1", "web2"):
        for name in ("ansible_become_user", "ansible_control_path_dir", "ansible_become", "ansible_become_method"):
            assert name not in hostvars[host], (host, name)
    assert "ansible_host" not in hostvars["web1"] and "ansible_port" not in hostvars["web2"]
    hostvars = _plain(hostvars)
    assert hostvars["web1"]["ansible_port"] == 2222 and hostvars["web2"]["ansible_host"] == "10.0.0.2"
    assert hostvars["web1"]["ansible_user"] == "deploy"
    play = tmp_path / "play.yml"
    play.write_text(LOCAL_PLAY)
    proc = ansible.playbook("-i", source, str(play))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("BECOME_USER=unset") == 2
    assert said("dropped the variable 'ansible_become_user' of 'web'", proc.stderr)
    assert _markers(tmp_path) == []


def test_a_host_name_that_ssh_would_read_as_an_option_is_refused(ansible, upstream, git_daemon, tmp_path):
    marker = tmp_path / "marker-hostname"
    hostile = "-oProxyCommand=touch${IFS}%s" % marker
    upstream.commit({"inv/hosts.yml": DATA, "inv/evil.yml": yaml.safe_dump({"web": {"hosts": {hostile: None}}})})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv", trust_repo=False)
    play = tmp_path / "play.yml"
    play.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n      ignore_unreachable: true\n")
    proc = ansible.playbook("-i", source, str(play), "-e", "ansible_connection=ssh")
    assert said("is not a plain host name", proc.stderr), proc.stderr
    assert hostile not in proc.stdout and _markers(tmp_path) == []
    assert "web1" in proc.stdout  # the data file beside it still loads


# -- pushes that stall or wipe the cache --------------------------------------------------------

ALIAS_BOMB = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"a{i}: &a{i} [{', '.join(['*a%d' % (i - 1)] * 10)}]\n" for i in range(1, 10)) + "plain: fine\n"
MEMORY_CAP = 3 * 1024 ** 3  # address space of each process: far above a normal run, far below a copied bomb


def _capped():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def test_an_alias_bomb_costs_what_a_local_copy_costs(ansible, upstream, git_daemon, tmp_path):
    commit = upstream.commit({"inv/hosts.yml": DATA, "inv/group_vars/web.yml": ALIAS_BOMB})
    play = tmp_path / "play.yml"
    play.write_text(LOCAL_PLAY.replace("BECOME_USER={{ ansible_become_user | default('unset') }}", "PLAIN={{ plain }}"))
    local = upstream.clone_at(str(tmp_path / "local"), commit)
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv", trust_repo=False)
    times = {}
    for name, inventory in (("local copy", os.path.join(local, "inv")), ("untrusted", source)):
        started = time.monotonic()
        proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, str(play)], env=ansible.env(),
                              capture_output=True, text=True, timeout=240, preexec_fn=_capped, check=False)
        times[name] = time.monotonic() - started
        assert proc.returncode == 0, (name, proc.stdout[-2000:], proc.stderr[-2000:])
        assert proc.stdout.count("PLAIN=fine") == 2, name
    print("alias bomb, ansible-playbook seconds:", times)


def test_a_failure_while_reading_an_untrusted_repo_fails_the_run(ansible, upstream, git_daemon, tmp_path):
    # Nested deeper than Python's recursion limit: whatever fails, the run fails; it never goes on empty.
    deep = "x: " + "[" * 5000 + "]" * 5000 + "\n"
    upstream.commit({"inv/hosts.yml": DATA, "inv/group_vars/web.yml": deep})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv", trust_repo=False)
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0, proc.stdout[-2000:]


LONG_NAME = "h" * 300


def _unusable_commit(upstream, good: str) -> str:
    """A commit whose tree holds a 300-byte file name (no file system here can hold it)."""
    objects = Objects(upstream.bare)
    hosts = objects.blob(DATA)
    inv = objects.tree([("100644", "hosts.yml", hosts), ("100644", LONG_NAME, objects.blob("x\n"))])
    return objects.commit(objects.tree([("40000", "inv", inv)]), parent=good)


def test_a_name_the_file_system_cannot_hold_is_an_unusable_commit_not_damage(ansible, upstream, git_daemon, tmp_path):
    good = upstream.commit({"inv/hosts.yml": DATA})
    counter = TcpProxy(git_daemon.port)  # counts what each run downloads
    try:
        _unusable_commit_runs(ansible, upstream, git_daemon, tmp_path, good, counter)
    finally:
        counter.close()


def _unusable_commit_runs(ansible, upstream, git_daemon, tmp_path, good, counter):
    url = f"git://127.0.0.1:{counter.port}/inventory.git"
    source = write_source(tmp_path, url=url, path="inv", on_sync_failure="use_cache")
    first = ansible.list(source)
    assert first["_meta"]["hostvars"]["web1"]["git_inventory_commit"] == good
    entry = next(p for p in (tmp_path / "cache").iterdir() if p.is_dir())
    mirror_inode = os.stat(entry / "mirror.git").st_ino
    bad = _unusable_commit(upstream, good)
    downloaded = []
    for _round in range(2):
        before = counter.bytes_in
        proc = ansible.inventory("-i", source, "--list")
        downloaded.append(counter.bytes_in - before)
        assert proc.returncode == 0, proc.stderr
        hostvars = plain_audit(json.loads(proc.stdout))["_meta"]["hostvars"]["web1"]
        assert hostvars["git_inventory_commit"] == good and hostvars["git_inventory_stale"] is True
        assert said(f"commit {bad[:12]} holds a path this file system cannot hold (ENAMETOOLONG)", proc.stderr)
        assert "damaged" not in proc.stderr and "rebuilding" not in proc.stderr
        assert len(proc.stderr) < 2000, proc.stderr
        assert os.stat(entry / "mirror.git").st_ino == mirror_inode  # the mirror is kept, never re-fetched whole
    # The bad commit is fetched once; the next run only reads the ref advertisement.
    print("unusable commit, bytes from the server per run:", downloaded)
    assert downloaded[1] < 1000 and downloaded[1] < downloaded[0], downloaded
    strict = write_source(tmp_path, name="strict.git.yml", url=url, path="inv")
    proc = ansible.inventory("-i", strict, "--list")
    assert proc.returncode != 0 and said(bad[:12], proc.stderr) and said(LONG_NAME[:50], proc.stderr)


# -- versions an attacker can shadow -------------------------------------------------------------

def _grind_pair(upstream, base: str) -> tuple[str, str]:
    """Two commits whose ids share their first 7 hex digits (a birthday search, ~20,000 tries)."""
    tree = git("rev-parse", f"{base}^{{tree}}", cwd=upstream.bare)
    header = f"tree {tree}\nparent {base}\nauthor A <a@example.invalid> 1700000000 +0000\n" \
             f"committer A <a@example.invalid> 1700000000 +0000\n\n"
    seen = {}
    n = 0
    while True:
        body = (header + f"attempt {n}\n").encode()
        prefix = hashlib.sha1(b"commit %d\0" % len(body) + body).hexdigest()[:7]
        if prefix in seen:
            first = git("hash-object", "-w", "-t", "commit", "--stdin", cwd=upstream.bare, input=seen[prefix])
            second = git("hash-object", "-w", "-t", "commit", "--stdin", cwd=upstream.bare, input=body)
            return first, second
        seen[prefix] = body
        n += 1


def test_an_abbreviated_version_that_an_attacker_shadows_is_ambiguous(ansible, upstream, git_daemon, tmp_path):
    base = upstream.commit({"inv/hosts.yml": DATA})
    pinned, ground = _grind_pair(upstream, base)
    assert pinned[:7] == ground[:7] and pinned != ground
    git("update-ref", "refs/heads/release", pinned, cwd=upstream.bare)
    git("update-ref", "refs/pull/7/head", ground, cwd=upstream.bare)  # anyone may open a pull request
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv", version=pinned[:7])
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0
    assert said("is ambiguous", proc.stderr) and said(pinned[:12], proc.stderr) and said(ground[:12], proc.stderr)
    # the pinned commit is no tip any more, only in the history: the ground one is the only tip with that prefix
    child = git("commit-tree", f"{pinned}^{{tree}}", "-p", pinned, "-m", "next", cwd=upstream.bare)
    git("update-ref", "refs/heads/release", child, cwd=upstream.bare)
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0 and said("is ambiguous", proc.stderr), proc.stdout[-500:]
    assert said(pinned[:12], proc.stderr) and said(ground[:12], proc.stderr)
    # more digits name one commit
    exact = write_source(tmp_path, name="exact.git.yml", url=git_daemon.url("inventory"), path="inv",
                         version=pinned[:12])
    assert ansible.list(exact)["_meta"]["hostvars"]["web1"]["git_inventory_commit"] == pinned


def test_a_name_of_both_a_tag_and_a_branch_uses_the_tag_and_says_so(ansible, upstream, git_daemon, tmp_path):
    tagged = upstream.commit({"inv/hosts.yml": DATA})
    upstream.tag("release", annotated=False)
    branch = upstream.commit({"inv/hosts.yml": DATA + "    web3:\n"}, branch="release")
    upstream.commit({"inv/hosts.yml": DATA + "    web4:\n"})
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv", version="release")
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode == 0, proc.stderr
    assert plain_audit(json.loads(proc.stdout))["_meta"]["hostvars"]["web1"]["git_inventory_commit"] == tagged
    assert said("names both a tag and a branch; using the tag", proc.stderr)
    heads = write_source(tmp_path, name="heads.git.yml", url=git_daemon.url("inventory"), path="inv",
                         version="refs/heads/release")
    assert ansible.list(heads)["_meta"]["hostvars"]["web1"]["git_inventory_commit"] == branch
    head = write_source(tmp_path, name="head.git.yml", url=git_daemon.url("inventory"), path="inv", version="HEAD")
    listing = ansible.list(head)
    assert listing["_meta"]["hostvars"]["web1"]["git_inventory_commit"] == upstream.head()
    assert "web4" in listing["_meta"]["hostvars"] or "web4" in json.dumps(listing)


# -- a cache root planted by another local user ---------------------------------------------------

def _as_nobody(*args) -> None:
    subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *args], check=True)


def test_a_planted_cache_root_is_refused_and_never_changed(ansible, upstream, git_daemon, tmp_path):
    upstream.commit({"inv/hosts.yml": DATA})
    # like /tmp: anyone may create names in it (made in the system's temp directory, which others can reach)
    shared = pathlib.Path(tempfile.mkdtemp(prefix="vcs-inventory-shared-"))
    try:
        _planted_cache_root(ansible, git_daemon, tmp_path, shared)
    finally:
        shutil.rmtree(shared)


def _planted_cache_root(ansible, git_daemon, tmp_path, shared):
    os.chmod(shared, 0o1777)
    victim = tmp_path / "victim"  # a directory of the user that runs Ansible (think ~/.ssh or /etc)
    victim.mkdir()
    os.chmod(victim, 0o755)
    planted = shared / "cache"
    if os.geteuid() == 0:
        _as_nobody("ln", "-s", str(victim), str(planted))
        assert os.lstat(planted).st_uid != 0
    else:  # without root, a parent that others can write to and that has no sticky bit
        os.chmod(shared, 0o777)
        os.symlink(victim, planted)
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inv", cache_dir=str(planted))
    proc = ansible.inventory("-i", source, "--list")
    assert proc.returncode != 0
    assert said("is a symlink", proc.stderr) and said("'cache_dir'", proc.stderr)
    assert stat.S_IMODE(os.stat(victim).st_mode) == 0o755 and os.listdir(victim) == []

    # a directory of ours that is open to others is refused too, and left as it is
    open_dir = tmp_path / "open-cache"
    open_dir.mkdir()
    os.chmod(open_dir, 0o755)
    proc = ansible.inventory("-i", write_source(tmp_path, name="open.git.yml", url=git_daemon.url("inventory"),
                                                path="inv", cache_dir=str(open_dir)), "--list")
    assert proc.returncode != 0 and said("is open to others (mode 0755)", proc.stderr)
    assert stat.S_IMODE(os.stat(open_dir).st_mode) == 0o755 and os.listdir(open_dir) == []

    # a symlink the user made in a directory of their own keeps working
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    real = tmp_path / "real-cache"
    real.mkdir(mode=0o700)
    os.symlink(real, mine / "cache")
    good = write_source(tmp_path, name="good.git.yml", url=git_daemon.url("inventory"), path="inv",
                        cache_dir=str(mine / "cache"))
    assert "web1" in ansible.list(good)["_meta"]["hostvars"]
    assert os.listdir(real) != []
