"""Tools for the fault suite: a TCP proxy that counts, hangs or refuses, a restartable git daemon,
big generated histories, and independent checks of what a cache entry holds."""

from __future__ import annotations

import glob
import os
import random
import resource
import selectors
import socket
import subprocess
import threading
import time

from helpers.servers import free_port, wait_for_port
from helpers.upstream import git


def wait_until(predicate, timeout: float, interval: float = 0.005, what: str = "a condition"):
    """Poll predicate until it returns something true; bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class TcpProxy:
    """A TCP listener on 127.0.0.1 in front of a server.

    mode "forward" relays both ways and counts connections and bytes; "dribble" relays too, but passes
    the server's answer on one byte every `delay` seconds (each wait is short, the whole never ends);
    "hang" accepts and never answers (a server that is up but stuck); refuse() closes the port,
    listen() opens it again.
    """

    def __init__(self, target_port: int | None = None, mode: str = "forward", delay: float = 2.0) -> None:
        self.target_port = target_port
        self.mode = mode
        self.delay = delay
        self.port = free_port()
        self.connections = 0
        self.bytes_in = 0
        self._lock = threading.Lock()
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self.listen()

    def listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        sock.settimeout(0.1)
        self._listener = sock
        self._stop.clear()
        thread = threading.Thread(target=self._accept_loop, args=(sock,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def refuse(self) -> None:
        """Close the port: connections are refused, as with a stopped server."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._drop_held()

    def close(self) -> None:
        self.refuse()

    def _drop_held(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for sock in held:
            try:
                sock.close()
            except OSError:
                pass

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _addr = listener.accept()
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._held.append(client)
            if self.mode in ("forward", "dribble"):
                thread = threading.Thread(target=self._relay, args=(client,), daemon=True)
                thread.start()
            # "hang": keep the socket open and never send a byte

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        with self._lock:
            self._held.append(upstream)
        peer = {client: upstream, upstream: client}
        selector = selectors.DefaultSelector()
        for sock in peer:
            selector.register(sock, selectors.EVENT_READ)
        reading = set(peer)
        try:
            while reading and not self._stop.is_set():
                for key, _events in selector.select(timeout=0.1):
                    sock = key.fileobj
                    data = sock.recv(65536)
                    if not data:
                        # A half-close (dulwich shuts its write side after "done"): pass it on, keep
                        # relaying the other way.
                        selector.unregister(sock)
                        reading.discard(sock)
                        try:
                            peer[sock].shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        continue
                    if sock is upstream:
                        with self._lock:
                            self.bytes_in += len(data)
                    if sock is upstream and self.mode == "dribble":
                        for index in range(len(data)):
                            if self._stop.wait(self.delay):
                                return
                            client.sendall(data[index:index + 1])
                        continue
                    peer[sock].sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            for sock in peer:
                try:
                    sock.close()
                except OSError:
                    pass


def restart(server) -> None:
    """Start a stopped GitDaemon again on the same port."""
    server.proc = subprocess.Popen(server.proc.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
    wait_for_port(server.port, server.proc)


def file_size_limit(limit: int):
    """A preexec_fn: writes past limit bytes fail with EFBIG (Python ignores SIGXFSZ), like a full disk."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def generate_history(bare: str, revisions: int, files: int, size: int, seed: int = 7) -> list[str]:
    """Write revisions commits straight into bare (git fast-import, so thousands of files are quick).

    Revision r has an inventory naming it, and rewrites a third of the data files, so every
    fetch of the next revision moves real data. Each revision also stays reachable as gen-<r>.
    """
    rng = random.Random(seed)
    parts = []
    for rev in range(revisions):
        parts.append(f"commit refs/heads/gen-{rev}\ncommitter Test <test@example.invalid> {1700000000 + rev} +0000\n"
                     f"data 5\nrev{rev}\n".encode())
        if rev:
            parts.append(f"from refs/heads/gen-{rev - 1}\n".encode())
        content = {
            "inventory/hosts": f"[big]\nbig{rev}-a\nbig{rev}-b\n\n[big:vars]\nrev={rev}\n".encode(),
            "inventory/host_vars/big{0}-a.yml".format(rev): f"host_rev: {rev}\n".encode(),
        }
        for index in range(files):
            if rev == 0 or (index + rev) % 3 == 0:
                content[f"data/d{index % 40}/f{index}.txt"] = rng.randbytes(size // 2).hex().encode()
        for path, data in content.items():
            parts.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(parts), cwd=bare, check=True,
                   capture_output=True)
    return [git("rev-parse", f"refs/heads/gen-{rev}", cwd=bare) for rev in range(revisions)]


def point_branch(bare: str, branch: str, commit: str) -> None:
    git("update-ref", f"refs/heads/{branch}", commit, cwd=bare)


def tree_mismatch(tree_dir: str, bare: str, commit: str, under: str | None = None) -> str | None:
    """Compare a checkout with the commit (its files under `under` only), file by file, using git itself."""
    listing = git("ls-tree", "-r", "-z", "--full-tree", commit, cwd=bare)
    expected = {}
    for record in filter(None, listing.split("\0")):
        meta, path = record.split("\t", 1)
        mode, _kind, sha = meta.split()
        if under is None or path.startswith(under + "/"):
            expected[path] = (mode, sha)
    actual = set()
    for dirpath, dirnames, filenames in os.walk(tree_dir):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            actual.add(os.path.relpath(os.path.join(dirpath, name), tree_dir))
    if actual != set(expected):
        extra, missing = sorted(actual - set(expected))[:5], sorted(set(expected) - actual)[:5]
        return f"files differ: extra {extra}, missing {missing}"
    batch = "".join(f"{sha}\n" for _mode, sha in expected.values())
    proc = subprocess.run(["git", "cat-file", "--batch"], input=batch.encode(), cwd=bare, capture_output=True,
                          check=True)
    out, pos = proc.stdout, 0
    for path, (mode, _sha) in expected.items():
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        blob = out[header_end + 1:header_end + 1 + size]
        pos = header_end + 1 + size + 1
        full = os.path.join(tree_dir, path)
        data = os.readlink(full).encode() if mode == "120000" else open(full, "rb").read()
        if data != blob:
            return f"the content of {path} differs"
    return None


def leftovers(entry: str) -> list[str]:
    """Temp, lock and orphaned pack files in an entry; a finished run must leave none."""
    found = []
    patterns = ["tmp-*", "*.tmp-*", "trees/tmp-*", "trees/*.tmp-*", "state/*.tmp-*", "mirror.git/objects/tmp_pack_*",
                "mirror.git/objects/incoming-*", "mirror.git/objects/pack/tmp*"]
    for pattern in patterns:
        found += glob.glob(os.path.join(entry, pattern))
    for dirpath, _dirs, files in os.walk(os.path.join(entry, "mirror.git")):
        found += [os.path.join(dirpath, n) for n in files if n.endswith(".lock")]
    pack_dir = os.path.join(entry, "mirror.git", "objects", "pack")
    for pack in glob.glob(os.path.join(pack_dir, "*.pack")):
        if not os.path.exists(pack[:-5] + ".idx"):
            found.append(pack)
    return sorted(os.path.relpath(p, entry) for p in found)


def only_entry(cache_dir: str) -> str:
    entries = [p for p in glob.glob(os.path.join(cache_dir, "*")) if os.path.isdir(p)]
    assert len(entries) == 1, f"expected one cache entry in {cache_dir}, found {entries}"
    return entries[0]


NOISE = ("Traceback", "Exception ignored", "ResourceWarning")


def flat(text: str) -> str:
    """Text with all whitespace removed: ansible-core 2.16 wraps long messages."""
    return "".join(text.split())


def assert_failed_cleanly(proc, *needles: str) -> None:
    """The run failed, its error says each needle, and no traceback or interpreter noise shows."""
    assert proc.returncode != 0, f"expected a failure:\n{proc.stdout}\n{proc.stderr}"
    for needle in needles:
        assert flat(needle) in flat(proc.stderr), (needle, proc.stderr)
    for noise in NOISE:
        assert noise not in proc.stdout + proc.stderr, (noise, proc.stderr)


def hostvars(listing: dict) -> dict:
    return listing.get("_meta", {}).get("hostvars", {})
