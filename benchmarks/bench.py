"""`make bench`: the vcs.inventory.git performance benchmark. Public tools only, 127.0.0.1 only.

Builds a synthetic inventory repository (5,000 hosts, 120 commits that each rewrite the inventory),
serves it with `git daemon` behind byte-counting proxies (one uncapped, one capped at 100 Mbit/s),
installs the collection from its tarball, then measures, interleaving the variants round by round
so that a busy machine slows them alike: a warm-up round, then --runs rounds, medians reported.
Writes docs/performance.md (from benchmarks/performance.md.in) and benchmarks/output/results.json.

    python benchmarks/bench.py [--runs 5] [--keep]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

sys.path.insert(0, os.path.join(ROOT, "tests"))

import big_repo  # noqa: E402
import report  # noqa: E402
import synthetic_repo  # noqa: E402
from helpers.servers import GitDaemon  # noqa: E402
from helpers.counting_proxy import CountingProxy  # noqa: E402

BIN = os.path.dirname(sys.executable)
CAP_BITS = 100_000_000
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None  # GNU time, for a command's peak RSS


class Bench:
    def __init__(self, work: str, runs: int) -> None:
        self.work = work
        self.runs = runs
        self.samples: dict[str, list[dict]] = {}
        self.facts: dict = {}
        self.home = os.path.join(work, "home")
        os.makedirs(os.path.join(self.home, "tmp"))
        self.collections = os.path.join(work, "collections")

    # -- processes ----------------------------------------------------------------------------
    def env(self) -> dict:
        env = dict(os.environ, HOME=self.home, ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_NOCOLOR="1",
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.home, "tmp"),
                   ANSIBLE_VCS_INVENTORY_CACHE_DIR=os.path.join(self.work, "cache"),
                   PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
        env.pop("ANSIBLE_CONFIG", None)
        return env

    def run(self, argv: list[str], stdout=subprocess.DEVNULL) -> dict:
        """Run a process to its end: its wall time, and its peak RSS when GNU time can tell.

        A child's ru_maxrss starts at its parent's size at the fork, so the peak of a command is
        taken by GNU time (a small parent) or not reported at all.
        """
        wrapper = [TIME, "-f", "vcs-bench-maxrss-kb %M"] if TIME else []
        start = time.perf_counter()
        proc = subprocess.run(wrapper + argv, env=self.env(), cwd=self.work, stdout=stdout, stderr=subprocess.PIPE,
                              check=False)
        seconds = time.perf_counter() - start
        err = proc.stderr.decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:4])} failed ({proc.returncode}): {err[-2000:]}")
        peak = [line.split()[-1] for line in err.splitlines() if line.startswith("vcs-bench-maxrss-kb ")]
        return {"seconds": seconds, "maxrss_kb": int(peak[-1]) if peak else None}

    def once(self, *args: str) -> dict:
        """run_once.py in a fresh interpreter: the time it measured inside, and its own peak RSS."""
        out = os.path.join(self.work, "once.json")
        with open(out, "wb") as handle:
            self.run([sys.executable, os.path.join(HERE, "run_once.py"), *args], stdout=handle)
        with open(out, encoding="utf-8") as handle:
            return json.loads(handle.read().strip().splitlines()[-1])

    def cli_list(self, source: str, out: str) -> dict:
        with open(out, "wb") as handle:
            return self.run([os.path.join(BIN, "ansible-inventory"), "-i", source, "--list"], stdout=handle)

    def source(self, name: str, url: str, **options) -> str:
        path = os.path.join(self.work, f"{name}.git.yml")
        lines = ["plugin: vcs.inventory.git", f"url: {url}", "path: inventory"]
        lines += [f"{key}: {value}" for key, value in options.items()]
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        return path

    # -- measuring ----------------------------------------------------------------------------
    def rounds(self, variants: dict) -> None:
        """A warm-up round, then self.runs rounds; each round runs every variant once, in turn."""
        for number in range(self.runs + 1):
            for name, measure in variants.items():
                sample = measure()
                if number > 0:
                    self.samples.setdefault(name, []).append(sample)

    @staticmethod
    def counted(proxy: CountingProxy, measure) -> dict:
        before = proxy.snapshot()
        sample = measure()
        used = proxy.since(before)
        sample.update(bytes=used["bytes_up"] + used["bytes_down"], connections=used["connections"])
        return sample

    def fresh(self, path: str) -> str:
        shutil.rmtree(path, ignore_errors=True)
        return path


def install_collection(bench: Bench) -> None:
    dist = os.path.join(bench.work, "dist")
    galaxy = os.path.join(BIN, "ansible-galaxy")
    bench.run([galaxy, "collection", "build", ROOT, "--output-path", dist])
    tarball = glob.glob(os.path.join(dist, "vcs-inventory-*.tar.gz"))[0]
    bench.run([galaxy, "collection", "install", tarball, "-p", bench.collections, "--force"])


def scenarios(bench: Bench, bare: str, fast: CountingProxy, capped: CountingProxy) -> None:
    work = bench.work
    fast_url = f"git://127.0.0.1:{fast.port}/repo.git"
    capped_url = f"git://127.0.0.1:{capped.port}/repo.git"
    head = synthetic_repo.git("rev-parse", "refs/heads/main", cwd=bare)
    local = os.path.join(work, "local")
    synthetic_repo.git("clone", "-q", bare, local)
    warm = bench.source("warm", fast_url)
    over_cap = bench.source("capped", capped_url)
    cold_cache = os.path.join(work, "cold-cache")
    cold = bench.source("cold", fast_url, cache_dir=cold_cache)
    clone = os.path.join(work, "clone")

    def wipe_clone_parse(*depth: str) -> dict:
        fetched = bench.counted(capped, lambda: bench.run(["git", "clone", "-q", *depth, capped_url,
                                                           bench.fresh(clone)]))
        parsed = bench.once("parse", os.path.join(clone, "inventory"))
        return {"seconds": fetched["seconds"] + parsed["seconds"], "bytes": fetched["bytes"],
                "maxrss_kb": max(fetched["maxrss_kb"] or 0, parsed["maxrss_kb"])}

    print("cold sync and cold run", flush=True)
    bench.rounds({
        "cold_sync": lambda: bench.counted(fast, lambda: bench.once("sync", fast_url, bench.fresh(cold_cache))),
        "cold_git_clone_depth1": lambda: bench.counted(fast, lambda: bench.run(
            ["git", "clone", "-q", "--depth", "1", fast_url, bench.fresh(clone)])),
        "cold_run": lambda: (bench.fresh(cold_cache), bench.once("parse", cold, "--commit", head))[1],
    })
    print("warm rerun, nothing new", flush=True)
    listing = {name: os.path.join(work, f"{name}.json") for name in ("plugin", "local")}
    bench.rounds({
        "warm_plugin": lambda: bench.counted(fast, lambda: bench.once("parse", warm, "--commit", head)),
        "warm_local": lambda: bench.once("parse", os.path.join(local, "inventory")),
        "warm_plugin_list": lambda: bench.cli_list(warm, listing["plugin"]),
        "warm_local_list": lambda: bench.cli_list(os.path.join(local, "inventory"), listing["local"]),
        "warm_plugin_unstored": lambda: (
            [shutil.rmtree(p) for p in glob.glob(os.path.join(work, "cache", "*", "parsed"))],
            bench.once("parse", warm, "--commit", head))[1],
    })
    bench.facts["oracle_equal"] = report.same_inventory(listing["plugin"], listing["local"])
    bench.facts["profile"] = os.path.join(work, "warm.prof")
    bench.once("parse", warm, "--profile", bench.facts["profile"])
    print("100 Mbit/s link: warm rerun vs wipe + clone + parse", flush=True)
    bench.rounds({
        "capped_plugin": lambda: bench.counted(capped, lambda: bench.once("parse", over_cap, "--commit", head)),
        "capped_wipe_clone_parse": wipe_clone_parse,
        "capped_wipe_clone_depth1_parse": lambda: wipe_clone_parse("--depth", "1"),
    })
    print("rerun after one small commit", flush=True)
    upstream_work = os.path.join(work, "upstream-work")
    counter = iter(range(1, 1000))

    def after_small_commit() -> dict:
        commit = synthetic_repo.small_commit(bare, upstream_work, next(counter))
        return bench.counted(fast, lambda: bench.once("parse", warm, "--commit", commit))

    bench.rounds({"small_commit": after_small_commit})
    print("rerun inside refresh_interval", flush=True)
    refresh = bench.source("refresh", fast_url, refresh_interval=3600)
    bench.rounds({"refresh_interval": lambda: bench.counted(fast, lambda: bench.once("parse", refresh))})


def scaling(bench: Bench, daemon_root: str, fast: CountingProxy, hosts: int) -> None:
    print(f"{hosts:,} hosts", flush=True)
    work = bench.work
    bare = os.path.join(daemon_root, "big.git")
    head = synthetic_repo.build(bare, hosts=hosts, groups=50, commits=2)
    local = os.path.join(work, "big-local")
    synthetic_repo.git("clone", "-q", bare, local)
    warm = bench.source("big", f"git://127.0.0.1:{fast.port}/big.git")
    # The first run (sync + parse + store) is measured at 5,000 hosts only: here it would add
    # about a minute and a half to the benchmark, which has to stay under ten.
    bench.rounds({
        "big_local": lambda: bench.once("parse", os.path.join(local, "inventory")),
        "big_plugin_warm": lambda: bench.once("parse", warm, "--commit", head),
    })
    bench.facts["big_hosts"] = hosts


def long_lived(bench: Bench, daemon_root: str, fast: CountingProxy, builds: int = 30) -> None:
    """One process that builds the inventory again and again (ansible-runner, a test harness): a new
    InventoryManager per build of a 3,000-host inventory, through the plugin (warm: the stored parse
    is restored) and from a local directory; the RSS after each build and the replaced inventories
    still alive. Not timed: a memory figure."""
    print(f"long-lived process: {builds} builds of 3,000 hosts", flush=True)
    bare = os.path.join(daemon_root, "rebuilds.git")
    synthetic_repo.build(bare, hosts=3000, groups=50, commits=2)
    local = os.path.join(bench.work, "rebuilds-local")
    synthetic_repo.git("clone", "-q", bare, local)
    plugin = bench.source("rebuilds", f"git://127.0.0.1:{fast.port}/rebuilds.git")
    bench.once("parse", plugin)  # the first run syncs and stores the parse
    for name, source in (("plugin", plugin), ("local", os.path.join(local, "inventory"))):
        result = bench.once("rebuilds", source, "--builds", str(builds))
        rss = [kb / 1024 for kb in result["rss_kb"]]
        bench.facts.setdefault("rebuilds", {})[name] = {
            "first_mib": rss[0], "last_mib": rss[-1], "max_mib": max(rss), "growth_mib": rss[-1] - rss[0],
            "waiting_max": max(result["waiting"]), "builds": builds,
        }


JOB_PLAY = """\
- hosts: group_07
  gather_facts: false
  connection: local
  tasks:
    - ansible.builtin.debug:
        msg: "{{ inventory_hostname }}"
"""


def job_start(bench: Bench, daemon_root: str, fast: CountingProxy, runs: int) -> None:
    """Whole ansible-playbook processes: a one-task play on a 100-host group of 5,000 hosts (50 groups, INI,
    one group_vars/all.yml), local connection, no facts; the plugin's warm rerun against the same job on a
    local copy, and the floor: the same play with no inventory (-i localhost,)."""
    print("job start: whole ansible-playbook runs", flush=True)
    work = bench.work
    bare = os.path.join(daemon_root, "job.git")
    synthetic_repo.build(bare, hosts=5000, groups=50, commits=2, only_all=True)
    local = os.path.join(work, "job-local")
    synthetic_repo.git("clone", "-q", bare, local)
    url = f"git://127.0.0.1:{fast.port}/job.git"
    warm = bench.source("job", url)
    refresh = bench.source("job-refresh", url, refresh_interval=3600)
    # The play alone: the 100 hosts it runs on, in a local inventory of their own.
    small = os.path.join(work, "job-play-only")
    os.makedirs(os.path.join(small, "group_vars"))
    shutil.copy(os.path.join(local, "inventory", "group_vars", "all.yml"), os.path.join(small, "group_vars"))
    with open(os.path.join(local, "inventory", "hosts"), encoding="utf-8") as handle:
        section = handle.read().split("[group_07]\n", 1)[1].split("\n\n", 1)[0]
    with open(os.path.join(small, "hosts"), "w", encoding="utf-8") as handle:
        handle.write("[group_07]\n" + section + "\n")
    play = os.path.join(work, "job-play.yml")
    with open(play, "w", encoding="utf-8") as handle:
        handle.write(JOB_PLAY)
    playbook = os.path.join(BIN, "ansible-playbook")
    variants = {"job_plugin": warm, "job_plugin_refresh": refresh, "job_local": os.path.join(local, "inventory"),
                "job_play_only": small, "job_floor": "localhost,"}
    for name, source in variants.items():  # the first plugin run syncs and stores the parse: not measured
        out = os.path.join(work, f"{name}.out")
        with open(out, "wb") as handle:
            bench.run([playbook, "-i", source, play], stdout=handle)
        with open(out, encoding="utf-8", errors="replace") as handle:
            recap = [line for line in handle if "ok=1 " in line]
        if len(recap) != (0 if name == "job_floor" else 100):
            raise RuntimeError(f"{name}: the play ran on {len(recap)} hosts, not 100")
    saved, bench.runs = bench.runs, runs
    try:
        bench.rounds({name: (lambda source=source: bench.run([playbook, "-i", source, play]))
                      for name, source in variants.items()})
    finally:
        bench.runs = saved
    bench.facts["job_runs"] = runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured rounds after the warm-up (default 5)")
    parser.add_argument("--big-hosts", type=int, default=50_000, help="hosts of the scaling inventory")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--job-runs", type=int, default=7, help="rounds of whole ansible-playbook runs (at least 7)")
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "performance.md"))
    parser.add_argument("--big-only", action="store_true", help="only the big-repository case; print, write no page")
    parser.add_argument("--job-only", action="store_true", help="only the job-start case; print, write no page")
    parser.add_argument("--long-lived-only", action="store_true",
                        help="only the rebuilds in one long-lived process; print, write no page")
    parser.add_argument("--job-json", help="with --job-only: also write the job-start summary to this JSON file")
    parser.add_argument("--other-cores", nargs="*", default=[], metavar="JSON",
                        help="job-start summaries (--job-json) of other ansible-core releases, shown beside this one")
    args = parser.parse_args()
    started = time.time()
    load_before = os.getloadavg()
    work = tempfile.mkdtemp(prefix="vcs-inventory-bench-")
    bench = Bench(work, args.runs)
    daemon_root = os.path.join(work, "served")
    os.makedirs(daemon_root)
    daemon = None
    try:
        print(f"building the collection and the repository in {work}", flush=True)
        install_collection(bench)
        if args.big_only:
            daemon = GitDaemon(daemon_root)
            with CountingProxy(daemon.port) as fast, CountingProxy(daemon.port, rate_bits=CAP_BITS) as capped:
                big_repo.measure(bench, daemon_root, capped, fast)
            results = report.summarise(bench.samples, bench.facts)
            print(big_repo.table(results))
            print(report.console(results))
            return 0
        if args.long_lived_only:
            daemon = GitDaemon(daemon_root)
            with CountingProxy(daemon.port) as fast:
                long_lived(bench, daemon_root, fast)
            print(report.rebuilds_table(bench.facts))
            return 0
        if args.job_only:
            daemon = GitDaemon(daemon_root)
            with CountingProxy(daemon.port) as fast:
                job_start(bench, daemon_root, fast, max(args.job_runs, 7))
            summary = report.summarise(bench.samples, bench.facts)
            print(report.job_table(summary, bench.facts))
            if args.job_json:
                with open(args.job_json, "w", encoding="utf-8") as handle:
                    json.dump(report.job_facts(summary, bench.facts), handle, indent=1)
            return 0
        bare = os.path.join(daemon_root, "repo.git")
        synthetic_repo.build(bare)
        bench.facts["repo"] = synthetic_repo.describe(bare)
        daemon = GitDaemon(daemon_root)
        with CountingProxy(daemon.port) as fast, CountingProxy(daemon.port, rate_bits=CAP_BITS) as capped:
            scenarios(bench, bare, fast, capped)
            scaling(bench, daemon_root, fast, args.big_hosts)
            big_repo.measure(bench, daemon_root, capped, fast)
            long_lived(bench, daemon_root, fast)
            job_start(bench, daemon_root, fast, max(args.job_runs, 7))
        bench.facts["job_other"] = [report.read_job_facts(path) for path in args.other_cores]
        bench.facts.update(load_before=load_before, load_after=os.getloadavg(), minutes=(time.time() - started) / 60,
                           runs=args.runs, cap_bits=CAP_BITS)
        results = report.summarise(bench.samples, bench.facts)
        os.makedirs(os.path.join(HERE, "output"), exist_ok=True)
        with open(os.path.join(HERE, "output", "results.json"), "w", encoding="utf-8") as handle:
            json.dump({"samples": bench.samples, "summary": results}, handle, indent=1, default=str)
        text = report.document(results, bench.facts, os.path.join(HERE, "performance.md.in"))
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(report.console(results))
        print(f"wrote {os.path.relpath(args.output, ROOT)} in {(time.time() - started) / 60:.1f} min")
    finally:
        if daemon is not None:
            daemon.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
