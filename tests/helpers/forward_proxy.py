"""A real HTTP forward proxy for tests, on 127.0.0.1, in a thread of the test process.

CONNECT tunnels (https:// URLs) and absolute-URI requests (http:// URLs), optional Basic proxy
authentication (407 otherwise), and a record of every request it received, so tests can count what
went through it. Stop it with stop().
"""

from __future__ import annotations

import base64
import select
import socket
import socketserver
import threading
from urllib.parse import urlsplit


class ForwardProxy:
    def __init__(self, auth: str | None = None) -> None:
        self.auth = auth
        self.requests: list[tuple[str, str, bool]] = []  # (method, target, whether it was let through)
        self.proxy_authorizations: list[str] = []  # the Proxy-Authorization headers received
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                proxy._handle(self.connection, self.rfile)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, userinfo: str | None = None) -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def passed(self, method: str | None = None) -> list[tuple[str, str]]:
        """The requests it forwarded (optionally only those of one method)."""
        with self._lock:
            return [(m, t) for m, t, ok in self.requests if ok and (method is None or m == method)]

    def refused(self) -> int:
        with self._lock:
            return sum(1 for _m, _t, ok in self.requests if not ok)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    # -- one client connection ------------------------------------------------------------------
    def _handle(self, client: socket.socket, rfile) -> None:
        while True:
            line = rfile.readline(65536)
            if not line.strip():
                return
            method, target, _version = line.decode("latin-1").split(" ", 2)
            headers = []
            while True:
                header = rfile.readline(65536)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _sep, value = header.decode("latin-1").partition(":")
                headers.append((name.strip(), value.strip()))
            given = next((v for n, v in headers if n.lower() == "proxy-authorization"), None)
            if given is not None:
                with self._lock:
                    self.proxy_authorizations.append(given)
            body = self._read_body(rfile, headers) if method != "CONNECT" else b""
            allowed = self.auth is None or given == "Basic " + base64.b64encode(self.auth.encode()).decode()
            with self._lock:
                self.requests.append((method, target, allowed))
            if not allowed:
                client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                               b"Proxy-Authenticate: Basic realm=\"test proxy\"\r\nContent-Length: 0\r\n\r\n")
                continue  # keep-alive: the client may retry with credentials on this connection
            if method == "CONNECT":
                self._tunnel(client, rfile, target)
            else:
                self._forward(client, method, target, headers, body)
            return

    @staticmethod
    def _read_body(rfile, headers) -> bytes:
        values = {n.lower(): v for n, v in headers}
        if values.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(rfile.read(size))
                rfile.readline()
        length = int(values.get("content-length") or 0)
        return rfile.read(length) if length else b""

    def _tunnel(self, client: socket.socket, rfile, target: str) -> None:
        host, _sep, port = target.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        pending = rfile.peek() if hasattr(rfile, "peek") else b""
        if pending:
            upstream.sendall(rfile.read(len(pending)))
        self._pipe(client, upstream)

    def _forward(self, client: socket.socket, method: str, target: str, headers, body: bytes) -> None:
        parts = urlsplit(target)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        skip = {"proxy-authorization", "proxy-connection", "connection", "keep-alive", "transfer-encoding",
                "content-length"}
        lines = [f"{method} {path} HTTP/1.1"] + [f"{n}: {v}" for n, v in headers if n.lower() not in skip]
        lines += [f"Content-Length: {len(body)}", "Connection: close"]
        try:
            upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=30)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        with upstream:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                client.sendall(data)

    @staticmethod
    def _pipe(client: socket.socket, upstream: socket.socket) -> None:
        with upstream:
            sockets = [client, upstream]
            while True:
                readable, _w, _x = select.select(sockets, [], [], 30)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
