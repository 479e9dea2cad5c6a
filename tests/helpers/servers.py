"""Real Git servers on 127.0.0.1 for tests; each is stopped by whoever started it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class GitDaemon:
    """`git daemon` serving every repository under root as git://127.0.0.1:<port>/<name>.git."""

    def __init__(self, root: str, env: dict | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--enable=upload-pack", f"--base-path={root}",
             "--listen=127.0.0.1", f"--port={self.port}", root],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env=dict(os.environ, **(env or {})),
        )
        wait_for_port(self.port, self.proc)

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def stop(self) -> None:
        stop(self.proc)


class HttpGitServer:
    """Smart HTTP through `git http-backend`; optional Basic auth and TLS."""

    def __init__(self, root: str, auth: str | None = None, tls: tuple[str, str] | None = None) -> None:
        self.root = root
        self.scheme = "https" if tls else "http"
        portfile = os.path.join(root, f".port-{os.getpid()}-{time.monotonic_ns()}")
        args = [sys.executable, os.path.join(HERE, "git_http_server.py"), root, portfile]
        if auth:
            args += ["--auth", auth]
        if tls:
            args += ["--tls", *tls]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 15
        while not os.path.exists(portfile):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                stop(self.proc)
                raise RuntimeError("the HTTP git server did not start")
            time.sleep(0.05)
        with open(portfile) as handle:
            self.port = int(handle.read())
        os.unlink(portfile)
        wait_for_port(self.port, self.proc)

    def url(self, name: str, userinfo: str | None = None) -> str:
        creds = f"{userinfo}@" if userinfo else ""
        return f"{self.scheme}://{creds}127.0.0.1:{self.port}/{name}.git"

    def stop(self) -> None:
        stop(self.proc)
