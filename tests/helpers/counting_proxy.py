"""A TCP proxy on 127.0.0.1 that counts connections and bytes, and can cap the link's rate.

    with CountingProxy(upstream_port, rate_bits=100_000_000) as proxy:
        before = proxy.snapshot()
        ...  # clients connect to 127.0.0.1:proxy.port
        used = proxy.since(before)  # {"connections": n, "bytes_up": n, "bytes_down": n}

The cap is a token bucket per direction shared by all connections, like one access link: with
rate_bits=100_000_000 a 12.5 MB pack takes about a second to come down, whatever the client.
"""

from __future__ import annotations

import socket
import threading
import time

CHUNK = 64 * 1024


class _Bucket:
    """Token bucket: take(n) returns once n bytes may pass at `rate` bytes per second."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = max(rate / 50, CHUNK)  # 20 ms worth, so pacing stays smooth
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self, amount: int) -> None:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= amount
            wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


class CountingProxy:
    def __init__(self, upstream_port: int, rate_bits: float | None = None, delay: float = 0) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.counts = {"connections": 0, "bytes_up": 0, "bytes_down": 0}
        self.rate_bits = rate_bits
        self.delay = delay  # seconds each connection waits before its first bytes reach the server (a slow server)
        self.buckets = None
        if rate_bits:
            self.buckets = {"bytes_up": _Bucket(rate_bits / 8), "bytes_down": _Bucket(rate_bits / 8)}
        self.sockets: set = set()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="counting-proxy", daemon=True)

    def __enter__(self) -> CountingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def snapshot(self) -> dict:
        with self.lock:
            return dict(self.counts)

    def since(self, before: dict) -> dict:
        self.settle()
        now = self.snapshot()
        return {key: now[key] - before[key] for key in now}

    def _add(self, key: str, amount: int) -> None:
        with self.lock:
            self.counts[key] += amount

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            self._add("connections", 1)
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        if self.delay:
            time.sleep(self.delay)
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        for sock in (client, server):
            # A relay must not hold back small writes (Nagle) that the direct connection would send at once:
            # dulwich writes each pkt-line of a request on its own, git buffers the request.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.sockets.update((client, server))
        pumps = [threading.Thread(target=self._pump, args=(a, b, key), daemon=True)
                 for a, b, key in ((client, server, "bytes_up"), (server, client, "bytes_down"))]
        for pump in pumps:
            pump.start()
        threading.Thread(target=self._close_after, args=(pumps, client, server), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, key: str) -> None:
        bucket = self.buckets[key] if self.buckets else None
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                if bucket is not None:
                    bucket.take(len(data))
                self._add(key, len(data))
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)  # pass the end of this direction on
            except OSError:
                pass

    def _close_after(self, pumps: list, *sockets: socket.socket) -> None:
        for pump in pumps:
            pump.join()
        with self.lock:
            self.sockets.difference_update(sockets)
        for sock in sockets:
            sock.close()

    def settle(self, timeout: float = 2.0) -> None:
        """Wait until every proxied connection is closed, so the counts are final."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.sockets:
                    return
            time.sleep(0.005)

    def stop(self) -> None:
        self.stopped.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self.listener.close()
        self.thread.join(timeout=5)
        with self.lock:
            sockets, self.sockets = self.sockets, set()
        for sock in sockets:
            try:
                sock.close()
            except OSError:
                pass
