"""A TCP link to a real server (Redis, SeaweedFS's S3 gateway) that a test can break.

The store is pointed at the link's port instead of the server's. `forward()` relays bytes
both ways, as if the store spoke to the server itself; `hang()` accepts connections and
stops relaying on every one, old and new (a server that is up but never answers, as a
Redis stuck in a slow command or a store behind a dead route); `refuse()` closes the port
and cuts every connection (a server that is down). It is not a stand-in for the server:
every answer the store gets comes from the real one.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time

FORWARD, HANG, REFUSE = "forward", "hang", "refuse"


class FlakyLink:
    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.mode = FORWARD
        self._lock = threading.Lock()
        self._closed = False
        self._connections: list[socket.socket] = []
        self._listener: socket.socket | None = self._listen(0)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        listener.settimeout(0.05)
        return listener

    # --- what the test does -------------------------------------------------------------

    def forward(self) -> None:
        """Relay again. Connections held while it hung are cut first (as when a stuck server
        is restarted), so no command a client gave up on reaches the server late."""
        if self.mode == HANG:
            with self._lock:
                connections, self._connections = self._connections, []
            for connection in connections:
                _close(connection)
        self._open(FORWARD)

    def hang(self) -> None:
        self._open(HANG)

    def refuse(self) -> None:
        with self._lock:
            self.mode = REFUSE
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:
            listener.close()
        for connection in connections:
            _close(connection)

    def close(self) -> None:
        self.refuse()
        self._closed = True

    def _open(self, mode: str) -> None:
        with self._lock:
            self.mode = mode
            if self._listener is None:
                self._listener = self._listen(self.port)

    # --- the relay ----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closed:
            listener = self._listener
            if listener is None:
                time.sleep(0.05)
                continue
            try:
                client, _ = listener.accept()
            except OSError:  # a timeout, or the listener closed by refuse()
                continue
            with self._lock:
                self._connections.append(client)
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        server: socket.socket | None = None
        try:
            while not self._closed and client in self._connections:
                if self.mode != FORWARD:  # hang: hold the bytes, answer nothing
                    time.sleep(0.05)
                    continue
                if server is None:
                    server = socket.create_connection(self.upstream, timeout=5)
                    with self._lock:
                        self._connections.append(server)
                readable, _, _ = select.select([client, server], [], [], 0.05)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    (server if source is client else client).sendall(data)
        except OSError:
            return
        finally:
            for end in (client, server):
                if end is not None:
                    _close(end)
                    with self._lock:
                        if end in self._connections:
                            self._connections.remove(end)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other end
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()
