"""One measured operation in this fresh interpreter; prints one JSON line.

    python run_once.py parse SOURCE [--profile FILE] [--commit SHA]
        InventoryManager(sources=[SOURCE]), the way ansible-playbook loads its inventory. The time
        excludes Python and Ansible start-up, which every variant pays alike.
    python run_once.py sync URL CACHE_DIR
        The plugin's Git sync alone (vcs.inventory's git_cache.sync), dulwich imports included.
    python run_once.py rebuilds SOURCE [--builds 30]
        A long-lived process (ansible-runner, a test harness): a new InventoryManager per build, the
        RSS after each, and how many replaced inventories are still alive (waiting for the collector).

Run by bench.py with ANSIBLE_COLLECTIONS_PATH pointing at the installed collection.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def parse(args) -> dict:
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader()
    loader = DataLoader()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    manager = InventoryManager(loader=loader, sources=[args.source])
    seconds = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    hosts = manager.get_hosts()
    if not hosts:
        raise SystemExit(f"no hosts parsed from {args.source}")
    if args.commit:
        wrong = [h.name for h in hosts if h.vars.get("git_inventory_commit") != args.commit]
        if wrong:
            raise SystemExit(f"{len(wrong)} hosts are not at commit {args.commit}, e.g. {wrong[0]}")
    return {"seconds": seconds, "hosts": len(hosts), "groups": len(manager.groups)}


def sync(args) -> dict:
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader()
    from ansible_collections.vcs.inventory.plugins.plugin_utils.git_cache import SyncOptions, sync as git_sync

    start = time.perf_counter()
    checkout = git_sync(SyncOptions(url=args.url, cache_dir=args.cache_dir))
    return {"seconds": time.perf_counter() - start, "commit": checkout.commit}


def rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rebuilds(args) -> dict:
    import weakref

    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader()
    loader = DataLoader()
    rss, waiting, built = [], [], []
    manager = None
    for _build in range(args.builds):
        manager = InventoryManager(loader=loader, sources=[args.source])
        if len(manager.get_hosts()) < 1:
            raise SystemExit(f"no hosts parsed from {args.source}")
        # The inventory data, not the manager: the host and group objects are what would pile up.
        built.append(weakref.ref(manager._inventory))
        # Alive but replaced by an earlier build than the previous one: the previous one is still
        # referenced (the variable is reassigned only after the next build returns).
        waiting.append(sum(1 for ref in built[:-2] if ref() is not None))
        rss.append(rss_kb())
    return {"rss_kb": rss, "waiting": waiting, "hosts": len(manager.get_hosts())}


def peak_rss_kb() -> int:
    """This process's own peak RSS. ru_maxrss would also count the parent's memory at the fork."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("parse")
    one.add_argument("source")
    one.add_argument("--profile", help="write a cProfile of the parse to this file")
    one.add_argument("--commit", help="fail unless every host carries git_inventory_commit=SHA")
    two = commands.add_parser("sync")
    two.add_argument("url")
    two.add_argument("cache_dir")
    three = commands.add_parser("rebuilds")
    three.add_argument("source")
    three.add_argument("--builds", type=int, default=30)
    args = parser.parse_args()
    result = {"parse": parse, "sync": sync, "rebuilds": rebuilds}[args.command](args)
    result["maxrss_kb"] = peak_rss_kb()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
