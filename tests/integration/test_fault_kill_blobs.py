"""kill -9 while the blobs of a partial fetch come down: the next run repairs the entry by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from ansible_collections.vcs.inventory.plugins.plugin_utils import git_cache, locking
from conftest import IMPORT_PATH
from helpers.counting_proxy import CountingProxy
from helpers.faults import leftovers, wait_until
from helpers.servers import GitDaemon
from helpers.upstream import Upstream

SYNC = """
import sys
from ansible_collections.vcs.inventory.plugins.plugin_utils import git_cache
git_cache.sync(git_cache.SyncOptions(url=sys.argv[1], cache_dir=sys.argv[2], paths=["inv"]))
"""


def test_kill_during_the_blob_fetch_is_repaired_by_the_next_run(repos_root, tmp_path):
    upstream = Upstream(repos_root, allow_filter=True)
    payload = os.urandom(3_000_000)
    commit = upstream.commit({"inv/hosts": "[web]\nweb1\n", "inv/files/blob.bin": payload,
                              "other/big.bin": os.urandom(2_000_000)})
    daemon = GitDaemon(repos_root)
    cache = str(tmp_path / "cache")
    try:
        with CountingProxy(daemon.port, rate_bits=8_000_000) as proxy:  # 1 MB/s: the blob takes 3 s
            url = daemon.url("inventory").replace(f":{daemon.port}/", f":{proxy.port}/")
            proc = subprocess.Popen([sys.executable, "-c", SYNC, url, cache],
                                    env=dict(os.environ, PYTHONPATH=IMPORT_PATH), stderr=subprocess.PIPE)
            try:
                # The second connection is the blob fetch; kill once part of the blob has come down.
                wait_until(lambda: proxy.snapshot()["connections"] >= 2 and proxy.snapshot()["bytes_down"] > 500_000
                           or proc.poll() is not None, 60, what="the blob fetch")
                assert proc.poll() is None, proc.stderr.read()
                os.kill(proc.pid, signal.SIGKILL)
            finally:
                proc.wait()
                proc.stderr.close()
        said: list[str] = []
        checkout = git_cache.sync(git_cache.SyncOptions(url=daemon.url("inventory"), cache_dir=cache, paths=["inv"]),
                                  warn=said.append)
        locking.release(checkout.lock_fd)
    finally:
        daemon.stop()
    assert checkout.commit == commit
    with open(os.path.join(checkout.path, "inv", "files", "blob.bin"), "rb") as handle:
        assert handle.read() == payload
    assert not os.path.exists(os.path.join(checkout.path, "other"))
    assert leftovers(checkout.entry) == []
    assert all("removed stale temporary" in message for message in said), said
