"""A TCP proxy that can cut the network, for partition tests: a worker connects to
PostgreSQL through it, and `cut()` black-holes every byte both ways (connections stay open
and nothing is refused or reset, as when a cable is pulled or a firewall drops packets),
including connections made during the cut. `heal()` ends the cut: connections that lived
through it are closed (after a real cut of seconds the peers would have given up on them
too, by TCP's retransmission limits) and new ones are forwarded again.

Threads, not asyncio: the proxy keeps forwarding while the test's own event loop is busy.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class NetCut:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def cut(self) -> None:
        self._cut.set()

    def heal(self) -> None:
        with self._lock:
            doomed, self._sockets = self._sockets, set()
            self._cut.clear()
        for sock in doomed:
            _close(sock)

    def close(self) -> None:
        self._closed.set()
        _close(self._listener)
        self.heal()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        with self._lock:
            self._sockets.add(client)
        if self._cut.is_set():  # a connection attempt during the cut: nothing answers
            self._pump(client, None)
            return
        try:
            server = socket.create_connection(self._upstream, timeout=5)
        except OSError:
            _close(client)
            return
        server.settimeout(None)
        with self._lock:
            self._sockets.add(server)
        threading.Thread(target=self._pump, args=(server, client), daemon=True).start()
        self._pump(client, server)

    def _pump(self, source: socket.socket, target: socket.socket | None) -> None:
        """Copy `source` to `target` until either closes; during a cut, read and drop."""
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if target is None or self._cut.is_set():
                continue
            try:
                target.sendall(data)
            except OSError:
                break
        _close(source)
        if target is not None:
            _close(target)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextlib.contextmanager
def netcut(upstream_port: int) -> Iterator[NetCut]:
    proxy = NetCut(upstream_port)
    try:
        yield proxy
    finally:
        proxy.close()
