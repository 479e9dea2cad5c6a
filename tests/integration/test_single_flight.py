"""Single flight: a burst of parallel warm runs against a slow server makes at most two network checks."""

from __future__ import annotations

import multiprocessing
import os

from ansible_collections.vcs.inventory.plugins.plugin_utils import git_cache, locking
from helpers.counting_proxy import CountingProxy

RUNS = 6


def _one_run(url: str, cache_dir: str, queue) -> None:
    said: list[str] = []
    checkout = git_cache.sync(git_cache.SyncOptions(url=url, cache_dir=cache_dir), notice=said.append)
    locking.release(checkout.lock_fd)
    queue.put((checkout.commit, [m for m in said if "another run checked" in m]))


def test_a_burst_of_warm_runs_shares_the_checks_begun_after_each_started_waiting(upstream, git_daemon, tmp_path):
    upstream.commit({"hosts": "[web]\nweb1\n"})
    cache_dir = str(tmp_path / "cache")
    with CountingProxy(git_daemon.port, delay=1.0) as proxy:
        url = git_daemon.url("inventory").replace(f":{git_daemon.port}/", f":{proxy.port}/")
        checkout = git_cache.sync(git_cache.SyncOptions(url=url, cache_dir=cache_dir))  # warm the cache
        locking.release(checkout.lock_fd)
        new = upstream.commit({"hosts": "[web]\nweb2\n"})
        before = proxy.snapshot()
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        runs = [context.Process(target=_one_run, args=(url, cache_dir, queue)) for _run in range(RUNS)]
        for run in runs:
            run.start()
        results = [queue.get(timeout=60) for _run in runs]
        for run in runs:
            run.join(timeout=30)
        used = proxy.since(before)
    assert all(run.exitcode == 0 for run in runs)
    assert [commit for commit, _said in results] == [new] * RUNS  # every run sees the remote state after it started
    assert used["connections"] <= 2, used
    reused = [said for _commit, said in results if said]
    assert len(reused) >= RUNS - 2 and all("after this run began waiting" in s[0] for s in reused)
    assert os.path.isdir(os.path.join(checkout.entry, "trees", new))
