"""The big-repository case: an inventory beside many files and binaries it does not need.

Generated with git fast-import (deterministic): `inventory/` (a small INI inventory with
group_vars/ and host_vars/), FILES text files under `roles/`, BLOBS random binaries under `files/`,
and TAGS lightweight tags. Two bare copies are served: one that filters (uploadpack.allowFilter,
uploadpack.allowAnySHA1InWant), one that does not. The plugin is compared, in the same rounds, with
`git clone --depth 1` and with git's own partial+sparse clone (`--filter=blob:none --sparse` +
`sparse-checkout set inventory`), each followed by `ansible-inventory` on the clone.
"""

from __future__ import annotations

import os
import random
import subprocess

import synthetic_repo

FILES = 20_000
BLOBS = 12
BLOB_BYTES = 1_000_000
TAGS = 300
KIB = 1024


def build(bare: str, filters: bool, seed: int = 3) -> str:
    synthetic_repo.git("init", "-q", "--bare", "-b", "main", bare)
    if filters:
        synthetic_repo.git("config", "uploadpack.allowFilter", "true", cwd=bare)
        synthetic_repo.git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
    rng = random.Random(seed)
    files = {
        "inventory/hosts": "".join(f"[group_{g}]\n" + "".join(f"h{g}-{i}.example.net rack=r{i % 9}\n" for i in range(40))
                                   for g in range(10)).encode(),
        "inventory/group_vars/all.yml": b"ntp_server: ntp.example.net\n",
        "inventory/host_vars/h0-0.example.net.yml": b"maintenance: true\n",
    }
    for k in range(FILES):
        files[f"roles/role_{k % 200:03d}/tasks/file_{k:05d}.yml"] = (
            f"- name: task {k}\n  debug:\n    msg: {rng.getrandbits(64):016x}\n".encode() * 8)
    for k in range(BLOBS):
        files[f"files/image_{k:02d}.bin"] = rng.randbytes(BLOB_BYTES)
    env = dict(os.environ, **synthetic_repo.GIT_ENV)
    importer = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=bare, env=env, stdin=subprocess.PIPE)
    stamp = f"{synthetic_repo.EPOCH} +0000".encode()
    chunks = [b"commit refs/heads/main\nmark :1\n", b"author Bench <bench@example.invalid> " + stamp + b"\n",
              b"committer Bench <bench@example.invalid> " + stamp + b"\n", b"data 4\nbig\n"]
    for path, content in sorted(files.items()):
        chunks += [f"M 100644 inline {path}\n".encode(), b"data %d\n" % len(content) + content + b"\n"]
    for k in range(TAGS):
        chunks.append(f"reset refs/tags/release-{k:04d}\nfrom :1\n\n".encode())
    importer.stdin.write(b"".join(chunks))
    importer.stdin.close()
    if importer.wait() != 0:
        raise RuntimeError("git fast-import failed")
    synthetic_repo.git("repack", "-adq", cwd=bare)
    return synthetic_repo.git("rev-parse", "refs/heads/main", cwd=bare)


def disk_bytes(path: str) -> int:
    """Blocks on disk under path, each hard-linked file once."""
    seen, total = set(), 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + dirnames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def measure(bench, daemon_root: str, capped, fast) -> None:
    """Add the big_* samples to bench (bytes, seconds, disk) and facts for the report."""
    work = bench.work
    head = build(os.path.join(daemon_root, "bigrepo.git"), filters=True)
    build(os.path.join(daemon_root, "bigrepo-nofilter.git"), filters=False)
    bench.facts["big_repo"] = {"files": FILES + 3, "blobs": BLOBS, "blob_mb": BLOB_BYTES / 1e6, "tags": TAGS,
                               "head": head}
    url = f"git://127.0.0.1:{capped.port}/bigrepo.git"
    plain_url = f"git://127.0.0.1:{capped.port}/bigrepo-nofilter.git"
    cold_cache = os.path.join(work, "big-cold-cache")
    cold = bench.source("big-cold", url, cache_dir=cold_cache)
    cold_plain = bench.source("big-cold-plain", plain_url, cache_dir=cold_cache)
    warm = bench.source("big-warm", f"git://127.0.0.1:{fast.port}/bigrepo.git",
                        cache_dir=os.path.join(work, "big-warm-cache"))
    clone = os.path.join(work, "big-clone")
    listing = os.path.join(work, "big.json")

    def with_disk(sample: dict, path: str) -> dict:
        sample["disk"] = disk_bytes(path)
        return sample

    def plugin_cold(source: str) -> dict:
        bench.fresh(cold_cache)
        return with_disk(bench.counted(capped, lambda: bench.cli_list(source, listing)), cold_cache)

    def git_then_parse(*steps: list[str]) -> dict:
        bench.fresh(clone)
        total = {"seconds": 0.0, "maxrss_kb": 0}
        for argv in steps:
            got = bench.counted(capped, lambda argv=argv: bench.run(argv))
            total["seconds"] += got["seconds"]
            total["bytes"] = total.get("bytes", 0) + got["bytes"]
        parsed = bench.cli_list(os.path.join(clone, "inventory"), listing)
        total["seconds"] += parsed["seconds"]
        return with_disk(total, clone)

    print("big repository: cold runs over 100 Mbit/s, side by side with git", flush=True)
    bench.rounds({
        "big_plugin_cold": lambda: plugin_cold(cold),
        "big_plugin_cold_nofilter": lambda: plugin_cold(cold_plain),
        "big_git_depth1": lambda: git_then_parse(["git", "clone", "-q", "--depth", "1", url, clone]),
        "big_git_partial_sparse": lambda: git_then_parse(
            ["git", "clone", "-q", "--depth", "1", "--filter=blob:none", "--sparse", url, clone],
            ["git", "-C", clone, "sparse-checkout", "set", "inventory"]),
    })
    print("big repository: warm rerun, nothing new", flush=True)
    bench.cli_list(warm, listing)
    bench.rounds({"big_plugin_warm": lambda: bench.counted(fast, lambda: bench.cli_list(warm, listing))})


def targets(r: dict) -> list[tuple]:
    """The issue's goals for big repositories: (what, value, unit, wanted, met)."""
    def ratio(a: str, b: str, key: str) -> float:
        return r[a][key] / r[b][key] if r[b][key] else float("inf")

    cold_bytes = ratio("big_plugin_cold", "big_git_depth1", "bytes")
    cold_time = ratio("big_plugin_cold", "big_git_depth1", "seconds")
    disk = ratio("big_plugin_cold", "big_git_depth1", "disk")
    plain = ratio("big_plugin_cold_nofilter", "big_git_depth1", "bytes")
    return [
        ("big repo: cold bytes / `git clone --depth 1` (server filters)", cold_bytes, "x", "<= 0.1x", cold_bytes <= 0.1),
        ("big repo: cold `ansible-inventory` / `git clone --depth 1` + `ansible-inventory`, 100 Mbit/s", cold_time,
         "x", "<= 0.8x", cold_time <= 0.8),
        ("big repo: cache entry on disk / the shallow clone's directory", disk, "x", "<= 0.25x", disk <= 0.25),
        ("big repo: rerun with nothing new, bytes (300 tags)", r["big_plugin_warm"]["bytes"], "B", "<= 1 KiB",
         r["big_plugin_warm"]["bytes"] <= KIB),
        ("big repo, server without filters: cold bytes / `git clone --depth 1`", plain, "x", "<= 1.1x", plain <= 1.1),
    ]


def table(r: dict) -> str:
    rows = [("plugin, server filters", "big_plugin_cold"), ("plugin, server without filters", "big_plugin_cold_nofilter"),
            ("`git clone --depth 1`", "big_git_depth1"),
            ("`git clone --depth 1 --filter=blob:none --sparse` + `sparse-checkout set inventory`",
             "big_git_partial_sparse"), ("plugin, warm rerun with nothing new (no cap)", "big_plugin_warm")]
    lines = ["| cold run over 100 Mbit/s, then `ansible-inventory --list` | s (min-max) | bytes | disk |",
             "|---|---:|---:|---:|"]
    for label, name in rows:
        row = r[name]
        disk = "-" if row.get("disk") is None else f"{row['disk'] / KIB / KIB:.2f} MiB"
        size = row["bytes"] / KIB
        lines.append(f"| {label} | {row['seconds']:.2f} ({row['min']:.2f}-{row['max']:.2f}) | {size:,.1f} KiB | {disk} |")
    return "\n".join(lines)
