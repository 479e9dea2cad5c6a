"""A deterministic synthetic inventory repository with a heavy history, built with git fast-import.

Layout at every commit:

    inventory/hosts                      INI: <hosts> hosts in <groups> groups, 4 vars per host,
                                         one parent group, group vars in [group:vars] sections
    inventory/group_vars/all.yml         a few vars for every host
    inventory/group_vars/group_NN.yml    one file per group
    inventory/host_vars/<host>.yml       a handful of hosts
    README.md

The inventory file is named `hosts` (no .ini extension) because ansible-core 2.16 skips `*.ini` files
inside a directory source. Every commit rewrites the whole `hosts` file (each host gets a new
random `asset`), so the history is heavy for a full clone while a shallow fetch of one commit is not.
"""

from __future__ import annotations

import os
import random
import subprocess

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
}
EPOCH = 1_767_225_600  # 2026-01-01, so commit ids are the same on every machine


def git(*args: str, cwd: str | None = None, input: bytes | None = None) -> str:
    env = dict(os.environ, **GIT_ENV)
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, input=input, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode(errors="replace").strip()


def host_name(index: int, group: int) -> str:
    return f"h{index:05d}.g{group:02d}.example.net"


def hosts_file(hosts: int, groups: int, rng: random.Random, generation: int) -> bytes:
    per_group = hosts // groups
    lines = []
    for group in range(groups):
        lines.append(f"[group_{group:02d}]")
        for i in range(per_group):
            index = group * per_group + i
            lines.append(
                f"{host_name(index, group)} ansible_host=10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"
                f" ansible_port={22 + (index % 3)} rack=r{index % 40:02d} asset={rng.getrandbits(48):012x}"
            )
        lines.append("")
        lines.append(f"[group_{group:02d}:vars]")
        lines.append(f"tier={'frontend' if group % 2 else 'backend'}")
        lines.append(f"generation={generation}")
        lines.append("")
    lines.append("[fleet:children]")
    lines.extend(f"group_{group:02d}" for group in range(groups))
    lines.append("")
    return "\n".join(lines).encode()


def static_files(hosts: int, groups: int, only_all: bool = False) -> dict[str, bytes]:
    files = {
        "README.md": b"Synthetic inventory for the vcs.inventory benchmark.\n",
        "inventory/group_vars/all.yml": b"ntp_server: ntp.example.net\ndns:\n  - 10.0.0.53\n  - 10.0.1.53\n",
    }
    if only_all:  # the job-start layout: one group_vars/all.yml, nothing else beside the inventory
        return files
    for group in range(groups):
        files[f"inventory/group_vars/group_{group:02d}.yml"] = (
            f"datacenter: dc{group % 4}\nowner: team-{group % 7}\nhttp_port: {8000 + group}\n".encode()
        )
    per_group = hosts // groups
    for index in range(0, hosts, max(hosts // 5, 1)):
        files[f"inventory/host_vars/{host_name(index, index // per_group)}.yml"] = b"maintenance: true\n"
    return files


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def build(bare: str, hosts: int = 5000, groups: int = 50, commits: int = 120, seed: int = 1,
          only_all: bool = False) -> str:
    """Create the bare repository `bare` (branch main); return the id of its last commit."""
    git("init", "-q", "--bare", "-b", "main", bare)
    rng = random.Random(seed)
    env = dict(os.environ, **GIT_ENV)
    # Streamed commit by commit, so the whole history is never held in memory at once.
    importer = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=bare, env=env, stdin=subprocess.PIPE)
    for number in range(commits):
        files = {"inventory/hosts": hosts_file(hosts, groups, rng, number)}
        if number == 0:
            files.update(static_files(hosts, groups, only_all))
        stamp = f"{EPOCH + number * 3600} +0000".encode()
        chunks = [b"commit refs/heads/main\n", b"author Bench <bench@example.invalid> " + stamp + b"\n",
                  b"committer Bench <bench@example.invalid> " + stamp + b"\n",
                  _data(f"Inventory generation {number}".encode())]
        for path, content in sorted(files.items()):
            chunks += [f"M 100644 inline {path}\n".encode(), _data(content)]
        importer.stdin.write(b"".join(chunks) + b"\n")
    importer.stdin.close()
    if importer.wait() != 0:
        raise RuntimeError("git fast-import failed")
    # One pack with deltas, as a server that ran `git gc` would have.
    git("repack", "-adq", cwd=bare)
    return git("rev-parse", "refs/heads/main", cwd=bare)


def small_commit(bare: str, work: str, number: int) -> str:
    """Push a commit that changes one host line of inventory/hosts; return its id."""
    if not os.path.isdir(work):
        git("clone", "-q", bare, work)
    path = os.path.join(work, "inventory", "hosts")
    with open(path, "rb") as handle:
        lines = handle.read().split(b"\n")
    lines[1] = lines[1].split(b" asset=")[0] + b" asset=small%06d" % number
    with open(path, "wb") as handle:
        handle.write(b"\n".join(lines))
    git("commit", "-qam", f"Small change {number}", cwd=work)
    git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def describe(bare: str) -> dict:
    """What the benchmark's table says about the repository."""
    counts = dict(line.split(": ", 1) for line in git("count-objects", "-v", cwd=bare).splitlines())
    return {
        "commits": int(git("rev-list", "--count", "refs/heads/main", cwd=bare)),
        "files": len(git("ls-tree", "-r", "--name-only", "refs/heads/main", cwd=bare).splitlines()),
        "hosts_file_bytes": int(git("cat-file", "-s", "refs/heads/main:inventory/hosts", cwd=bare)),
        "pack_bytes": int(counts.get("size-pack", "0")) * 1024,
    }
