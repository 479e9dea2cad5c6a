"""SIGKILL at random moments of cold and warm syncs of a big repository: every next run repairs
the cache by itself and equals the oracle (ansible-inventory on a plain clone of the same commit)."""

from __future__ import annotations

import glob
import json
import os
import random
import shutil
import signal
import subprocess
import time

from conftest import BIN, oracle, plain_audit, strip_audit, write_source
from helpers.faults import generate_history, hostvars, leftovers, only_entry, point_branch, tree_mismatch, wait_until

FILES = 2000  # files per commit, 1 KB each; a third of them change in every revision
REVISIONS = 8
KILLS = 10  # wanted: half during cold syncs, half during warm ones
MAX_ATTEMPTS = 30
# Where the kill lands: a random moment of the sync, or the moment a given phase is under way.
TRIGGERS = ("random", "pack", "tree")
PHASE_FILES = {
    "pack": ("mirror.git/objects/tmp_pack_*", "mirror.git/objects/pack/tmp*"),
    "tree": ("trees/tmp-*",),
}


class KillLoop:
    def __init__(self, ansible, source: str) -> None:
        self.ansible = ansible
        self.source = source
        self.cache = ansible.cache_dir
        self.rng = random.Random()
        self.seed = self.rng.randrange(1 << 30)
        self.rng.seed(self.seed)
        self.sync_seconds = {"cold": 2.0, "warm": 1.0}
        self.kills = {"cold": 0, "warm": 0}
        self.attempts = 0
        self.phases_hit = set()

    def _owner_pid(self):
        for path in glob.glob(os.path.join(self.cache, "*", "lock.owner")):
            try:
                with open(path) as handle:
                    return json.load(handle).get("pid")
            except (OSError, ValueError):
                return None
        return None

    def _synced(self, commit: str) -> bool:
        for path in glob.glob(os.path.join(self.cache, "*", "state", "*.json")):
            try:
                with open(path) as handle:
                    if json.load(handle).get("commit") == commit:
                        return True
            except (OSError, ValueError):
                pass
        return False

    def _phase_seen(self, trigger: str) -> bool:
        return any(glob.glob(os.path.join(self.cache, "*", pattern)) for pattern in PHASE_FILES[trigger])

    def run(self, kind: str, commit: str, trigger: str | None) -> bool:
        """One ansible-inventory run; with a trigger, SIGKILL it mid-sync. Return whether it was killed there."""
        proc = subprocess.Popen([os.path.join(BIN, "ansible-inventory"), "-i", self.source, "--list"],
                                env=self.ansible.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: self._owner_pid() == proc.pid or proc.poll() is not None, 120, what="the sync to start")
            started = time.monotonic()
            if trigger is None:
                wait_until(lambda: self._synced(commit) or proc.poll() is not None, 120, what="the sync to end")
                self.sync_seconds[kind] = time.monotonic() - started
                proc.wait(timeout=120)
                return False
            if trigger == "random":
                deadline = started + self.rng.uniform(0, self.sync_seconds[kind])
                wait_until(lambda: time.monotonic() >= deadline or proc.poll() is not None, 120, what="the moment")
            else:
                wait_until(lambda: self._phase_seen(trigger) or proc.poll() is not None, 120, what=trigger)
            in_sync = proc.poll() is None and not self._synced(commit)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            if in_sync:
                self.kills[kind] += 1
                if trigger != "random":
                    self.phases_hit.add(trigger)
            return in_sync
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_sigkill_during_cold_and_warm_syncs_then_the_next_run_equals_the_oracle(ansible, upstream, git_daemon,
                                                                                tmp_path):
    revisions = generate_history(upstream.bare, REVISIONS, FILES, 1024)
    point_branch(upstream.bare, "main", revisions[0])
    source = write_source(tmp_path, url=git_daemon.url("inventory"), path="inventory")
    loop = KillLoop(ansible, source)
    oracles = {}
    current = 0

    def check_next_run() -> None:
        commit = revisions[current]
        proc = ansible.inventory("-i", source, "--list")
        assert proc.returncode == 0, f"seed {loop.seed}: {proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        listing = plain_audit(json.loads(proc.stdout))
        if commit not in oracles:
            oracles[commit] = oracle(ansible, upstream, commit, "inventory", tmp_path)
        assert strip_audit(listing) == oracles[commit], f"seed {loop.seed}"
        assert {v["git_inventory_commit"] for v in hostvars(listing).values()} == {commit}
        entry = only_entry(ansible.cache_dir)
        # path: inventory, so the checkout holds what is under it and nothing else
        assert tree_mismatch(os.path.join(entry, "trees", commit), upstream.bare, commit, under="inventory") is None
        assert leftovers(entry) == [], f"seed {loop.seed}"

    # Unkilled runs first: they measure how long a cold and a warm sync take here.
    loop.run("cold", revisions[current], None)
    check_next_run()
    current += 1
    point_branch(upstream.bare, "main", revisions[current])
    loop.run("warm", revisions[current], None)
    check_next_run()

    step = 0
    while sum(loop.kills.values()) < KILLS and loop.attempts < MAX_ATTEMPTS:
        kind = "cold" if loop.kills["cold"] <= loop.kills["warm"] else "warm"
        trigger = TRIGGERS[step % len(TRIGGERS)]
        step += 1
        loop.attempts += 1
        if kind == "cold":
            shutil.rmtree(ansible.cache_dir)
        else:
            current = current + 1 if current + 1 < REVISIONS else 0
            if current == 0:  # every revision is cached by now: start over from a cold cache
                shutil.rmtree(ansible.cache_dir)
            point_branch(upstream.bare, "main", revisions[current])
        loop.run(kind, revisions[current], trigger)
        check_next_run()

    print(f"kill loop (seed {loop.seed}): {loop.kills} kills mid-sync in {loop.attempts} attempts; "
          f"phases hit {sorted(loop.phases_hit)}; sync seconds {loop.sync_seconds}")
    assert sum(loop.kills.values()) >= KILLS, (loop.kills, loop.attempts, loop.seed)
    assert min(loop.kills.values()) >= KILLS // 2 - 1
    assert loop.phases_hit == {"pack", "tree"}
