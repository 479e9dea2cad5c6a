"""A malicious git:// server on 127.0.0.1: the real `git upload-pack` behind it, chosen pkt-lines rewritten.

It serves every repository under root like `git daemon`, but passes each pkt-line upload-pack sends
through rewrite(line) -> line, so a test can forge what a hostile server would say (a symref
target, a peeled tag line) while the objects stay real. protocol=0 answers a client that asks
for protocol v2 in v0, as an old server would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from typing import Callable

from helpers.servers import free_port


def pkt(payload: bytes) -> bytes:
    return b"%04x" % (len(payload) + 4) + payload


class LyingGitServer:
    def __init__(self, root: str, rewrite: Callable[[bytes], bytes], protocol: int = 2) -> None:
        self.root = root
        self.rewrite = rewrite
        self.protocol = protocol
        self.port = free_port()
        self.rewritten = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._procs: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def stop(self) -> None:
        self._listener.close()
        with self._lock:
            for proc in self._procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()

    def _accept(self) -> None:
        while True:
            try:
                conn, _peer = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            stream = conn.makefile("rb")
            request = _read_pkt(stream)  # "git-upload-pack /name.git\0host=...\0[\0version=2\0]"
            if not request:
                return
            fields = request.split(b"\0")
            path = fields[0].split(b" ", 1)[1].decode().lstrip("/")
            env = dict(os.environ)
            if self.protocol == 2 and b"version=2" in fields:
                env["GIT_PROTOCOL"] = "version=2"
            proc = subprocess.Popen(["git", "upload-pack", "--strict", os.path.join(self.root, path)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
            with self._lock:
                self._procs.append(proc)
            relay = threading.Thread(target=self._to_server, args=(stream, proc), daemon=True)
            relay.start()
            try:
                while True:
                    line = _read_pkt(proc.stdout, raw=True)
                    if line is None:
                        break
                    if len(line) > 4:
                        changed = self.rewrite(line[4:])
                        if changed != line[4:]:
                            self.rewritten += 1
                            line = pkt(changed)
                    conn.sendall(line)
            except OSError:
                pass
            finally:
                proc.kill()
                proc.wait()

    @staticmethod
    def _to_server(stream, proc: subprocess.Popen) -> None:
        try:
            while True:
                data = stream.read1(65536)
                if not data:
                    break
                proc.stdin.write(data)
                proc.stdin.flush()
        except (OSError, ValueError):
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass


def _read_pkt(stream, raw: bool = False) -> bytes | None:
    """One pkt-line: its payload, or (raw) the whole line with its length; None at the end."""
    size = stream.read(4)
    if len(size) < 4:
        return None
    length = int(size, 16)
    payload = stream.read(length - 4) if length > 4 else b""
    return size + payload if raw else payload
